//! Check runs and check suites. Only an App (installation token) may create or
//! update check runs, as on GitHub; annotations come at most 50 per request and
//! accumulate across updates.

use super::super::auth::Actor;
use super::super::git;
use super::super::http::{created, ok, parse_body, req_str, ApiError, ApiResult};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{now, CheckRun, CheckSuite};
use super::super::Inner;
use super::access::{ReadChecks, RepoAccess, WriteChecks};
use super::lookup::{found, repo, repo_mut, shaped};
use super::repos::{commit_exists, open};
use super::S;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/repos/{owner}/{repo}/check-runs", post(create_run))
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}",
            get(get_run).patch(update_run),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}/annotations",
            get(annotations),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}/rerequest",
            post(rerequest),
        )
        .route("/repos/{owner}/{repo}/check-suites", post(create_suite))
        .route("/repos/{owner}/{repo}/check-suites/{id}", get(get_suite))
}

/// GitHub's limit of annotations per create/update request.
pub const MAX_ANNOTATIONS: usize = 50;

fn app_only(a: &Actor) -> ApiResult<()> {
    match a {
        Actor::Installation { .. } => Ok(()),
        _ => Err(ApiError::forbidden(
            "You must authenticate via a GitHub App.",
        )),
    }
}

pub fn check_run_json(inner: &Inner, f: &str, id: u64) -> ApiResult<Value> {
    shaped(inner, f, |st, r| {
        let c = found(r.check_runs.iter().find(|c| c.id == id))?;
        Ok(shapes::check_run(&inner.base, st, r, c))
    })
}

/// The commit `head_sha` of a request names, or GitHub's 422.
fn head_commit(inner: &Inner, f: &str, b: &Value) -> ApiResult<git2::Oid> {
    let sha = req_str(b, "head_sha")?;
    commit_exists(&open(inner, f)?, sha)
        .ok_or_else(|| ApiError::unprocessable(&format!("No commit found for SHA: {sha}")))
}

/// The App's check suite for `sha`, created when absent. Returns (id, created).
pub fn suite_for(inner: &Inner, f: &str, sha: &str) -> Option<(u64, bool)> {
    let branch = git::refs(&inner.bare(f))
        .into_iter()
        .find(|(n, s)| s == sha && n.starts_with("refs/heads/"))
        .map(|(n, _)| n.trim_start_matches("refs/heads/").to_string());
    let mut st = inner.st.lock().unwrap();
    if let Some(s) = st
        .repos
        .get(f)?
        .check_suites
        .iter()
        .find(|s| s.head_sha == sha)
    {
        return Some((s.id, false));
    }
    let id = st.id();
    st.repos.get_mut(f)?.check_suites.push(CheckSuite {
        id,
        head_sha: sha.to_string(),
        head_branch: branch,
        created_at: now(),
    });
    Some((id, true))
}

/// `check_suite` `requested` for a pushed commit, like GitHub sends to Apps.
pub fn suite_requested(inner: &Inner, f: &str, sha: &str, sender: &str) {
    if let Some((id, true)) = suite_for(inner, f, sha) {
        emit_suite(inner, f, id, "requested", sender);
    }
}

fn emit_suite(inner: &Inner, f: &str, id: u64, action: &str, sender: &str) {
    if let Ok(v) = suite_json(inner, f, id) {
        inner.emit_action("check_suite", f, action, sender, [("check_suite", v)]);
    }
}

fn suite_json(inner: &Inner, f: &str, id: u64) -> ApiResult<Value> {
    shaped(inner, f, |st, r| {
        Ok(shapes::check_suite(&inner.base, st, r, id))
    })
}

pub fn emit_run(inner: &Inner, f: &str, id: u64, action: &str, sender: &str) {
    if let Ok(v) = check_run_json(inner, f, id) {
        inner.emit_action("check_run", f, action, sender, [("check_run", v)]);
    }
}

