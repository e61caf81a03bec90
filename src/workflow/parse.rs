//! JSON and YAML workflow text → [`Workflow`], with positions for every error.
//!
//! One pass reads the text into a value plus positions ([`super::locate`]),
//! substitutes `${name}` variables on the parsed value ([`super::vars`]), reads each
//! dialect's keys into the normalized model, and hands the cross-references
//! (agents, dependencies, output references, checkpoints, phases) to
//! [`super::validate`]. Problems are collected, never thrown: the user gets every
//! one of them in a single run.

use super::diagnostics::Report;
use super::keys;
use super::locate::{self, child, index};
use super::model::*;
use super::validate::{self, AgentSrc, Dep, PhaseSrc, Sources, TaskSrc};
use super::{runner, vars};
use super::{Diagnostic, Diagnostics, Loaded};
use serde_json::{Map, Value};
use std::path::Path;

/// Tasks of one phase that may run at once when the file does not say.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Keys that only a claude-flow configuration file (not a workflow) has at the top.
const CONFIG_KEYS: &[&str] = &[
    "orchestrator",
    "terminal",
    "memory",
    "coordination",
    "mcp",
    "loadBalancing",
    "logging",
    "monitoring",
    "security",
];

/// Built-in gates (DESIGN.md, "Gates are check runs"): they need no `run`.
pub const BUILTIN_GATES: &[&str] = &["code-review", "security-scan", "performance", "coverage"];

pub fn parse_workflow(path: &Path, text: &str) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    let format = locate::detect_format(path, text);
    let (mut doc, positions, has_duplicates) = locate::read_value(format, text).map_err(|e| {
        Diagnostics::single(Diagnostic::error(
            &file, e.pos.line, e.pos.col, "", e.message,
        ))
    })?;
    let mut r = Report::new(file, text, format, positions);
    if has_duplicates {
        duplicate_keys(&mut r);
    }
    let workflow = build(path, &mut doc, &mut r);
    r.sort();
    match workflow {
        Some(workflow) if r.errors.is_empty() => Ok(Loaded {
            workflow,
            warnings: r.warnings,
            path: path.to_path_buf(),
            text: text.to_string(),
        }),
        _ => {
            let mut all = r.errors;
            all.extend(r.warnings);
            Err(Diagnostics(all))
        }
    }
}

/// Is the string at `pointer` read by a shell? There `${HOME}` is the shell's.
fn read_by_shell(pointer: &str) -> bool {
    pointer.contains("/runner/command")
        || pointer.contains("/runner/env/")
        || (pointer.starts_with("/gates/") && pointer.ends_with("/run"))
}

/// Every repeated key is an error: only the last value would count, silently.
fn duplicate_keys(r: &mut Report) {
    for (pointer, pos) in r.positions().duplicate_keys() {
        let key = pointer
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .replace("~1", "/")
            .replace("~0", "~");
        r.errors.push(Diagnostic::error(
            &r.file,
            pos.line,
            pos.col,
            &pointer,
            format!("`{key}` appears twice in this object and only the last one would count: remove one"),
        ));
    }
}

