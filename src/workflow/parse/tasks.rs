//! `tasks` and the top-level `dependencies` map: each task's id, agent, dependencies,
//! outputs, limits and priority, in every dialect claude-flow writes them.

use super::control::{self, ControlRefs};
use super::{
    ids_with_pointers, object_id, opt_count_at_most, opt_string, unit_timeout, MAX_RETRIES,
};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::{child, index};
use crate::workflow::model::Task;
use crate::workflow::runner;
use crate::workflow::validate::{Dep, TaskSrc};
use serde_json::{Map, Value};

pub(super) fn tasks(
    v: Option<&Value>,
    refs: &mut ControlRefs,
    r: &mut Report,
) -> (Vec<Task>, Vec<TaskSrc>) {
    let items = match v {
        Some(Value::Array(items)) => items,
        _ => {
            r.error(
                "/tasks",
                "`tasks` is a list of tasks, each with an `id` and an agent",
            );
            return (Vec::new(), Vec::new());
        }
    };
    if items.is_empty() {
        r.error(
            "/tasks",
            "the workflow has no tasks: add at least one to `tasks`",
        );
    }
    let mut tasks = Vec::new();
    let mut srcs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some((t, s)) = task(i, item, refs, r) {
            tasks.push(t);
            srcs.push(s);
        }
    }
    (tasks, srcs)
}

/// claude-flow writes priorities as words or numbers; prflow orders by number.
fn priority(v: Option<&Value>, at: &str, r: &mut Report) -> i64 {
    match v {
        None | Some(Value::Null) => 50,
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.round() as i64))
            .unwrap_or(50),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "urgent" | "highest" => 100,
            "high" => 75,
            "medium" | "normal" | "default" => 50,
            "low" => 25,
            "lowest" => 0,
            other => match other.parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    r.warning(at, format!("unknown priority \"{s}\": use critical, high, medium, low or a number; treated as medium"));
                    50
                }
            },
        },
        Some(_) => {
            r.error(
                at,
                "`priority` is a number or one of critical, high, medium, low",
            );
            50
        }
    }
}

fn task(i: usize, item: &Value, refs: &mut ControlRefs, r: &mut Report) -> Option<(Task, TaskSrc)> {
    let at = index("/tasks", i);
    let Value::Object(obj) = item else {
        r.error(&at, "each task is an object with an `id` and an `agentId`");
        return None;
    };
    let why = "(dependencies, checkpoints and commits name tasks by id)";
    let id = object_id(obj, &at, "task", keys::TASK, why, r)?;

    let (agent, agent_pointer) = task_agent(obj, &id, &at, r);

    let deps = declared_dependencies(obj, &at, r);
    let output = obj.get("output").cloned().unwrap_or(Value::Null);
    let output_keys = output_keys(&output, &at, r);
    let timeout_ms = unit_timeout(obj, &at, r);
    let retries = opt_count_at_most(
        obj,
        "retries",
        &at,
        "a whole number of retries, e.g. 2",
        MAX_RETRIES,
        r,
    )
    .map(|n| n as u32)
    .unwrap_or(0);
    let runner = obj
        .get("runner")
        .and_then(|v| runner::parse(v, &child(&at, "runner"), r));
    let name = opt_string(obj, "name", &at, r).unwrap_or_else(|| id.clone());
    let description = opt_string(obj, "description", &at, r);
    let kind = opt_string(obj, "type", &at, r);
    let priority = priority(obj.get("priority"), &child(&at, "priority"), r);
    let input = obj
        .get("input")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !keys::TASK_READ.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !extra.contains_key("config") {
        if let Some(c) = obj.get("configuration") {
            extra.insert("config".to_string(), c.clone());
        }
    }
    let control = control::task_control(obj, &id, &at, refs, r);
    let task = Task {
        id,
        name,
        description,
        agent: agent.unwrap_or_default(),
        kind,
        dependencies: Vec::new(),
        input,
        output_keys,
        output,
        runner,
        timeout_ms,
        retries,
        priority,
        extra,
        control,
    };
    Some((
        task,
        TaskSrc {
            pointer: at,
            index: i,
            agent_pointer,
            deps,
        },
    ))
}

