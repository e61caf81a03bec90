//! `/prflow` comment commands, a re-requested gate, a closed PR, a pushed workflow.
//! Each is a plain `async fn command_<verb>`-style handler over a [`Session`].

use super::drive;
use super::publish;
use super::session::{self, Session};
use super::{FlowReport, FlowState};
use crate::engine::naming;
use crate::engine::state::{self, PhaseStatus, RunState};
use crate::engine::{self, LoadedRun};
use crate::github::events::{CommentCommand, Push};
use crate::github::{help_text, Command, MergeMethod, Reaction};
use crate::gitops::Repo;
use anyhow::{anyhow, bail, Context, Result};
use git2::Oid;

/// Where `/prflow run` looks when no path is given.
pub const DEFAULT_WORKFLOW: &str = ".prflow/workflow.json";

fn said(state: FlowState, run: Option<&str>) -> FlowReport {
    FlowReport {
        run_id: run.map(str::to_string),
        state,
        ..Default::default()
    }
}

/// A comment with one or more `/prflow` commands.
pub async fn handle(s: &Session<'_>, e: &CommentCommand) -> Result<FlowReport> {
    if e.commands.is_empty() {
        return Ok(said(FlowState::Ignored, None));
    }
    let client = &s.client;
    if !client.permission(&e.author).await?.can_write() {
        client
            .create_comment(
                e.issue_number,
                &format!("@{} only people with write access to this repository can run `/prflow` commands.", e.author),
            )
            .await?;
        return Ok(said(FlowState::Refused, None));
    }
    client.add_reaction(e.comment_id, Reaction::Eyes).await?;
    let mut last = said(FlowState::Ignored, None);
    for cmd in &e.commands {
        last = match cmd {
            Command::Run { path } => {
                let path = path.as_deref().unwrap_or(DEFAULT_WORKFLOW);
                drive::start_or_continue(s, path, None, &e.author, Some(e.issue_number)).await?
            }
            Command::Status => command_status(s, e).await?,
            Command::Retry { task } => command_retry(s, e, task.as_deref()).await?,
            Command::Rollback { checkpoint } => command_rollback(s, e, checkpoint).await?,
            Command::Abort => {
                let run = run_for(s, e).await?;
                abort(s, &run, &format!("@{} aborted the run", e.author)).await?
            }
            Command::Land => command_land(s, e).await?,
            Command::Update => {
                let run = run_for(s, e).await?;
                let r = engine::load_run(&s.repo()?, &run)?;
                if naming::is_aborted(&s.repo()?, &run) {
                    bail!("run {run} was aborted; start a new one with `/prflow run`");
                }
                drive::drive_with(s, &r, true).await?
            }
            Command::Help => {
                client.create_comment(e.issue_number, help_text()).await?;
                said(FlowState::Help, None)
            }
            Command::Unknown(verb) => {
                client
                    .create_comment(
                        e.issue_number,
                        &format!(
                            "`/prflow {verb}` is not a prflow command.\n\n{}",
                            help_text()
                        ),
                    )
                    .await?;
                said(FlowState::Help, None)
            }
            Command::Invalid { verb, reason } => {
                client
                    .create_comment(
                        e.issue_number,
                        &format!("`/prflow {verb}`: {reason}\n\n{}", help_text()),
                    )
                    .await?;
                said(FlowState::Help, None)
            }
        };
    }
    Ok(last)
}

/// The run a comment concerns, found through the API alone (no clone): the
/// phase branch of the PR it is on, or the run whose status comment prflow
/// keeps on its issue. `None` for a comment that starts a run. `prflow serve`
/// uses it to hold the run's lock before the comment is handled, so that a
/// command and a review of the same run never act at once.
pub async fn run_of_comment(
    client: &crate::github::RepoClient,
    e: &CommentCommand,
) -> Result<Option<String>> {
    if e.is_pull_request {
        let pull = client.get_pull(e.issue_number).await?;
        if let Some((run, _)) = naming::run_of_branch(&pull.head_ref) {
            return Ok(Some(run.to_string()));
        }
    }
    // The newest marker wins. Who wrote it is not checked (prflow may post as
    // a token's user): a forged marker could only point the lock elsewhere,
    // never act on a run — the core still finds the run from its own refs.
    let comments = client.list_comments(e.issue_number).await?;
    Ok(comments
        .iter()
        .rev()
        .find_map(|c| crate::github::body::parse_status_marker(&c.body)))
}

