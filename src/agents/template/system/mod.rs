//! The system a workflow builds, derived once from the workflow alone: its services
//! (with the resources each owns), the gateway's routes and the frontend's pages.
//!
//! Every pack renders from this one model (`system` in the render context), so the
//! architecture documents, the services, the gateway's routing table, docker-compose,
//! Kubernetes, the tests and the frontend agree on every name, port and path, and
//! `prflow plan --format json` can show a user what will be generated before anything
//! is. templates/README.md ("The render context") is the reference for its shape.

pub mod resources;

use crate::workflow::{Agent, Task, Workflow};
use resources::Resource;
use serde::Serialize;
use serde_json::{json, Value};

/// Task types that write code.
const DEV_TYPES: &[&str] = &["development", "implementation", "coding", "build"];
/// Agent types that write code, for a task without a `type`.
const DEV_AGENTS: &[&str] = &[
    "developer",
    "coder",
    "engineer",
    "backend-developer",
    "frontend-developer",
    "fullstack-developer",
];
/// Capabilities that say an agent writes services, for a task without a `type`.
const DEV_CAPABILITIES: &[&str] = &["backend", "frontend", "api", "api-development"];
const FRONTEND_FRAMEWORKS: &[&str] = &[
    "react",
    "vue",
    "angular",
    "svelte",
    "sveltekit",
    "next",
    "nextjs",
    "next.js",
    "nuxt",
    "solid",
    "preact",
];
/// Features that make a backend the system's auth provider.
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
/// Input keys that say a task creates a service.
const SERVICE_KEYS: &[&str] = &[
    "framework",
    "database",
    "service_name",
    "service-name",
    "resources",
    "entities",
    "integrations",
];

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    pub task: String,
    pub title: String,
    pub agent: String,
    /// `backend`, `gateway` or `frontend`.
    pub kind: String,
    /// `auth` for the auth provider, `gateway`, `frontend`, else the name's stem (`payment`).
    pub role: String,
    /// The route base of the packs written before resources existed: `auth`, else the
    /// plural of the stem (`users`). Kept so repository packs keep working.
    pub resource: String,
    /// Backends: `express` unless the input says otherwise; others: the input's, lower-case.
    pub framework: Option<String>,
    /// Backends: the store (`postgresql`, `mysql`, `mongodb`, `redis`, or `memory` when
    /// the input names none); others: the input's database or none.
    pub database: Option<String>,
    pub integrations: Vec<String>,
    pub features: Vec<String>,
    /// The system has an auth provider, so this service checks bearer tokens.
    pub auth: bool,
    /// This service issues the tokens (features jwt, oauth2, refresh-tokens, sessions, sso,
    /// or "auth" in its name).
    pub provides_auth: bool,
    pub port: u64,
    pub env_prefix: String,
    pub dependencies: Vec<String>,
    pub resources: Vec<Resource>,
}

/// `postgres`/`pg` → `postgresql`, `mongo` → `mongodb`, `mariadb` → `mysql`; other
/// values lower-cased and kept, so `validate` can name what is not supported.
pub fn normalize_db(db: &str) -> String {
    let d = db.trim().to_ascii_lowercase();
    match d.as_str() {
        "postgres" | "pg" | "postgresql" | "psql" => "postgresql".into(),
        "mongo" | "mongodb" => "mongodb".into(),
        "mysql" | "mariadb" => "mysql".into(),
        "in-memory" | "inmemory" | "none" => "memory".into(),
        _ => d,
    }
}

/// `material-ui`/`@mui/material` → `mui`, `tailwindcss` → `tailwind`, `react-bootstrap`
/// → `bootstrap`; other values lower-cased and kept (a pack's `supports` refuses them).
pub fn normalize_ui(ui: &str) -> String {
    let u = ui.trim().to_ascii_lowercase();
    match u.as_str() {
        "material-ui" | "mui" | "@mui/material" | "material" => "mui".into(),
        "tailwind" | "tailwindcss" | "tailwind-css" => "tailwind".into(),
        "bootstrap" | "react-bootstrap" | "bootstrap5" => "bootstrap".into(),
        "" => "none".into(),
        _ => u,
    }
}

pub fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    }
}

