//! A step that is due, made ready to run: is it a handler something triggered, does its
//! condition hold, and what are its run-time placeholders (`${iteration}`,
//! `${loop.current_item}`, `${error.message}` …) and outputs of earlier tasks. Pure: it
//! decides, the scheduler records.

use crate::engine::control::{self, Known, Step};
use crate::workflow::{vars, Task, Workflow};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a due step does.
pub(super) enum Prepared {
    /// It runs as `task` (placeholders resolved); `runtime` goes to its hooks.
    Run {
        task: Box<Task>,
        runtime: Map<String, Value>,
    },
    /// A handler (`onSuccess`/`onFailure`) that nothing triggered: the task is skipped.
    Untriggered(String),
    /// Its condition is false: this step is skipped.
    ConditionFalse(String),
    /// Its condition cannot be evaluated, or it refers to a skipped task's outputs.
    Fails(String),
}

/// Prepares `step` of `task`. `failed` holds the failures waiting for their handlers.
pub(super) fn prepare(
    workflow: &Workflow,
    task: &Task,
    step: &Step,
    known: &Known<'_>,
    failed: &HashMap<String, String>,
) -> Prepared {
    let committed = |id: &str| known.outputs.contains_key(id);
    let trigger = if control::is_handler(workflow, &task.id) {
        match control::trigger_of(workflow, &task.id, &committed, failed) {
            None => {
                return Prepared::Untriggered(format!(
                    "a handler ({}) that nothing triggered",
                    handler_of(workflow, &task.id)
                ))
            }
            Some(error) => error,
        }
    } else {
        None
    };
    let runtime = control::runtime_values(workflow, task, step, trigger.as_deref());
    let mut prepared = with_runtime(task, &runtime);
    match control::decide(workflow, &prepared, known) {
        Ok(control::Decision::Run) => {}
        Ok(control::Decision::Skip(why)) => return Prepared::ConditionFalse(why),
        Err(e) => return Prepared::Fails(e),
    }
    prepared.input = vars::resolve_outputs(&prepared.input, known.outputs);
    Prepared::Run {
        task: Box::new(prepared),
        runtime,
    }
}

/// `task` with the step's run-time placeholders resolved in its input, extra keys,
/// name and description.
fn with_runtime(task: &Task, runtime: &Map<String, Value>) -> Task {
    let resolve_text = |text: &str| match vars::resolve_runtime(&Value::from(text), runtime) {
        Value::String(s) => s,
        _ => text.to_string(),
    };
    let mut prepared = task.clone();
    prepared.input = vars::resolve_runtime(&prepared.input, runtime);
    if let Value::Object(extra) =
        vars::resolve_runtime(&Value::Object(prepared.extra.clone()), runtime)
    {
        prepared.extra = extra;
    }
    prepared.name = resolve_text(&prepared.name);
    prepared.description = prepared.description.as_deref().map(resolve_text);
    prepared
}

/// "onSuccess of `a`", "onFailure of `b`" …: which tasks name `handler`.
fn handler_of(workflow: &Workflow, handler: &str) -> String {
    let mut names = Vec::new();
    for t in &workflow.tasks {
        if t.control.on_success.iter().any(|h| h == handler) {
            names.push(format!("onSuccess of `{}`", t.id));
        }
        if t.control.on_failure.iter().any(|h| h == handler) {
            names.push(format!("onFailure of `{}`", t.id));
        }
    }
    names.join(", ")
}