/// The run a comment is about: the PR's phase branch, or the run its issue started.
async fn run_for(s: &Session<'_>, e: &CommentCommand) -> Result<String> {
    if e.is_pull_request {
        let pull = s.client.get_pull(e.issue_number).await?;
        if let Some((run, _)) = naming::run_of_branch(&pull.head_ref) {
            return Ok(run.to_string());
        }
    }
    naming::run_of_issue(&s.repo()?, e.issue_number)?.ok_or_else(|| {
        anyhow!(
            "no prflow run belongs to #{}; start one with `/prflow run [path]`",
            e.issue_number
        )
    })
}

/// The run a comment is about, loaded from the clone.
async fn load_for(s: &Session<'_>, e: &CommentCommand) -> Result<(String, Repo, LoadedRun)> {
    let run = run_for(s, e).await?;
    let repo = s.repo()?;
    let r = engine::load_run(&repo, &run)?;
    Ok((run, repo, r))
}

/// The state of a loaded run, approvals read from the clone's refs.
fn state_of(repo: &Repo, r: &LoadedRun) -> Result<RunState> {
    let approved = state::local_approvals(repo, &r.meta.run_id);
    state::read_state(repo, &r.meta, &r.plan, &approved)
}

/// Rewrites the run's status comment on `issue`: the state and, under it, `note`.
async fn update_status(
    s: &Session<'_>,
    issue: u64,
    r: &LoadedRun,
    st: &RunState,
    note: &str,
) -> Result<()> {
    let text = super::body::status_comment(&r.workflow, st, &[], note);
    let marker = crate::github::body::status_marker(&r.meta.run_id);
    s.client
        .ensure_status_comment(issue, &marker, &text)
        .await?;
    Ok(())
}

async fn command_status(s: &Session<'_>, e: &CommentCommand) -> Result<FlowReport> {
    let (run, repo, r) = load_for(s, e).await?;
    let st = state_of(&repo, &r)?;
    let issue = r.meta.origin_issue.unwrap_or(e.issue_number);
    let note = format!("Status requested by @{}.", e.author);
    update_status(s, issue, &r, &st, &note).await?;
    Ok(said(FlowState::Status, Some(&run)))
}

async fn command_retry(
    s: &Session<'_>,
    e: &CommentCommand,
    task: Option<&str>,
) -> Result<FlowReport> {
    let (run, repo, r) = load_for(s, e).await?;
    if let Some(t) = task {
        if r.workflow.task(t).is_none() {
            bail!("run {run} has no task `{t}`");
        }
    }
    // Committed tasks are kept; the failed phase runs what is missing.
    for p in &r.plan.phases {
        repo.delete_ref(&naming::failure_ref(&run, p.index))?;
    }
    // A phase PR a person closed is reopened: the run was paused on it.
    let st = state_of(&repo, &r)?;
    let prs = super::stack::read_prs(s, &st).await?;
    for (p, pr) in st.phases.iter().zip(&prs) {
        if let Some(pr) = pr {
            if super::stack::closed_on_tip(&repo, &run, p.index, pr, p.tip) {
                s.client.reopen_pull(pr.number).await?;
            }
        }
    }
    let report = drive::continue_run(s, &run).await?;
    mark_conflicts_resolved(s, &run, &st, &prs, &report).await?;
    Ok(report)
}

/// Rewrites the conflict comment of every open phase PR the retry got past: a
/// phase that is no longer where the run stops on a conflict.
async fn mark_conflicts_resolved(
    s: &Session<'_>,
    run: &str,
    st: &RunState,
    prs: &[Option<crate::github::Pull>],
    report: &FlowReport,
) -> Result<()> {
    for (p, pr) in st.phases.iter().zip(prs) {
        let Some(pr) = pr.as_ref().filter(|pr| pr.is_open()) else {
            continue;
        };
        if report.state == FlowState::Conflict && report.phase == Some(p.index) {
            continue; // still stopped there: the comment stays as it is
        }
        s.client
            .rewrite_status_comment(
                pr.number,
                &super::stack::conflict_marker(run, p.index),
                &super::stack::conflict_resolved_text(p.index),
            )
            .await?;
    }
    Ok(())
}

