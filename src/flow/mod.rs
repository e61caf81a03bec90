//! The run on GitHub: the one place that decides what happens for every trigger.
//!
//! Front ends translate their input into a [`Trigger`] and call [`handle`]:
//! `prflow run --github` (a `Trigger::Run`), `prflow serve` (verified webhooks →
//! `Trigger::Webhook`), `prflow action` (`GITHUB_EVENT_PATH` → `Trigger::Webhook`, or
//! `Trigger::Run` for `workflow_dispatch`). None of them decides anything itself.
//!
//! What `handle` does per trigger (docs/architecture.md): start or continue a run (phases pushed
//! as `prflow/<run>/<NN>-<slug>`, one stacked PR per phase, gates as check runs,
//! reviewers requested), continue after an approving review that passes every rule,
//! revise a phase after "changes requested", carry out `/prflow` comment commands,
//! abort on a closed PR, re-run a gate on `check_run` rerequested.

pub mod body;
pub mod commands;
pub mod drive;
pub mod publish;
pub mod remote;
mod report;
pub mod review;
pub mod session;
pub mod stack;

use crate::engine::naming::run_of_branch;
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
    Webhook(Box<WebhookEvent>),
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
    /// The workflow file a `workflow_dispatch` without a `workflow` input runs (the
    /// Action's `workflow` input); [`commands::DEFAULT_WORKFLOW`] when unset.
    pub workflow: Option<String>,
    /// The runner of tasks nothing else serves (the Action's `runner` input, the
    /// App's `PRFLOW_DEFAULT_RUNNER`, `prflow run --github --runner`).
    pub default_runner: Option<String>,
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

/// Where a run stands after a trigger, or what the trigger did. Serialized (and shown
/// in the Action's `state` output) in kebab-case: `waiting-for-review`, `finished` …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowState {
    /// A phase waits for an approving review.
    WaitingForReview,
    /// Every phase is done.
    Finished,
    /// A phase failed; `/prflow retry` runs it again.
    Failed,
    /// A person closed a phase PR without merging; `/prflow retry` reopens it.
    Paused,
    /// Restacking a phase hit a merge conflict a person must resolve on the branch.
    Conflict,
    /// The phase was handed to GitHub Actions (`--executor actions`).
    Dispatched,
    /// Nothing was written (`--dry-run`).
    DryRun,
    /// The trigger did not concern a run (see `ignored_because`).
    #[default]
    Ignored,
    Aborted,
    /// The commenter may not run commands.
    Refused,
    Help,
    Status,
    GateRerun,
    Landed,
    NotLanded,
    /// The front end stopped on an error before the core answered.
    Error,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::WaitingForReview => "waiting-for-review",
            FlowState::Finished => "finished",
            FlowState::Failed => "failed",
            FlowState::Paused => "paused",
            FlowState::Conflict => "conflict",
            FlowState::Dispatched => "dispatched",
            FlowState::DryRun => "dry-run",
            FlowState::Ignored => "ignored",
            FlowState::Aborted => "aborted",
            FlowState::Refused => "refused",
            FlowState::Help => "help",
            FlowState::Status => "status",
            FlowState::GateRerun => "gate-rerun",
            FlowState::Landed => "landed",
            FlowState::NotLanded => "not-landed",
            FlowState::Error => "error",
        }
    }
}

impl std::fmt::Display for FlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FlowState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What one `handle` did, for outputs, summaries and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowReport {
    pub run_id: Option<String>,
    /// 1-based index of the phase the run stands at.
    pub phase: Option<usize>,
    /// Where the run stands, or what the trigger did.
    pub state: FlowState,
    pub pull_request_number: Option<u64>,
    pub pull_request_url: Option<String>,
    /// A Markdown summary (phases, tasks, gates, links, the Mermaid graph).
    pub summary_markdown: String,
    /// Why nothing was done, when the trigger was ignored.
    pub ignored_because: Option<String>,
    /// API calls made, per phase label: (label, reads, writes).
    pub api_calls: Vec<(String, u64, u64)>,
    /// A dry run only: why a real run would refuse to start (the front ends exit 1, as
    /// `prflow run --dry-run` does locally).
    pub would_refuse: Option<String>,
}

