//! claude-flow's control flow: `conditions`, `loops`, `hooks`, and a task's
//! `condition`, `onSuccess`/`onFailure`, `iterative` + `maxIterations`.
//!
//! Only the shapes are read here; that the ids they name exist is checked in
//! [`crate::workflow::validate`] once every task is known, and what they mean at run
//! time is the engine's (`engine::control`).

use super::{as_count, ids_with_pointers, object, opt_bool, opt_count, opt_string};
use crate::workflow::diagnostics::Report;
use crate::workflow::locate::{child, index};
use crate::workflow::model::{Condition, Hooks, LoopKind, LoopSpec, TaskControl};
use serde_json::{Map, Value};

/// Loops run at most this often when the file gives no `maxIterations`.
pub const DEFAULT_MAX_ITERATIONS: u32 = 10;

/// Ids named by control flow, with pointers, for validation.
#[derive(Debug, Default)]
pub struct ControlRefs {
    /// (task id, pointer, what names it).
    pub tasks: Vec<(String, String, String)>,
}

pub fn conditions(v: Option<&Value>, r: &mut Report) -> Vec<Condition> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/conditions", "`conditions` is a list: [{\"id\": \"tests-pass\", \"expression\": \"outputs['t.passed']\"}]");
            return Vec::new();
        }
    };
    let mut out: Vec<Condition> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/conditions", i);
        let Value::Object(c) = item else {
            r.error(
                &at,
                "a condition is an object with an `id` and an `expression`",
            );
            continue;
        };
        let (Some(id), Some(expression)) = (
            opt_string(c, "id", &at, r),
            opt_string(c, "expression", &at, r),
        ) else {
            r.error(&at, "a condition needs an `id` (tasks name it in `condition`) and an `expression` (JavaScript)");
            continue;
        };
        let kind = opt_string(c, "type", &at, r).unwrap_or_else(|| "javascript".into());
        if !matches!(kind.as_str(), "javascript" | "simple") {
            r.error(
                &child(&at, "type"),
                format!("condition type \"{kind}\" is not known: use \"javascript\" or \"simple\""),
            );
        }
        if out.iter().any(|o| o.id == id) {
            r.error(&child(&at, "id"), format!("duplicate condition id `{id}`"));
            continue;
        }
        syntax(
            &expression,
            &child(&at, "expression"),
            &format!("condition `{id}`"),
            r,
        );
        out.push(Condition {
            id,
            expression,
            kind,
        });
    }
    out
}

pub fn loops(v: Option<&Value>, refs: &mut ControlRefs, r: &mut Report) -> Vec<LoopSpec> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/loops", "`loops` is a list: [{\"id\": \"…\", \"type\": \"foreach\", \"condition\": \"outputs['t.items']\", \"tasks\": [\"…\"]}]");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/loops", i);
        let Value::Object(l) = item else {
            r.error(&at, "a loop is an object with `id`, `type` and `tasks`");
            continue;
        };
        let id = opt_string(l, "id", &at, r).unwrap_or_else(|| format!("loop-{}", i + 1));
        let kind = match opt_string(l, "type", &at, r).as_deref() {
            Some("foreach" | "forEach" | "for-each") => LoopKind::Foreach,
            Some("while") => LoopKind::While,
            other => {
                r.error(
                    &child(&at, "type"),
                    format!(
                        "loop `{id}` has type {}: use \"foreach\" (once per item) or \"while\" (while `condition` holds)",
                        other.map_or("none".to_string(), |o| format!("\"{o}\""))
                    ),
                );
                continue;
            }
        };
        let condition = opt_string(l, "condition", &at, r);
        if let Some(c) = &condition {
            syntax(c, &child(&at, "condition"), &format!("loop `{id}`"), r);
        }
        let items = match l.get("items") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => {
                r.error(&child(&at, "items"), "`items` is a list of values");
                None
            }
        };
        if condition.is_none() && items.is_none() {
            r.error(
                &at,
                format!(
                    "loop `{id}` needs a `condition` (a JavaScript expression) or `items` (a list)"
                ),
            );
        }
        let tasks = ids_with_pointers(l.get("tasks"), &child(&at, "tasks"), "a loop's `tasks`", r);
        if tasks.is_empty() {
            r.error(
                &at,
                format!("loop `{id}` has no `tasks`: list the task ids it repeats"),
            );
        }
        for (t, p) in &tasks {
            refs.tasks
                .push((t.clone(), p.clone(), format!("loop `{id}`")));
        }
        let max_iterations = opt_count(l, "maxIterations", &at, "a whole number above 0", r)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .unwrap_or(DEFAULT_MAX_ITERATIONS);
        out.push(LoopSpec {
            id,
            kind,
            condition,
            items,
            tasks: tasks.into_iter().map(|(t, _)| t).collect(),
            max_iterations,
            continue_on_error: opt_bool(l, "continueOnError", &at, r).unwrap_or(false),
        });
    }
    out
}

