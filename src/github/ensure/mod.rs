//! Repository operations. Every write is an *ensure*: read the current
//! state first, write only what differs, and report what changed. Replaying
//! any step (a retried webhook, a re-run after a crash) is therefore
//! harmless and, when nothing changed, costs no write call at all.
//!
//! One file per kind of thing on GitHub: [`repo`] (facts, files, permissions,
//! dispatches), [`refs`], [`pulls`], [`comments`] (reviews, comments, reactions),
//! [`checks`] and [`statuses`].

mod checks;
mod comments;
mod pulls;
mod refs;
mod repo;
mod statuses;

use super::client::RepoClient;
use super::error::GithubError;

/// Annotations GitHub accepts per check-run request.
pub const ANNOTATION_BATCH: usize = 50;

/// What an ensure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Already as wanted: no write was made.
    Unchanged,
    Created,
    Updated,
}

impl RepoClient {
    /// Runs an ensure (`once`) again after a failure that may or may not have written
    /// (a 5xx, a dropped connection), after a back-off and within the connection's
    /// attempts: `once` reads before it writes, so a write that landed is seen and
    /// not made twice. Any other result returns at once.
    async fn again_if_ambiguous<T, F, Fut>(&self, mut once: F) -> Result<T, GithubError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, GithubError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match once().await {
                Err(e) if is_ambiguous(&e) && attempt < self.gh.max_attempts() => {
                    self.gh.ambiguous_backoff(attempt).await;
                }
                other => return other,
            }
        }
    }
}

/// A failure after which a write may or may not have been applied.
fn is_ambiguous(e: &GithubError) -> bool {
    matches!(
        e,
        GithubError::Server { .. } | GithubError::Transport { .. }
    )
}

/// Text compared the way GitHub stores it (CRLF folded, trailing space dropped).
fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}
