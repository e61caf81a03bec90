//! The page handlers: each reads the simulator's state (and the bare git
//! repository) and fills one template. Nothing here writes.

use super::super::state::{CheckRun, Issue, Repo};
use super::super::{git, routes};
use super::{diff, markdown, not_found, render, see_other, Web};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

type W = State<Web>;
type Q = Query<HashMap<String, String>>;

/// The repository header (name, tab counters) every repository page shows.
fn repo_head(r: &Repo, tab: &str) -> Value {
    let open = |pulls: bool| {
        r.issues
            .values()
            .filter(|i| i.state == "open" && i.pull.is_some() == pulls)
            .count()
    };
    json!({"owner": r.owner, "name": r.name, "full": r.full_name(), "tab": tab,
           "open_issues": open(false), "open_pulls": open(true)})
}

fn with_repo<T>(web: &Web, f: &str, read: impl FnOnce(&Repo) -> T) -> Option<T> {
    let st = web.inner.st.lock().unwrap();
    st.repos.get(f).map(read)
}

/// `2026-12-02T07:30:00Z` → `2026-12-02 07:30 UTC`.
fn when(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => t.to_string(),
    }
}

fn md(s: &str) -> String {
    markdown::render(s)
}

/// The state a pull request shows: `open`, `closed` or `merged`; drafts say `draft`.
fn pull_state(i: &Issue) -> &'static str {
    match &i.pull {
        Some(p) if p.merged => "merged",
        Some(p) if p.draft && i.state == "open" => "draft",
        _ if i.state == "open" => "open",
        _ => "closed",
    }
}

/// The newest run per check name on `sha`, in name order.
fn latest_runs(r: &Repo, sha: &str) -> Vec<CheckRun> {
    let mut by_name: BTreeMap<String, CheckRun> = BTreeMap::new();
    for c in r.check_runs.iter().filter(|c| c.head_sha == sha) {
        if by_name.get(&c.name).is_none_or(|old| old.id < c.id) {
            by_name.insert(c.name.clone(), c.clone());
        }
    }
    by_name.into_values().collect()
}

/// A check run's (or commit status's) icon class: `success`, `failure`, `neutral` or `pending`.
fn outcome(status: &str, conclusion: Option<&str>) -> &'static str {
    match (status, conclusion) {
        (_, Some("success")) => "success",
        (
            _,
            Some("failure" | "timed_out" | "cancelled" | "action_required" | "startup_failure"),
        ) => "failure",
        (_, Some(_)) => "neutral",
        _ => "pending",
    }
}

/// Check runs and the newest commit status per context on `sha`, as the merge box lists them.
fn checks_summary(r: &Repo, sha: &str) -> Value {
    let mut items: Vec<Value> = latest_runs(r, sha)
        .iter()
        .map(|c| {
            json!({"name": c.name, "outcome": outcome(&c.status, c.conclusion.as_deref()),
                        "conclusion": c.conclusion.clone().unwrap_or_else(|| c.status.clone()),
                        "title": c.title, "id": c.id})
        })
        .collect();
    let mut ctx: BTreeMap<&str, &super::super::state::Status> = BTreeMap::new();
    for s in r.statuses.iter().filter(|s| s.sha == sha) {
        if ctx.get(s.context.as_str()).is_none_or(|o| o.id < s.id) {
            ctx.insert(&s.context, s);
        }
    }
    for s in ctx.values() {
        let o = match s.state.as_str() {
            "success" => "success",
            "failure" | "error" => "failure",
            _ => "pending",
        };
        items.push(
            json!({"name": s.context, "outcome": o, "conclusion": s.state,
                          "title": s.description, "id": null}),
        );
    }
    let count = |o: &str| items.iter().filter(|i| i["outcome"] == o).count();
    json!({"items": items, "success": count("success"), "failure": count("failure"),
           "pending": count("pending"), "neutral": count("neutral")})
}

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

fn issue_of(web: &Web, f: &str, n: &str) -> Option<Issue> {
    let n: u64 = n.parse().ok()?;
    with_repo(web, f, |r| r.issues.get(&n).cloned()).flatten()
}

