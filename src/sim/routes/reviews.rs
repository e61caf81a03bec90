//! Reviews of pull requests: approve, request changes, comment (with inline
//! comments on the files the pull request changes), dismiss; listing reviews
//! and review comments; requested reviewers. GitHub's refusals come with its 422 shapes.

use super::super::http::{created, ok, ApiError, ApiResult, JsonBody};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{now, Review};
use super::super::Inner;
use super::access::{ReadPulls, RepoAccess, TakePartPulls, WritePulls};
use super::lookup::{found, pull_issue, pull_issue_mut, repo, repo_mut, shaped};
use super::pulls::{emit_pull, pr_invalid, pull_json};
use super::review_comments::{emit_created, patches, place, stored};
use super::S;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/reviews",
            get(list_reviews).post(create_review),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/reviews/{id}",
            get(get_review),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/reviews/{id}/dismissals",
            put(dismiss),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/comments",
            get(list_review_comments).post(super::review_comments::create),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/requested_reviewers",
            get(get_requested)
                .post(request_reviewers)
                .delete(remove_reviewers),
        )
}

/// `{"message": "Unprocessable Entity", "errors": [msg]}`, GitHub's review refusal shape.
fn review_refused(msg: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({"message": "Unprocessable Entity", "errors": [msg], "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request", "status": "422"}),
    }
}

async fn list_reviews(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let rp = repo(&st, &f)?;
    pull_issue(rp, n)?;
    let v: Vec<Value> = rp
        .reviews
        .iter()
        .filter(|x| x.pull == n)
        .map(|x| shapes::review(&inner.base, &st, rp, x))
        .collect();
    paging.array(v)
}

/// Review `id` of pull request `n` as GitHub shapes it.
fn review_json(inner: &Inner, f: &str, n: u64, id: u64) -> ApiResult<Value> {
    shaped(inner, f, |st, rp| {
        let rv = found(rp.reviews.iter().find(|x| x.pull == n && x.id == id))?;
        Ok(shapes::review(&inner.base, st, rp, rv))
    })
}

