//! Inline review comments: anchoring them in the pull request's diff (through
//! `sim::diffmap`) with GitHub's 422s, single comments and replies
//! (`POST …/pulls/{n}/comments`, `…/comments/{id}/replies`), reading them back
//! (`GET …/pulls/comments/{id}`, `…/reviews/{id}/comments`), and the
//! `pull_request_review_comment` webhook.

use super::super::diffmap::{FileDiff, Unresolved};
use super::super::git;
use super::super::http::{created, ok, ApiError, ApiResult, JsonBody};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{now, Review, ReviewComment};
use super::super::Inner;
use super::access::{ReadPulls, RepoAccess, TakePartPulls};
use super::lookup::{found, repo, repo_mut, shaped};
use super::pulls::{head_base, pull_json};
use super::S;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/comments/{id}/replies",
            post(reply),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/comments/{id}",
            get(get_comment),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{n}/reviews/{id}/comments",
            get(review_comments),
        )
}

/// A comment resolved against the diff, ready to be stored.
pub struct Placed {
    pub path: String,
    pub body: String,
    pub line: Option<u64>,
    pub side: String,
    pub position: Option<u64>,
    pub start_line: Option<u64>,
    pub start_side: Option<String>,
    pub diff_hunk: String,
}

/// Why a comment could not be placed, in the words the two endpoints use.
pub enum NotPlaced {
    Path,
    Body,
    Anchor(Unresolved),
}

impl NotPlaced {
    /// `POST …/reviews` answers `{"message": "Unprocessable Entity", "errors": [text]}`.
    pub fn review_text(&self) -> &'static str {
        match self {
            NotPlaced::Path => "Path could not be resolved",
            NotPlaced::Body => "Review comment body is required",
            NotPlaced::Anchor(Unresolved::Line) => "Line could not be resolved",
            NotPlaced::Anchor(Unresolved::StartHunk) => {
                "Pull request review thread start line must be part of the same hunk as the line."
            }
            NotPlaced::Anchor(Unresolved::StartAfterEnd) => {
                "Pull request review thread start line must precede the end line."
            }
        }
    }

    /// `POST …/pulls/{n}/comments` answers "Validation Failed" naming the field.
    fn validation(&self) -> ApiError {
        let (field, message) = match self {
            NotPlaced::Path => ("pull_request_review_thread.path", "could not be resolved"),
            NotPlaced::Body => ("body", "can't be blank"),
            NotPlaced::Anchor(Unresolved::Line) => {
                ("pull_request_review_thread.line", "could not be resolved")
            }
            NotPlaced::Anchor(Unresolved::StartHunk) => (
                "pull_request_review_thread.start_line",
                "must be part of the same hunk as the line.",
            ),
            NotPlaced::Anchor(Unresolved::StartAfterEnd) => (
                "pull_request_review_thread.start_line",
                "must precede the end line.",
            ),
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequestReviewComment", "code": "custom", "field": field, "message": message}],
                "documentation_url": "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request",
                "status": "422",
            }),
        }
    }
}

fn side(v: &Value, default: &str) -> Result<String, NotPlaced> {
    match v.as_str().unwrap_or(default) {
        s @ ("LEFT" | "RIGHT") => Ok(s.to_string()),
        _ => Err(NotPlaced::Anchor(Unresolved::Line)),
    }
}

/// The patches of every file pull request `n` changes at `commit`, by path.
pub fn patches(
    inner: &Inner,
    f: &str,
    n: u64,
    commit: Option<&str>,
) -> ApiResult<(git2::Oid, Vec<(String, String)>)> {
    let (head, base, repo) = head_base(inner, f, n)?;
    let cid = match commit {
        None => head,
        Some(c) => git2::Oid::from_str(c)
            .ok()
            .filter(|o| repo.find_commit(*o).is_ok())
            .ok_or_else(|| ApiError::unprocessable("commit_id is not part of the pull request"))?,
    };
    let files = git::changed_files(&repo, base, cid).unwrap_or_default();
    Ok((cid, files.into_iter().map(|x| (x.path, x.patch)).collect()))
}

