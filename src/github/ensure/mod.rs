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