fn build(path: &Path, doc: &mut Value, r: &mut Report) -> Option<Workflow> {
    let Value::Object(root) = doc else {
        r.error(
            "",
            "a workflow is an object with `tasks` and `agents` at the top level",
        );
        return None;
    };
    if !root.contains_key("tasks") {
        not_a_workflow(path, root, r);
        return None;
    }

    // Variables first: everything else is read after substitution.
    let variables = match root.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            r.error(
                "/variables",
                "`variables` is an object of names to values, e.g. {\"port\": 3000}",
            );
            Map::new()
        }
    };
    let mut undeclared = Vec::new();
    for (k, v) in root.iter_mut() {
        if k != "variables" {
            vars::substitute(
                v,
                &child("", k),
                &variables,
                &read_by_shell,
                &mut undeclared,
            );
        }
    }
    for u in undeclared {
        let declared: Vec<&str> = variables.keys().map(String::as_str).collect();
        let hint = match keys::did_you_mean(&u.name, declared.iter().copied()) {
            Some(m) => format!("did you mean `${{{m}}}`?"),
            None if declared.is_empty() => {
                "declare it in a top-level `variables` object".to_string()
            }
            None => format!(
                "declare it under `variables` (declared: {})",
                keys::list(&declared)
            ),
        };
        r.error(
            &u.pointer,
            format!("`${{{}}}` is not a declared variable: {hint}", u.name),
        );
    }

    keys::warn_near_misses(root, "", keys::TOP, "the workflow", r);
    let name = match root.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "workflow".into()),
        Some(_) => {
            r.error("/name", "`name` is the workflow's name, a non-empty string");
            "workflow".into()
        }
    };
    let description = opt_string(root, "description", "", r);

    let (agents, agent_src) = agents(root.get("agents"), r);
    let (mut tasks, mut task_src) = tasks(root.get("tasks"), r);
    top_level_dependencies(root.get("dependencies"), &tasks, &mut task_src, r);

    let settings_obj = object(root, "settings", "", r);
    let exec_obj = object(root, "execution", "", r);
    let concurrency = concurrency(root, exec_obj, settings_obj, r);
    let checkpoints = checkpoints(exec_obj, r);
    let settings = settings(exec_obj, settings_obj, r);
    let quality = quality(object(root, "quality", "", r), r);
    let gates = gates(root.get("gates"), &quality, r);
    let phases = phases(root.get("phases"), r);
    let reviewers = strings(
        root.get("reviewers"),
        "/reviewers",
        "`reviewers` is a list of logins or org/team slugs",
        false,
        r,
    );
    let on = strings(
        root.get("on"),
        "/on",
        "`on` is an event name or a list of them, e.g. [\"push\"]",
        true,
        r,
    );
    let allow_self_approval = opt_bool(root, "allowSelfApproval", "", r).unwrap_or(false);
    let output_dir = output_dir(root, r);

    let task_values: &[Value] = match root.get("tasks") {
        Some(Value::Array(items)) => items,
        _ => &[],
    };
    let sources = Sources {
        tasks: &task_src,
        task_values,
        agents: &agent_src,
        checkpoints: &checkpoints,
        phases: phases.as_ref().map(|p| p.1.as_slice()),
    };
    validate::check(&mut tasks, &agents, &sources, r);

    const TYPED: &[&str] = &[
        "name",
        "description",
        "variables",
        "agents",
        "tasks",
        "dependencies",
        "parallel",
        "phases",
        "gates",
        "reviewers",
        "allowSelfApproval",
        "on",
        "outputDir",
    ];
    let extra: Map<String, Value> = root
        .iter()
        .filter(|(k, _)| !TYPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    Some(Workflow {
        name,
        description,
        agents,
        tasks,
        concurrency,
        checkpoints: checkpoints.into_iter().map(|(id, _)| id).collect(),
        phases: phases.map(|p| p.0),
        gates,
        quality,
        reviewers,
        allow_self_approval,
        on,
        output_dir,
        settings,
        variables,
        extra,
    })
}

/// The one error for a file without `tasks`: a claude-flow configuration, or not a workflow.
fn not_a_workflow(path: &Path, root: &Map<String, Value>, r: &mut Report) {
    let base = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| r.file.clone());
    let config_keys: Vec<&str> = CONFIG_KEYS
        .iter()
        .copied()
        .filter(|k| root.contains_key(*k))
        .collect();
    if !config_keys.is_empty() {
        r.error(
            "",
            format!(
                "{base} is a claude-flow configuration file, not a workflow: a workflow has `tasks` (and `agents`), \
                 while this file configures claude-flow itself ({}); give prflow a workflow file instead",
                keys::list(&config_keys)
            ),
        );
    } else if let Some(k) = root
        .keys()
        .find_map(|k| keys::did_you_mean(k, ["tasks"]).map(|_| k.clone()))
    {
        r.error_at_key(
            &child("", &k),
            format!(
                "unknown key `{k}`: did you mean `tasks`? A workflow lists its work in `tasks`"
            ),
        );
    } else {
        r.error("", format!("{base} has no `tasks`: a workflow lists its work in a `tasks` array (and its workers in `agents`)"));
    }
}

// ----- small typed readers: each reports a wrong type with what would fix it -----

fn object<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    at: &str,
    r: &mut Report,
) -> Option<&'v Map<String, Value>> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            r.error(&child(at, key), format!("`{key}` must be an object"));
            None
        }
    }
}

fn opt_string(obj: &Map<String, Value>, key: &str, at: &str, r: &mut Report) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            r.error(&child(at, key), format!("`{key}` must be a string"));
            None
        }
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str, at: &str, r: &mut Report) -> Option<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            r.error(&child(at, key), format!("`{key}` must be true or false"));
            None
        }
    }
}

/// A whole, non-negative number (floats are rounded: YAML and JS write `3.0`).
fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f.round() as u64)
        }),
        _ => None,
    }
}

