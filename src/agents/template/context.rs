//! The values every template, `dest` and `when` of a pack sees.
//!
//! Built from the workflow and the task alone (no clock, no randomness), so the same
//! workflow renders byte-identical files. `system` is a derived view of the services
//! the workflow builds, shared by every pack so that the architecture documents, the
//! gateway's routes and the deployment files agree on names and ports.

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
            system: minijinja::Value::from_serialize(system(w)),
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

const DEV_TYPES: &[&str] = &["development", "implementation", "coding", "build"];
const FRONTEND_FRAMEWORKS: &[&str] = &[
    "react",
    "vue",
    "angular",
    "svelte",
    "sveltekit",
    "next",
    "nextjs",
    "nuxt",
    "solid",
    "preact",
];
const AUTH_FEATURES: &[&str] = &["jwt", "oauth2", "refresh-tokens", "sessions", "sso"];
const VERB_PREFIXES: &[&str] = &[
    "create-",
    "build-",
    "implement-",
    "develop-",
    "make-",
    "setup-",
    "set-up-",
    "write-",
];

fn normalize_db(db: &str) -> String {
    let d = db.to_ascii_lowercase();
    match d.as_str() {
        "postgres" | "pg" | "postgresql" | "psql" => "postgresql".into(),
        "mongo" | "mongodb" => "mongodb".into(),
        "mysql" | "mariadb" => d,
        _ => d,
    }
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    }
}

/// Naive English plural for resource names (`user` → `users`, `category` → `categories`).
pub fn plural(word: &str) -> String {
    let w = word;
    if w.is_empty() || w.ends_with('s') {
        return w.to_string();
    }
    if let Some(stem) = w.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if w.ends_with('x') || w.ends_with("ch") || w.ends_with("sh") {
        return format!("{w}es");
    }
    format!("{w}s")
}

/// The services a workflow builds, derived from its development tasks.
///
/// A development task (type development/implementation/coding/build) with an
/// `input.framework` or `input.database` is a service. It is the `gateway` when its
/// framework, id or name says gateway or it has the `routing` feature; the `frontend`
/// when its framework is a UI framework or its agent has the `frontend` capability;
/// else a `backend`. Backends get a `resource` (`auth` for auth services, else the
/// plural of the name's stem: user-service → `users`) and ports 3001, 3002 … in file
/// order; the gateway gets 8080 and the frontend 3000, unless `input.port` says otherwise.
pub fn system(w: &Workflow) -> Value {
    let mut services: Vec<Map<String, Value>> = Vec::new();
    let mut next_port = 3001u64;
    for t in &w.tasks {
        let is_dev = t
            .kind
            .as_deref()
            .is_some_and(|k| DEV_TYPES.iter().any(|d| d.eq_ignore_ascii_case(k)));
        let framework = t
            .input
            .get("framework")
            .and_then(Value::as_str)
            .map(str::to_string);
        let database = t
            .input
            .get("database")
            .and_then(Value::as_str)
            .map(normalize_db);
        if !is_dev || (framework.is_none() && database.is_none()) {
            continue;
        }
        let agent = w.agent(&t.agent);
        let caps: Vec<String> = agent.map(|a| a.capabilities.clone()).unwrap_or_default();
        let features = str_list(t.input.get("features"));
        let fw = framework.clone().unwrap_or_default().to_ascii_lowercase();
        let id_lc = t.id.to_ascii_lowercase();
        let name_lc = t.name.to_ascii_lowercase();
        let kind = if fw.contains("gateway")
            || id_lc.contains("gateway")
            || name_lc.contains("gateway")
            || features.iter().any(|f| f == "routing")
        {
            "gateway"
        } else if FRONTEND_FRAMEWORKS.contains(&fw.as_str())
            || caps.iter().any(|c| c.eq_ignore_ascii_case("frontend"))
            || id_lc.contains("frontend")
        {
            "frontend"
        } else {
            "backend"
        };
        let name = t
            .input
            .get("service_name")
            .or_else(|| t.input.get("service-name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                let mut n = t.id.as_str();
                for p in VERB_PREFIXES {
                    if let Some(rest) = n.strip_prefix(p) {
                        n = rest;
                        break;
                    }
                }
                n.to_string()
            });
        let stem = ["-service", "-svc", "-api", "-app", "-server"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_string();
        let is_auth = kind == "backend"
            && (stem.contains("auth")
                || features.iter().any(|f| AUTH_FEATURES.contains(&f.as_str())));
        let role = if kind != "backend" {
            kind.to_string()
        } else if is_auth {
            "auth".to_string()
        } else {
            plural(&stem)
        };
        let port = t
            .input
            .get("port")
            .and_then(Value::as_u64)
            .unwrap_or(match kind {
                "gateway" => 8080,
                "frontend" => 3000,
                _ => {
                    next_port += 1;
                    next_port - 1
                }
            });
        let mut s = Map::new();
        s.insert("name".into(), json!(name));
        s.insert("task".into(), json!(t.id));
        s.insert("title".into(), json!(t.name));
        s.insert("agent".into(), json!(t.agent));
        s.insert("kind".into(), json!(kind));
        s.insert("resource".into(), json!(role));
        s.insert("framework".into(), json!(framework));
        s.insert("database".into(), json!(database));
        s.insert("features".into(), json!(features));
        s.insert("port".into(), json!(port));
        s.insert(
            "env_prefix".into(),
            json!(name.to_ascii_uppercase().replace('-', "_")),
        );
        s.insert("dependencies".into(), json!(t.dependencies));
        services.push(s);
    }
    let of_kind = |k: &str| -> Vec<Value> {
        services
            .iter()
            .filter(|s| s["kind"] == k)
            .map(|s| Value::Object(s.clone()))
            .collect()
    };
    let mut databases: Vec<String> = services
        .iter()
        .filter_map(|s| s["database"].as_str().map(str::to_string))
        .collect();
    databases.sort();
    databases.dedup();
    json!({
        "services": services,
        "backends": of_kind("backend"),
        "gateway": of_kind("gateway").into_iter().next(),
        "frontend": of_kind("frontend").into_iter().next(),
        "databases": databases,
    })
}
