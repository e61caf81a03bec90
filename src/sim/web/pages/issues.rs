//! An issue's page, and the lists of issues and of pull requests.

use super::{issue_of, list_item, md, repo_head, when, with_repo, Q, W};
use crate::sim::state::Issue;
use crate::sim::web::{not_found, render, see_other, Web};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn issue(
    State(web): W,
    Path((o, r, n)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(i) = issue_of(&web, &f, &n) else {
        return not_found(&web, &h, uri.path());
    };
    if i.pull.is_some() {
        return see_other(&format!("/{f}/pull/{}", i.number));
    }
    let Some((repo, comments)) = with_repo(&web, &f, |r| {
        let c: Vec<Value> = r.comments.iter().filter(|c| c.issue == i.number)
            .map(|c| json!({"id": c.id, "user": c.user, "at": when(&c.created_at), "body_html": md(&c.body)}))
            .collect();
        (repo_head(r, "issues"), c)
    }) else {
        return not_found(&web, &h, uri.path());
    };
    let ctx = json!({"title": format!("{} · Issue #{}", i.title, i.number), "repo": repo, "mermaid": true,
        "issue": {"number": i.number, "title": i.title, "state": i.state, "user": i.user, "created": when(&i.created_at),
                  "labels": i.labels, "body_html": md(i.body.as_deref().unwrap_or("*No description provided.*"))},
        "comments": comments});
    render(&web, &h, uri.path(), "issue.html", ctx)
}

fn list(
    web: &Web,
    h: &HeaderMap,
    uri: &Uri,
    f: &str,
    q: &HashMap<String, String>,
    pulls: bool,
) -> Response {
    let want = q
        .get("state")
        .map(String::as_str)
        .unwrap_or("open")
        .to_string();
    let Some((repo, items, open, closed)) = with_repo(web, f, |r| {
        let all: Vec<&Issue> = r
            .issues
            .values()
            .filter(|i| i.pull.is_some() == pulls)
            .collect();
        let open = all.iter().filter(|i| i.state == "open").count();
        let items: Vec<Value> = all
            .iter()
            .rev()
            .filter(|i| want == "all" || i.state == want)
            .map(|i| list_item(r, i))
            .collect();
        (
            repo_head(r, if pulls { "pulls" } else { "issues" }),
            items,
            open,
            all.len() - open,
        )
    }) else {
        return not_found(web, h, uri.path());
    };
    let kind = if pulls { "Pull requests" } else { "Issues" };
    let ctx = json!({"title": format!("{kind} · {f}"), "repo": repo, "items": items, "pulls": pulls,
                     "state": want, "open": open, "closed": closed, "kind": kind});
    render(web, h, uri.path(), "list.html", ctx)
}

pub async fn pulls(
    State(web): W,
    Path((o, r)): Path<(String, String)>,
    q: Q,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    list(&web, &h, &uri, &format!("{o}/{r}"), &q, true)
}

pub async fn issues(
    State(web): W,
    Path((o, r)): Path<(String, String)>,
    q: Q,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    list(&web, &h, &uri, &format!("{o}/{r}"), &q, false)
}
