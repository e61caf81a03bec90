//! The page handlers: each reads the simulator's state (and the bare git
//! repository) and fills one template. Nothing here writes. A file per kind of page;
//! what several kinds show (the repository header, a PR's state, check outcomes, a
//! diff's files, a list row) is here.

mod accounts;
mod checks;
mod code;
mod issues;
mod pull;

pub use accounts::{app, installation, user};
pub use checks::{checks, run};
pub use code::{blob, branches, commit, compare, raw, repo};
pub use issues::{issue, issues, pulls};
pub use pull::{files, pull};

use super::{diff, markdown, Web};
use crate::sim::git;
use crate::sim::state::{CheckRun, Issue, Repo};
use axum::extract::{Query, State};
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

fn time_of(secs: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_default()
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
    let mut ctx: BTreeMap<&str, &crate::sim::state::Status> = BTreeMap::new();
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

fn issue_of(web: &Web, f: &str, n: &str) -> Option<Issue> {
    let n: u64 = n.parse().ok()?;
    with_repo(web, f, |r| r.issues.get(&n).cloned()).flatten()
}

/// Files of a diff, each with its rows and the review comments on its lines.
fn files_ctx(
    files: &[git::FileChange],
    comments: &[crate::sim::state::ReviewComment],
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