fn check_annotations(output: &Value) -> ApiResult<Vec<Value>> {
    let list = output["annotations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if list.len() > MAX_ANNOTATIONS {
        return Err(ApiError::unprocessable(&format!(
            "Invalid request.\n\nOnly {MAX_ANNOTATIONS} annotations are allowed per request ({} sent).",
            list.len()
        )));
    }
    for a in &list {
        for k in ["path", "message"] {
            if a[k].as_str().is_none() {
                return Err(ApiError::unprocessable(&format!(
                    "Invalid request.\n\n\"{k}\" wasn't supplied."
                )));
            }
        }
        for k in ["start_line", "end_line"] {
            if a[k].as_u64().is_none() {
                return Err(ApiError::unprocessable(&format!(
                    "Invalid request.\n\n\"{k}\" wasn't supplied."
                )));
            }
        }
        if !matches!(
            a["annotation_level"].as_str(),
            Some("notice" | "warning" | "failure")
        ) {
            return Err(ApiError::unprocessable(
                "Invalid request.\n\nannotation_level must be notice, warning or failure.",
            ));
        }
    }
    if output.is_object()
        && (output["title"].as_str().is_none() || output["summary"].as_str().is_none())
    {
        return Err(ApiError::unprocessable(
            "Invalid request.\n\nFor 'output', \"title\" and \"summary\" are required.",
        ));
    }
    Ok(list)
}

const CONCLUSIONS: [&str; 7] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
];

fn apply(c: &mut CheckRun, b: &Value, new_annotations: Vec<Value>) -> ApiResult<()> {
    if let Some(s) = b["status"].as_str() {
        if !matches!(s, "queued" | "in_progress" | "completed") {
            return Err(ApiError::unprocessable(&format!(
                "Invalid request.\n\n{s:?} is not a valid status."
            )));
        }
        c.status = s.to_string();
    }
    if let Some(x) = b["conclusion"].as_str() {
        if !CONCLUSIONS.contains(&x) {
            return Err(ApiError::unprocessable(&format!(
                "Invalid request.\n\n{x:?} is not a valid conclusion."
            )));
        }
        c.conclusion = Some(x.to_string());
        c.status = "completed".into();
    }
    if c.status == "completed" && c.conclusion.is_none() {
        return Err(ApiError::unprocessable(
            "Invalid request.\n\nconclusion is required when status is completed.",
        ));
    }
    if c.status == "completed" && c.completed_at.is_none() {
        c.completed_at = Some(
            b["completed_at"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now),
        );
    }
    if let Some(s) = b["started_at"].as_str() {
        c.started_at = Some(s.to_string());
    }
    for (k, slot) in [
        ("details_url", &mut c.details_url),
        ("external_id", &mut c.external_id),
    ] {
        if let Some(v) = b[k].as_str() {
            *slot = Some(v.to_string());
        }
    }
    if let Some(n) = b["name"].as_str() {
        c.name = n.to_string();
    }
    let o = &b["output"];
    if o.is_object() {
        c.title = o["title"].as_str().map(str::to_string);
        c.summary = o["summary"].as_str().map(str::to_string);
        if o.get("text").is_some() {
            c.text = o["text"].as_str().map(str::to_string);
        }
    }
    c.annotations.extend(new_annotations);
    Ok(())
}

async fn create_run(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteChecks>,
    body: bytes::Bytes,
) -> ApiResult {
    app_only(&actor)?;
    let b = parse_body(&body)?;
    let name = req_str(&b, "name")?.to_string();
    let oid = head_commit(&inner, &f, &b)?;
    let ann = check_annotations(&b["output"])?;
    let (suite_id, _) = suite_for(&inner, &f, &oid.to_string()).ok_or_else(ApiError::not_found)?;
    let login = inner.login_of(&actor);
    let (id, done) = {
        let mut st = inner.st.lock().unwrap();
        let id = st.id();
        let mut c = CheckRun {
            id,
            suite_id,
            name,
            head_sha: oid.to_string(),
            status: "queued".into(),
            conclusion: None,
            started_at: Some(now()),
            completed_at: None,
            details_url: None,
            external_id: None,
            title: None,
            summary: None,
            text: None,
            annotations: vec![],
        };
        apply(&mut c, &b, ann)?;
        let done = c.status == "completed";
        repo_mut(&mut st, &f)?.check_runs.push(c);
        (id, done)
    };
    emit_run(&inner, &f, id, "created", &login);
    if done {
        emit_run(&inner, &f, id, "completed", &login);
        suite_maybe_completed(&inner, &f, suite_id, &login);
    }
    created(check_run_json(&inner, &f, id)?)
}