/// `hooks` at the top level, else `settings.hooks`.
pub fn hooks(root: &Map<String, Value>, r: &mut Report) -> Hooks {
    let (obj, at) = match object(root, "hooks", "", r) {
        Some(h) => (h, "/hooks".to_string()),
        None => match root
            .get("settings")
            .and_then(Value::as_object)
            .and_then(|s| s.get("hooks"))
        {
            Some(Value::Object(h)) => (h, "/settings/hooks".to_string()),
            _ => return Hooks::default(),
        },
    };
    let mut read = |key: &str| opt_string(obj, key, &at, r);
    let hooks = Hooks {
        pre_task: read("pre-task").or_else(|| read("preTask")),
        post_task: read("post-task").or_else(|| read("postTask")),
        on_error: read("on-error").or_else(|| read("onError")),
    };
    for (key, cmd) in obj {
        if cmd.as_str().is_some_and(|c| c.contains("claude-flow")) {
            r.warning(
                &child(&at, key),
                format!("hook `{key}` calls claude-flow itself: it needs claude-flow installed and the network when it runs"),
            );
        }
    }
    hooks
}

/// The control keys of one task.
pub fn task_control(
    obj: &Map<String, Value>,
    id: &str,
    at: &str,
    refs: &mut ControlRefs,
    r: &mut Report,
) -> TaskControl {
    let condition = match obj.get("condition") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(_) => {
            r.error(
                &child(at, "condition"),
                "`condition` is a condition id or an expression (a string)",
            );
            None
        }
    };
    let mut handlers = |key: &str| {
        let list = ids_with_pointers(obj.get(key), &child(at, key), &format!("`{key}`"), r);
        for (t, p) in &list {
            refs.tasks
                .push((t.clone(), p.clone(), format!("`{key}` of task `{id}`")));
        }
        list.into_iter().map(|(t, _)| t).collect::<Vec<_>>()
    };
    let on_success = handlers("onSuccess");
    let on_failure = handlers("onFailure");
    let iterative = opt_bool(obj, "iterative", at, r).unwrap_or(false);
    let max_iterations = match obj.get("maxIterations") {
        None | Some(Value::Null) => None,
        Some(v) => match as_count(v) {
            Some(n) if n > 0 => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            _ => {
                r.error(
                    &child(at, "maxIterations"),
                    "`maxIterations` is a whole number above 0",
                );
                None
            }
        },
    };
    TaskControl {
        condition,
        on_success,
        on_failure,
        iterative,
        max_iterations,
    }
}

/// An expression JavaScript cannot compile is an error at its place, with the fix.
fn syntax(expression: &str, at: &str, what: &str, r: &mut Report) {
    if let Err(e) = crate::workflow::expr::check_syntax(expression) {
        r.error(
            at,
            format!(
                "{what} is not a JavaScript expression ({e}): write one expression such as \
                 outputs['unit-tests.passed'] && variables.enable_e2e, or \"${{t.output.score}} > 0.85\""
            ),
        );
    }
}

/// A handler (`onSuccess`/`onFailure`) runs after the task that names it: it depends
/// on it, so it is planned in the same phase or a later one, and a cycle through a
/// handler is reported like any other.
pub fn handler_dependencies(
    tasks: &[crate::workflow::model::Task],
    src: &mut [crate::workflow::validate::TaskSrc],
) {
    for (i, t) in tasks.iter().enumerate() {
        for (key, list) in [
            ("onSuccess", &t.control.on_success),
            ("onFailure", &t.control.on_failure),
        ] {
            for (k, h) in list.iter().enumerate() {
                let Some(j) = tasks.iter().position(|x| x.id == *h) else {
                    continue;
                };
                if j == i || src[j].deps.iter().any(|d| d.id == t.id) {
                    continue;
                }
                let pointer = index(&child(&src[i].pointer, key), k);
                src[j].deps.push(crate::workflow::validate::Dep {
                    id: t.id.clone(),
                    pointer,
                    implied_by: None,
                });
            }
        }
    }
}