fn input_str(t: &Task, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| t.input.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// A task writes code: its type says so, or it has none and its agent does.
pub fn writes_code(t: &Task, agent: Option<&Agent>) -> bool {
    match t.kind.as_deref() {
        Some(k) => DEV_TYPES.iter().any(|d| d.eq_ignore_ascii_case(k)),
        None => agent.is_some_and(|a| {
            DEV_AGENTS.iter().any(|d| d.eq_ignore_ascii_case(&a.kind))
                || a.capabilities
                    .iter()
                    .any(|c| DEV_CAPABILITIES.iter().any(|d| d.eq_ignore_ascii_case(c)))
        }),
    }
}

/// The service's name: `input.service_name`, else `input.name` (when it is a plain
/// slug), else the task id without its verb (`create-payment-service` → `payment-service`).
fn service_name(t: &Task) -> String {
    if let Some(n) = input_str(t, &["service_name", "service-name"]) {
        return n;
    }
    if let Some(n) = input_str(t, &["name"]).filter(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) {
        return n;
    }
    let mut n = t.id.as_str();
    for p in VERB_PREFIXES {
        if let Some(rest) = n.strip_prefix(p) {
            n = rest;
            break;
        }
    }
    n.to_string()
}

/// A task creates a service when it writes code and its input names what to build
/// (a framework, database, name, resources or integrations) or its id says
/// `…-service`.
pub fn creates_service(t: &Task, agent: Option<&Agent>) -> bool {
    let says_so = SERVICE_KEYS
        .iter()
        .any(|k| t.input.get(*k).is_some_and(|v| !v.is_null()))
        || service_name(t).ends_with("-service");
    says_so && writes_code(t, agent)
}

fn kind_of(t: &Task, agent: Option<&Agent>, framework: &str, features: &[String]) -> &'static str {
    let id = t.id.to_ascii_lowercase();
    let name = t.name.to_ascii_lowercase();
    if framework.contains("gateway")
        || id.contains("gateway")
        || name.contains("gateway")
        || features.iter().any(|f| f == "routing")
    {
        "gateway"
    } else if FRONTEND_FRAMEWORKS.contains(&framework)
        || agent.is_some_and(|a| {
            a.capabilities
                .iter()
                .any(|c| c.eq_ignore_ascii_case("frontend"))
        })
        || id.contains("frontend")
    {
        "frontend"
    } else {
        "backend"
    }
}

/// What the model makes of one task: `backend`, `auth` (a backend that issues
/// tokens), `gateway` or `frontend`; `None` when it creates no service. The `service`
/// match criterion of a pack reads this.
pub fn service_kind(t: &Task, agent: Option<&Agent>) -> Option<&'static str> {
    if !creates_service(t, agent) {
        return None;
    }
    let features: Vec<String> = str_list(t.input.get("features"))
        .iter()
        .map(|f| f.to_ascii_lowercase())
        .collect();
    let framework = input_str(t, &["framework"])
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = kind_of(t, agent, &framework, &features);
    if kind == "backend" && provides_auth(&service_name(t), &features) {
        return Some("auth");
    }
    Some(kind)
}