/// `/prflow rollback <checkpoint>`: phases after the checkpoint are closed, deleted
/// and run again (after the checkpoint's phase is approved, which it still is).
async fn command_rollback(
    s: &Session<'_>,
    e: &CommentCommand,
    checkpoint: &str,
) -> Result<FlowReport> {
    let (run, repo, r) = load_for(s, e).await?;
    let keep = r
        .plan
        .phases
        .iter()
        .find(|p| p.checkpoint.as_deref() == Some(checkpoint) || p.name == checkpoint)
        .map(|p| p.index)
        .ok_or_else(|| anyhow!("run {run} has no checkpoint `{checkpoint}`"))?;
    let st = state_of(&repo, &r)?;
    for p in st.phases.iter().filter(|p| p.index > keep) {
        if let Some(pr) = open_pr(s, &p.branch).await? {
            // Recorded, so that this closing does not pause the run.
            repo.write_tree_ref(
                &naming::closed_ref(&run, p.index),
                &[("pull", pr.to_string().as_bytes())],
            )?;
            s.client.close_pull(pr).await?;
        }
        s.client.delete_branch(&p.branch).await?;
        repo.delete_ref(&naming::branch_ref(&p.branch))?;
        repo.delete_ref(&format!("refs/remotes/origin/{}", p.branch))?;
        let approval = naming::approval_ref(&run, p.index);
        if repo.ref_target(&approval).is_some() {
            repo.delete_ref(&approval)?;
            delete_remote_ref(s, &approval)?;
        }
    }
    drive::continue_run(s, &run).await
}

fn delete_remote_ref(s: &Session<'_>, name: &str) -> Result<()> {
    let dir = s.fc.workdir.clone();
    let repo = Repo::open(&dir)?;
    let tracking = session::tracking(name);
    if repo.ref_target(&tracking).is_some() {
        s.push_refspecs(&[(String::new(), name.to_string())])?;
        repo.delete_ref(&tracking)?;
    }
    Ok(())
}

async fn open_pr(s: &Session<'_>, branch: &str) -> Result<Option<u64>> {
    let pulls = s.client.list_pulls("open", Some(branch)).await?;
    Ok(pulls.first().map(|p| p.number))
}

/// Stops a run: its open PRs are closed and an abort marker is pushed.
pub async fn abort(s: &Session<'_>, run: &str, why: &str) -> Result<FlowReport> {
    let repo = s.repo()?;
    let r = engine::load_run(&repo, run)?;
    let st = state_of(&repo, &r)?;
    for p in &st.phases {
        if let Some(pr) = open_pr(s, &p.branch).await? {
            s.client.close_pull(pr).await?;
        }
    }
    if !naming::is_aborted(&repo, run) {
        let meta_commit = repo
            .ref_target(&naming::meta_ref(run))
            .ok_or_else(|| anyhow!("run {run} has no metadata"))?;
        repo.git
            .reference(&naming::aborted_ref(run), meta_commit, true, why)?;
        s.push_run(run)?;
    }
    if let Some(issue) = r.meta.origin_issue {
        let note = format!("🛑 The run was aborted: {why}.");
        update_status(s, issue, &r, &st, &note).await?;
    }
    Ok(said(FlowState::Aborted, Some(run)))
}

