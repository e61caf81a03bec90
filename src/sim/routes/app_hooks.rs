//! The App's webhook deliveries, as GitHub keeps them: `GET /app/hook/deliveries`
//! (newest first, paged by `cursor` with a `Link` header, filtered by
//! `status=success|failure`), `GET /app/hook/deliveries/{id}` and
//! `POST /app/hook/deliveries/{id}/attempts` (redeliver: a new delivery with the
//! same `guid`). All three take the App's JWT only.
//!
//! A delivery shows once it was attempted. One that never got an answer (the
//! App was down: connection refused) has `status_code` 0 and a `status` that
//! is not `OK`, as on GitHub — so `status=failure` (400–599) does not list it.

use super::super::http::{json_status, ok, ApiError, ApiResult};
use super::super::state::{Delivery, State as SimState};
use super::super::Inner;
use super::S;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

use super::super::auth::Actor;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/app/hook/deliveries", get(list))
        .route("/app/hook/deliveries/{id}", get(one))
        .route("/app/hook/deliveries/{id}/attempts", post(redeliver))
}

fn need_app(a: &Option<Extension<Actor>>) -> ApiResult<()> {
    match a {
        Some(Extension(Actor::App)) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded (this endpoint needs the App's JWT, not a token)",
        )),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    per_page: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
}

/// The cursor GitHub puts in `Link` URLs: `v1_` and the id of the first delivery of the page.
fn parse_cursor(c: &str) -> ApiResult<u64> {
    c.strip_prefix("v1_")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Invalid cursor"))
}

/// GitHub's short form of one delivery (`hook-delivery-item`).
fn item(st: &SimState, d: &Delivery) -> Value {
    let repository_id = d
        .repo
        .as_ref()
        .and_then(|full| st.repos.get(full))
        .map(|r| r.id);
    json!({
        "id": d.id,
        "guid": d.guid,
        "delivered_at": d.delivered_at,
        "redelivery": d.redelivery,
        "duration": d.duration_ms.unwrap_or(0) as f64 / 1000.0,
        "status": d.status,
        "status_code": d.status_code.unwrap_or(0),
        "event": d.event,
        "action": d.action,
        "installation_id": st.installation_id,
        "repository_id": repository_id,
        "throttled_at": null,
    })
}

/// Deliveries that were sent: GitHub lists none before its first attempt, and
/// records nothing while the App has no webhook URL.
fn attempted(d: &Delivery) -> bool {
    d.status != "pending" && d.delivered_at.is_some() && !d.attempts.is_empty()
}

async fn list(
    State(inner): S,
    a: Option<Extension<Actor>>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    need_app(&a)?;
    let per_page = match q.per_page.as_deref().map(str::parse::<usize>) {
        None => 30,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "per_page must be a number between 1 and 100",
            ))
        }
    };
    let below = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let wanted: Option<fn(u16) -> bool> = match q.status.as_deref() {
        None => None,
        Some("success") => Some(|c| (200..=399).contains(&c)),
        Some("failure") => Some(|c| (400..=599).contains(&c)),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "status must be `success` or `failure`",
            ))
        }
    };
    let st = inner.st.lock().unwrap();
    let mut matching = st
        .deliveries
        .iter()
        .rev()
        .filter(|d| attempted(d))
        .filter(|d| below.is_none_or(|c| d.id <= c))
        .filter(|d| wanted.is_none_or(|w| w(d.status_code.unwrap_or(0))));
    let page: Vec<Value> = matching
        .by_ref()
        .take(per_page)
        .map(|d| item(&st, d))
        .collect();
    let next = matching.next().map(|d| d.id);
    drop(st);
    let mut r = ok(Value::Array(page))?;
    if let Some(next) = next {
        let mut query = format!("per_page={per_page}&cursor=v1_{next}");
        if let Some(s) = &q.status {
            query.push_str(&format!("&status={s}"));
        }
        let link = format!("<{}/app/hook/deliveries?{query}>; rel=\"next\"", inner.base);
        if let Ok(v) = HeaderValue::from_str(&link) {
            r.headers_mut().insert("link", v);
        }
    }
    Ok(r)
}

async fn one(State(inner): S, a: Option<Extension<Actor>>, Path(id): Path<u64>) -> ApiResult {
    need_app(&a)?;
    let st = inner.st.lock().unwrap();
    let d = st
        .deliveries
        .iter()
        .find(|d| d.id == id && attempted(d))
        .ok_or_else(ApiError::not_found)?;
    let mut v = item(&st, d);
    let body = serde_json::to_string(&d.payload).unwrap_or_default();
    v["url"] = json!(st.webhook_url.clone().unwrap_or_default());
    v["request"] = json!({
        "headers": {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/prflow-sim",
            "X-GitHub-Delivery": d.guid,
            "X-GitHub-Event": d.event,
            "X-GitHub-Hook-ID": super::super::webhooks::HOOK_ID.to_string(),
            "X-Hub-Signature-256": super::super::webhooks::sign256(&st.webhook_secret, body.as_bytes()),
        },
        "payload": d.payload,
    });
    v["response"] = json!({"headers": {}, "payload": null});
    ok(v)
}

async fn redeliver(State(inner): S, a: Option<Extension<Actor>>, Path(id): Path<u64>) -> ApiResult {
    need_app(&a)?;
    let known = inner
        .st
        .lock()
        .unwrap()
        .deliveries
        .iter()
        .any(|d| d.id == id && attempted(d));
    if !known {
        return Err(ApiError::not_found());
    }
    match inner.redeliver(id) {
        Some(_) => Ok(json_status(StatusCode::ACCEPTED, json!({}))),
        None => Err(ApiError::not_found()),
    }
}