/// Places one comment (`path`, `body`, and `line`/`side`/`start_line`/`start_side`,
/// or `position`, or `subject_type: file`) in the diff, as GitHub does.
pub fn place(c: &Value, files: &[(String, String)]) -> Result<Placed, NotPlaced> {
    let path = c["path"].as_str().unwrap_or("");
    let patch = files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, x)| x)
        .ok_or(NotPlaced::Path)?;
    let body = c["body"]
        .as_str()
        .filter(|b| !b.is_empty())
        .ok_or(NotPlaced::Body)?;
    let mut placed = Placed {
        path: path.into(),
        body: body.into(),
        line: None,
        side: "RIGHT".into(),
        position: None,
        start_line: None,
        start_side: None,
        diff_hunk: String::new(),
    };
    let diff = FileDiff::parse(patch);
    if c["subject_type"] == "file" {
        placed.diff_hunk = patch.lines().next().unwrap_or("").to_string();
        return Ok(placed);
    }
    let anchor = if !c["line"].is_null() {
        let line = c["line"]
            .as_u64()
            .ok_or(NotPlaced::Anchor(Unresolved::Line))?;
        let s = side(&c["side"], "RIGHT")?;
        let start = match c["start_line"].as_u64() {
            Some(sl) => Some((sl, side(&c["start_side"], &s)?)),
            None if !c["start_line"].is_null() => {
                return Err(NotPlaced::Anchor(Unresolved::StartHunk))
            }
            None => None,
        };
        diff.at_line(line, &s, start.as_ref().map(|(l, s)| (*l, s.as_str())))
    } else {
        let pos = c["position"]
            .as_u64()
            .ok_or(NotPlaced::Anchor(Unresolved::Line))?;
        diff.at_position(pos)
    }
    .map_err(NotPlaced::Anchor)?;
    placed.line = Some(anchor.line);
    placed.side = anchor.side.into();
    placed.position = Some(anchor.position);
    placed.start_line = anchor.start_line;
    placed.start_side = anchor.start_side.map(str::to_string);
    placed.diff_hunk = anchor.diff_hunk;
    Ok(placed)
}

/// A stored comment from a placed one.
pub fn stored(
    p: Placed,
    id: u64,
    review_id: u64,
    pull: u64,
    user: &str,
    commit: &str,
) -> ReviewComment {
    ReviewComment {
        id,
        review_id,
        pull,
        user: user.into(),
        path: p.path,
        line: p.line,
        side: p.side,
        body: p.body,
        commit_id: commit.into(),
        created_at: now(),
        position: p.position,
        start_line: p.start_line,
        start_side: p.start_side,
        diff_hunk: p.diff_hunk,
        in_reply_to: None,
    }
}

/// Sends `pull_request_review_comment` `created` for comment `id`.
pub fn emit_created(inner: &Inner, f: &str, n: u64, id: u64, sender: &str) {
    let Ok(pr) = pull_json(inner, f, n) else {
        return;
    };
    let Ok(comment) = comment_json(inner, f, id) else {
        return;
    };
    let parts = [("comment", comment), ("pull_request", pr)];
    inner.emit_action("pull_request_review_comment", f, "created", sender, parts);
}

/// Stores a one-comment `COMMENTED` review holding `c` (how GitHub files a
/// single comment or a reply), sends its webhooks, and answers 201 with the comment.
fn file_single(inner: &Inner, f: &str, n: u64, mut c: ReviewComment, login: &str) -> ApiResult {
    let (rid, cid) = {
        let mut st = inner.st.lock().unwrap();
        let (rid, cid) = (st.id(), st.id());
        let rp = repo_mut(&mut st, f)?;
        rp.reviews.push(Review {
            id: rid,
            pull: n,
            user: login.into(),
            body: None,
            state: "COMMENTED".into(),
            commit_id: c.commit_id.clone(),
            submitted_at: now(),
        });
        c.id = cid;
        c.review_id = rid;
        rp.review_comments.push(c);
        (rid, cid)
    };
    emit_created(inner, f, n, cid, login);
    super::reviews::emit_review(inner, f, n, rid, "submitted", login);
    created(comment_json(inner, f, cid)?)
}

