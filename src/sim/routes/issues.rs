//! Issues, issue comments (on issues and pull requests), reactions and labels.
//! Like GitHub, anyone who can read may open issues and comment; changing
//! labels or someone else's comment needs write.

use super::super::auth::Actor;
use super::super::http::{
    created, no_content, ok, parse_body, req_str, ApiError, ApiResult, JsonBody,
};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{now, Comment, Issue, Label};
use super::super::Inner;
use super::access::{participate, ReadIssues, RepoAccess, TakePartIssues, WriteIssues};
use super::lookup::{comment_mut, found, repo, repo_mut, shaped};
use super::{authorize, full, S};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{n}",
            get(get_issue).patch(update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{n}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{n}/labels",
            get(list_labels).post(add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(get_comment)
                .patch(update_comment)
                .delete(delete_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
            post(react),
        )
}

pub fn issue_json(inner: &Inner, f: &str, n: u64) -> ApiResult<Value> {
    shaped(inner, f, |st, r| {
        Ok(shapes::issue(&inner.base, st, r, found(r.issues.get(&n))?))
    })
}

/// `GET …/issues`: issues and pull requests (GitHub lists both), newest first;
/// `state` (`open` by default, `closed`, `all`) and `labels` (comma-separated, all must match).
async fn list_issues(
    State(inner): S,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    paging: Paging,
) -> ApiResult {
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid("state must be one of open, closed, all"));
    }
    let wanted: Vec<&str> = q
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let st = inner.st.lock().unwrap();
    let rp = repo(&st, &f)?;
    let mut all: Vec<&Issue> = rp
        .issues
        .values()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| wanted.iter().all(|w| i.labels.iter().any(|l| l == w)))
        .collect();
    if q.get("direction").map(String::as_str) != Some("asc") {
        all.reverse();
    }
    let v: Vec<Value> = all
        .into_iter()
        .map(|i| shapes::issue(&inner.base, &st, rp, i))
        .collect();
    paging.array(v)
}

async fn create_issue(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartIssues>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let title = req_str(&b, "title")?.to_string();
    if title.trim().is_empty() {
        return Err(ApiError::invalid("title can't be blank"));
    }
    let login = inner.login_of(&actor);
    let n = {
        let mut st = inner.st.lock().unwrap();
        let id = st.id();
        let rp = repo_mut(&mut st, &f)?;
        let n = rp.next_number.max(1);
        rp.next_number = n + 1;
        let t = now();
        let labels = b["labels"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        rp.issues.insert(
            n,
            Issue {
                id,
                number: n,
                title,
                body: b["body"].as_str().map(str::to_string),
                user: login.clone(),
                state: "open".into(),
                labels,
                created_at: t.clone(),
                updated_at: t,
                closed_at: None,
                pull: None,
            },
        );
        n
    };
    let v = issue_json(&inner, &f, n)?;
    inner.emit_action("issues", &f, "opened", &login, [("issue", v.clone())]);
    created(v)
}

async fn get_issue(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
) -> ApiResult {
    ok(issue_json(&inner, &f, n)?)
}

async fn update_issue(
    State(inner): S,
    Extension(a): Extension<Actor>,
    Path((o, r, n)): Path<(String, String, u64)>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    // The author of an issue may edit it with only the right to take part; anyone
    // else needs `issues: write`, so no `RepoAccess` here.
    let f = full(&o, &r);
    let login = inner.login_of(&a);
    let author = {
        let st = inner.st.lock().unwrap();
        st.repos
            .get(&f)
            .and_then(|r| r.issues.get(&n))
            .map(|i| i.user.clone())
    };
    if author.as_deref() == Some(login.as_str()) && matches!(a, Actor::Person(_)) {
        participate(&inner, &a, &f, "issues")?;
    } else {
        authorize(&inner, &a, &f, "issues", true)?;
    }
    {
        let mut st = inner.st.lock().unwrap();
        let i = found(repo_mut(&mut st, &f)?.issues.get_mut(&n))?;
        if let Some(t) = b["title"].as_str() {
            i.title = t.to_string();
        }
        if b.get("body").is_some() {
            i.body = b["body"].as_str().map(str::to_string);
        }
        if let Some(s) = b["state"].as_str() {
            if !matches!(s, "open" | "closed") {
                return Err(ApiError::invalid("state must be open or closed"));
            }
            if s != i.state {
                i.state = s.to_string();
                i.closed_at = if s == "closed" { Some(now()) } else { None };
            }
        }
        if let Some(l) = b["labels"].as_array() {
            i.labels = l
                .iter()
                .filter_map(|x| x.as_str().or(x["name"].as_str()).map(str::to_string))
                .collect();
        }
        i.updated_at = now();
    }
    ok(issue_json(&inner, &f, n)?)
}

fn comment_json(inner: &Inner, f: &str, id: u64) -> ApiResult<(Value, u64)> {
    shaped(inner, f, |st, r| {
        let c = found(r.comments.iter().find(|c| c.id == id))?;
        Ok((shapes::comment(&inner.base, st, r, c), c.issue))
    })
}

async fn list_comments(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = repo(&st, &f)?;
    found(r.issues.get(&n))?;
    let v: Vec<Value> = r
        .comments
        .iter()
        .filter(|c| c.issue == n)
        .map(|c| shapes::comment(&inner.base, &st, r, c))
        .collect();
    paging.array(v)
}

fn comment_event(
    inner: &Inner,
    f: &str,
    action: &str,
    issue: u64,
    comment: Value,
    sender: &str,
    changes: Option<Value>,
) {
    let Ok(i) = issue_json(inner, f, issue) else {
        return;
    };
    let changes = changes.map(|c| ("changes", c));
    let parts = changes
        .into_iter()
        .chain([("issue", i), ("comment", comment)]);
    inner.emit_action("issue_comment", f, action, sender, parts);
}

async fn create_comment(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartIssues>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let text = req_str(&b, "body")?.to_string();
    if text.len() > 65536 {
        return Err(ApiError::invalid(
            "Body is too long (maximum is 65536 characters)",
        ));
    }
    let login = inner.login_of(&actor);
    let id = {
        let mut st = inner.st.lock().unwrap();
        let id = st.id();
        let rp = repo_mut(&mut st, &f)?;
        found(rp.issues.get(&n))?;
        let t = now();
        rp.comments.push(Comment {
            id,
            issue: n,
            user: login.clone(),
            body: text,
            created_at: t.clone(),
            updated_at: t,
            reactions: Default::default(),
        });
        id
    };
    let (v, _) = comment_json(&inner, &f, id)?;
    comment_event(&inner, &f, "created", n, v.clone(), &login, None);
    created(v)
}

async fn get_comment(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
) -> ApiResult {
    ok(comment_json(&inner, &f, id)?.0)
}

/// The author may edit or delete their comment; anyone else needs write.
fn may_change(inner: &Inner, a: &Actor, f: &str, id: u64) -> ApiResult<()> {
    let login = inner.login_of(a);
    let author = inner.st.lock().unwrap().repos.get(f).and_then(|r| {
        r.comments
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.user.clone())
    });
    match author {
        None => Err(ApiError::not_found()),
        Some(u) if u == login => participate(inner, a, f, "issues"),
        Some(_) => authorize(inner, a, f, "issues", true),
    }
}

