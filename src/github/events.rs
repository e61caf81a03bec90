//! Domain events: what a webhook delivery (or an Action's event payload)
//! means for prflow, with only the fields the core uses.
//!
//! The front ends translate GitHub's payloads into these and nothing else;
//! the core never reads a raw payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands::Command;

/// The repository an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRepo {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub fork: bool,
}

impl EventRepo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A checkpoint verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approved,
    ChangesRequested,
}

/// An inline comment of a review: a file, a line and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineComment {
    pub path: String,
    pub line: Option<u64>,
    pub body: String,
}

/// A review submitted on a pull request (approve or request changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReviewed {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub pull_number: u64,
    pub head_ref: String,
    /// The pull's head when the webhook was sent.
    pub head_sha: String,
    pub base_ref: String,
    /// True when the pull comes from another repository.
    pub from_fork: bool,
    /// The head's repository (`owner/name`) when it is a fork; `None` for a
    /// deleted fork. Named in the reason the event is not trusted.
    #[serde(default)]
    pub fork_repo: Option<String>,
    pub review_id: u64,
    pub verdict: Verdict,
    pub reviewer: String,
    /// The sha the review was made on; compare with the phase head.
    pub commit_id: String,
    pub body: String,
    /// Webhooks do not carry inline comments: empty here, filled through
    /// `RepoClient::review_comments` by whoever needs them.
    pub inline_comments: Vec<InlineComment>,
}

/// A comment holding one or more `/prflow` commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentCommand {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    /// Issue or pull request number.
    pub issue_number: u64,
    pub is_pull_request: bool,
    pub comment_id: u64,
    pub author: String,
    /// GitHub's `author_association` (OWNER, MEMBER, COLLABORATOR, …); a
    /// hint only: permission is checked through the API.
    pub author_association: String,
    pub commands: Vec<Command>,
}

/// A pull request was closed (merged or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullClosed {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub number: u64,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub merged: bool,
    pub body: String,
    pub sender: String,
}

/// New commits on a pull request's head branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSynchronize {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub number: u64,
    pub head_ref: String,
    pub before: String,
    pub after: String,
    pub from_fork: bool,
    /// As in [`CheckpointReviewed::fork_repo`].
    #[serde(default)]
    pub fork_repo: Option<String>,
    pub body: String,
    pub sender: String,
}

/// Someone pressed "Re-run" on a check run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRunRerequested {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub check_run_id: u64,
    /// `prflow/<gate>` for ours.
    pub name: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub external_id: Option<String>,
    pub sender: String,
}

/// A push to a branch or tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    /// Full ref, `refs/heads/main`.
    pub git_ref: String,
    pub before: String,
    pub after: String,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    /// Paths added, modified or removed by the pushed commits (as far as
    /// the payload lists them; GitHub caps it at 20 commits).
    pub changed_paths: Vec<String>,
    pub sender: String,
}

impl Push {
    /// The branch name when this is a branch push.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }
    /// True for a push to the repository's default branch.
    pub fn is_default_branch(&self) -> bool {
        self.branch() == Some(self.repo.default_branch.as_str())
    }
}

/// What happened to an installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationAction {
    Created,
    Deleted,
    Suspended,
    Unsuspended,
    NewPermissionsAccepted,
    RepositoriesAdded,
    RepositoriesRemoved,
}

/// The App was installed, removed, or its repositories changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub action: InstallationAction,
    pub installation_id: u64,
    pub account: String,
    /// `owner/name` of the repositories added (or, for `created`, granted).
    pub repositories_added: Vec<String>,
    pub repositories_removed: Vec<String>,
}

/// `repository_dispatch` (used by `serve --executor actions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryDispatch {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub event_type: String,
    pub branch: Option<String>,
    pub client_payload: Value,
    pub sender: String,
}

/// `workflow_dispatch` (an Action started by hand or by the App).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowDispatch {
    pub repo: EventRepo,
    pub installation_id: Option<u64>,
    pub git_ref: String,
    pub workflow: String,
    pub inputs: Value,
    pub sender: String,
}