fn stem_of(name: &str) -> &str {
    ["-service", "-svc", "-api", "-app", "-server"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// A backend issues tokens when "auth" is in its name or it has an auth feature.
fn provides_auth(name: &str, features: &[String]) -> bool {
    stem_of(name).contains("auth") || features.iter().any(|f| AUTH_FEATURES.contains(&f.as_str()))
}

/// The services a workflow builds, in task order, with resources and ports; and
/// for each task whose declared resources are malformed, why.
pub fn services(w: &Workflow) -> (Vec<Service>, Vec<(String, String)>) {
    let mut out: Vec<Service> = Vec::new();
    let mut problems = Vec::new();
    let mut next_port = 3001u64;
    for t in &w.tasks {
        let agent = w.agent(&t.agent);
        if !creates_service(t, agent) {
            continue;
        }
        let features: Vec<String> = str_list(t.input.get("features"))
            .iter()
            .map(|f| f.to_ascii_lowercase())
            .collect();
        let framework = input_str(t, &["framework"]).map(|f| f.to_ascii_lowercase());
        let kind = kind_of(t, agent, framework.as_deref().unwrap_or(""), &features);
        let name = service_name(t);
        let stem = stem_of(&name).to_string();
        let provides_auth = kind == "backend" && provides_auth(&name, &features);
        let declared_db = input_str(t, &["database", "db"]).map(|d| normalize_db(&d));
        let (role, resource, framework, database, resources) = if kind == "backend" {
            let resources = match resources::declared(&t.input) {
                Some(Ok(mut rs)) => {
                    resources::apply_features(&mut rs, &features);
                    rs
                }
                Some(Err(e)) => {
                    problems.push((t.id.clone(), e));
                    Vec::new()
                }
                None => resources::infer(&stem, &features, provides_auth),
            };
            let role = if provides_auth {
                "auth".into()
            } else {
                stem.clone()
            };
            let resource = if provides_auth {
                "auth".into()
            } else {
                resources::plural(&stem)
            };
            (
                role,
                resource,
                Some(framework.unwrap_or_else(|| "express".into())),
                Some(declared_db.unwrap_or_else(|| "memory".into())),
                resources,
            )
        } else {
            (
                kind.to_string(),
                kind.to_string(),
                framework,
                declared_db,
                Vec::new(),
            )
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
        out.push(Service {
            env_prefix: name.to_ascii_uppercase().replace('-', "_"),
            name,
            task: t.id.clone(),
            title: t.name.clone(),
            agent: t.agent.clone(),
            kind: kind.into(),
            role,
            resource,
            framework,
            database,
            integrations: str_list(t.input.get("integrations"))
                .iter()
                .map(|i| i.to_ascii_lowercase())
                .collect(),
            features,
            auth: false,
            provides_auth,
            port,
            dependencies: t.dependencies.clone(),
            resources,
        });
    }
    let has_provider = out.iter().any(|s| s.provides_auth);
    for s in &mut out {
        s.auth = has_provider;
    }
    (out, problems)
}

/// Why the resources a task declares cannot be used (`None` when they can, or when
/// the task creates no service).
/// Looks at that one task only: `validate` asks for every task, and a walk of the
/// whole workflow per task would make it quadratic.
pub fn problem_of(w: &Workflow, task: &str) -> Option<String> {
    let t = w.task(task)?;
    if !matches!(service_kind(t, w.agent(&t.agent)), Some("backend" | "auth")) {
        return None;
    }
    resources::declared(&t.input)?.err()
}

/// The model as the render context's `system` (templates/README.md, "The render context").
pub fn system(w: &Workflow) -> Value {
    let (services, _) = services(w);
    let backends: Vec<&Service> = services.iter().filter(|s| s.kind == "backend").collect();
    let mut routes = Vec::new();
    for b in &backends {
        if b.provides_auth {
            routes.push(json!({"prefix": format!("{}/auth", resources::API_PREFIX), "service": b.name, "port": b.port}));
        }
        for r in &b.resources {
            routes.push(json!({"prefix": r.path, "service": b.name, "port": b.port}));
        }
    }
    let gateway = services.iter().find(|s| s.kind == "gateway").map(|g| {
        let mut v = json!(g);
        v["routes"] = json!(routes);
        v
    });
    let frontend = services.iter().find(|s| s.kind == "frontend").map(|f| {
        let task = w.tasks.iter().find(|t| t.id == f.task);
        let ui = task
            .and_then(|t| input_str(t, &["ui", "ui-library", "ui_library", "styling", "css"]))
            .map(|u| normalize_ui(&u))
            .unwrap_or_else(|| "none".into());
        let pages: Vec<Value> = backends
            .iter()
            .flat_map(|b| {
                b.resources.iter().map(|r| {
                    json!({
                        "resource": r.name,
                        "plural": r.plural,
                        "path": r.path,
                        "route": format!("/{}", r.plural),
                        "service": b.name,
                        "fields": r.fields,
                        "actions": r.actions,
                    })
                })
            })
            .collect();
        let mut v = json!(f);
        v["framework"] = json!(f.framework.clone().unwrap_or_else(|| "react".into()));
        v["ui"] = json!(ui);
        v["pages"] = json!(pages);
        v
    });
    let mut databases: Vec<String> = services
        .iter()
        .filter_map(|s| s.database.clone())
        .filter(|d| d != "memory")
        .collect();
    databases.sort();
    databases.dedup();
    json!({
        "services": services,
        "backends": backends,
        "gateway": gateway,
        "frontend": frontend,
        "databases": databases,
    })
}

/// A few lines for `prflow plan`: what each service is and what it owns.
pub fn summary(w: &Workflow) -> Vec<String> {
    let (services, _) = services(w);
    let ui = |s: &Service| {
        w.tasks
            .iter()
            .find(|t| t.id == s.task)
            .and_then(|t| input_str(t, &["ui", "ui-library", "ui_library", "styling", "css"]))
            .map(|u| format!("+{}", normalize_ui(&u)))
            .unwrap_or_default()
    };
    services
        .iter()
        .map(|s| {
            let mut line = format!(
                "{} :{} {} {}",
                s.name,
                s.port,
                s.kind,
                s.framework.as_deref().unwrap_or("-")
            );
            if s.kind == "frontend" {
                line.push_str(&ui(s));
            }
            if let Some(db) = &s.database {
                line.push_str(&format!(" {db}"));
            }
            if s.provides_auth {
                line.push_str(" auth");
            }
            if !s.integrations.is_empty() {
                line.push_str(&format!(" [{}]", s.integrations.join(", ")));
            }
            for r in &s.resources {
                let actions: Vec<&str> = r.actions.iter().map(|a| a.name.as_str()).collect();
                line.push_str(&format!(" {} {}", r.name, r.path));
                if !actions.is_empty() {
                    line.push_str(&format!(" ({})", actions.join(", ")));
                }
            }
            line
        })
        .collect()
}