fn opt_count(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    what: &str,
    r: &mut Report,
) -> Option<u64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match as_count(v) {
            Some(n) => Some(n),
            None => {
                r.error(&child(at, key), format!("`{key}` must be {what}"));
                None
            }
        },
    }
}

/// A list of strings; `single` also accepts one string for a one-item list.
fn strings(v: Option<&Value>, at: &str, what: &str, single: bool, r: &mut Report) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if single => vec![s.clone()],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    _ => r.error(&index(at, i), format!("{what}: this item is not a string")),
                }
            }
            out
        }
        Some(_) => {
            r.error(at, what.to_string());
            Vec::new()
        }
    }
}

/// Like [`strings`], keeping each item's pointer.
fn ids_with_pointers(
    v: Option<&Value>,
    at: &str,
    what: &str,
    r: &mut Report,
) -> Vec<(String, String)> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![(s.clone(), at.to_string())],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = index(at, i);
                match item {
                    Value::String(s) => out.push((s.clone(), p)),
                    _ => r.error(&p, format!("{what}: this item is not a task id (a string)")),
                }
            }
            out
        }
        Some(_) => {
            r.error(at, format!("{what} must be a list of task ids"));
            Vec::new()
        }
    }
}

fn check_id(id: &str, at: &str, what: &str, r: &mut Report) -> bool {
    if id.trim().is_empty() {
        r.error(
            at,
            format!("the {what} id is empty: give it a short name such as \"build-api\""),
        );
        false
    } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        r.error(at, format!("{what} id \"{id}\" contains spaces: ids appear in commits and references, use dashes"));
        false
    } else {
        true
    }
}

// ----- agents and tasks -----

fn agents(v: Option<&Value>, r: &mut Report) -> (Vec<Agent>, Vec<AgentSrc>) {
    let items = match v {
        None | Some(Value::Null) => return (Vec::new(), Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/agents", "`agents` is a list of agents, each with an `id`");
            return (Vec::new(), Vec::new());
        }
    };
    let mut agents = Vec::new();
    let mut srcs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/agents", i);
        let Value::Object(obj) = item else {
            r.error(
                &at,
                "each agent is an object with an `id`, a `type` and `capabilities`",
            );
            continue;
        };
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                r.error(&child(&at, "id"), "an agent's `id` is a string");
                continue;
            }
            None => {
                r.error(
                    &at,
                    "this agent has no `id`: add \"id\": \"…\" so tasks can name it",
                );
                continue;
            }
        };
        if !check_id(&id, &child(&at, "id"), "agent", r) {
            continue;
        }
        keys::warn_near_misses(obj, &at, keys::AGENT, &format!("agent `{id}`"), r);
        let name = opt_string(obj, "name", &at, r).unwrap_or_else(|| id.clone());
        let kind = opt_string(obj, "type", &at, r).unwrap_or_else(|| "general".to_string());
        let capabilities = strings(
            obj.get("capabilities"),
            &child(&at, "capabilities"),
            "`capabilities` is a list of strings",
            false,
            r,
        );
        let runner = obj
            .get("runner")
            .and_then(|v| runner::parse(v, &child(&at, "runner"), r));
        let assigned = ids_with_pointers(
            obj.get("assignedTasks"),
            &child(&at, "assignedTasks"),
            "`assignedTasks`",
            r,
        );
        const TYPED: &[&str] = &[
            "id",
            "name",
            "type",
            "capabilities",
            "runner",
            "assignedTasks",
        ];
        let mut extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !TYPED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // claude-flow writes both; agents always find it as `config`.
        if !extra.contains_key("config") {
            if let Some(c) = obj.get("configuration") {
                extra.insert("config".to_string(), c.clone());
            }
        }
        agents.push(Agent {
            id,
            name,
            kind,
            capabilities,
            runner,
            extra,
        });
        srcs.push(AgentSrc {
            pointer: at,
            assigned,
        });
    }
    (agents, srcs)
}