/// The tasks an expression reads outputs of: `outputs['t.k']`, `outputs["t"]`,
/// `outputs.t`, `${t.output.k}`, among `ids`.
pub fn tasks_read_by(expression: &str, ids: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |key: &str| {
        // The longest task id the key starts with (`unit-tests.passed` → `unit-tests`).
        let best = ids
            .iter()
            .filter(|id| key == **id || key.starts_with(&format!("{id}.")))
            .max_by_key(|id| id.len());
        if let Some(id) = best {
            if !found.iter().any(|f| f == id) {
                found.push(id.to_string());
            }
        }
    };
    let mut rest = expression;
    while let Some(i) = rest.find("outputs") {
        rest = &rest[i + "outputs".len()..];
        let key: String = if let Some(r) = rest.strip_prefix('[') {
            let r = r.trim_start();
            let Some(q) = r.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else {
                continue;
            };
            r[1..].chars().take_while(|c| *c != q).collect()
        } else if let Some(r) = rest.strip_prefix('.') {
            r.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$'))
                .collect()
        } else {
            continue;
        };
        add(&key);
    }
    for r in crate::workflow::vars::output_refs(&Value::String(expression.to_string())) {
        add(&r.task);
    }
    found
}

/// A task's condition, and a loop's condition for the tasks of its body, read the
/// outputs of other tasks: those run first (dependencies), so the condition is
/// evaluated on their outputs.
pub fn condition_dependencies(
    tasks: &[crate::workflow::model::Task],
    src: &mut [crate::workflow::validate::TaskSrc],
    conditions: &[Condition],
    loops: &[LoopSpec],
) {
    let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let expression = |c: &str| {
        conditions
            .iter()
            .find(|k| k.id == c)
            .map(|k| k.expression.clone())
            .unwrap_or_else(|| c.to_string())
    };
    let add =
        |src: &mut [crate::workflow::validate::TaskSrc], j: usize, dep: &str, pointer: String| {
            if tasks[j].id != dep && !src[j].deps.iter().any(|d| d.id == dep) {
                src[j].deps.push(crate::workflow::validate::Dep {
                    id: dep.to_string(),
                    pointer,
                    implied_by: None,
                });
            }
        };
    for (j, t) in tasks.iter().enumerate() {
        let Some(c) = &t.control.condition else {
            continue;
        };
        let pointer = child(&src[j].pointer, "condition");
        for dep in tasks_read_by(&expression(c), &ids) {
            add(src, j, &dep, pointer.clone());
        }
    }
    for (li, l) in loops.iter().enumerate() {
        let Some(c) = &l.condition else {
            continue;
        };
        let pointer = child(&index("/loops", li), "condition");
        for dep in tasks_read_by(&expression(c), &ids) {
            if l.tasks.contains(&dep) {
                continue;
            }
            for body in &l.tasks {
                if let Some(j) = ids.iter().position(|id| id == body) {
                    add(src, j, &dep, pointer.clone());
                }
            }
        }
    }
}

/// Every id that control flow names must be a task; a `condition` that is a bare
/// name must be a condition or a variable.
pub fn check(
    refs: &ControlRefs,
    tasks: &[crate::workflow::model::Task],
    task_pointers: &[String],
    conditions: &[Condition],
    variables: &Map<String, Value>,
    r: &mut Report,
) {
    let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    for (t, p, what) in &refs.tasks {
        if !ids.contains(&t.as_str()) {
            r.error(
                p,
                format!(
                    "{what} names task `{t}`, which does not exist{}",
                    crate::workflow::keys::suggestion(t, ids.iter().copied())
                ),
            );
        }
    }
    for (task, at) in tasks.iter().zip(task_pointers) {
        let Some(c) = &task.control.condition else {
            continue;
        };
        let bare = c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_'));
        let known = conditions.iter().any(|k| k.id == *c) || variables.contains_key(c);
        if !(known || bare && c.contains('-')) {
            syntax(
                c,
                &child(at, "condition"),
                &format!("the condition of task `{}`", task.id),
                r,
            );
        }
        if bare && c.contains('-') && !known {
            let names = conditions.iter().map(|k| k.id.as_str());
            r.error(
                &child(at, "condition"),
                format!(
                    "task `{}` has condition `{c}`, which is no condition id{}: declare it under `conditions` or write an expression",
                    task.id,
                    crate::workflow::keys::suggestion(c, names)
                ),
            );
        }
    }
}
