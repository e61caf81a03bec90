//! Pull requests: create (with GitHub's 422s), list, get, update, merge,
//! files and commits. Reviews and review requests are in `reviews`.

use super::super::git;
use super::super::http::{created, ok, ApiError, ApiResult, JsonBody};
use super::super::media;
use super::super::paging::Paging;
use super::super::shapes::{self, PullFacts};
use super::super::state::{now, Issue, Pull};
use super::super::Inner;
use super::access::{ReadPulls, RepoAccess, WriteContents, WritePulls};
use super::lookup::{found, pull_issue, pull_issue_mut, repo, repo_mut, shaped};
use super::repos::{commit_json, file_list, open};
use super::S;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls",
            post(create_pull).get(list_pulls),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}",
            get(get_pull).patch(update_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/merge",
            put(merge).get(is_merged),
        )
        .route("/repos/{owner}/{repo}/pulls/{n}/files", get(files))
        .route("/repos/{owner}/{repo}/pulls/{n}/commits", get(commits))
}

/// GitHub's "Validation Failed" with a `PullRequest` error.
pub(super) fn pr_invalid(field: Option<&str>, message: Option<&str>) -> ApiError {
    let mut e = json!({"resource": "PullRequest"});
    match (field, message) {
        (Some(f), _) => {
            e["field"] = json!(f);
            e["code"] = json!("invalid");
        }
        (None, Some(m)) => {
            e["code"] = json!("custom");
            e["message"] = json!(m);
        }
        _ => {}
    }
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({"message": "Validation Failed", "errors": [e], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
    }
}

/// The full pull request JSON of PR `n`, with git facts computed now.
pub fn pull_json(inner: &Inner, f: &str, n: u64) -> ApiResult<Value> {
    let issue = shaped(inner, f, |_, r| Ok(pull_issue(r, n)?.clone()))?;
    let db = git::default_branch(&inner.bare(f));
    let p = issue.pull.as_ref().expect("filtered above");
    let repo = open(inner, f)?;
    let head = git2::Oid::from_str(&p.head_sha).ok();
    let base = git::resolve(&repo, &p.base_ref);
    let facts = match (base, head) {
        (Some(b), Some(h)) => {
            let files = git::changed_files(&repo, b, h).unwrap_or_default();
            PullFacts {
                base_sha: b.to_string(),
                mergeable: if p.merged {
                    None
                } else {
                    Some(git::mergeable(&repo, b, h))
                },
                commits: git::ahead_behind(&repo, b, h).0,
                additions: files.iter().map(|x| x.additions).sum(),
                deletions: files.iter().map(|x| x.deletions).sum(),
                changed_files: files.len(),
            }
        }
        _ => PullFacts {
            base_sha: String::new(),
            mergeable: None,
            commits: 0,
            additions: 0,
            deletions: 0,
            changed_files: 0,
        },
    };
    shaped(inner, f, |st, r| {
        Ok(shapes::pull(&inner.base, st, r, &issue, &facts, &db))
    })
}

pub(super) fn emit_pull(
    inner: &Inner,
    f: &str,
    n: u64,
    action: &str,
    sender: &str,
    extra: Vec<(&str, Value)>,
) {
    if let Some(mut m) = inner.pull_payload(f, n, action) {
        for (k, v) in extra {
            m.insert(k.into(), v);
        }
        inner.emit("pull_request", Some(f), sender, m);
    }
}

async fn create_pull(
    State(inner): S,
    Path((o, _)): Path<(String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WritePulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let head_raw = b["head"]
        .as_str()
        .ok_or_else(|| pr_invalid(Some("head"), None))?;
    let base_ref = b["base"]
        .as_str()
        .ok_or_else(|| pr_invalid(Some("base"), None))?
        .to_string();
    let head_ref = match head_raw.split_once(':') {
        Some((owner, branch)) if owner == o => branch.to_string(),
        Some(_) => return Err(pr_invalid(Some("head"), None)),
        None => head_raw.to_string(),
    };
    let title = b["title"].as_str().map(str::to_string);
    let Some(title) = title.filter(|t| !t.trim().is_empty()) else {
        return Err(pr_invalid(None, Some("title is required (or pass issue)")));
    };
    let repo = open(&inner, &f)?;
    let base_oid = repo
        .find_reference(&format!("refs/heads/{base_ref}"))
        .ok()
        .and_then(|r| r.target())
        .ok_or_else(|| pr_invalid(Some("base"), None))?;
    let head_oid = repo
        .find_reference(&format!("refs/heads/{head_ref}"))
        .ok()
        .and_then(|r| r.target())
        .ok_or_else(|| pr_invalid(Some("head"), None))?;
    if git::ahead_behind(&repo, base_oid, head_oid).0 == 0 {
        return Err(pr_invalid(
            None,
            Some(&format!("No commits between {base_ref} and {head_ref}")),
        ));
    }
    let login = inner.login_of(&actor);
    let n = {
        let mut st = inner.st.lock().unwrap();
        let (iid, pid) = (st.id(), st.id());
        let rp = repo_mut(&mut st, &f)?;
        let dup = rp.issues.values().any(|i| {
            i.state == "open"
                && i.pull
                    .as_ref()
                    .is_some_and(|p| p.head_ref == head_ref && p.base_ref == base_ref)
        });
        if dup {
            return Err(pr_invalid(
                None,
                Some(&format!(
                    "A pull request already exists for {o}:{head_ref}."
                )),
            ));
        }
        let n = rp.next_number.max(1);
        rp.next_number = n + 1;
        let t = now();
        rp.issues.insert(
            n,
            Issue {
                id: iid,
                number: n,
                title,
                body: b["body"].as_str().map(str::to_string),
                user: login.clone(),
                state: "open".into(),
                labels: vec![],
                created_at: t.clone(),
                updated_at: t,
                closed_at: None,
                pull: Some(Pull {
                    id: pid,
                    head_ref,
                    head_sha: head_oid.to_string(),
                    base_ref,
                    draft: b["draft"].as_bool().unwrap_or(false),
                    merged: false,
                    merged_at: None,
                    merged_by: None,
                    merge_commit_sha: None,
                    requested_reviewers: vec![],
                }),
            },
        );
        n
    };
    let v = pull_json(&inner, &f, n)?;
    emit_pull(&inner, &f, n, "opened", &login, vec![]);
    created(v)
}

async fn list_pulls(
    State(inner): S,
    Path((o, _)): Path<(String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    Query(q): Query<HashMap<String, String>>,
    paging: Paging,
) -> ApiResult {
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::invalid("state must be open, closed or all"));
    }
    let head = q.get("head").map(|h| match h.split_once(':') {
        Some((owner, b)) => (Some(owner.to_string()), b.to_string()),
        None => (None, h.clone()),
    });
    let mut numbers: Vec<u64> = {
        let st = inner.st.lock().unwrap();
        let rp = repo(&st, &f)?;
        rp.issues
            .values()
            .filter(|i| i.pull.is_some() && (state == "all" || i.state == state))
            .filter(|i| {
                let p = i.pull.as_ref().expect("filtered");
                let head_ok = head.as_ref().is_none_or(|(owner, b)| {
                    owner.as_deref().is_none_or(|x| x == o) && *b == p.head_ref
                });
                head_ok && q.get("base").is_none_or(|b| *b == p.base_ref)
            })
            .map(|i| i.number)
            .collect()
    };
    if q.get("direction").map(String::as_str) != Some("asc") {
        numbers.reverse();
    }
    let total = numbers.len();
    let mut v = vec![];
    for n in paging.slice(numbers) {
        v.push(pull_json(&inner, &f, n)?);
    }
    Ok(paging.respond(total, Value::Array(v)))
}

/// `GET …/pulls/{n}`: JSON, or the diff / patch text when `Accept` asks for it.
async fn get_pull(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let json = pull_json(&inner, &f, n)?;
    if let Some(kind) = media::wanted(&headers) {
        let (head, base, _) = head_base(&inner, &f, n)?;
        return media::pull(&inner.bare(&f), kind, &base.to_string(), &head.to_string());
    }
    ok(json)
}

async fn update_pull(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WritePulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let repo = open(&inner, &f)?;
    let login = inner.login_of(&actor);
    let mut changes = Map::new();
    let mut action = None;
    {
        let mut st = inner.st.lock().unwrap();
        let i = pull_issue_mut(repo_mut(&mut st, &f)?, n)?;
        if let Some(base) = b["base"].as_str() {
            let p = i.pull.as_ref().expect("filtered");
            if base != p.base_ref {
                let Some(new_base) = git::resolve(&repo, base)
                    .filter(|_| repo.find_reference(&format!("refs/heads/{base}")).is_ok())
                else {
                    return Err(pr_invalid(Some("base"), None));
                };
                let head = git2::Oid::from_str(&p.head_sha).map_err(|_| ApiError::not_found())?;
                if git::ahead_behind(&repo, new_base, head).0 == 0 {
                    return Err(pr_invalid(None, Some(&format!("There are no new commits between base branch '{base}' and head branch '{}'.", p.head_ref))));
                }
                let old_sha = git::resolve(&repo, &p.base_ref)
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                changes.insert(
                    "base".into(),
                    json!({"ref": {"from": p.base_ref}, "sha": {"from": old_sha}}),
                );
                i.pull.as_mut().expect("filtered").base_ref = base.to_string();
            }
        }
        if let Some(t) = b["title"].as_str() {
            if t != i.title {
                changes.insert("title".into(), json!({"from": i.title}));
                i.title = t.to_string();
            }
        }
        if b.get("body").is_some() {
            let nb = b["body"].as_str().map(str::to_string);
            if nb != i.body {
                changes.insert("body".into(), json!({"from": i.body}));
                i.body = nb;
            }
        }
        if let Some(s) = b["state"].as_str() {
            if !matches!(s, "open" | "closed") {
                return Err(ApiError::invalid("state must be open or closed"));
            }
            let merged = i.pull.as_ref().is_some_and(|p| p.merged);
            if s != i.state {
                if merged {
                    return Err(ApiError::invalid(
                        "state cannot be changed. The pull request has been merged.",
                    ));
                }
                let pr = i.pull.as_ref().expect("filtered");
                let branch_gone =
                    |b: &str| repo.find_reference(&format!("refs/heads/{b}")).is_err();
                if s == "open" && (branch_gone(&pr.head_ref) || branch_gone(&pr.base_ref)) {
                    return Err(ApiError::invalid(
                        "state cannot be changed. The head or base branch of this pull request was deleted.",
                    ));
                }
                i.state = s.to_string();
                i.closed_at = if s == "closed" { Some(now()) } else { None };
                action = Some(if s == "closed" { "closed" } else { "reopened" });
            }
        }
        i.updated_at = now();
    }
    if !changes.is_empty() {
        emit_pull(
            &inner,
            &f,
            n,
            "edited",
            &login,
            vec![("changes", Value::Object(changes))],
        );
    }
    if let Some(act) = action {
        emit_pull(&inner, &f, n, act, &login, vec![]);
    }
    ok(pull_json(&inner, &f, n)?)
}

async fn is_merged(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
) -> ApiResult {
    let merged = inner
        .st
        .lock()
        .unwrap()
        .repos
        .get(&f)
        .and_then(|r| r.issues.get(&n))
        .and_then(|i| i.pull.as_ref())
        .is_some_and(|p| p.merged);
    if merged {
        super::super::http::no_content()
    } else {
        Err(ApiError::not_found())
    }
}

async fn merge(
    State(inner): S,
    Path((o, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let method = b["merge_method"].as_str().unwrap_or("merge").to_string();
    if !matches!(method.as_str(), "merge" | "squash" | "rebase") {
        return Err(ApiError::invalid(
            "merge_method must be merge, squash or rebase",
        ));
    }
    let issue = shaped(&inner, &f, |_, r| Ok(pull_issue(r, n)?.clone()))?;
    let p = issue.pull.clone().expect("a pull request");
    let not_mergeable = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        )
    };
    if issue.state != "open" || p.merged {
        return Err(not_mergeable());
    }
    if p.draft {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is still a draft",
        ));
    }
    if let Some(sha) = b["sha"].as_str() {
        if sha != p.head_sha {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Head branch was modified. Review and try the merge again.",
            ));
        }
    }
    let repo = open(&inner, &f)?;
    let head = git2::Oid::from_str(&p.head_sha).map_err(|_| not_mergeable())?;
    let base_before = git::resolve(&repo, &p.base_ref).ok_or_else(not_mergeable)?;
    if !git::mergeable(&repo, base_before, head) {
        return Err(not_mergeable());
    }
    let login = inner.login_of(&actor);
    let title = b["commit_title"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| match method.as_str() {
            "squash" => format!("{} (#{n})", issue.title),
            _ => format!("Merge pull request #{n} from {o}/{}", p.head_ref),
        });
    let message = b["commit_message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            if method == "merge" {
                issue.title.clone()
            } else {
                String::new()
            }
        });
    let email = format!("{login}@users.noreply.sim");
    let tip = git::merge(
        &repo,
        &p.base_ref,
        head,
        &method,
        &title,
        &message,
        (&login, &email),
    )
    .map_err(|_| not_mergeable())?;
    {
        let mut st = inner.st.lock().unwrap();
        if let Some(i) = st.repos.get_mut(&f).and_then(|r| r.issues.get_mut(&n)) {
            let t = now();
            i.state = "closed".into();
            i.closed_at = Some(t.clone());
            i.updated_at = t.clone();
            if let Some(pp) = i.pull.as_mut() {
                pp.merged = true;
                pp.merged_at = Some(t);
                pp.merged_by = Some(login.clone());
                pp.merge_commit_sha = Some(tip.to_string());
            }
        }
    }
    let base_ref = format!("refs/heads/{}", p.base_ref);
    let change = (
        base_ref,
        Some(base_before.to_string()),
        Some(tip.to_string()),
    );
    inner.refs_moved(&f, &login, vec![change]).await;
    emit_pull(&inner, &f, n, "closed", &login, vec![]);
    delete_head_on_merge(&inner, &f, &p.head_ref, &p.base_ref, head, &login).await;
    ok(
        json!({"sha": tip.to_string(), "merged": true, "message": "Pull Request successfully merged"}),
    )
}