/// Review comment `id` of `f` as GitHub shapes it.
fn comment_json(inner: &Inner, f: &str, id: u64) -> ApiResult<Value> {
    shaped(inner, f, |st, rp| {
        let c = found(rp.review_comments.iter().find(|c| c.id == id))?;
        Ok(shapes::review_comment(&inner.base, st, rp, c))
    })
}

/// A reply to comment `to` of pull request `n`: same place, `in_reply_to_id`
/// naming the thread's first comment (a reply to a reply joins that thread).
fn reply_to(inner: &Inner, f: &str, n: u64, to: u64, body: &str, login: &str) -> ApiResult {
    if body.is_empty() {
        return Err(NotPlaced::Body.validation());
    }
    let parent = shaped(inner, f, |_, r| {
        found(r.review_comments.iter().find(|c| c.id == to && c.pull == n)).cloned()
    })?;
    let c = ReviewComment {
        body: body.into(),
        user: login.into(),
        created_at: now(),
        in_reply_to: Some(parent.in_reply_to.unwrap_or(parent.id)),
        ..parent
    };
    file_single(inner, f, n, c, login)
}

/// `POST …/pulls/{n}/comments`: one comment (needs `commit_id`, `path`, `body`
/// and a place), or a reply with `in_reply_to` (then only `body` counts).
pub async fn create(
    State(inner): S,
    Path((_, _, n)): Path<(String, String, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartPulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let login = inner.login_of(&actor);
    if let Some(to) = b["in_reply_to"].as_u64() {
        return reply_to(&inner, &f, n, to, b["body"].as_str().unwrap_or(""), &login);
    }
    for k in ["body", "commit_id", "path"] {
        if b[k].as_str().is_none() {
            return Err(ApiError::unprocessable(&format!(
                "Invalid request.\n\n\"{k}\" wasn't supplied."
            )));
        }
    }
    let (commit, files) = patches(&inner, &f, n, b["commit_id"].as_str())?;
    let placed = place(&b, &files).map_err(|e| e.validation())?;
    let c = stored(placed, 0, 0, n, &login, &commit.to_string());
    file_single(&inner, &f, n, c, &login)
}

async fn reply(
    State(inner): S,
    Path((_, _, n, id)): Path<(String, String, u64, u64)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<TakePartPulls>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let login = inner.login_of(&actor);
    reply_to(&inner, &f, n, id, b["body"].as_str().unwrap_or(""), &login)
}

async fn get_comment(
    State(inner): S,
    Path((_, _, id)): Path<(String, String, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
) -> ApiResult {
    ok(comment_json(&inner, &f, id)?)
}

/// `GET …/reviews/{id}/comments`: the comments one review holds (GitHub's
/// older `review-comment` shape: `position` is always present, null for a file comment).
async fn review_comments(
    State(inner): S,
    Path((_, _, n, id)): Path<(String, String, u64, u64)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadPulls>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let rp = repo(&st, &f)?;
    if !rp.reviews.iter().any(|x| x.pull == n && x.id == id) {
        return Err(ApiError::not_found());
    }
    let v: Vec<Value> = rp
        .review_comments
        .iter()
        .filter(|c| c.review_id == id)
        .map(|c| {
            let mut v = shapes::review_comment(&inner.base, &st, rp, c);
            if c.position.is_none() {
                v["position"] = Value::Null;
            }
            v
        })
        .collect();
    paging.array(v)
}