/// `/prflow land`: merges the stack into the base branch in order.
async fn command_land(s: &Session<'_>, e: &CommentCommand) -> Result<FlowReport> {
    let (run, repo, r) = load_for(s, e).await?;
    let st = state_of(&repo, &r)?;
    if let Some(p) = st.phases.iter().find(|p| p.status != PhaseStatus::Done) {
        s.client
            .create_comment(
                e.issue_number,
                &format!(
                    "Not landing: phase {} (`{}`) is {}; every phase must be approved first.",
                    p.index,
                    p.name,
                    p.status.as_str()
                ),
            )
            .await?;
        return Ok(said(FlowState::NotLanded, Some(&run)));
    }
    for p in &st.phases {
        let Some(number) = open_pr(s, &p.branch).await? else {
            continue;
        };
        let head = p.head.clone().unwrap_or_default();
        // Retarget onto the base branch (the lower PR is merged now), then merge.
        let pull = s.client.get_pull(number).await?;
        s.client
            .ensure_pull(&p.branch, &r.meta.base_ref, &pull.title, &pull.body)
            .await
            .context("cannot retarget the PR onto the base branch")?;
        s.client
            .ensure_status(
                &head,
                &crate::github::CommitStatus {
                    context: naming::STACK_STATUS.into(),
                    state: crate::github::StatusState::Success,
                    description: Some("landing the stack in order".into()),
                    target_url: None,
                },
            )
            .await?;
        s.client
            .merge_pull(
                number,
                Some(&head),
                MergeMethod::Merge,
                Some(&format!("prflow: land phase {} of run {run}", p.index)),
            )
            .await
            .with_context(|| format!("cannot merge PR #{number} (phase {})", p.index))?;
        // Landed: the run is done with this phase, and a new run may start.
        if let Some(tip) = p.tip {
            repo.git.reference(
                &naming::landed_ref(&run, p.index),
                tip,
                true,
                &format!("prflow: #{number} landed"),
            )?;
        }
    }
    s.push_run(&run)?;
    if let Some(issue) = r.meta.origin_issue {
        let note = format!("🚀 Landed on `{}` by @{}.", r.meta.base_ref, e.author);
        update_status(s, issue, &r, &st, &note).await?;
    }
    Ok(said(FlowState::Landed, Some(&run)))
}

/// A person pressed "Re-run" on a gate's check run.
pub async fn rerun_gate(s: &Session<'_>, run: &str, check: &str, head: &str) -> Result<FlowReport> {
    let repo = s.repo()?;
    let r = engine::load_run(&repo, run)?;
    let gate = naming::gate_of_check(check);
    let spec = crate::gates::gates_for(&r.workflow)
        .into_iter()
        .find(|g| g.name == gate)
        .ok_or_else(|| anyhow!("run {run} has no gate `{gate}`"))?;
    let tip = Oid::from_str(head)?;
    let checkout = tempfile::Builder::new().prefix("prflow-gate-").tempdir()?;
    repo.checkout_into(repo.tree_of(tip)?, checkout.path())?;
    let st = state_of(&repo, &r)?;
    let phase = st
        .phases
        .iter()
        .find(|p| p.head.as_deref() == Some(head))
        .map(|p| p.index)
        .ok_or_else(|| {
            anyhow!("{head} is not the head of a phase of run {run}; nothing to re-run")
        })?;
    let changed = publish::phase_changed_files(&repo, &st, phase)?;
    let input = crate::gates::GateInput {
        workflow: &r.workflow,
        checkout: checkout.path(),
        changed_files: &changed,
        phase,
    };
    let result = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| crate::gates::run_gate(&spec, &input))
        }
        _ => crate::gates::run_gate(&spec, &input),
    };
    publish::report_gate(&s.client, &result, head, run, phase).await?;
    Ok(said(FlowState::GateRerun, Some(run)))
}

/// A push to the default branch: start runs of workflows that opt in with `"on": ["push"]`.
pub async fn on_push(s: &Session<'_>, e: &Push) -> Result<FlowReport> {
    let repo = s.repo()?;
    let tip = repo.resolve_commit(&e.after)?;
    let mut last = said(FlowState::Ignored, None);
    for path in &e.changed_paths {
        if !(path.ends_with(".json") || path.ends_with(".yaml") || path.ends_with(".yml")) {
            continue;
        }
        let Some(text) = repo.read(repo.tree_of(tip)?, path) else {
            continue;
        };
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        let Ok(loaded) = crate::workflow::parse(std::path::Path::new(path), &text) else {
            continue;
        };
        if loaded.workflow.on.iter().any(|o| o == "push") {
            last =
                drive::start_or_continue(s, path, Some(&s.default_branch), &e.sender, None).await?;
        }
    }
    Ok(last)
}
