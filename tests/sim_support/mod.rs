//! What the simulator's test files share: a repository fixture, a small REST
//! client, and the contract check of answers against GitHub's OpenAPI
//! description (tests/fixtures/sim/github-subset.json). A binary that takes it
//! takes tests/common too (git lives there).
#![allow(dead_code)]

use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};
use std::path::Path;

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn new(sim: &Sim, token: Option<&str>) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: sim.api_url(),
            token: token.map(str::to_string),
        }
    }

    /// A request with `Accept: accept`.
    pub async fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        accept: &str,
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(m, format!("{}{}", self.base, path))
            .header("accept", accept);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Resp {
            status,
            body,
            text,
            headers,
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_as(method, path, body, "application/vnd.github+json")
            .await
    }

    /// Calls `path` and asserts the answer's status, naming the request and the body
    /// when it differs.
    pub async fn expect(&self, status: u16, method: &str, path: &str, body: Option<Value>) -> Resp {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        r
    }

    /// Calls `path` and validates the answer against the OpenAPI operation `template`.
    pub async fn checked(
        &self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let r = self.call(method, path, body).await;
        contract().check(method, template, r.status, &r.body);
        r
    }
}

/// GitHub's OpenAPI subset, with OpenAPI's `nullable` turned into JSON Schema,
/// and the operations this test binary validated so far.
pub struct Contract {
    pub doc: Value,
    pub covered: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

pub fn contract() -> &'static Contract {
    static C: std::sync::OnceLock<Contract> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sim/github-subset.json");
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        nullable_to_jsonschema(&mut doc);
        Contract {
            doc,
            covered: Default::default(),
        }
    })
}

fn nullable_to_jsonschema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for child in m.values_mut() {
                nullable_to_jsonschema(child);
            }
            if m.get("nullable") == Some(&json!(true)) {
                m.remove("nullable");
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = m.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_jsonschema),
        _ => {}
    }
}

impl Contract {
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .expect("ref resolves"),
            None => v,
        }
    }

    /// Panics, naming the operation and the failing places, unless `body` is what
    /// GitHub's description allows for `status`.
    pub fn check(&self, method: &str, template: &str, status: u16, body: &Value) {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(
            op.is_object(),
            "{method} {template} is not in the OpenAPI subset"
        );
        let resp = op["responses"].get(status.to_string()).unwrap_or_else(|| {
            panic!("{method} {template} answered {status}, which GitHub's description does not list: {body}")
        });
        let resp = self.resolve(resp);
        self.covered
            .lock()
            .unwrap()
            .insert((method.to_string(), template.to_string()));
        let Some(schema) = resp.pointer("/content/application~1json/schema") else {
            return;
        };
        let root = json!({"allOf": [schema], "components": self.doc["components"]});
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&root)
            .unwrap();
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(10)
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status} does not match GitHub's schema:\n{}\n",
            errors.join("\n")
        );
    }
}

/// A real RS256 JWT of the simulator's App (what `/app/…` endpoints take).
pub fn app_jwt(sim: &Sim) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iat": now - 30, "exp": now + 500, "iss": sim.app_id()});
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(sim.private_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

/// An installation token of the simulator's App (minted with its JWT).
pub async fn installation_token(sim: &Sim) -> String {
    let app = Api::new(sim, Some(&app_jwt(sim)));
    let r = app
        .call(
            "POST",
            &format!("/app/installations/{}/access_tokens", sim.installation_id()),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

pub fn person(sim: &Sim, login: &str, role: &str) -> Api {
    let t = sim.create_user(login, role).unwrap();
    Api::new(sim, Some(&t))
}

/// Starts a simulator serving the repository at `src` as `acme/shop`.
pub async fn serve(src: &Path, webhook_url: Option<String>) -> Sim {
    Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), src.to_path_buf())],
        webhook_url,
        webhook_secret: Some("s3cret".into()),
        ..Default::default()
    })
    .await
    .unwrap()
}