async fn update_comment(
    State(inner): S,
    Extension(a): Extension<Actor>,
    Path((o, r, id)): Path<(String, String, u64)>,
    body: bytes::Bytes,
) -> ApiResult {
    let f = full(&o, &r);
    may_change(&inner, &a, &f, id)?;
    let b = parse_body(&body)?;
    let text = req_str(&b, "body")?.to_string();
    let old = {
        let mut st = inner.st.lock().unwrap();
        let c = comment_mut(&mut st, &f, id)?;
        let old = std::mem::replace(&mut c.body, text);
        c.updated_at = now();
        old
    };
    let (v, issue) = comment_json(&inner, &f, id)?;
    let login = inner.login_of(&a);
    comment_event(
        &inner,
        &f,
        "edited",
        issue,
        v.clone(),
        &login,
        Some(json!({"body": {"from": old}})),
    );
    ok(v)
}

async fn delete_comment(
    State(inner): S,
    Extension(a): Extension<Actor>,
    Path((o, r, id)): Path<(String, String, u64)>,
) -> ApiResult {
    let f = full(&o, &r);
    may_change(&inner, &a, &f, id)?;
    let (v, issue) = comment_json(&inner, &f, id)?;
    repo_mut(&mut inner.st.lock().unwrap(), &f)?
        .comments
        .retain(|c| c.id != id);
    let login = inner.login_of(&a);
    comment_event(&inner, &f, "deleted", issue, v, &login, None);
    no_content()
}

const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

async fn react(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartIssues>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let content = req_str(&b, "content")?.to_string();
    if !REACTIONS.contains(&content.as_str()) {
        return Err(ApiError::invalid(&format!(
            "content {content:?} is not a reaction ({})",
            REACTIONS.join(", ")
        )));
    }
    let login = inner.login_of(&actor);
    let mut st = inner.st.lock().unwrap();
    let rid = st.id();
    let user = shapes::user_by_login(&inner.base, &st, &login);
    let c = comment_mut(&mut st, &f, id)?;
    let who = c.reactions.entry(content.clone()).or_default();
    let existed = who.contains(&login);
    if !existed {
        who.push(login);
    }
    let v = json!({"id": rid, "node_id": shapes::node_id("Reaction", rid), "user": user, "content": content, "created_at": now()});
    if existed {
        ok(v)
    } else {
        created(v)
    }
}

async fn list_labels(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let r = repo(&st, &f)?;
    let i = found(r.issues.get(&n))?;
    let all = i
        .labels
        .iter()
        .map(|l| shapes::label(&inner.base, r, l))
        .collect();
    paging.array(all)
}

/// `{"labels": ["a", …]}` or `["a", …]`; adds, never removes.
async fn add_labels(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<WriteIssues>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let list = b["labels"]
        .as_array()
        .or(b.as_array())
        .cloned()
        .ok_or_else(|| ApiError::invalid("labels must be an array of names"))?;
    let names: Vec<String> = list
        .iter()
        .filter_map(|x| x.as_str().or(x["name"].as_str()).map(str::to_string))
        .collect();
    if names.iter().any(|n| n.trim().is_empty() || n.len() > 50) {
        return Err(ApiError::invalid(
            "a label name is empty or longer than 50 characters",
        ));
    }
    let mut st = inner.st.lock().unwrap();
    let rp = repo_mut(&mut st, &f)?;
    found(rp.issues.get(&n))?;
    for l in &names {
        rp.labels.entry(l.clone()).or_insert_with(|| Label {
            color: "ededed".into(),
            description: None,
        });
    }
    let i = found(rp.issues.get_mut(&n))?;
    for l in names {
        if !i.labels.contains(&l) {
            i.labels.push(l);
        }
    }
    i.updated_at = now();
    let labels = i.labels.clone();
    ok(shapes::labels(&inner.base, repo(&st, &f)?, &labels))
}
