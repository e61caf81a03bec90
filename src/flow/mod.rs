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

pub mod body;
pub mod commands;
pub mod drive;
pub mod remote;

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
    use crate::github::events::WebhookEvent as E;
    let ignore = |why: &str| {
        Ok(FlowReport {
            state: "ignored".into(),
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
            let s = drive::Session::open(ctx).await?;
            drive::start_or_continue(&s, &workflow_path, base.as_deref(), &starter, None).await
        }
        Trigger::Webhook(event) => match *event {
            E::CheckpointReviewed(e) => match run_of_branch(&e.head_ref) {
                Some((run, _)) => continue_run(ctx, &run).await,
                None => ignore("the reviewed PR is not a prflow phase"),
            },
            E::PullSynchronize(e) => match run_of_branch(&e.head_ref) {
                // Someone pushed to a phase branch: their commits are kept, gates run
                // on the new head and earlier approvals no longer count.
                Some((run, _)) => continue_run(ctx, &run).await,
                None => ignore("the PR is not a prflow phase"),
            },
            E::PullClosed(e) => match run_of_branch(&e.head_ref) {
                Some((run, _)) if !e.merged => {
                    let s = drive::Session::open(ctx).await?;
                    commands::abort(
                        &s,
                        &run,
                        &format!("PR #{} was closed without merging", e.number),
                    )
                    .await
                }
                _ => ignore("a merged or foreign PR needs nothing"),
            },
            E::CheckRunRerequested(e) => match e.head_branch.as_deref().and_then(run_of_branch) {
                Some((run, _)) => {
                    let s = drive::Session::open(ctx).await?;
                    commands::rerun_gate(&s, &run, &e.name, &e.head_sha).await
                }
                None => ignore("the check run is not on a prflow phase"),
            },
            E::CommentCommand(e) => {
                let s = drive::Session::open(ctx).await?;
                commands::handle(&s, &e).await
            }
            E::Push(e) => {
                if !e.is_default_branch() || e.deleted {
                    return ignore("only pushes to the default branch can start runs");
                }
                let s = drive::Session::open(ctx).await?;
                commands::on_push(&s, &e).await
            }
            E::RepositoryDispatch(e) if e.event_type == "prflow-continue" => {
                match e.client_payload.get("run_id").and_then(|v| v.as_str()) {
                    Some(run) => continue_run(ctx, run).await,
                    None => ignore("prflow-continue without a run_id"),
                }
            }
            E::WorkflowDispatch(e) => {
                let path = e
                    .inputs
                    .get("workflow")
                    .and_then(|v| v.as_str())
                    .unwrap_or(commands::DEFAULT_WORKFLOW)
                    .to_string();
                let s = drive::Session::open(ctx).await?;
                let base = e.git_ref.strip_prefix("refs/heads/").map(str::to_string);
                drive::start_or_continue(&s, &path, base.as_deref(), &e.sender, None).await
            }
            other => ignore(&format!("prflow does not act on `{}` events", other.kind())),
        },
    }
}

async fn continue_run(ctx: &FlowContext, run: &str) -> anyhow::Result<FlowReport> {
    let s = drive::Session::open(ctx).await?;
    drive::continue_run(&s, run).await
}

/// `prflow/<run>/<NN>-<slug>` → (run, phase index).
pub fn run_of_branch(branch: &str) -> Option<(String, usize)> {
    let rest = branch.strip_prefix("prflow/")?;
    let (run, phase) = rest.split_once('/')?;
    let index = phase.split('-').next()?.parse().ok()?;
    Some((run.to_string(), index))
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
    let s = drive::Session::open(ctx).await?;
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