/// GitHub's "automatically delete head branches": the merged PR's head branch is
/// deleted, and open PRs based on it are retargeted to its base first (deleting the
/// branch through the refs API instead closes them; see docs/sim.md).
async fn delete_head_on_merge(
    inner: &Arc<Inner>,
    f: &str,
    head_ref: &str,
    base_ref: &str,
    head: git2::Oid,
    login: &str,
) {
    let retargeted: Vec<u64> = {
        let mut st = inner.st.lock().unwrap();
        let Some(r) = st.repos.get_mut(f).filter(|r| r.delete_branch_on_merge) else {
            return;
        };
        if r.protected.contains(head_ref) {
            return;
        }
        let mut out = vec![];
        for i in r.issues.values_mut().filter(|i| i.state == "open") {
            if let Some(p) = i.pull.as_mut().filter(|p| p.base_ref == head_ref) {
                p.base_ref = base_ref.to_string();
                i.updated_at = now();
                out.push(i.number);
            }
        }
        out
    };
    for n in retargeted {
        let change = json!({"base": {"ref": {"from": head_ref}}});
        emit_pull(inner, f, n, "edited", login, vec![("changes", change)]);
    }
    let name = format!("refs/heads/{head_ref}");
    let Ok(repo) = open(inner, f) else { return };
    if git::delete_ref(&repo, &name).is_err() {
        return;
    }
    let change = vec![(name, Some(head.to_string()), None)];
    inner.refs_moved(f, login, change).await;
}