/// The task's agent and where it was named: `agentId`, else the first of `assignTo`
/// (a task has one agent).
fn task_agent(
    obj: &Map<String, Value>,
    id: &str,
    at: &str,
    r: &mut Report,
) -> (Option<String>, Option<String>) {
    let mut agent = None;
    let mut agent_pointer = None;
    if let Some(v) = obj.get("agentId") {
        let p = child(at, "agentId");
        match v {
            Value::String(s) => {
                agent = Some(s.clone());
                agent_pointer = Some(p);
            }
            _ => r.error(&p, "`agentId` is the id of one agent (a string)"),
        }
    }
    let assign_key = ["assignTo", "assignedTo"]
        .into_iter()
        .find(|k| obj.contains_key(*k));
    if let Some((key, v)) = assign_key.and_then(|k| obj.get(k).map(|v| (k, v))) {
        let p = child(at, key);
        let chosen = match v {
            Value::String(s) => Some((s.clone(), p.clone())),
            Value::Array(list) => {
                let first = list.first().map(|f| (f, index(&p, 0)));
                if list.len() > 1 {
                    let names: Vec<String> = list
                        .iter()
                        .map(|v| v.as_str().unwrap_or("?").to_string())
                        .collect();
                    r.warning(
                        &p,
                        format!(
                            "task `{id}` is assigned to {} agents ({}); a task is done by one agent, so prflow uses the first",
                            list.len(),
                            names.join(", ")
                        ),
                    );
                }
                match first {
                    Some((Value::String(s), fp)) => Some((s.clone(), fp)),
                    Some((_, fp)) => {
                        r.error(&fp, format!("`{key}` names agents by id (strings)"));
                        None
                    }
                    None => None,
                }
            }
            _ => {
                r.error(&p, format!("`{key}` is an agent id or a list of agent ids"));
                None
            }
        };
        if let Some((s, sp)) = chosen {
            match &agent {
                None => {
                    agent = Some(s);
                    agent_pointer = Some(sp);
                }
                Some(a) if *a != s => r.warning(
                    &sp,
                    format!("task `{id}` has `agentId` \"{a}\" and `{key}` \"{s}\"; prflow uses `agentId`"),
                ),
                Some(_) => {}
            }
        }
    }
    (agent, agent_pointer)
}

/// `dependencies`, `depends` and `dependsOn` as written on the task.
fn declared_dependencies(obj: &Map<String, Value>, at: &str, r: &mut Report) -> Vec<Dep> {
    let mut deps: Vec<Dep> = Vec::new();
    for key in ["dependencies", "depends", "dependsOn"] {
        let p = child(at, key);
        for (dep, dp) in ids_with_pointers(obj.get(key), &p, &format!("`{key}`"), r) {
            deps.push(Dep {
                id: dep,
                pointer: dp,
                implied_by: None,
            });
        }
    }
    deps
}

/// The names a task declares in `output`: object keys, or list items that are strings.
fn output_keys(output: &Value, at: &str, r: &mut Report) -> Vec<String> {
    match output {
        Value::Null => Vec::new(),
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => {
            r.error(
                &child(at, "output"),
                "`output` is an object (keys the task produces) or a list of names",
            );
            Vec::new()
        }
    }
}

/// The top-level `dependencies` map: `{"task": ["dep", …]}`.
pub(super) fn top_level_dependencies(
    v: Option<&Value>,
    tasks: &[Task],
    srcs: &mut [TaskSrc],
    r: &mut Report,
) {
    let map = match v {
        None | Some(Value::Null) => return,
        Some(Value::Object(m)) => m,
        Some(_) => {
            r.error("/dependencies", "the top-level `dependencies` maps task ids to lists of task ids, e.g. {\"test\": [\"build\"]}");
            return;
        }
    };
    for (task, deps) in map {
        let at = child("/dependencies", task);
        let Some(pos) = tasks.iter().position(|t| t.id == *task) else {
            let ids = tasks.iter().map(|t| t.id.as_str());
            r.error_at_key(
                &at,
                format!(
                    "`dependencies` names task `{task}`, which does not exist{}",
                    keys::suggestion(task, ids)
                ),
            );
            continue;
        };
        for (dep, dp) in
            ids_with_pointers(Some(deps), &at, &format!("the dependencies of `{task}`"), r)
        {
            srcs[pos].deps.push(Dep {
                id: dep,
                pointer: dp,
                implied_by: None,
            });
        }
    }
}
