//! The simulator's own controls under `/_sim/` (no token needed, loopback only):
//! people, branch protection, the delivery log and redelivery, faults, the
//! person's "Re-run" button on a check run, and a state dump.

use super::super::auth::{self, Actor};
use super::super::http::{created, ok, req_str, ApiError, ApiResult, JsonBody};
use super::super::state::{Fault, Token};
use super::super::{Inner, BOT_LOGIN};
use super::{full, S};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/_sim/users", post(users))
        .route("/_sim/deliveries", get(deliveries))
        .route("/_sim/deliveries/{id}/redeliver", post(redeliver))
        .route(
            "/_sim/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/_sim/repos/{owner}/{repo}/protect", post(protect))
        .route(
            "/_sim/repos/{owner}/{repo}/check-runs/{id}/rerequest",
            post(rerequest),
        )
        .route("/_sim/state", get(state))
        .route("/_sim/tokens/expire", post(expire_tokens))
}

/// Creates or updates a person; returns a new token for them.
pub fn create_user(inner: &Inner, login: &str, permission: &str) -> ApiResult<String> {
    if !auth::ROLES.contains(&permission) {
        return Err(ApiError::unprocessable(&format!(
            "permission {permission:?} is not one of {}",
            auth::ROLES.join(", ")
        )));
    }
    let valid = !login.is_empty()
        && login.len() <= 39
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !login.starts_with('-');
    if !valid {
        return Err(ApiError::unprocessable(&format!(
            "login {login:?} is not a GitHub login (letters, digits and single hyphens, at most 39)"
        )));
    }
    let token = auth::new_token("ghp");
    let mut st = inner.st.lock().unwrap();
    st.ensure_account(login, "User", permission);
    if let Some(a) = st.accounts.get_mut(login) {
        a.permission = permission.to_string();
    }
    st.tokens.insert(
        token.clone(),
        Token::User {
            login: login.to_string(),
        },
    );
    drop(st);
    inner.persist();
    Ok(token)
}

async fn users(State(inner): S, JsonBody(b): JsonBody) -> ApiResult {
    let login = req_str(&b, "login")?;
    let perm = b["permission"].as_str().unwrap_or("write");
    let token = create_user(&inner, login, perm)?;
    created(json!({"login": login, "permission": perm, "token": token}))
}

async fn deliveries(State(inner): S) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let v: Vec<Value> = st
        .deliveries
        .iter()
        .map(|d| {
            json!({"id": d.id, "guid": d.guid, "event": d.event, "action": d.action, "repository": d.repo,
                   "status_code": d.status_code, "status": d.status, "duration_ms": d.duration_ms,
                   "delivered_at": d.delivered_at, "redelivery": d.redelivery, "payload": d.payload})
        })
        .collect();
    ok(Value::Array(v))
}

async fn redeliver(State(inner): S, Path(id): Path<u64>) -> ApiResult {
    match inner.redeliver(id) {
        Some(new) => Ok((StatusCode::ACCEPTED, axum::Json(json!({"id": new}))).into_response()),
        None => Err(ApiError::not_found()),
    }
}

async fn add_fault(State(inner): S, JsonBody(b): JsonBody) -> ApiResult {
    let path = req_str(&b, "path")?.to_string();
    if let Err(e) = regex::Regex::new(&path) {
        return Err(ApiError::unprocessable(&format!(
            "path is not a regex: {e}"
        )));
    }
    let f = Fault {
        method: b["method"].as_str().map(|m| m.to_ascii_uppercase()),
        path,
        status: b["status"].as_u64().unwrap_or(502) as u16,
        times: b["times"].as_u64().unwrap_or(1) as u32,
        retry_after: b["retry_after"].as_u64(),
        delay_ms: b["delay_ms"].as_u64().unwrap_or(0),
    };
    inner.st.lock().unwrap().faults.push(f.clone());
    created(serde_json::to_value(f).unwrap_or_default())
}

async fn clear_faults(State(inner): S) -> ApiResult {
    inner.st.lock().unwrap().faults.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_faults(State(inner): S) -> ApiResult {
    ok(serde_json::to_value(&inner.st.lock().unwrap().faults).unwrap_or_default())
}

/// Consumes a matching fault, if any, and returns the answer it dictates.
/// A fault with a status below 400 only delays the request.
pub async fn take_fault(inner: &Inner, method: &Method, path: &str) -> Option<Response> {
    let hit = {
        let mut st = inner.st.lock().unwrap();
        let i = st.faults.iter().position(|f| {
            f.times > 0
                && f.method.as_deref().is_none_or(|m| m == method.as_str())
                && regex::Regex::new(&f.path).is_ok_and(|r| r.is_match(path))
        })?;
        let f = st.faults[i].clone();
        st.faults[i].times -= 1;
        if st.faults[i].times == 0 {
            st.faults.remove(i);
        }
        f
    };
    if hit.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(hit.delay_ms)).await;
    }
    if hit.status < 400 {
        return None;
    }
    let status = StatusCode::from_u16(hit.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let message = match hit.status {
        403 => "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
        429 => "API rate limit exceeded",
        422 => "Validation Failed",
        502 => "Server Error",
        503 => "Service Unavailable",
        _ => "Injected fault",
    };
    let mut r = ApiError::new(status, message).into_response();
    if let Some(s) = hit
        .retry_after
        .or(if hit.status == 403 { Some(60) } else { None })
    {
        r.headers_mut().insert("retry-after", HeaderValue::from(s));
    }
    Some(r)
}