/// Carries out a trigger. Idempotent: replaying any trigger is harmless.
pub async fn handle(ctx: &FlowContext, trigger: Trigger) -> anyhow::Result<FlowReport> {
    use crate::github::events::WebhookEvent as E;
    let ignore = |why: &str| {
        Ok(FlowReport {
            state: FlowState::Ignored,
            ignored_because: Some(why.to_string()),
            ..Default::default()
        })
    };
    match trigger {
        Trigger::Run {
            workflow_path,
            base,
            starter,
        } => {
            let s = session::Session::open(ctx).await?;
            drive::start_or_continue(&s, &workflow_path, base.as_deref(), &starter, None).await
        }
        Trigger::Webhook(event) => match *event {
            E::CheckpointReviewed(e) => match run_of_branch(&e.head_ref) {
                Some((run, _)) => continue_run(ctx, run).await,
                None => ignore("the reviewed PR is not a prflow phase"),
            },
            E::PullSynchronize(e) => match run_of_branch(&e.head_ref) {
                // Someone pushed to a phase branch: their commits are kept, gates run
                // on the new head and earlier approvals no longer count.
                Some((run, _)) => continue_run(ctx, run).await,
                None => ignore("the PR is not a prflow phase"),
            },
            // Merged: the PRs above are restacked. Closed without merging: the run
            // pauses until `/prflow retry` or `/prflow abort`.
            E::PullClosed(e) => match run_of_branch(&e.head_ref) {
                Some((run, _)) => continue_run(ctx, run).await,
                None => ignore("the PR is not a prflow phase"),
            },
            E::CheckRunRerequested(e) => match e.head_branch.as_deref().and_then(run_of_branch) {
                Some((run, _)) => {
                    let s = session::Session::open(ctx).await?;
                    commands::rerun_gate(&s, run, &e.name, &e.head_sha).await
                }
                None => ignore("the check run is not on a prflow phase"),
            },
            E::CommentCommand(e) => {
                let s = session::Session::open(ctx).await?;
                commands::handle(&s, &e).await
            }
            E::Push(e) => {
                if !e.is_default_branch() || e.deleted {
                    return ignore("only pushes to the default branch can start runs");
                }
                let s = session::Session::open(ctx).await?;
                commands::on_push(&s, &e).await
            }
            E::RepositoryDispatch(e) if e.event_type == "prflow-continue" => {
                match e.client_payload.get("run_id").and_then(|v| v.as_str()) {
                    Some(run) => continue_run(ctx, run).await,
                    None => ignore("prflow-continue without a run_id"),
                }
            }
            E::WorkflowDispatch(e) => {
                let run = dispatched(&e, ctx.options.workflow.as_deref());
                let s = session::Session::open(ctx).await?;
                drive::start_or_continue(
                    &s,
                    &run.workflow_path,
                    run.base.as_deref(),
                    &run.starter,
                    None,
                )
                .await
            }
            other => ignore(&format!("prflow does not act on `{}` events", other.kind())),
        },
    }
}

/// What a `workflow_dispatch` starts: the one place that reads its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// The `workflow` input, else `configured`, else [`commands::DEFAULT_WORKFLOW`].
    pub workflow_path: String,
    /// The dispatched branch; `None` (the default branch) for a tag, a sha or nothing,
    /// since every phase PR needs a branch to stack on.
    pub base: Option<String>,
    pub starter: String,
}

/// Resolves a `workflow_dispatch`; `configured` is the front end's default workflow file.
pub fn dispatched(
    e: &crate::github::events::WorkflowDispatch,
    configured: Option<&str>,
) -> Dispatched {
    let path = |p: &str| {
        let p = p.trim();
        let p = p.strip_prefix("./").unwrap_or(p);
        (!p.is_empty()).then(|| p.to_string())
    };
    let workflow_path = e
        .inputs
        .get("workflow")
        .and_then(|v| v.as_str())
        .and_then(path)
        .or_else(|| configured.and_then(path))
        .unwrap_or_else(|| commands::DEFAULT_WORKFLOW.to_string());
    Dispatched {
        workflow_path,
        base: e
            .git_ref
            .strip_prefix("refs/heads/")
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        starter: e.sender.clone(),
    }
}

async fn continue_run(ctx: &FlowContext, run: &str) -> anyhow::Result<FlowReport> {
    let s = session::Session::open(ctx).await?;
    drive::continue_run(&s, run).await
}

/// A run on GitHub as `status --github` shows it: git state plus each phase's PR.
#[derive(Debug, Clone, Serialize)]
pub struct GithubRunStatus {
    #[serde(flatten)]
    pub state: crate::engine::state::RunState,
    /// Per phase (in order): the PR number, its state and URL, if it has one.
    pub pull_requests: Vec<Option<(u64, String, String)>>,
}

/// Reads runs from the remote's branches, trailers and PRs (reads only).
pub async fn status(ctx: &FlowContext, run: Option<&str>) -> anyhow::Result<Vec<GithubRunStatus>> {
    let s = session::Session::open(ctx).await?;
    let runs = crate::engine::status(&ctx.workdir, run)?;
    let mut out = Vec::new();
    for state in runs {
        let mut prs = Vec::new();
        for p in &state.phases {
            let pulls = s.client.list_pulls("all", Some(&p.branch)).await?;
            prs.push(
                pulls
                    .first()
                    .map(|p| (p.number, p.state.clone(), p.html_url.clone())),
            );
        }
        out.push(GithubRunStatus {
            state,
            pull_requests: prs,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::events::{EventRepo, WorkflowDispatch};

    fn dispatch(git_ref: &str, inputs: serde_json::Value) -> WorkflowDispatch {
        WorkflowDispatch {
            repo: EventRepo {
                owner: "acme".into(),
                name: "shop".into(),
                default_branch: "main".into(),
                private: false,
                fork: false,
            },
            installation_id: None,
            git_ref: git_ref.into(),
            workflow: ".github/workflows/prflow.yml".into(),
            inputs,
            sender: "alice".into(),
        }
    }

    #[test]
    fn a_dispatch_runs_its_input_then_the_configured_file_then_the_default() {
        let d = dispatch(
            "refs/heads/dev",
            serde_json::json!({"workflow": "./flows/a.json"}),
        );
        assert_eq!(
            dispatched(&d, Some("flows/b.json")),
            Dispatched {
                workflow_path: "flows/a.json".into(),
                base: Some("dev".into()),
                starter: "alice".into(),
            }
        );
        let d = dispatch("refs/heads/main", serde_json::json!({"workflow": "  "}));
        assert_eq!(
            dispatched(&d, Some("./flows/b.json")).workflow_path,
            "flows/b.json"
        );
        assert_eq!(
            dispatched(&d, None).workflow_path,
            commands::DEFAULT_WORKFLOW
        );
        // A tag is no branch to stack phase PRs on: the default branch.
        assert_eq!(
            dispatched(&dispatch("refs/tags/v1", serde_json::Value::Null), None).base,
            None
        );
    }
}
