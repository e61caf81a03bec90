//! The checks pages: a pull request's (or a commit's) check runs, one selected with
//! its summary, text and annotations beside the lines they point at.

use super::pull::pull_head;
use super::{checks_summary, issue_of, latest_runs, md, outcome, repo_head, when, with_repo, Q, W};
use crate::sim::git;
use crate::sim::state::CheckRun;
use crate::sim::web::{not_found, render, see_other, Web};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// One check run for the checks page: summary and text as Markdown, annotations
/// with the lines of the file they point at.
fn run_ctx(web: &Web, f: &str, c: &CheckRun) -> Value {
    let repo = git::open(&web.inner.bare(f)).ok();
    let annotations: Vec<Value> = c
        .annotations
        .iter()
        .map(|a| {
            let path = a["path"].as_str().unwrap_or("");
            let start = a["start_line"].as_u64().unwrap_or(0);
            let end = a["end_line"].as_u64().unwrap_or(start).max(start);
            let lines = repo
                .as_ref()
                .and_then(|repo| {
                    let oid = git2::Oid::from_str(&c.head_sha).ok()?;
                    match git::contents(repo, oid, path)? {
                        git::Content::File { bytes, .. } => Some(
                            String::from_utf8_lossy(&bytes)
                                .lines()
                                .enumerate()
                                .map(|(k, l)| (k as u64 + 1, l.to_string()))
                                .filter(|(k, _)| *k >= start && *k <= end.min(start + 20))
                                .map(|(k, l)| json!({"n": k, "text": l}))
                                .collect::<Vec<_>>(),
                        ),
                        _ => None,
                    }
                })
                .unwrap_or_default();
            json!({"path": path, "start_line": start, "end_line": end,
                   "level": a["annotation_level"].as_str().unwrap_or("notice"),
                   "title": a["title"], "message": a["message"].as_str().unwrap_or(""), "lines": lines})
        })
        .collect();
    json!({"id": c.id, "name": c.name, "status": c.status, "conclusion": c.conclusion,
           "outcome": outcome(&c.status, c.conclusion.as_deref()), "title": c.title,
           "summary_html": md(c.summary.as_deref().unwrap_or("")), "text_html": md(c.text.as_deref().unwrap_or("")),
           "started": c.started_at.as_deref().map(when), "completed": c.completed_at.as_deref().map(when),
           "details_url": c.details_url, "annotations": annotations})
}

fn checks_page(
    web: &Web,
    h: &HeaderMap,
    path: &str,
    f: &str,
    sha: &str,
    pr: Value,
    selected: Option<u64>,
) -> Response {
    let runs = with_repo(web, f, |r| latest_runs(r, sha)).unwrap_or_default();
    let sel = selected
        .and_then(|id| {
            with_repo(web, f, |r| {
                r.check_runs.iter().find(|c| c.id == id).cloned()
            })
            .flatten()
        })
        .or_else(|| runs.first().cloned());
    let summary = with_repo(web, f, |r| checks_summary(r, sha)).unwrap_or(Value::Null);
    let repo = with_repo(web, f, |r| repo_head(r, "pulls")).unwrap_or(Value::Null);
    let ctx = json!({"title": format!("Checks · {}", &sha[..sha.len().min(7)]), "pr": pr, "repo": repo,
        "sha": sha, "runs": runs.iter().map(|c| json!({"id": c.id, "name": c.name,
            "outcome": outcome(&c.status, c.conclusion.as_deref()), "title": c.title})).collect::<Vec<_>>(),
        "selected": sel.map(|c| run_ctx(web, f, &c)), "summary": summary});
    render(web, h, path, "checks.html", ctx)
}

pub async fn checks(
    State(web): W,
    Path((o, r, n)): Path<(String, String, String)>,
    q: Q,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(i) = issue_of(&web, &f, &n).filter(|i| i.pull.is_some()) else {
        return not_found(&web, &h, uri.path());
    };
    let head = pull_head(&web, &f, &i, "checks");
    let sha = i
        .pull
        .as_ref()
        .map(|p| p.head_sha.clone())
        .unwrap_or_default();
    let selected = q.get("check_run_id").and_then(|s| s.parse().ok());
    checks_page(&web, &h, uri.path(), &f, &sha, head, selected)
}

/// A check run's `html_url`: the checks page of its PR (or of its commit).
pub async fn run(
    State(web): W,
    Path((o, r, id)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let id: u64 = id.parse().unwrap_or(0);
    let found = with_repo(&web, &f, |r| {
        let c = r.check_runs.iter().find(|c| c.id == id)?;
        let pr = r
            .issues
            .values()
            .filter(|i| i.pull.as_ref().is_some_and(|p| p.head_sha == c.head_sha))
            .map(|i| i.number)
            .max();
        Some((c.head_sha.clone(), pr))
    })
    .flatten();
    match found {
        Some((_, Some(n))) => see_other(&format!("/{f}/pull/{n}/checks?check_run_id={id}")),
        Some((sha, None)) => checks_page(&web, &h, uri.path(), &f, &sha, Value::Null, Some(id)),
        None => not_found(&web, &h, uri.path()),
    }
}
