//! The code pages: a repository's front page and branches, a commit, a comparison,
//! a file at a revision and its raw bytes.

use super::{files_ctx, list_item, md, repo_head, time_of, when, with_repo, W};
use crate::sim::git;
use crate::sim::web::{not_found, render, Web};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Branches with their tip commit, default branch first.
fn branch_list(web: &Web, f: &str) -> Vec<Value> {
    let bare = web.inner.bare(f);
    let db = git::default_branch(&bare);
    let repo = git::open(&bare).ok();
    let mut v: Vec<(bool, Value)> = git::refs(&bare)
        .into_iter()
        .filter_map(|(name, sha)| {
            let b = name.strip_prefix("refs/heads/")?.to_string();
            let c = repo.as_ref().and_then(|r| r.find_commit(git2::Oid::from_str(&sha).ok()?).ok());
            let (msg, at) = c
                .map(|c| (c.summary().unwrap_or("").to_string(), when(&time_of(c.time().seconds()))))
                .unwrap_or_default();
            Some((b != db, json!({"name": b, "sha": sha, "short": &sha[..7], "message": msg, "at": at, "default": b == db})))
        })
        .collect();
    v.sort_by_key(|a| a.0);
    v.into_iter().map(|(_, x)| x).collect()
}

pub async fn repo(
    State(web): W,
    Path((o, r)): Path<(String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some((head, pulls)) = with_repo(&web, &f, |r| {
        let pulls: Vec<Value> = r
            .issues
            .values()
            .rev()
            .filter(|i| i.pull.is_some() && i.state == "open")
            .map(|i| list_item(r, i))
            .collect();
        (repo_head(r, "code"), pulls)
    }) else {
        return not_found(&web, &h, uri.path());
    };
    let bare = web.inner.bare(&f);
    let db = git::default_branch(&bare);
    let (mut tree, mut readme) = (vec![], None);
    if let Ok(repo) = git::open(&bare) {
        if let Some(oid) = git::resolve(&repo, &db) {
            if let Some(git::Content::Dir(entries)) = git::contents(&repo, oid, "") {
                for (name, kind, _, _) in &entries {
                    tree.push(json!({"name": name, "kind": kind}));
                    if name.eq_ignore_ascii_case("README.md") {
                        if let Some(git::Content::File { bytes, .. }) =
                            git::contents(&repo, oid, name)
                        {
                            readme = Some(md(&String::from_utf8_lossy(&bytes)));
                        }
                    }
                }
            }
        }
    }
    let ctx = json!({"title": f, "repo": head, "branches": branch_list(&web, &f), "pulls": pulls,
                     "default_branch": db, "tree": tree, "readme_html": readme, "clone": format!("{}/{f}.git", web.inner.base)});
    render(&web, &h, uri.path(), "repo.html", ctx)
}

pub async fn branches(
    State(web): W,
    Path((o, r)): Path<(String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(head) = with_repo(&web, &f, |r| repo_head(r, "code")) else {
        return not_found(&web, &h, uri.path());
    };
    let ctx = json!({"title": format!("Branches · {f}"), "repo": head, "branches": branch_list(&web, &f), "only_branches": true});
    render(&web, &h, uri.path(), "repo.html", ctx)
}

/// A diff page (a commit against its first parent, or a comparison).
fn diff_page(
    web: &Web,
    h: &HeaderMap,
    uri: &Uri,
    f: &str,
    base: Option<git2::Oid>,
    head: git2::Oid,
    heading: Value,
) -> Response {
    let Some(repo_ctx) = with_repo(web, f, |r| repo_head(r, "code")) else {
        return not_found(web, h, uri.path());
    };
    let files = git::open(&web.inner.bare(f))
        .ok()
        .and_then(|repo| base.and_then(|b| git::changed_files(&repo, b, head).ok()))
        .unwrap_or_default();
    let ctx = json!({"title": heading["title"], "repo": repo_ctx, "heading": heading, "files": files_ctx(&files, &[])});
    render(web, h, uri.path(), "diff.html", ctx)
}

pub async fn commit(
    State(web): W,
    Path((o, r, sha)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(repo) = git::open(&web.inner.bare(&f)).ok() else {
        return not_found(&web, &h, uri.path());
    };
    let Some(c) = git::resolve(&repo, &sha).and_then(|o| repo.find_commit(o).ok()) else {
        return not_found(&web, &h, uri.path());
    };
    let heading = json!({"title": c.summary().unwrap_or(""), "message": c.message().unwrap_or(""),
        "author": c.author().name().unwrap_or(""), "at": when(&time_of(c.time().seconds())), "sha": c.id().to_string(),
        "parents": c.parent_ids().map(|p| p.to_string()).collect::<Vec<_>>(),
        "root": c.parent_count() == 0});
    diff_page(&web, &h, &uri, &f, c.parent_id(0).ok(), c.id(), heading)
}

pub async fn compare(
    State(web): W,
    Path((o, r, spec)): Path<(String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let Some(repo) = git::open(&web.inner.bare(&f)).ok() else {
        return not_found(&web, &h, uri.path());
    };
    let (a, b) = spec
        .split_once("...")
        .or_else(|| spec.split_once(".."))
        .unwrap_or(("", &spec));
    let base = git::resolve(&repo, a)
        .or_else(|| git::resolve(&repo, &git::default_branch(&web.inner.bare(&f))));
    let Some(head) = git::resolve(&repo, b) else {
        return not_found(&web, &h, uri.path());
    };
    let heading =
        json!({"title": format!("Comparing {a}...{b}"), "compare": true, "base": a, "head": b});
    diff_page(&web, &h, &uri, &f, base, head, heading)
}

/// A file at a revision (or the raw bytes).
fn file_at(web: &Web, f: &str, rev: &str, path: &str) -> Option<Vec<u8>> {
    let repo = git::open(&web.inner.bare(f)).ok()?;
    let oid = git::resolve(&repo, rev)?;
    match git::contents(&repo, oid, path)? {
        git::Content::File { bytes, .. } => Some(bytes),
        git::Content::Dir(_) => None,
    }
}

pub async fn blob(
    State(web): W,
    Path((o, r, rev, path)): Path<(String, String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let f = format!("{o}/{r}");
    let (Some(bytes), Some(repo)) = (
        file_at(&web, &f, &rev, &path),
        with_repo(&web, &f, |r| repo_head(r, "code")),
    ) else {
        return not_found(&web, &h, uri.path());
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<Value> = text
        .lines()
        .enumerate()
        .map(|(k, l)| json!({"n": k + 1, "text": l}))
        .collect();
    let ctx = json!({"title": format!("{path} at {rev}"), "repo": repo, "file": {"path": path, "rev": rev,
        "lines": lines, "size": bytes.len(), "raw": format!("/{f}/raw/{rev}/{path}"),
        "markdown_html": path.ends_with(".md").then(|| md(&text))}});
    render(&web, &h, uri.path(), "simple.html", ctx)
}

pub async fn raw(
    State(web): W,
    Path((o, r, rev, path)): Path<(String, String, String, String)>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    match file_at(&web, &format!("{o}/{r}"), &rev, &path) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response()
        }
        None => not_found(&web, &h, uri.path()),
    }
}