async fn get_review(
    State(inner): S,
    Path((_, _, n, id)): Path<(String, String, u64, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
) -> ApiResult {
    ok(review_json(&inner, &f, n, id)?)
}

pub(super) fn emit_review(
    inner: &Inner,
    f: &str,
    n: u64,
    review_id: u64,
    action: &str,
    sender: &str,
) {
    let Ok(pr) = pull_json(inner, f, n) else {
        return;
    };
    let Ok(rv) = shaped(inner, f, |st, rp| {
        let rv = found(rp.reviews.iter().find(|x| x.id == review_id))?;
        Ok(shapes::review_hook(&inner.base, st, rp, rv))
    }) else {
        return;
    };
    let parts = [("review", rv), ("pull_request", pr)];
    inner.emit_action("pull_request_review", f, action, sender, parts);
}

/// `POST /pulls/{n}/reviews`: APPROVE, REQUEST_CHANGES or COMMENT, with inline
/// `comments` on files the pull request changes. GitHub refuses approving or
/// requesting changes on your own pull request, and an empty body for
/// REQUEST_CHANGES / COMMENT.
async fn create_review(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartPulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let login = inner.login_of(&actor);
    let issue = shaped(&inner, &f, |_, r| Ok(pull_issue(r, n)?.clone()))?;
    let event = b["event"].as_str().unwrap_or("").to_string();
    let state = match event.as_str() {
        "APPROVE" => "APPROVED",
        "REQUEST_CHANGES" => "CHANGES_REQUESTED",
        "COMMENT" => "COMMENTED",
        "" => "PENDING",
        other => {
            return Err(review_refused(&format!(
                "Unknown review event {other:?}: use APPROVE, REQUEST_CHANGES or COMMENT"
            )))
        }
    };
    let text = b["body"]
        .as_str()
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    let inline = b["comments"].as_array().cloned().unwrap_or_default();
    if issue.user == login && state == "APPROVED" {
        return Err(review_refused(
            "Review Can not approve your own pull request",
        ));
    }
    if issue.user == login && state == "CHANGES_REQUESTED" {
        return Err(review_refused(
            "Review Can not request changes on your own pull request",
        ));
    }
    if text.is_none()
        && (state == "CHANGES_REQUESTED" || (state == "COMMENTED" && inline.is_empty()))
    {
        return Err(review_refused(&format!(
            "Review body is required for {event}"
        )));
    }
    if issue.state != "open" && state != "COMMENTED" {
        return Err(review_refused("Can not review a closed pull request"));
    }
    let (cid, files) = patches(&inner, &f, n, b["commit_id"].as_str())
        .map_err(|_| review_refused("commit_id is not part of the pull request"))?;
    // One comment GitHub cannot place rejects the whole review.
    let mut placed = vec![];
    for c in &inline {
        placed.push(place(c, &files).map_err(|e| review_refused(e.review_text()))?);
    }
    let (id, comment_ids) = {
        let mut st = inner.st.lock().unwrap();
        let id = st.id();
        let ids: Vec<u64> = placed.iter().map(|_| st.id()).collect();
        let rp = repo_mut(&mut st, &f)?;
        rp.reviews.push(Review {
            id,
            pull: n,
            user: login.clone(),
            body: text,
            state: state.into(),
            commit_id: cid.to_string(),
            submitted_at: now(),
        });
        for (c, cid2) in placed.into_iter().zip(ids.iter()) {
            rp.review_comments
                .push(stored(c, *cid2, id, n, &login, &cid.to_string()));
        }
        if state != "PENDING" && state != "COMMENTED" {
            if let Some(pp) = rp.issues.get_mut(&n).and_then(|i| i.pull.as_mut()) {
                pp.requested_reviewers.retain(|x| *x != login);
            }
        }
        (id, ids)
    };
    if state != "PENDING" {
        emit_review(&inner, &f, n, id, "submitted", &login);
        for c in comment_ids {
            emit_created(&inner, &f, n, c, &login);
        }
    }
    ok(review_json(&inner, &f, n, id)?)
}

async fn dismiss(
    State(inner): S,
    Path((_, _, n, id)): Path<(String, String, u64, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WritePulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    if b["message"].as_str().is_none_or(str::is_empty) {
        return Err(review_refused("message is required to dismiss a review"));
    }
    let login = inner.login_of(&actor);
    {
        let mut st = inner.st.lock().unwrap();
        let rp = repo_mut(&mut st, &f)?;
        let rv = found(rp.reviews.iter_mut().find(|x| x.pull == n && x.id == id))?;
        if rv.state != "APPROVED" && rv.state != "CHANGES_REQUESTED" {
            return Err(review_refused(&format!(
                "Can not dismiss a {} pull request review",
                rv.state.to_lowercase()
            )));
        }
        rv.state = "DISMISSED".into();
    }
    emit_review(&inner, &f, n, id, "dismissed", &login);
    ok(review_json(&inner, &f, n, id)?)
}

async fn list_review_comments(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let rp = repo(&st, &f)?;
    let v: Vec<Value> = rp
        .review_comments
        .iter()
        .filter(|c| c.pull == n)
        .map(|c| shapes::review_comment(&inner.base, &st, rp, c))
        .collect();
    paging.array(v)
}

async fn get_requested(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let p = found(pull_issue(repo(&st, &f)?, n)?.pull.as_ref())?;
    let users: Vec<Value> = p
        .requested_reviewers
        .iter()
        .map(|l| shapes::user_by_login(&inner.base, &st, l))
        .collect();
    ok(json!({"users": users, "teams": []}))
}

/// `pull_request` `action` once per reviewer, as GitHub sends review requests.
fn emit_reviewers(inner: &Inner, f: &str, n: u64, action: &str, sender: &str, who: Vec<String>) {
    for w in who {
        let u = shapes::user_by_login(&inner.base, &inner.st.lock().unwrap(), &w);
        emit_pull(inner, f, n, action, sender, vec![("requested_reviewer", u)]);
    }
}

fn reviewer_list(b: &Value) -> Vec<String> {
    b["reviewers"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn request_reviewers(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WritePulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let wanted = reviewer_list(&b);
    if b["team_reviewers"]
        .as_array()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(pr_invalid(
            None,
            Some("Reviews may only be requested from collaborators. The simulator has no teams."),
        ));
    }
    let login = inner.login_of(&actor);
    let mut added = vec![];
    {
        let mut st = inner.st.lock().unwrap();
        for w in &wanted {
            if st.accounts.get(w).is_none_or(|x| {
                super::super::auth::level(&super::super::auth::role(&st, &f, &x.login)) == 0
                    || x.kind != "User"
            }) {
                return Err(pr_invalid(None, Some(&format!("Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {f} repository."))));
            }
        }
        let i = pull_issue_mut(repo_mut(&mut st, &f)?, n)?;
        if wanted.contains(&i.user) {
            return Err(pr_invalid(
                None,
                Some("Review cannot be requested from pull request author."),
            ));
        }
        let p = i.pull.as_mut().expect("filtered");
        for w in wanted {
            if !p.requested_reviewers.contains(&w) {
                p.requested_reviewers.push(w.clone());
                added.push(w);
            }
        }
    }
    emit_reviewers(&inner, &f, n, "review_requested", &login, added);
    created(pull_json(&inner, &f, n)?)
}

async fn remove_reviewers(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WritePulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let gone = reviewer_list(&b);
    let login = inner.login_of(&actor);
    let mut removed = vec![];
    {
        let mut st = inner.st.lock().unwrap();
        let p = found(pull_issue_mut(repo_mut(&mut st, &f)?, n)?.pull.as_mut())?;
        p.requested_reviewers.retain(|x| {
            let drop = gone.contains(x);
            if drop {
                removed.push(x.clone());
            }
            !drop
        });
    }
    emit_reviewers(&inner, &f, n, "review_request_removed", &login, removed);
    ok(pull_json(&inner, &f, n)?)
}