fn tasks(v: Option<&Value>, r: &mut Report) -> (Vec<Task>, Vec<TaskSrc>) {
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
        if let Some((t, s)) = task(i, item, r) {
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

fn task(i: usize, item: &Value, r: &mut Report) -> Option<(Task, TaskSrc)> {
    let at = index("/tasks", i);
    let Value::Object(obj) = item else {
        r.error(&at, "each task is an object with an `id` and an `agentId`");
        return None;
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            r.error(&child(&at, "id"), "a task's `id` is a string");
            return None;
        }
        None => {
            r.error(&at, "this task has no `id`: add \"id\": \"…\" (dependencies, checkpoints and commits name tasks by id)");
            return None;
        }
    };
    if !check_id(&id, &child(&at, "id"), "task", r) {
        return None;
    }
    keys::warn_near_misses(obj, &at, keys::TASK, &format!("task `{id}`"), r);

    // The agent: `agentId`, else the first of `assignTo` (a task has one agent).
    let mut agent = None;
    let mut agent_pointer = None;
    if let Some(v) = obj.get("agentId") {
        let p = child(&at, "agentId");
        match v {
            Value::String(s) => {
                agent = Some(s.clone());
                agent_pointer = Some(p);
            }
            _ => r.error(&p, "`agentId` is the id of one agent (a string)"),
        }
    }
    if let Some(v) = obj.get("assignTo") {
        let p = child(&at, "assignTo");
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
                        r.error(&fp, "`assignTo` names agents by id (strings)");
                        None
                    }
                    None => None,
                }
            }
            _ => {
                r.error(&p, "`assignTo` is an agent id or a list of agent ids");
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
                    format!("task `{id}` has `agentId` \"{a}\" and `assignTo` \"{s}\"; prflow uses `agentId`"),
                ),
                Some(_) => {}
            }
        }
    }

    let mut deps: Vec<Dep> = Vec::new();
    for key in ["dependencies", "depends"] {
        let p = child(&at, key);
        for (dep, dp) in ids_with_pointers(obj.get(key), &p, &format!("`{key}`"), r) {
            deps.push(Dep {
                id: dep,
                pointer: dp,
                implied_by: None,
            });
        }
    }

    let output = obj.get("output").cloned().unwrap_or(Value::Null);
    let output_keys = match &output {
        Value::Null => Vec::new(),
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => {
            r.error(
                &child(&at, "output"),
                "`output` is an object (keys the task produces) or a list of names",
            );
            Vec::new()
        }
    };
    let timeout_ms = opt_count(
        obj,
        "timeout",
        &at,
        "a number of milliseconds, e.g. 300000 for five minutes",
        r,
    );
    let retries = opt_count(obj, "retries", &at, "a whole number of retries, e.g. 2", r)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
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
    const TYPED: &[&str] = &[
        "id",
        "name",
        "description",
        "type",
        "agentId",
        "assignTo",
        "dependencies",
        "depends",
        "input",
        "output",
        "runner",
        "timeout",
        "retries",
        "priority",
    ];
    let mut extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !TYPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !extra.contains_key("config") {
        if let Some(c) = obj.get("configuration") {
            extra.insert("config".to_string(), c.clone());
        }
    }
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

