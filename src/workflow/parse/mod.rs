//! JSON and YAML workflow text → [`Workflow`], with positions for every error.
//!
//! One pass reads the text into a value plus positions ([`super::locate`]),
//! substitutes `${name}` variables on the parsed value ([`super::vars`]), reads each
//! dialect's keys into the normalized model, and hands the cross-references
//! (agents, dependencies, output references, checkpoints, phases) to
//! [`super::validate`]. Problems are collected, never thrown: the user gets every
//! one of them in a single run.

mod agents;
mod control;
mod execution;
mod gates;
mod phases;
mod tasks;
mod workers;

use super::diagnostics::Report;
use super::keys;
use super::locate::{self, child, index};
use super::model::*;
use super::validate::{self, Dep, Sources, TaskSrc};
use super::{references, vars};
use super::{Diagnostic, Diagnostics, Loaded};
use agents::agents;
pub use control::DEFAULT_MAX_ITERATIONS;
use execution::{checkpoints, concurrency, output_dir, settings};
use gates::{gates, quality};
use phases::phases;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::Path;
use tasks::{tasks, top_level_dependencies};

/// Tasks of one phase that may run at once when the file does not say.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Built-in gates (docs/architecture.md, "Gates are check runs"): they need no `run`.
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
        || pointer.starts_with("/hooks/")
        || pointer.starts_with("/settings/hooks/")
}

