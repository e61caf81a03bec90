//! The values every template, `dest` and `when` of a pack sees.
//!
//! Built from the workflow and the task alone (no clock, no randomness), so the same
//! workflow renders byte-identical files. `system` is the model of what the workflow
//! builds (see [`super::system`]), shared by every pack.

use crate::agents::Feedback;
use crate::workflow::{Agent, Task, Workflow};
use serde_json::{json, Map, Value};

/// The parts of a request the context is made of.
pub struct ContextInput<'a> {
    pub workflow: &'a Workflow,
    pub task: &'a Task,
    pub agent: &'a Agent,
    pub run_id: &'a str,
    pub phase: usize,
    pub feedback: Option<&'a Feedback>,
    pub output_dir: &'a str,
}

pub fn agent_json(a: &Agent) -> Value {
    json!({"id": a.id, "name": a.name, "type": a.kind, "capabilities": a.capabilities})
}

fn task_json(t: &Task, input: &Value) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "type": t.kind,
        "agent": t.agent,
        "dependencies": t.dependencies,
        "input": input,
        "output": t.output,
    })
}

pub fn workflow_json(w: &Workflow) -> Value {
    json!({
        "name": w.name,
        "description": w.description,
        "variables": w.variables,
        "agents": w.agents.iter().map(agent_json).collect::<Vec<_>>(),
        "tasks": w.tasks.iter().map(|t| task_json(t, &t.input)).collect::<Vec<_>>(),
        "quality": {
            "code_review": w.quality.code_review,
            "security_scan": w.quality.security_scan,
            "performance": w.quality.performance.as_ref().map(|p| json!({
                "response_time_ms": p.response_time_ms,
                "throughput": p.throughput,
            })),
        },
        "checkpoints": w.checkpoints,
        "concurrency": w.concurrency,
    })
}

/// Inserts `key` and, when it has hyphens, its `_` spelling too.
fn insert_var(map: &mut Map<String, Value>, key: &str, value: Value) {
    if key.contains('-') {
        map.insert(key.replace('-', "_"), value.clone());
    }
    map.insert(key.to_string(), value);
}

/// The workflow-level part of the context (`workflow`, `system`): the same for every
/// task of a run, so it is built once per workflow and shared (see [`identity`]).
#[derive(Debug)]
pub struct Shared {
    pub workflow: minijinja::Value,
    pub system: minijinja::Value,
}

impl Shared {
    pub fn new(w: &Workflow) -> Shared {
        Shared {
            workflow: minijinja::Value::from_serialize(workflow_json(w)),
            system: minijinja::Value::from_serialize(super::system::system(w)),
        }
    }
}

/// See [`identity`].
pub type WorkflowIdentity = u64;

fn hash_value<H: std::hash::Hasher>(v: &Value, h: &mut H) {
    use std::hash::Hash;
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.to_string()).hash(h),
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_value(i, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}

/// A hash of everything [`Shared`] is built from, to know when a cached one still
/// applies. Walking the values directly costs microseconds for hundreds of tasks;
/// building `Shared` again (serializing every task) would cost milliseconds per task.
pub fn identity(w: &Workflow) -> WorkflowIdentity {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&w.name, &w.description, w.concurrency, &w.checkpoints).hash(&mut h);
    (w.quality.code_review, w.quality.security_scan).hash(&mut h);
    if let Some(p) = &w.quality.performance {
        (p.response_time_ms, p.throughput).hash(&mut h);
    }
    w.variables.len().hash(&mut h);
    for (k, v) in &w.variables {
        k.hash(&mut h);
        hash_value(v, &mut h);
    }
    for a in &w.agents {
        (&a.id, &a.name, &a.kind, &a.capabilities).hash(&mut h);
    }
    for t in &w.tasks {
        (
            &t.id,
            &t.name,
            &t.description,
            &t.kind,
            &t.agent,
            &t.dependencies,
        )
            .hash(&mut h);
        hash_value(&t.input, &mut h);
        hash_value(&t.output, &mut h);
    }
    h.finish()
}

/// The task-level context as a JSON object: the pack's variable defaults (template
/// defaults still unrendered: the renderer expands them), workflow variables, task
/// input keys, then the built-in names. `workflow` and `system` are added by the
/// renderer from [`Shared`].
pub fn build(ci: &ContextInput<'_>, defaults: &[(String, Value)]) -> Map<String, Value> {
    let mut ctx = Map::new();
    for (k, v) in defaults {
        insert_var(&mut ctx, k, v.clone());
    }
    for (k, v) in &ci.workflow.variables {
        insert_var(&mut ctx, k, v.clone());
    }
    if let Some(input) = ci.task.input.as_object() {
        for (k, v) in input {
            insert_var(&mut ctx, k, v.clone());
        }
    }
    // Built-in names win over variables of the same name.
    let features = ci
        .task
        .input
        .get("features")
        .filter(|v| v.is_array())
        .cloned()
        .unwrap_or_else(|| json!([]));
    let input = if ci.task.input.is_null() {
        json!({})
    } else {
        ci.task.input.clone()
    };
    ctx.remove("workflow");
    ctx.remove("system");
    ctx.insert("task".into(), task_json(ci.task, &input));
    ctx.insert("agent".into(), agent_json(ci.agent));
    ctx.insert("input".into(), input);
    ctx.insert("features".into(), features);
    ctx.insert("run_id".into(), json!(ci.run_id));
    ctx.insert("phase".into(), json!(ci.phase));
    ctx.insert(
        "feedback".into(),
        match ci.feedback {
            Some(f) => json!({
                "body": f.body,
                "reviewer": f.reviewer,
                "comments": f.comments.iter().map(|c| json!({"path": c.path, "line": c.line, "body": c.body})).collect::<Vec<_>>(),
            }),
            None => Value::Null,
        },
    );
    ctx.insert("output_dir".into(), json!(ci.output_dir));
    ctx
}