/// The top-level `dependencies` map: `{"task": ["dep", …]}`.
fn top_level_dependencies(v: Option<&Value>, tasks: &[Task], srcs: &mut [TaskSrc], r: &mut Report) {
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

// ----- execution, settings, quality, gates, phases -----

fn concurrency(
    root: &Map<String, Value>,
    exec: Option<&Map<String, Value>>,
    settings: Option<&Map<String, Value>>,
    r: &mut Report,
) -> usize {
    if let Some(e) = exec {
        keys::warn_near_misses(e, "/execution", keys::EXECUTION, "`execution`", r);
    }
    let mode = exec.and_then(|e| opt_string(e, "mode", "/execution", r));
    let mut limit: Option<u64> = None;
    let positive = "a whole number of tasks above 0";
    let mut take = |obj: &Map<String, Value>, key: &str, at: &str, r: &mut Report| {
        if let Some(n) = opt_count(obj, key, at, positive, r) {
            if n == 0 {
                r.error(&child(at, key), format!("`{key}` must be {positive}"));
            } else if limit.is_none() {
                limit = Some(n);
            }
        }
    };
    if let Some(e) = exec {
        match e.get("parallelism") {
            Some(Value::Object(p)) => {
                keys::warn_near_misses(
                    p,
                    "/execution/parallelism",
                    keys::PARALLELISM,
                    "`parallelism`",
                    r,
                );
                take(p, "max", "/execution/parallelism", r);
            }
            None | Some(Value::Null) => {}
            Some(_) => r.error(
                "/execution/parallelism",
                "`parallelism` is an object such as {\"max\": 4}",
            ),
        }
        take(e, "maxConcurrency", "/execution", r);
    }
    if let Some(s) = settings {
        take(s, "maxConcurrency", "/settings", r);
    }
    let parallel = opt_bool(root, "parallel", "", r);
    match mode.as_deref() {
        Some("sequential") => return 1,
        Some("parallel" | "smart") | None => {}
        Some(other) => r.warning(
            "/execution/mode",
            format!(
                "unknown execution mode \"{other}\" (claude-flow's modes are sequential, parallel and smart); \
                 prflow runs it as \"smart\": each task as soon as its dependencies are done"
            ),
        ),
    }
    let n = match (limit, parallel) {
        (Some(n), _) => n,
        (None, Some(false)) => 1,
        _ => DEFAULT_CONCURRENCY as u64,
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn checkpoints(exec: Option<&Map<String, Value>>, r: &mut Report) -> Vec<(String, String)> {
    let Some(e) = exec else { return Vec::new() };
    let list = ids_with_pointers(
        e.get("checkpoints"),
        "/execution/checkpoints",
        "`checkpoints`",
        r,
    );
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (id, p) in list {
        if seen.insert(id.clone()) {
            out.push((id, p));
        } else {
            r.warning(
                &p,
                format!("checkpoint `{id}` is listed twice; the second one is ignored"),
            );
        }
    }
    out
}

fn settings(
    exec: Option<&Map<String, Value>>,
    obj: Option<&Map<String, Value>>,
    r: &mut Report,
) -> Settings {
    let mut s = Settings::default();
    let ms = "a number of milliseconds, e.g. 1800000 for 30 minutes";
    if let Some(o) = obj {
        keys::warn_near_misses(o, "/settings", keys::SETTINGS, "`settings`", r);
        s.timeout_ms = opt_count(o, "timeout", "/settings", ms, r);
        if let Some(p) = opt_string(o, "failurePolicy", "/settings", r) {
            s.failure_policy = match p.as_str() {
                "fail-fast" | "failFast" | "fail_fast" | "stop" | "abort" => {
                    FailurePolicy::FailFast
                }
                "continue" | "continue-on-error" | "ignore" => FailurePolicy::Continue,
                other => {
                    r.warning(
                        "/settings/failurePolicy",
                        format!("unknown failurePolicy \"{other}\": use \"fail-fast\" or \"continue\"; prflow uses fail-fast"),
                    );
                    FailurePolicy::FailFast
                }
            };
        }
    }
    // The parallel example writes the workflow timeout under `execution`.
    if s.timeout_ms.is_none() {
        if let Some(e) = exec {
            s.timeout_ms = opt_count(e, "timeout", "/execution", ms, r);
        }
    }
    s
}

fn quality(obj: Option<&Map<String, Value>>, r: &mut Report) -> Quality {
    let Some(q) = obj else {
        return Quality::default();
    };
    keys::warn_near_misses(q, "/quality", keys::QUALITY, "`quality`", r);
    let mut out = Quality {
        code_review: opt_bool(q, "codeReview", "/quality", r).unwrap_or(false),
        security_scan: opt_bool(q, "securityScan", "/quality", r).unwrap_or(false),
        performance: None,
    };
    match q.get("performanceThreshold") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) => {
            let at = "/quality/performanceThreshold";
            keys::warn_near_misses(p, at, keys::PERFORMANCE, "`performanceThreshold`", r);
            let rt = opt_count(
                p,
                "responseTime",
                at,
                "a p95 latency in milliseconds, e.g. 200",
                r,
            );
            let tp = opt_count(p, "throughput", at, "requests per second, e.g. 1000", r);
            if rt.is_none() && tp.is_none() {
                r.error(at, "`performanceThreshold` needs `responseTime` (ms) and/or `throughput` (requests/s)");
            } else {
                out.performance = Some(PerformanceThreshold {
                    response_time_ms: rt.unwrap_or(u64::MAX),
                    throughput: tp.unwrap_or(0),
                });
            }
        }
        Some(_) => r.error(
            "/quality/performanceThreshold",
            "`performanceThreshold` is an object: {\"responseTime\": 200, \"throughput\": 1000}",
        ),
    }
    out
}

fn gates(v: Option<&Value>, quality: &Quality, r: &mut Report) -> Vec<GateSpec> {
    let mut out: Vec<GateSpec> = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = index("/gates", i);
                let Value::Object(g) = item else {
                    r.error(
                        &at,
                        "a gate is an object: {\"name\": \"unit-tests\", \"run\": \"npm test\"}",
                    );
                    continue;
                };
                keys::reject_unknown(g, &at, keys::GATE, "a gate", r);
                let name = match g.get("name") {
                    Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                    _ => {
                        r.error(&at, "a gate needs a `name` (a non-empty string); it becomes the check run prflow/<name>");
                        continue;
                    }
                };
                let run = opt_string(g, "run", &at, r);
                if run.is_none() && !BUILTIN_GATES.contains(&name.as_str()) {
                    r.error(
                        &at,
                        format!(
                            "gate `{name}` has no `run` and is not a built-in gate ({}): add \"run\": \"<shell command>\"{}",
                            keys::list(BUILTIN_GATES),
                            keys::suggestion(&name, BUILTIN_GATES.iter().copied())
                        ),
                    );
                }
                if out.iter().any(|o| o.name == name) {
                    r.error(
                        &child(&at, "name"),
                        format!("duplicate gate name `{name}`: each gate is one check run"),
                    );
                    continue;
                }
                let paths = strings(
                    g.get("paths"),
                    &child(&at, "paths"),
                    "`paths` is a list of path prefixes",
                    true,
                    r,
                );
                let required = opt_bool(g, "required", &at, r).unwrap_or(true);
                out.push(GateSpec {
                    name,
                    run,
                    paths,
                    required,
                });
            }
        }
        Some(_) => r.error(
            "/gates",
            "`gates` is a list: [{\"name\": \"unit-tests\", \"run\": \"npm test\"}]",
        ),
    }
    let mut builtin = |on: bool, name: &str| {
        if on && !out.iter().any(|g| g.name == name) {
            out.push(GateSpec {
                name: name.to_string(),
                run: None,
                paths: Vec::new(),
                // Gates that `quality` flags turn on are advisory: claude-flow's flags
                // say what to measure, not what blocks. Declare the gate in `gates` with
                // `"required": true` to make an approval wait for it.
                required: false,
            });
        }
    };
    builtin(quality.code_review, "code-review");
    builtin(quality.security_scan, "security-scan");
    builtin(quality.performance.is_some(), "performance");
    out
}

