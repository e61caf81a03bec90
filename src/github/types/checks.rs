//! Check runs and commit statuses: what a gate reports and how it reads back.

use serde::{Deserialize, Serialize};

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