/// What the pull request's pages share: the header, the tabs, the head and base.
fn pull_head(web: &Web, f: &str, i: &Issue, tab: &str) -> Value {
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

fn time_of(secs: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_default()
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

/// Files of a diff, each with its rows and the review comments on its lines.
fn files_ctx(
    files: &[git::FileChange],
    comments: &[super::super::state::ReviewComment],
) -> Vec<Value> {
    files
        .iter()
        .map(|c| {
            let rows: Vec<Value> = diff::rows(&c.patch)
                .into_iter()
                .map(|row| {
                    let anchor = row.anchor();
                    let notes: Vec<Value> = comments
                        .iter()
                        .filter(|rc| rc.path == c.path && anchor.is_some_and(|(s, l)| rc.side == s && rc.line == Some(l)))
                        .map(|rc| json!({"user": rc.user, "body_html": md(&rc.body), "at": when(&rc.created_at), "id": rc.id}))
                        .collect();
                    json!({"kind": row.kind, "old": row.old, "new": row.new, "text": row.text,
                           "side": anchor.map(|a| a.0), "line": anchor.map(|a| a.1), "notes": notes})
                })
                .collect();
            json!({"path": c.path, "status": c.status, "additions": c.additions, "deletions": c.deletions,
                   "rows": rows, "binary": c.patch.is_empty() && c.additions + c.deletions == 0})
        })
        .collect()
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

/// A list row of an issue or pull request.
fn list_item(r: &Repo, i: &Issue) -> Value {
    let mut v = json!({"number": i.number, "title": i.title, "user": i.user, "created": when(&i.created_at),
                       "state": pull_state(i), "labels": i.labels,
                       "comments": r.comments.iter().filter(|c| c.issue == i.number).count()});
    if let Some(p) = &i.pull {
        let s = checks_summary(r, &p.head_sha);
        v["head_ref"] = json!(p.head_ref);
        v["base_ref"] = json!(p.base_ref);
        v["checks"] = json!(if s["failure"].as_u64() > Some(0) {
            "failure"
        } else if s["pending"].as_u64() > Some(0) {
            "pending"
        } else if s["success"].as_u64() > Some(0) {
            "success"
        } else {
            ""
        });
        let mut review = "";
        for rv in r
            .reviews
            .iter()
            .filter(|rv| rv.pull == i.number && rv.commit_id == p.head_sha)
        {
            match rv.state.as_str() {
                "APPROVED" => review = "Approved",
                "CHANGES_REQUESTED" => review = "Changes requested",
                _ => {}
            }
        }
        v["review"] = json!(review);
    }
    v
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

pub async fn user(State(web): W, Path(login): Path<String>, h: HeaderMap, uri: Uri) -> Response {
    let (acct, repos, prs) = {
        let st = web.inner.st.lock().unwrap();
        let Some(a) = st.accounts.get(&login).cloned() else {
            drop(st);
            return not_found(&web, &h, uri.path());
        };
        let repos: Vec<String> = st.repos.keys().cloned().collect();
        let prs: Vec<Value> = st
            .repos
            .values()
            .flat_map(|r| {
                r.issues
                    .values()
                    .filter(|i| i.user == login)
                    .map(|i| {
                        json!({"full": r.full_name(), "number": i.number,
                "title": i.title, "pull": i.pull.is_some(), "state": pull_state(i)})
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        (a, repos, prs)
    };
    let ctx = json!({"title": login, "heading": login, "avatar": login,
        "text": format!("{} · {} permission on every repository of this simulator", acct.kind, acct.permission),
        "repos": repos, "authored": prs});
    render(&web, &h, uri.path(), "simple.html", ctx)
}

pub async fn app(State(web): W, Path(slug): Path<String>, h: HeaderMap, uri: Uri) -> Response {
    let (app, inst) = {
        let st = web.inner.st.lock().unwrap();
        (
            super::super::shapes::app(&web.inner.base, &st),
            st.installation_id,
        )
    };
    if app["slug"].as_str() != Some(slug.as_str()) {
        return not_found(&web, &h, uri.path());
    }
    let rows = vec![
        json!(["App ID", app["id"]]),
        json!(["Client ID", app["client_id"]]),
        json!([
            "Events",
            app["events"].as_array().map(|e| e
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
        ]),
        json!([
            "Permissions",
            app["permissions"].as_object().map(|m| m
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "))
        ]),
    ];
    let ctx = json!({"title": app["name"], "heading": app["name"], "text": app["description"], "rows": rows,
                     "links": [{"href": format!("/settings/installations/{inst}"), "text": "Installation"}]});
    render(&web, &h, uri.path(), "simple.html", ctx)
}

pub async fn installation(
    State(web): W,
    Path(id): Path<String>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let (inst, repos) = {
        let st = web.inner.st.lock().unwrap();
        (
            super::super::shapes::installation(&web.inner.base, &st),
            st.repos.keys().cloned().collect::<Vec<_>>(),
        )
    };
    if inst["id"].as_u64().map(|i| i.to_string()).as_deref() != Some(id.as_str()) {
        return not_found(&web, &h, uri.path());
    }
    let ctx = json!({"title": "Installation", "heading": format!("Installation {id} of {}", inst["app_slug"].as_str().unwrap_or("")),
        "text": format!("Installed on {} with access to every repository of this simulator.", inst["account"]["login"].as_str().unwrap_or("")),
        "repos": repos});
    render(&web, &h, uri.path(), "simple.html", ctx)
}
