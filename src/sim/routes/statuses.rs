//! Commit statuses: `POST …/statuses/{sha}` (and its `status` webhook), the
//! statuses of a ref, and the combined status.

use super::super::git;
use super::super::http::{created, ok, req_str, ApiError, ApiResult, JsonBody};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{now, Status};
use super::super::Inner;
use super::access::{ReadStatuses, RepoAccess, WriteStatuses};
use super::repos::{commit_exists, commit_json, is_protected, open, repo_json};
use super::S;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use git2::Oid;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new().route(
        "/repos/{owner}/{repo}/statuses/{sha}",
        post(create_status).get(list_statuses_sha),
    )
}

async fn create_status(
    State(inner): S,
    Path((_, _, sha)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteStatuses>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let state = req_str(&b, "state")?.to_string();
    if !matches!(state.as_str(), "error" | "failure" | "pending" | "success") {
        return Err(ApiError::invalid(&format!(
            "state {state:?} is not included in the list (error, failure, pending, success)"
        )));
    }
    let repo = open(&inner, &f)?;
    let oid = commit_exists(&repo, &sha)
        .ok_or_else(|| ApiError::unprocessable(&format!("No commit found for SHA: {sha}")))?;
    let context = b["context"].as_str().unwrap_or("default").to_string();
    let login = inner.login_of(&actor);
    let mut st = inner.st.lock().unwrap();
    let id = st.id();
    let repo_st = st.repos.get_mut(&f).ok_or_else(ApiError::not_found)?;
    if repo_st
        .statuses
        .iter()
        .filter(|s| s.sha == oid.to_string() && s.context == context)
        .count()
        >= 1000
    {
        return Err(ApiError::invalid(
            "This SHA and context has reached the maximum number of statuses.",
        ));
    }
    let s = Status {
        id,
        sha: oid.to_string(),
        state,
        context,
        description: b["description"].as_str().map(str::to_string),
        target_url: b["target_url"].as_str().map(str::to_string),
        creator: login,
        created_at: now(),
    };
    repo_st.statuses.push(s.clone());
    let r = st.repos.get(&f).ok_or_else(ApiError::not_found)?;
    let answer = shapes::status(&inner.base, &st, r, &s);
    drop(st);
    emit_status(&inner, &f, &repo, oid, &s);
    created(answer)
}

/// The `status` webhook: the status, its commit, and the branches whose tip it is.
fn emit_status(inner: &Inner, f: &str, repo: &git2::Repository, oid: Oid, s: &Status) {
    let sha = oid.to_string();
    let base = &inner.base;
    let branches: Vec<Value> = git::refs(&inner.bare(f))
        .into_iter()
        .filter(|(_, tip)| *tip == sha)
        .filter_map(|(name, _)| name.strip_prefix("refs/heads/").map(str::to_string))
        .map(|b| json!({"name": b, "commit": {"sha": sha, "url": format!("{base}/repos/{f}/commits/{sha}")}, "protected": is_protected(inner, f, &b)}))
        .collect();
    let mut commit = commit_json(inner, f, repo, oid);
    commit["node_id"] = json!(shapes::node_id("Commit", s.id));
    // Status payloads write times with an explicit offset (`+00:00`).
    let t = s.created_at.replace('Z', "+00:00");
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("id", json!(s.id)),
        ("sha", json!(sha)),
        ("name", json!(f)),
        ("target_url", json!(s.target_url)),
        (
            "avatar_url",
            json!(format!(
                "{base}/avatars/{}",
                s.creator.replace('[', "%5B").replace(']', "%5D")
            )),
        ),
        ("context", json!(s.context)),
        ("description", json!(s.description)),
        ("state", json!(s.state)),
        ("commit", commit),
        ("branches", Value::Array(branches)),
        ("created_at", json!(t)),
        ("updated_at", json!(t)),
    ] {
        m.insert(k.into(), v);
    }
    inner.emit("status", Some(f), &s.creator, m);
}

pub(super) fn list(inner: &Inner, f: &str, sha: &str, paging: &Paging) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = st.repos.get(f).ok_or_else(ApiError::not_found)?;
    let v: Vec<Value> = r
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .map(|s| shapes::status(&inner.base, &st, r, s))
        .collect();
    paging.array(v)
}

async fn list_statuses_sha(
    State(inner): S,
    Path((_, _, sha)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadStatuses>,
    paging: Paging,
) -> ApiResult {
    list(&inner, &f, &sha, &paging)
}

pub(super) fn combined(inner: &Inner, f: &str, sha: &str) -> ApiResult {
    let repo_v = repo_json(inner, f, None)?;
    let st = inner.st.lock().unwrap();
    let r = st.repos.get(f).ok_or_else(ApiError::not_found)?;
    let mut latest: Vec<&Status> = vec![];
    for s in r.statuses.iter().rev().filter(|s| s.sha == sha) {
        if !latest.iter().any(|l| l.context == s.context) {
            latest.push(s);
        }
    }
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let base = &inner.base;
    ok(json!({
        "state": state, "sha": sha, "total_count": latest.len(),
        "statuses": latest.iter().map(|s| shapes::status(base, &st, r, s)).collect::<Vec<_>>(),
        "repository": repo_v, "commit_url": format!("{base}/repos/{f}/commits/{sha}"),
        "url": format!("{base}/repos/{f}/commits/{sha}/status"),
    }))
}