fn phases(v: Option<&Value>, r: &mut Report) -> Option<(Vec<PhaseSpec>, Vec<PhaseSrc>)> {
    let items = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/phases", "`phases` is a list: [{\"name\": \"design\", \"tasks\": [\"…\"], \"checkpoint\": true}]");
            return None;
        }
    };
    if items.is_empty() {
        r.error("/phases", "`phases` is empty: list at least one phase, or remove `phases` to let checkpoints cut the run");
        return None;
    }
    let mut specs = Vec::new();
    let mut srcs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/phases", i);
        let Value::Object(p) = item else {
            r.error(
                &at,
                "a phase is an object: {\"name\": \"…\", \"tasks\": [\"…\"], \"checkpoint\": true}",
            );
            continue;
        };
        keys::reject_unknown(p, &at, keys::PHASE, "a phase", r);
        let name = match p.get("name") {
            None | Some(Value::Null) => format!("phase-{}", i + 1),
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(_) => {
                r.error(
                    &child(&at, "name"),
                    "a phase's `name` is a non-empty string",
                );
                format!("phase-{}", i + 1)
            }
        };
        let tasks = match p.get("tasks") {
            Some(v @ Value::Array(a)) if !a.is_empty() => {
                ids_with_pointers(Some(v), &child(&at, "tasks"), "a phase's `tasks`", r)
            }
            _ => {
                r.error(
                    &at,
                    format!("phase `{name}` needs `tasks`: a non-empty list of task ids"),
                );
                Vec::new()
            }
        };
        let checkpoint = opt_bool(p, "checkpoint", &at, r).unwrap_or(false);
        specs.push(PhaseSpec {
            name,
            tasks: tasks.iter().map(|(t, _)| t.clone()).collect(),
            checkpoint,
        });
        srcs.push((at, tasks));
    }
    Some((specs, srcs))
}

fn output_dir(root: &Map<String, Value>, r: &mut Report) -> String {
    let Some(dir) = opt_string(root, "outputDir", "", r) else {
        return ".".to_string();
    };
    let p = Path::new(&dir);
    let bad = p.is_absolute()
        || dir.starts_with('/')
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        || p.components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git");
    if bad || dir.trim().is_empty() {
        r.error(
            "/outputDir",
            "`outputDir` is a folder inside the repository: relative, without `..`, not under .git (e.g. \"services\")",
        );
        return ".".to_string();
    }
    dir
}