async fn protect(
    State(inner): S,
    Path((o, r)): Path<(String, String)>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let branch = req_str(&b, "branch")?.to_string();
    let full = full(&o, &r);
    let mut st = inner.st.lock().unwrap();
    let repo = st.repos.get_mut(&full).ok_or_else(ApiError::not_found)?;
    repo.protected.insert(branch.clone());
    let list: Vec<String> = repo.protected.iter().cloned().collect();
    drop(st);
    let file = inner.bare(&full).join("prflow-protected");
    std::fs::write(&file, list.join("\n") + "\n").map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("writing {}: {e}", file.display()),
        )
    })?;
    inner.persist();
    created(json!({"repository": full, "protected": list}))
}

/// The person's "Re-run" button: sends `check_run` `rerequested` to the App.
/// The person is named by their token (`Authorization`) or `{"login": …}`.
async fn rerequest(
    State(inner): S,
    Path((o, r, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let full = full(&o, &r);
    let login = match headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(auth::token_from_header)
    {
        Some(t) => {
            let st = inner.st.lock().unwrap();
            match auth::resolve(&st, &inner.key, &t) {
                Ok(Actor::Person(l)) => l,
                _ => return Err(ApiError::bad_credentials()),
            }
        }
        None => b["login"].as_str().unwrap_or(BOT_LOGIN).to_string(),
    };
    super::checks::check_run_json(&inner, &full, id)?;
    super::checks::emit_run(&inner, &full, id, "rerequested", &login);
    Ok((StatusCode::CREATED, axum::Json(json!({}))).into_response())
}

/// Makes every installation token expire now, as if an hour had passed
/// (so clients can test renewing tokens without waiting).
async fn expire_tokens(State(inner): S) -> ApiResult {
    let mut st = inner.st.lock().unwrap();
    let mut n = 0;
    for t in st.tokens.values_mut() {
        if let Token::Installation { expires_at, .. } = t {
            *expires_at = super::super::state::unix_now() - 1;
            n += 1;
        }
    }
    drop(st);
    inner.persist();
    ok(json!({"expired": n}))
}

async fn state(State(inner): S) -> ApiResult {
    ok(serde_json::to_value(&*inner.st.lock().unwrap()).unwrap_or_default())
}

/// At first start with a webhook URL: `ping` and `installation` `created`, like
/// GitHub sends when an App's hook is created and the App is installed.
pub fn send_hello(inner: &Inner) {
    let (zen, repos, app_id, account) = {
        let st = inner.st.lock().unwrap();
        let repos: Vec<Value> = st
            .repos
            .values()
            .map(|r| json!({"id": r.id, "node_id": super::super::shapes::node_id("Repository", r.id), "name": r.name, "full_name": r.full_name(), "private": false}))
            .collect();
        let account = st
            .accounts
            .values()
            .find(|a| a.kind == "Organization")
            .map(|a| a.login.clone())
            .unwrap_or_else(|| BOT_LOGIN.into());
        ("Keep it logically awesome.", repos, st.app_id, account)
    };
    let mut ping = Map::new();
    ping.insert("zen".into(), json!(zen));
    ping.insert("hook_id".into(), json!(super::super::webhooks::HOOK_ID));
    ping.insert(
        "hook".into(),
        json!({"type": "App", "id": super::super::webhooks::HOOK_ID, "name": "web", "active": true, "app_id": app_id,
               "events": super::super::shapes::EVENTS,
               "config": {"content_type": "json", "insecure_ssl": "0", "url": inner.st.lock().unwrap().webhook_url},
               "updated_at": super::super::state::now(), "created_at": super::super::state::now()}),
    );
    if let Some(org) = inner
        .st
        .lock()
        .unwrap()
        .accounts
        .get(&account)
        .filter(|a| a.kind == "Organization")
    {
        ping.insert(
            "organization".into(),
            super::super::shapes::organization(&inner.base, org),
        );
    }
    inner.emit("ping", None, &account, ping);
    let mut m = Map::new();
    m.insert("action".into(), json!("created"));
    let mut inst = super::super::shapes::installation(&inner.base, &inner.st.lock().unwrap());
    // The `installation` event carries Unix seconds where the REST object has ISO 8601.
    for k in ["created_at", "updated_at"] {
        if let Some(t) = inst[k].as_str().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        }) {
            inst[k] = json!(t.unix_timestamp());
        }
    }
    m.insert("installation".into(), inst);
    m.insert("repositories".into(), Value::Array(repos));
    inner.emit("installation", None, &account, m);
}