fn suite_maybe_completed(inner: &Inner, f: &str, suite: u64, sender: &str) {
    let all_done = inner.st.lock().unwrap().repos.get(f).is_some_and(|r| {
        r.check_runs
            .iter()
            .filter(|c| c.suite_id == suite)
            .all(|c| c.status == "completed")
    });
    if all_done {
        emit_suite(inner, f, suite, "completed", sender);
    }
}

async fn update_run(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteChecks>,
    body: bytes::Bytes,
) -> ApiResult {
    app_only(&actor)?;
    let b = parse_body(&body)?;
    let ann = check_annotations(&b["output"])?;
    let login = inner.login_of(&actor);
    let (completed_now, suite) = {
        let mut st = inner.st.lock().unwrap();
        let c = found(
            repo_mut(&mut st, &f)?
                .check_runs
                .iter_mut()
                .find(|c| c.id == id),
        )?;
        let before = c.status.clone();
        let mut copy = c.clone();
        apply(&mut copy, &b, ann)?;
        *c = copy;
        (before != "completed" && c.status == "completed", c.suite_id)
    };
    if completed_now {
        emit_run(&inner, &f, id, "completed", &login);
        suite_maybe_completed(&inner, &f, suite, &login);
    }
    ok(check_run_json(&inner, &f, id)?)
}

async fn get_run(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadChecks>,
) -> ApiResult {
    ok(check_run_json(&inner, &f, id)?)
}

async fn annotations(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadChecks>,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let c = found(repo(&st, &f)?.check_runs.iter().find(|c| c.id == id))?;
    let v: Vec<Value> = c
        .annotations
        .iter()
        .map(|x| {
            let mut x = x.clone();
            for k in ["title", "raw_details", "start_column", "end_column"] {
                if x.get(k).is_none() {
                    x[k] = Value::Null;
                }
            }
            x["blob_href"] = json!(format!(
                "{}/{f}/blob/{}/{}",
                inner.base,
                c.head_sha,
                x["path"].as_str().unwrap_or("")
            ));
            x
        })
        .collect();
    ok(Value::Array(v))
}

/// The App asks GitHub to re-run a check (`POST …/check-runs/{id}/rerequest`).
async fn rerequest(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteChecks>,
) -> ApiResult {
    check_run_json(&inner, &f, id)?;
    let login = inner.login_of(&actor);
    emit_run(&inner, &f, id, "rerequested", &login);
    created(json!({}))
}

/// `GET /commits/{ref}/check-runs` (called from the commits router), latest run per name unless `filter=all`.
pub fn list_for_sha(
    inner: &Inner,
    f: &str,
    sha: &str,
    q: &HashMap<String, String>,
    paging: &Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = repo(&st, f)?;
    let all = q.get("filter").map(String::as_str) == Some("all");
    let mut seen = std::collections::HashSet::new();
    let runs: Vec<Value> = r
        .check_runs
        .iter()
        .rev()
        .filter(|c| c.head_sha == sha)
        .filter(|c| q.get("check_name").is_none_or(|n| *n == c.name))
        .filter(|c| q.get("status").is_none_or(|s| *s == c.status))
        .filter(|c| all || seen.insert(c.name.clone()))
        .map(|c| shapes::check_run(&inner.base, &st, r, c))
        .collect();
    paging.wrapped("check_runs", runs)
}

pub fn suites_for_sha(inner: &Inner, f: &str, sha: &str, paging: &Paging) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = repo(&st, f)?;
    let v: Vec<Value> = r
        .check_suites
        .iter()
        .filter(|s| s.head_sha == sha)
        .map(|s| shapes::check_suite(&inner.base, &st, r, s.id))
        .collect();
    paging.wrapped("check_suites", v)
}

async fn create_suite(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteChecks>,
    body: bytes::Bytes,
) -> ApiResult {
    app_only(&actor)?;
    let b = parse_body(&body)?;
    head_commit(&inner, &f, &b)?;
    let (id, new) = found(suite_for(&inner, &f, req_str(&b, "head_sha")?))?;
    let v = suite_json(&inner, &f, id)?;
    if new {
        created(v)
    } else {
        ok(v)
    }
}

async fn get_suite(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadChecks>,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = repo(&st, &f)?;
    if !r.check_suites.iter().any(|s| s.id == id) {
        return Err(ApiError::not_found());
    }
    ok(shapes::check_suite(&inner.base, &st, r, id))
}