/// Every event prflow acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebhookEvent {
    Ping {
        zen: String,
        hook_id: Option<u64>,
        app_id: Option<u64>,
    },
    CheckpointReviewed(CheckpointReviewed),
    CommentCommand(CommentCommand),
    PullClosed(PullClosed),
    PullSynchronize(PullSynchronize),
    CheckRunRerequested(CheckRunRerequested),
    Push(Push),
    Installation(Installation),
    RepositoryDispatch(RepositoryDispatch),
    WorkflowDispatch(WorkflowDispatch),
}

impl WebhookEvent {
    /// The repository the event concerns (none for ping and installation).
    pub fn repo(&self) -> Option<&EventRepo> {
        match self {
            WebhookEvent::Ping { .. } | WebhookEvent::Installation(_) => None,
            WebhookEvent::CheckpointReviewed(e) => Some(&e.repo),
            WebhookEvent::CommentCommand(e) => Some(&e.repo),
            WebhookEvent::PullClosed(e) => Some(&e.repo),
            WebhookEvent::PullSynchronize(e) => Some(&e.repo),
            WebhookEvent::CheckRunRerequested(e) => Some(&e.repo),
            WebhookEvent::Push(e) => Some(&e.repo),
            WebhookEvent::RepositoryDispatch(e) => Some(&e.repo),
            WebhookEvent::WorkflowDispatch(e) => Some(&e.repo),
        }
    }

    /// The App installation that sent it, if any.
    pub fn installation_id(&self) -> Option<u64> {
        match self {
            WebhookEvent::Ping { .. } => None,
            WebhookEvent::Installation(e) => Some(e.installation_id),
            WebhookEvent::CheckpointReviewed(e) => e.installation_id,
            WebhookEvent::CommentCommand(e) => e.installation_id,
            WebhookEvent::PullClosed(e) => e.installation_id,
            WebhookEvent::PullSynchronize(e) => e.installation_id,
            WebhookEvent::CheckRunRerequested(e) => e.installation_id,
            WebhookEvent::Push(e) => e.installation_id,
            WebhookEvent::RepositoryDispatch(e) => e.installation_id,
            WebhookEvent::WorkflowDispatch(e) => e.installation_id,
        }
    }

    /// Why prflow must not trust this event, or `None`. The one answer to
    /// "is this from a fork?" for every front end: an untrusted event never
    /// gets `command` runners or any runner holding secrets, because its code
    /// and reviews come from outside the repository's writers.
    pub fn untrusted_because(&self) -> Option<String> {
        let (number, base, fork) = match self {
            WebhookEvent::CheckpointReviewed(e) if e.from_fork => {
                (e.pull_number, &e.repo, &e.fork_repo)
            }
            WebhookEvent::PullSynchronize(e) if e.from_fork => (e.number, &e.repo, &e.fork_repo),
            _ => return None,
        };
        Some(match fork {
            Some(head) => format!(
                "pull request #{number} comes from the fork {head}, not from {}",
                base.full_name()
            ),
            None => format!(
                "pull request #{number} comes from a repository that no longer exists (a deleted fork)"
            ),
        })
    }

    /// Short name for logs and metrics (`checkpoint_reviewed`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookEvent::Ping { .. } => "ping",
            WebhookEvent::CheckpointReviewed(_) => "checkpoint_reviewed",
            WebhookEvent::CommentCommand(_) => "comment_command",
            WebhookEvent::PullClosed(_) => "pull_closed",
            WebhookEvent::PullSynchronize(_) => "pull_synchronize",
            WebhookEvent::CheckRunRerequested(_) => "check_run_rerequested",
            WebhookEvent::Push(_) => "push",
            WebhookEvent::Installation(_) => "installation",
            WebhookEvent::RepositoryDispatch(_) => "repository_dispatch",
            WebhookEvent::WorkflowDispatch(_) => "workflow_dispatch",
        }
    }
}
