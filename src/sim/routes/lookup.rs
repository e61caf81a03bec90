//! Finding what a route's path names in the simulator's state, with GitHub's
//! 404 when it is not there. Every handler looks things up through these, so a
//! missing repository, issue or pull request answers the same everywhere.

use super::super::http::{ApiError, ApiResult};
use super::super::state::{Comment, Issue, Repo, State};
use super::super::Inner;

/// `Some` as `Ok`, `None` as GitHub's 404.
pub fn found<T>(o: Option<T>) -> ApiResult<T> {
    o.ok_or_else(ApiError::not_found)
}

/// Repository `f` (`owner/name`).
pub fn repo<'a>(st: &'a State, f: &str) -> ApiResult<&'a Repo> {
    found(st.repos.get(f))
}

pub fn repo_mut<'a>(st: &'a mut State, f: &str) -> ApiResult<&'a mut Repo> {
    found(st.repos.get_mut(f))
}

/// Issue comment `id` of repository `f`.
pub fn comment_mut<'a>(st: &'a mut State, f: &str, id: u64) -> ApiResult<&'a mut Comment> {
    found(repo_mut(st, f)?.comments.iter_mut().find(|c| c.id == id))
}

/// Issue `n` of `r` when it is a pull request (GitHub numbers both alike).
pub fn pull_issue(r: &Repo, n: u64) -> ApiResult<&Issue> {
    found(r.issues.get(&n).filter(|i| i.pull.is_some()))
}

pub fn pull_issue_mut(r: &mut Repo, n: u64) -> ApiResult<&mut Issue> {
    found(r.issues.get_mut(&n).filter(|i| i.pull.is_some()))
}

/// `shape` run on repository `f` under the state lock: how a route turns what it
/// stored into GitHub's JSON.
pub fn shaped<T>(
    inner: &Inner,
    f: &str,
    shape: impl FnOnce(&State, &Repo) -> ApiResult<T>,
) -> ApiResult<T> {
    let st = inner.st.lock().unwrap();
    shape(&st, repo(&st, f)?)
}
