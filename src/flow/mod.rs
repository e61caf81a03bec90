//! The run on GitHub: the one place that decides what happens for every trigger.
//!
//! Front ends translate their input into a [`Trigger`] and call [`handle`]:
//! `prflow run --github` (a `Trigger::Run`), `prflow serve` (verified webhooks →
//! `Trigger::Webhook`), `prflow action` (`GITHUB_EVENT_PATH` → `Trigger::Webhook`, or
//! `Trigger::Run` for `workflow_dispatch`). None of them decides anything itself.
//!
//! What `handle` does per trigger (DESIGN.md): start or continue a run (phases pushed
//! as `prflow/<run>/<NN>-<slug>`, one stacked PR per phase, gates as check runs,
//! reviewers requested), continue after an approving review that passes every rule,
//! revise a phase after "changes requested", carry out `/prflow` comment commands,
//! abort on a closed PR, re-run a gate on `check_run` rerequested.

use crate::github::{GitHub, WebhookEvent};
use serde::Serialize;
use std::path::PathBuf;

/// Something that asks the run to move.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Start, or continue, the run of a workflow file (CLI, `workflow_dispatch`, a push
    /// of a workflow that opts in with `"on": ["push"]`).
    Run {
        /// Repository-relative path of the workflow file.
        workflow_path: String,
        /// Branch or sha phase 1 starts from; the default branch when `None`.
        base: Option<String>,
        /// Login of the person who asked (for self-approval rules).
        starter: String,
    },
    /// A verified, parsed webhook (App) or event payload (Action).
    Webhook(WebhookEvent),
}

/// Where agents run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Executor {
    /// Here, in this process (CLI, Action, or a single App server).
    #[default]
    Local,
    /// Hand each phase to the repository's GitHub Actions runners by dispatching the
    /// prflow Action (`serve --executor actions`); the service only routes events.
    Actions {
        /// The workflow file of the repository that runs the prflow Action.
        workflow_file: String,
    },
}

/// Options the front ends set.
#[derive(Debug, Clone, Default)]
pub struct FlowOptions {
    /// Show what would happen, write nothing anywhere.
    pub dry_run: bool,
    pub executor: Executor,
    /// False when the trigger comes from a fork: no `command` runners, no secrets.
    pub trusted: bool,
    /// Extra reviewers to request (the Action's `reviewers` input).
    pub reviewers: Vec<String>,
    /// Overrides the workflow's `allowSelfApproval` when set.
    pub allow_self_approval: Option<bool>,
    /// No progress output.
    pub quiet: bool,
}

/// A repository on GitHub (or the simulator) and how to reach it.
pub struct FlowContext {
    /// Authenticated client (a token, or an App installation).
    pub github: GitHub,
    pub owner: String,
    pub repo: String,
    /// Git remote URL (`https://github.com/o/r.git`, or the simulator's).
    pub git_url: String,
    /// A local clone prflow may use (created when missing).
    pub workdir: PathBuf,
    pub options: FlowOptions,
}

/// What one `handle` did, for outputs, summaries and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowReport {
    pub run_id: Option<String>,
    /// 1-based index of the phase the run stands at.
    pub phase: Option<usize>,
    /// `waiting-for-review`, `finished`, `failed`, `revising`, `aborted`, `ignored` …
    pub state: String,
    pub pull_request_number: Option<u64>,
    pub pull_request_url: Option<String>,
    /// A Markdown summary (phases, tasks, gates, links, the Mermaid graph).
    pub summary_markdown: String,
    /// Why nothing was done, when the trigger was ignored.
    pub ignored_because: Option<String>,
    /// API calls made, per phase label: (label, reads, writes).
    pub api_calls: Vec<(String, u64, u64)>,
}

/// Carries out a trigger. Idempotent: replaying any trigger is harmless.
pub async fn handle(ctx: &FlowContext, trigger: Trigger) -> anyhow::Result<FlowReport> {
    let _ = (ctx, trigger);
    anyhow::bail!("the GitHub flow is not built yet")
}