pub(super) fn head_base(
    inner: &Inner,
    f: &str,
    n: u64,
) -> ApiResult<(git2::Oid, git2::Oid, git2::Repository)> {
    let p = shaped(inner, f, |_, r| {
        found(r.issues.get(&n).and_then(|i| i.pull.clone()))
    })?;
    let repo = open(inner, f)?;
    let head = git2::Oid::from_str(&p.head_sha).map_err(|_| ApiError::not_found())?;
    let base = git::resolve(&repo, &p.base_ref)
        .or_else(|| {
            p.merge_commit_sha
                .as_deref()
                .and_then(|s| git2::Oid::from_str(s).ok())
        })
        .ok_or_else(ApiError::not_found)?;
    Ok((head, base, repo))
}

async fn files(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    paging: Paging,
) -> ApiResult {
    let (head, base, repo) = head_base(&inner, &f, n)?;
    let files = git::changed_files(&repo, base, head).unwrap_or_default();
    paging.array(file_list(&inner.base, &f, &head.to_string(), &files))
}

async fn commits(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    paging: Paging,
) -> ApiResult {
    let (head, base, repo) = head_base(&inner, &f, n)?;
    let v: Vec<Value> = git::commits_between(&repo, Some(base), head, 250)
        .into_iter()
        .map(|c| commit_json(&inner, &f, &repo, c))
        .collect();
    paging.array(v)
}
