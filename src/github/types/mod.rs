//! The small GitHub types the rest of prflow sees.
//!
//! GitHub's JSON is read into private `Raw*` structs (lenient: every field
//! the engine does not need is optional) and converted into these, so no
//! octocrab or GitHub model type leaks out of `src/github/`.
//!
//! Check runs and commit statuses (the gates' reports) are in [`checks`]; the raw
//! shapes and their conversions in [`raw`].

mod checks;
mod raw;

pub use checks::*;
pub(crate) use raw::*;

use serde::{Deserialize, Serialize};

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        RepoName {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// Parse `owner/name`; `None` when it is not exactly two non-empty parts.
    pub fn parse(full: &str) -> Option<Self> {
        let (owner, name) = full.split_once('/')?;
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            return None;
        }
        Some(RepoName::new(owner, name))
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` of the head repository; differs from the base for forks.
    pub head_repo: Option<String>,
    pub base_ref: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub draft: bool,
    pub html_url: String,
    pub body: String,
    pub user: String,
    /// Logins whose review is requested now.
    pub requested_reviewers: Vec<String>,
    /// Team slugs whose review is requested now.
    pub requested_teams: Vec<String>,
    /// Label names.
    pub labels: Vec<String>,
}

impl Pull {
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
}

/// State of a submitted review, as GitHub spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl ReviewState {
    /// Parse both the REST spelling (`APPROVED`) and the webhook one (`approved`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "approved" => Some(ReviewState::Approved),
            "changes_requested" => Some(ReviewState::ChangesRequested),
            "commented" => Some(ReviewState::Commented),
            "dismissed" => Some(ReviewState::Dismissed),
            "pending" => Some(ReviewState::Pending),
            _ => None,
        }
    }
}

/// A pull request review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    pub user: String,
    pub state: ReviewState,
    /// The head sha the review was made on.
    pub commit_id: String,
    pub body: String,
    pub submitted_at: Option<String>,
}

/// An inline review comment on a file and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewComment {
    pub id: u64,
    pub review_id: Option<u64>,
    pub user: String,
    pub path: String,
    /// Line in the new file; `None` when the comment is outdated.
    pub line: Option<u64>,
    pub original_line: Option<u64>,
    pub commit_id: String,
    pub body: String,
    pub diff_hunk: String,
}

/// An issue or pull request conversation comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub html_url: String,
}

/// A repository's access level for one person, reduced to what prflow asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    /// Write, maintain and admin may approve checkpoints and run commands.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Permission::Write | Permission::Maintain | Permission::Admin
        )
    }

    pub(crate) fn parse(s: &str) -> Permission {
        match s {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" | "push" => Permission::Write,
            "triage" => Permission::Triage,
            "read" | "pull" => Permission::Read,
            _ => Permission::None,
        }
    }
}

/// Reaction content GitHub accepts on a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    PlusOne,
    MinusOne,
    Laugh,
    Confused,
    Heart,
    Hooray,
    Rocket,
    Eyes,
}

impl Reaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::PlusOne => "+1",
            Reaction::MinusOne => "-1",
            Reaction::Laugh => "laugh",
            Reaction::Confused => "confused",
            Reaction::Heart => "heart",
            Reaction::Hooray => "hooray",
            Reaction::Rocket => "rocket",
            Reaction::Eyes => "eyes",
        }
    }
}

/// `merge`, `squash` or `rebase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// What [`crate::github::RepoClient::ensure_ref`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefUpdate {
    /// Already at the wanted sha: no write.
    Unchanged,
    Created,
    FastForwarded,
}

/// A file read through the contents API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub path: String,
    /// Git blob sha.
    pub sha: String,
    pub content: Vec<u8>,
}

/// The App itself (`GET /app`): proves the key and id work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub id: u64,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
}

/// One delivery of the App's webhook, as `GET /app/hook/deliveries` lists it
/// (the fields the redelivery sweep reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookDelivery {
    /// This delivery (a redelivery has an id of its own).
    pub id: u64,
    /// The event's id, shared by every delivery of it: prflow's `X-GitHub-Delivery`.
    pub guid: String,
    /// RFC 3339, e.g. `2021-05-12T20:33:44Z`.
    pub delivered_at: String,
    #[serde(default)]
    pub redelivery: bool,
    /// `OK` when the App answered 2xx; anything else is a failure
    /// (`failed to connect to host`, `Invalid HTTP Response: 503`, …).
    pub status: String,
    /// The App's HTTP answer; 0 when it never answered.
    #[serde(default)]
    pub status_code: u16,
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
}

/// One page of the App's webhook deliveries, newest first, and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDeliveryPage {
    pub deliveries: Vec<HookDelivery>,
    pub next_cursor: Option<String>,
}

/// Repository facts prflow needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub full_name: String,
    pub default_branch: String,
    pub private: bool,
    pub fork: bool,
    pub clone_url: Option<String>,
    pub html_url: Option<String>,
}
