//! `repository_dispatch` and `workflow_dispatch`: recorded as received and
//! sent as webhooks, with GitHub's limits on event names and payloads.

use super::super::git;
use super::super::http::{no_content, req_str, ApiError, ApiResult, JsonBody};
use super::super::state::now;
use super::super::Inner;
use super::access::{RepoAccess, WriteActions, WriteContents};
use super::lookup::repo_mut;
use super::repos::open;
use super::S;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/repos/{owner}/{repo}/dispatches", post(dispatch))
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{id}/dispatches",
            post(workflow_dispatch),
        )
}

/// Keeps a dispatch as received (`GET /_sim/state` shows them), stamped with who and when.
fn record(inner: &Inner, f: &str, sender: &str, mut entry: Value) -> ApiResult<()> {
    entry["sender"] = json!(sender);
    entry["at"] = json!(now());
    repo_mut(&mut inner.st.lock().unwrap(), f)?
        .dispatches
        .push(entry);
    Ok(())
}

async fn dispatch(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let event_type = req_str(&b, "event_type")?.to_string();
    if event_type.is_empty() || event_type.chars().count() > 100 {
        return Err(ApiError::invalid("event_type must be 1 to 100 characters"));
    }
    let client_payload = b.get("client_payload").cloned().unwrap_or(json!({}));
    if client_payload.as_object().is_some_and(|o| o.len() > 10) {
        return Err(ApiError::invalid(
            "client_payload has more than 10 top-level properties",
        ));
    }
    if serde_json::to_vec(&client_payload)
        .map(|v| v.len())
        .unwrap_or(0)
        >= 64 * 1024
    {
        return Err(ApiError::invalid("client_payload is 64 KB or more"));
    }
    let login = inner.login_of(&actor);
    record(
        &inner,
        &f,
        &login,
        json!({"kind": "repository_dispatch", "event_type": event_type, "client_payload": client_payload}),
    )?;
    let branch = json!(git::default_branch(&inner.bare(&f)));
    let parts = [("branch", branch), ("client_payload", client_payload)];
    inner.emit_action("repository_dispatch", &f, &event_type, &login, parts);
    no_content()
}

async fn workflow_dispatch(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteActions>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let rf = req_str(&b, "ref")?.to_string();
    let repo = open(&inner, &f)?;
    if git::resolve(&repo, rf.trim_start_matches("refs/heads/")).is_none() {
        return Err(ApiError::unprocessable(&format!("No ref found for: {rf}")));
    }
    let inputs = b.get("inputs").cloned().unwrap_or(json!({}));
    if inputs.as_object().is_some_and(|o| o.len() > 25) {
        return Err(ApiError::unprocessable(
            "inputs are too large (at most 25).",
        ));
    }
    let login = inner.login_of(&actor);
    record(
        &inner,
        &f,
        &login,
        json!({"kind": "workflow_dispatch", "workflow": id, "ref": rf, "inputs": inputs}),
    )?;
    let mut m = Map::new();
    m.insert("inputs".into(), inputs);
    m.insert(
        "ref".into(),
        json!(if rf.starts_with("refs/") {
            rf.clone()
        } else {
            format!("refs/heads/{rf}")
        }),
    );
    m.insert("workflow".into(), json!(format!(".github/workflows/{id}")));
    inner.emit("workflow_dispatch", Some(&f), &login, m);
    no_content()
}
