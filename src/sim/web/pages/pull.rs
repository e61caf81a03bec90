//! A pull request's pages: the conversation (commits, comments, reviews, merge
//! events in time order), the files changed with review comments on their lines, and
//! `.diff`/`.patch` as text.

use super::{
    checks_summary, files_ctx, issue_of, md, pull_state, repo_head, time_of, when, with_repo, W,
};
use crate::sim::state::Issue;
use crate::sim::web::{not_found, render, Web};
use crate::sim::{git, routes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The head and (for a merged PR, the pre-merge) base commits of PR `n`.
fn head_base(web: &Web, f: &str, i: &Issue) -> Option<(git2::Repository, git2::Oid, git2::Oid)> {
    let p = i.pull.as_ref()?;
    let repo = git::open(&web.inner.bare(f)).ok()?;
    let head = git2::Oid::from_str(&p.head_sha).ok()?;
    let mut base = git::resolve(&repo, &p.base_ref);
    if p.merged || base.is_some_and(|b| git::is_ancestor(&repo, head, b)) {
        // Merged: compare with what the base was before the merge.
        let before = p
            .merge_commit_sha
            .as_deref()
            .and_then(|s| git2::Oid::from_str(s).ok())
            .and_then(|m| repo.find_commit(m).ok())
            .and_then(|c| c.parent_id(0).ok());
        base = before.or(base);
    }
    Some((repo, head, base?))
}

/// What the pull request's pages share: the header, the tabs, the head and base.
pub(super) fn pull_head(web: &Web, f: &str, i: &Issue, tab: &str) -> Value {
    let p = i.pull.as_ref().expect("a pull request");
    let facts = routes::pulls::pull_json(&web.inner, f, i.number).unwrap_or(Value::Null);
    let (checks, head_ctx) = with_repo(web, f, |r| {
        (checks_summary(r, &p.head_sha), repo_head(r, "pulls"))
    })
    .unwrap_or((Value::Null, Value::Null));
    json!({
        "repo": head_ctx, "tab": tab, "number": i.number, "title": i.title,
        "state": pull_state(i), "user": i.user, "created": when(&i.created_at),
        "head_ref": p.head_ref, "base_ref": p.base_ref, "head_sha": p.head_sha,
        "short_sha": p.head_sha.get(..7).unwrap_or(&p.head_sha),
        "commits": facts["commits"], "changed_files": facts["changed_files"],
        "additions": facts["additions"], "deletions": facts["deletions"],
        "mergeable": facts["mergeable"], "mergeable_state": facts["mergeable_state"],
        "merged_by": p.merged_by, "merged_at": p.merged_at.as_deref().map(when),
        "checks": checks,
    })
}

pub async fn pull(
    State(web): W,
    Path((o, r, n)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    for ext in ["diff", "patch"] {
        if let Some(num) = n.strip_suffix(&format!(".{ext}")) {
            return plain_diff(&web, &f, num).unwrap_or_else(|| not_found(&web, &h, uri.path()));
        }
    }
    let Some(i) = issue_of(&web, &f, &n).filter(|i| i.pull.is_some()) else {
        return not_found(&web, &h, uri.path());
    };
    let head = pull_head(&web, &f, &i, "conversation");
    let p = i.pull.clone().expect("filtered");
    let mut items: Vec<(String, Value)> = vec![];
    if let Some((repo, head_oid, base)) = head_base(&web, &f, &i) {
        for oid in git::commits_between(&repo, Some(base), head_oid, 250) {
            if let Ok(c) = repo.find_commit(oid) {
                let t = time_of(c.time().seconds());
                items.push((t.clone(), json!({"kind": "commit", "at": when(&t), "user": c.author().name().unwrap_or(""),
                    "sha": oid.to_string(), "short": &oid.to_string()[..7], "message": c.summary().unwrap_or("")})));
            }
        }
    }
    let reviewers = with_repo(&web, &f, |r| {
        for c in r.comments.iter().filter(|c| c.issue == i.number) {
            items.push((c.created_at.clone(), json!({"kind": "comment", "id": c.id, "at": when(&c.created_at),
                "user": c.user, "body_html": md(&c.body)})));
        }
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        for rv in r.reviews.iter().filter(|rv| rv.pull == i.number) {
            if rv.state != "COMMENTED" || !latest.contains_key(&rv.user) {
                latest.insert(rv.user.clone(), rv.state.clone());
            }
            let comments: Vec<Value> = r.review_comments.iter().filter(|c| c.review_id == rv.id)
                .map(|c| json!({"id": c.id, "path": c.path, "line": c.line, "side": c.side, "user": c.user,
                                "body_html": md(&c.body)}))
                .collect();
            items.push((rv.submitted_at.clone(), json!({"kind": "review", "id": rv.id, "at": when(&rv.submitted_at),
                "user": rv.user, "state": rv.state, "body_html": md(rv.body.as_deref().unwrap_or("")),
                "comments": comments, "commit": rv.commit_id.get(..7).unwrap_or("")})));
        }
        for l in &p.requested_reviewers {
            latest.entry(l.clone()).or_insert_with(|| "REQUESTED".into());
        }
        latest
            .into_iter()
            .map(|(login, state)| json!({"login": login, "state": state}))
            .collect::<Vec<_>>()
    })
    .unwrap_or_default();
    if let (true, Some(at)) = (p.merged, &p.merged_at) {
        items.push((
            at.clone(),
            json!({"kind": "merged", "at": when(at), "user": p.merged_by,
            "sha": p.merge_commit_sha.as_deref().and_then(|s| s.get(..7)), "base": p.base_ref}),
        ));
    } else if let (false, Some(at)) = (p.merged, &i.closed_at) {
        items.push((at.clone(), json!({"kind": "closed", "at": when(at)})));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let ctx = json!({
        "title": format!("{} · Pull Request #{}", i.title, i.number), "pr": head, "repo": head["repo"], "mermaid": true,
        "body_html": md(i.body.as_deref().unwrap_or("*No description provided.*")),
        "timeline": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "reviewers": reviewers,
    });
    render(&web, &h, uri.path(), "pull.html", ctx)
}

/// `…/pull/N.diff` and `.patch`: the PR's unified diff as text.
fn plain_diff(web: &Web, f: &str, n: &str) -> Option<Response> {
    let i = issue_of(web, f, n)?;
    let (repo, head, base) = head_base(web, f, &i)?;
    let mut out = String::new();
    for c in git::changed_files(&repo, base, head).ok()? {
        out.push_str(&format!(
            "diff --git a/{0} b/{0}\n--- a/{0}\n+++ b/{0}\n{1}",
            c.path, c.patch
        ));
    }
    Some(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

pub async fn files(
    State(web): W,
    Path((o, r, n)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(i) = issue_of(&web, &f, &n).filter(|i| i.pull.is_some()) else {
        return not_found(&web, &h, uri.path());
    };
    let head = pull_head(&web, &f, &i, "files");
    let comments = with_repo(&web, &f, |r| {
        r.review_comments
            .iter()
            .filter(|c| c.pull == i.number)
            .cloned()
            .collect::<Vec<_>>()
    })
    .unwrap_or_default();
    let changed = head_base(&web, &f, &i)
        .and_then(|(repo, h, b)| git::changed_files(&repo, b, h).ok())
        .unwrap_or_default();
    let ctx = json!({"title": format!("{} · Files changed · #{}", i.title, i.number), "pr": head, "repo": head["repo"],
                     "files": files_ctx(&changed, &comments)});
    render(&web, &h, uri.path(), "files.html", ctx)
}
