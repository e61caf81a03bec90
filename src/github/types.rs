//! The small GitHub types the rest of prflow sees.
//!
//! GitHub's JSON is read into private `Raw*` structs (lenient: every field
//! the engine does not need is optional) and converted into these, so no
//! octocrab or GitHub model type leaks out of `src/github/`.

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

/// `queued`, `in_progress` or `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Queued => "queued",
            CheckStatus::InProgress => "in_progress",
            CheckStatus::Completed => "completed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" | "requested" | "waiting" | "pending" => Some(CheckStatus::Queued),
            "in_progress" => Some(CheckStatus::InProgress),
            "completed" => Some(CheckStatus::Completed),
            _ => None,
        }
    }
}

/// Conclusion of a completed check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::TimedOut => "timed_out",
            Conclusion::ActionRequired => "action_required",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Conclusion::Success,
            "failure" => Conclusion::Failure,
            "neutral" => Conclusion::Neutral,
            "cancelled" => Conclusion::Cancelled,
            "skipped" => Conclusion::Skipped,
            "timed_out" => Conclusion::TimedOut,
            "action_required" => Conclusion::ActionRequired,
            _ => return None,
        })
    }
}

/// `notice`, `warning` or `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

/// A check-run annotation on a file and line range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    pub annotation_level: AnnotationLevel,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What a check run shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
    pub annotations: Vec<Annotation>,
}

/// The desired state of one check run (or, as a fallback, commit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunSpec {
    /// `prflow/<gate>`.
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    /// Required when `status` is `Completed`.
    pub conclusion: Option<Conclusion>,
    pub output: CheckOutput,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
}

/// A check run as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    pub conclusion: Option<Conclusion>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub annotations_count: u64,
    pub html_url: Option<String>,
    pub external_id: Option<String>,
}

/// Where a gate result was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateReport {
    /// As a check run (the normal case).
    CheckRun(CheckRun),
    /// As a commit status, because the token cannot write checks.
    Status(CommitStatus),
}

/// A gate's latest result, from its check run or its fallback status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateOutcome {
    pub status: CheckStatus,
    pub conclusion: Option<Conclusion>,
    /// The check run's title, or the status description.
    pub summary: String,
}

impl GateOutcome {
    /// Passed = completed with `success`. `neutral` and `skipped` did not
    /// measure anything, so they do not pass a *required* gate.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Completed && self.conclusion == Some(Conclusion::Success)
    }
}

/// `pending`, `success`, `failure` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => StatusState::Pending,
            "success" => StatusState::Success,
            "failure" => StatusState::Failure,
            "error" => StatusState::Error,
            _ => return None,
        })
    }
}

/// One commit status (a context on a sha).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    pub state: StatusState,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// The combined status of a ref: the overall state and the latest status per context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombinedStatus {
    pub state: StatusState,
    pub sha: String,
    pub statuses: Vec<CommitStatus>,
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

// ---- raw GitHub JSON, lenient ----------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawUser {
    #[serde(default)]
    pub login: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawTeam {
    #[serde(default)]
    pub slug: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRepoRef {
    #[serde(default)]
    pub full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawBranch {
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub repo: Option<RawRepoRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawPull {
    pub number: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub head: RawBranch,
    #[serde(default)]
    pub base: RawBranch,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub requested_reviewers: Vec<RawUser>,
    #[serde(default)]
    pub requested_teams: Vec<RawTeam>,
    #[serde(default)]
    pub labels: Vec<RawLabel>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLabel {
    #[serde(default)]
    pub name: String,
}

impl From<RawPull> for Pull {
    fn from(r: RawPull) -> Self {
        Pull {
            number: r.number,
            title: r.title.unwrap_or_default(),
            head_ref: r.head.git_ref,
            head_sha: r.head.sha,
            head_repo: r.head.repo.and_then(|x| x.full_name),
            base_ref: r.base.git_ref,
            state: r.state.unwrap_or_else(|| "open".into()),
            merged: r.merged.unwrap_or(false) || r.merged_at.is_some(),
            draft: r.draft.unwrap_or(false),
            html_url: r.html_url.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            user: r.user.map(|u| u.login).unwrap_or_default(),
            requested_reviewers: r.requested_reviewers.into_iter().map(|u| u.login).collect(),
            requested_teams: r.requested_teams.into_iter().map(|t| t.slug).collect(),
            labels: r.labels.into_iter().map(|l| l.name).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawReview {
    pub id: u64,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<serde_json::Value>,
}

impl RawReview {
    pub fn into_review(self) -> Option<Review> {
        Some(Review {
            id: self.id,
            user: self.user.map(|u| u.login).unwrap_or_default(),
            state: ReviewState::parse(&self.state)?,
            commit_id: self.commit_id.unwrap_or_default(),
            body: self.body.unwrap_or_default(),
            submitted_at: self.submitted_at.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawReviewComment {
    pub id: u64,
    #[serde(default)]
    pub pull_request_review_id: Option<u64>,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub original_line: Option<u64>,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub diff_hunk: Option<String>,
}

impl From<RawReviewComment> for ReviewComment {
    fn from(r: RawReviewComment) -> Self {
        ReviewComment {
            id: r.id,
            review_id: r.pull_request_review_id,
            user: r.user.map(|u| u.login).unwrap_or_default(),
            path: r.path,
            line: r.line,
            original_line: r.original_line,
            commit_id: r.commit_id.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            diff_hunk: r.diff_hunk.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawComment {
    pub id: u64,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl From<RawComment> for Comment {
    fn from(r: RawComment) -> Self {
        Comment {
            id: r.id,
            user: r.user.map(|u| u.login).unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            html_url: r.html_url.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCheckOutput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub annotations_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawCheckRun {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub output: Option<RawCheckOutput>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

impl From<RawCheckRun> for CheckRun {
    fn from(r: RawCheckRun) -> Self {
        let out = r.output.unwrap_or_default();
        CheckRun {
            id: r.id,
            name: r.name,
            head_sha: r.head_sha,
            status: CheckStatus::parse(&r.status).unwrap_or(CheckStatus::Queued),
            conclusion: r.conclusion.as_deref().and_then(Conclusion::parse),
            title: out.title,
            summary: out.summary,
            text: out.text,
            annotations_count: out.annotations_count.unwrap_or(0),
            html_url: r.html_url,
            external_id: r.external_id.filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawStatus {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

impl From<RawStatus> for CommitStatus {
    fn from(r: RawStatus) -> Self {
        CommitStatus {
            context: r.context,
            state: StatusState::parse(&r.state).unwrap_or(StatusState::Error),
            description: r.description,
            target_url: r.target_url,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRepo {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub clone_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl From<RawRepo> for RepoInfo {
    fn from(r: RawRepo) -> Self {
        RepoInfo {
            full_name: r.full_name,
            default_branch: r.default_branch.unwrap_or_else(|| "main".into()),
            private: r.private,
            fork: r.fork,
            clone_url: r.clone_url,
            html_url: r.html_url,
        }
    }
}