/// The ids of the tasks as written, before anything else is read: `${t.key}` is a
/// reference exactly when `t` is one of them.
fn task_ids(tasks: Option<&Value>) -> HashSet<String> {
    let Some(Value::Array(items)) = tasks else {
        return HashSet::new();
    };
    items
        .iter()
        .filter_map(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
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
    // claude-flow v3's dual-mode file lists `workers` instead of `tasks`.
    let dual_mode = !root.contains_key("tasks") && root.contains_key("workers");
    if !root.contains_key("tasks") && !dual_mode {
        not_a_workflow(path, root, r);
        return None;
    }
    if !dual_mode && root.contains_key("workers") {
        r.error_at_key(
            "/workers",
            "this file has both `tasks` and claude-flow v3's `workers`: a workflow lists its work in one of them; move each worker into `tasks`",
        );
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
    let task_ids = task_ids(root.get(if dual_mode { "workers" } else { "tasks" }));
    let scope = references::Scope {
        vars: &variables,
        tasks: &task_ids,
    };
    let mut undeclared = Vec::new();
    for (k, v) in root.iter_mut() {
        if k == "variables" || keys::UNTOUCHED.contains(&k.as_str()) {
            continue;
        }
        if let (Value::Object(settings), "settings") = (&mut *v, k.as_str()) {
            for (sk, sv) in settings.iter_mut() {
                if !keys::UNTOUCHED_SETTINGS.contains(&sk.as_str()) {
                    let at = child("/settings", sk);
                    vars::substitute(sv, &at, &scope, &read_by_shell, &mut undeclared);
                }
            }
            continue;
        }
        vars::substitute(v, &child("", k), &scope, &read_by_shell, &mut undeclared);
    }
    for u in undeclared {
        if !u.reason.is_empty() {
            r.error(&u.pointer, format!("`${{{}}}`: {}", u.name, u.reason));
            continue;
        }
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

    let context = opt_string(root, "taskContext", "", r);
    let mut control_refs = control::ControlRefs::default();
    let (agents, agent_src, mut tasks, mut task_src) = if dual_mode {
        let w = workers::workers(root.get("workers"), r);
        (w.agents, w.agent_src, w.tasks, w.task_src)
    } else {
        let (agents, agent_src) = agents(root.get("agents"), r);
        let (tasks, task_src) = tasks(root.get("tasks"), &mut control_refs, r);
        (agents, agent_src, tasks, task_src)
    };
    let conditions = control::conditions(root.get("conditions"), r);
    let loops = control::loops(root.get("loops"), &mut control_refs, r);
    let hooks = control::hooks(root, r);
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

    if exec_obj.and_then(|e| e.get("mode")).and_then(Value::as_str) == Some("pipeline") {
        pipeline_dependencies(&tasks, &mut task_src);
    }
    control::handler_dependencies(&tasks, &mut task_src);
    control::condition_dependencies(&tasks, &mut task_src, &conditions, &loops);
    let task_values: &[Value] = match root.get(if dual_mode { "workers" } else { "tasks" }) {
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
    let pointers: Vec<String> = task_src.iter().map(|s| s.pointer.clone()).collect();
    control::check(&control_refs, &tasks, &pointers, &conditions, &variables, r);

    let extra: Map<String, Value> = root
        .iter()
        .filter(|(k, _)| !keys::TOP_READ.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    Some(Workflow {
        name,
        description,
        context,
        agents,
        tasks,
        tasks_at: if dual_mode { "/workers" } else { "/tasks" },
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
        conditions,
        loops,
        hooks,
    })
}

/// `execution.mode: pipeline`: each task takes the previous one's work, so each depends
/// on the task before it in file order (a cycle with a declared dependency is reported).
fn pipeline_dependencies(tasks: &[Task], srcs: &mut [TaskSrc]) {
    for (src, previous) in srcs.iter_mut().skip(1).zip(tasks) {
        src.deps.push(Dep {
            id: previous.id.clone(),
            pointer: "/execution/mode".to_string(),
            implied_by: Some(validate::PIPELINE.to_string()),
        });
    }
}

/// The one error for a file without `tasks`: a claude-flow configuration, or not a workflow.
fn not_a_workflow(path: &Path, root: &Map<String, Value>, r: &mut Report) {
    let base = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| r.file.clone());
    let config_keys: Vec<&str> = keys::CONFIG
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
    } else if let Some(what) = what_else(root) {
        r.error(
            "",
            format!("{base} is {what}, not a workflow; a workflow has `tasks` (and the `agents` that do them)"),
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

/// Other claude-flow (and Claude Code) files people hand to prflow, by the keys only
/// they have.
fn what_else(root: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| root.contains_key(k);
    if has("customModes")
        || (has("modes")
            && root
                .get("modes")
                .is_some_and(|m| m.to_string().contains("roleDefinition")))
    {
        return Some("a claude-flow SPARC modes file (sparc-modes.json)");
    }
    if has("permissions") || has("enabledMcpjsonServers") || (has("hooks") && has("env")) {
        return Some("a Claude Code settings file (settings.json)");
    }
    if has("swarmId") || has("swarm_id") || (has("swarm") && (has("results") || has("summary"))) {
        return Some("a claude-flow swarm report");
    }
    let agent_keys = [
        "systemPrompt",
        "system_prompt",
        "prompt",
        "tools",
        "capabilities",
        "color",
    ];
    if has("name") && !has("agents") && agent_keys.iter().any(|k| has(k)) {
        return Some("a claude-flow agent definition");
    }
    None
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

/// The most retries a task may ask for (docs/workflow-format.md).
pub const MAX_RETRIES: u64 = 10;
/// The longest timeout a task or the settings may ask for: one day, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;

/// The `timeout` of one task or worker, in milliseconds, at most [`MAX_TIMEOUT_MS`].
fn unit_timeout(obj: &Map<String, Value>, at: &str, r: &mut Report) -> Option<u64> {
    let what = "a number of milliseconds, e.g. 300000 for five minutes";
    opt_count_at_most(obj, "timeout", at, what, MAX_TIMEOUT_MS, r)
}

/// [`opt_count`] with a documented ceiling: a larger value is an error that says the
/// ceiling, so `retries: 4294967296` cannot keep a run busy for ever.
fn opt_count_at_most(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    what: &str,
    max: u64,
    r: &mut Report,
) -> Option<u64> {
    match opt_count(obj, key, at, what, r) {
        Some(n) if n > max => {
            r.error(
                &child(at, key),
                format!("`{key}` is {n}, over prflow's ceiling of {max}: use a smaller value"),
            );
            None
        }
        n => n,
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

/// The `id` of an agent, task or worker object at `at`, checked against the one
/// rule, with near-misses of `known` keys warned about. `None` after an error
/// that says the fix (`why`: what names this kind of object by id).
fn object_id(
    obj: &Map<String, Value>,
    at: &str,
    what: &str,
    known: &[&str],
    why: &str,
    r: &mut Report,
) -> Option<String> {
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            r.error(
                &child(at, "id"),
                format!("{article} {what}'s `id` is a string"),
            );
            return None;
        }
        None => {
            r.error(
                at,
                format!("this {what} has no `id`: add \"id\": \"…\" {why}"),
            );
            return None;
        }
    };
    if !check_id(&id, &child(at, "id"), what, r) {
        return None;
    }
    keys::warn_near_misses(obj, at, known, &format!("{what} `{id}`"), r);
    Some(id)
}

/// Checks an id against the one rule ([`validate::id_problem`]).
fn check_id(id: &str, at: &str, what: &str, r: &mut Report) -> bool {
    match validate::id_problem(what, id, false) {
        Some(problem) => {
            r.error(at, problem);
            false
        }
        None => true,
    }
}
