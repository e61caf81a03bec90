//! Runs a plan: finds or starts the run, runs phases until a checkpoint waits for a
//! review or the run is done, and reports the state — all read back from git.
//!
//! This is the one place that decides what a run does next; the CLI, the App and
//! the Action only ask it.

pub mod checkpoint;
pub mod control;
pub mod merge;
pub mod naming;
pub mod phase;
pub mod preview;
pub mod progress;
pub mod runners;
pub mod state;

use crate::gitops::Repo;
use crate::workflow::{self, plan::Plan, Diagnostics, Workflow};
use anyhow::{anyhow, bail, Context, Result};
use progress::Progress;
use runners::{Runners, Unservable};
use serde::Serialize;
use state::{PhaseStatus, RunMeta, RunState};
use std::path::{Path, PathBuf};

/// `prflow run`'s input.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub repo_dir: PathBuf,
    pub workflow_file: PathBuf,
    /// Revision phase 1 starts from; `HEAD` when absent.
    pub base: Option<String>,
    /// Start a new run even when one for this workflow path is unfinished.
    pub new_run: bool,
    /// The default runner (`--runner`) for tasks nothing else serves.
    pub default_runner: Option<String>,
    /// `--skip-hooks`: run no `hooks` (recorded with the run).
    pub skip_hooks: bool,
}

/// Why a run could not start. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("{}", naming::did_not_start(.tasks, .packs))]
    Unservable {
        tasks: Vec<Unservable>,
        packs: Vec<String>,
    },
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// Where a run stands after an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    WaitingForReview,
    Finished,
    Failed,
}

/// What an invocation did and what comes next.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub outcome: Outcome,
    pub state: RunState,
    /// Things the person should know (a changed workflow file …).
    pub notes: Vec<String>,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    /// The next step, as a sentence with the command to type.
    pub next: String,
}

/// A loaded run: its metadata, workflow (the version it started with) and plan.
pub struct LoadedRun {
    pub meta: RunMeta,
    pub workflow: Workflow,
    pub plan: Plan,
}

/// How the workflow path is recorded: relative to the repository when inside it.
pub fn workflow_key(repo: &Repo, file: &Path) -> Result<String> {
    let abs = file
        .canonicalize()
        .with_context(|| format!("cannot find the workflow file {}", file.display()))?;
    let root = repo.root().canonicalize()?;
    Ok(match abs.strip_prefix(&root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => abs.to_string_lossy().into_owned(),
    })
}

/// Loads a recorded run.
pub fn load_run(repo: &Repo, run_id: &str) -> Result<LoadedRun> {
    let (meta, text) = state::read_meta(repo, run_id)
        .ok_or_else(|| anyhow!("no run `{run_id}` in this repository (see `prflow status`)"))?;
    let loaded = workflow::parse(Path::new(&meta.workflow_path), &text)
        .map_err(|d| anyhow!("the workflow recorded for run {run_id} no longer parses:\n{d}"))?;
    let plan = workflow::plan::plan(&loaded.workflow);
    Ok(LoadedRun {
        meta,
        workflow: loaded.workflow,
        plan,
    })
}

/// Every run in the repository with its state, oldest id order.
pub fn status(repo_dir: &Path, run: Option<&str>) -> Result<Vec<RunState>> {
    let repo = Repo::open(repo_dir)?;
    let ids = match run {
        Some(id) => vec![id.to_string()],
        None => naming::run_ids(&repo)?,
    };
    ids.iter()
        .map(|id| {
            let r = load_run(&repo, id)?;
            state::read_state(&repo, &r.meta, &r.plan, &state::local_approvals(&repo, id))
        })
        .collect()
}

/// Which run an invocation means: the unfinished run of this workflow path, or a new
/// one identified by (path, blob, base). Reads only.
fn resolve_run(
    repo: &Repo,
    req: &RunRequest,
) -> Result<(LoadedRun, String, Vec<String>), StartError> {
    let text = workflow::read_text(&req.workflow_file).map_err(StartError::Invalid)?;
    // Validate the file as given first: a broken file is reported as such.
    let given = workflow::parse(&req.workflow_file, &text).map_err(StartError::Invalid)?;
    let key = workflow_key(repo, &req.workflow_file)?;
    let blob = Repo::hash_blob(text.as_bytes())?.to_string();
    let mut notes = Vec::new();
    let unfinished = if req.new_run {
        None
    } else {
        naming::find_unfinished(repo, &key, false)?
    };
    Ok(match unfinished {
        Some(r) => {
            if r.meta.workflow_blob != blob {
                notes.push(format!(
                    "{key} changed since run {} started; the run continues with the version it \
                     started with. Pass --new-run to start a new run from the current file.",
                    r.meta.run_id
                ));
            }
            let stored = stored_text(repo, &r.meta, &text);
            (r, stored, notes)
        }
        None => {
            let base_ref = req.base.clone().unwrap_or_else(|| "HEAD".into());
            let base = repo.resolve_commit(&base_ref)?.to_string();
            let run_id = state::run_id(&key, &blob, &base);
            let meta = RunMeta {
                run_id,
                workflow_path: key.clone(),
                workflow_blob: blob.clone(),
                base,
                base_ref,
                starter: None,
                origin_issue: None,
                default_runner: req.default_runner.clone(),
                skip_hooks: req.skip_hooks,
            };
            let plan = workflow::plan::plan(&given.workflow);
            let run = LoadedRun {
                meta,
                workflow: given.workflow,
                plan,
            };
            (run, text, notes)
        }
    })
}

/// The runners of a run: this machine's, with the default runner given now (`given`)
/// or else the one the run started with.
pub fn runners_for(repo_root: &Path, meta: &RunMeta, given: Option<&str>) -> Result<Runners> {
    let default = match given.or(meta.default_runner.as_deref()) {
        Some(s) => Some(workflow::runner::parse_default(s).map_err(|e| anyhow!(e))?),
        None => None,
    };
    Ok(Runners::new(repo_root)?.with_default(default))
}

/// `prflow run --dry-run`: the preview of what the run would do, writing nothing, and
/// the tasks a real run would refuse (it refuses when there are any).
pub fn dry_run(req: &RunRequest) -> Result<(String, Vec<Unservable>), StartError> {
    let repo = Repo::open(&req.repo_dir)?;
    let (run, _, notes) = resolve_run(&repo, req)?;
    let runners = runners_for(&repo.root(), &run.meta, req.default_runner.as_deref())?;
    let base = git2::Oid::from_str(&run.meta.base).map_err(anyhow::Error::from)?;
    let mut text = String::new();
    for n in notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text.push_str(&preview::preview(
        &repo,
        &run.meta.run_id,
        base,
        &run.meta.base_ref,
        &run.workflow,
        &run.plan,
        &runners,
    )?);
    let unservable = runners.check_all(&run.workflow, None);
    if !unservable.is_empty() {
        text.push_str(&format!(
            "\na real run would refuse to start: {}\n",
            naming::did_not_start(&unservable, &runners.pack_names())
                .trim_start_matches("the run did not start, nothing was written:")
        ));
    }
    Ok((text, unservable))
}

/// Starts or continues the run of a workflow file.
pub fn run(req: &RunRequest, progress: &dyn Progress) -> Result<RunReport, StartError> {
    let repo = Repo::open(&req.repo_dir)?;
    let (run, text, notes) = resolve_run(&repo, req)?;
    let runners = runners_for(&repo.root(), &run.meta, req.default_runner.as_deref())?;
    let unservable = runners.check_all(&run.workflow, None);
    if !unservable.is_empty() {
        return Err(StartError::Unservable {
            tasks: unservable,
            packs: runners.pack_names(),
        });
    }
    state::write_meta(&repo, &run.meta, &text)?;
    let mut report = drive(&repo, &run, &runners, progress)?;
    report.notes.splice(0..0, notes);
    Ok(report)
}

/// The workflow text to record: the run's own when it exists, else the file's.
fn stored_text(repo: &Repo, meta: &RunMeta, file_text: &str) -> String {
    state::read_meta(repo, &meta.run_id)
        .map(|(_, t)| t)
        .unwrap_or_else(|| file_text.to_string())
}

/// Continues a recorded run (after an approval, a retry …).
pub fn continue_run(repo_dir: &Path, run_id: &str, progress: &dyn Progress) -> Result<RunReport> {
    let repo = Repo::open(repo_dir)?;
    let r = load_run(&repo, run_id)?;
    let runners = runners_for(&repo.root(), &r.meta, None)?;
    let unservable = runners.check_all(&r.workflow, None);
    if !unservable.is_empty() {
        let packs = runners.pack_names();
        bail!("{}", naming::did_not_start(&unservable, &packs));
    }
    drive(&repo, &r, &runners, progress)
}

/// Records an approval of the checkpoint that waits (locally, as `prflow approve`).
/// Returns the run id and the approved phase.
pub fn approve(repo_dir: &Path, run: Option<&str>) -> Result<(String, usize)> {
    let repo = Repo::open(repo_dir)?;
    let states = status(repo_dir, run)?;
    let waiting: Vec<(&RunState, usize, String)> = states
        .iter()
        .flat_map(|s| {
            s.phases
                .iter()
                .filter(|p| p.status == PhaseStatus::WaitingForReview)
                .map(move |p| (s, p.index, p.head.clone().unwrap_or_default()))
        })
        .collect();
    match waiting.as_slice() {
        [] => bail!(
            "no checkpoint is waiting for approval{}; `prflow status` shows where runs stand",
            run.map(|r| format!(" in run {r}")).unwrap_or_default()
        ),
        [(s, index, head)] => {
            let oid = git2::Oid::from_str(head)?;
            repo.git.reference(
                &naming::approval_ref(&s.run_id, *index),
                oid,
                true,
                "prflow: checkpoint approved",
            )?;
            Ok((s.run_id.clone(), *index))
        }
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|(s, i, _)| format!("{} (phase {i}, {})", s.run_id, s.workflow_path))
                .collect();
            bail!(
                "several runs wait for approval: {}; pass --run ID",
                list.join(", ")
            )
        }
    }
}

/// A revision of a phase after "changes requested".
#[derive(Debug, Clone)]
pub struct Revision {
    /// 1 for the first revision.
    pub number: u32,
    /// The review it answers; its commits carry `Prflow-Review: <id>`.
    pub review_id: u64,
    pub feedback: crate::agents::Feedback,
}

/// Runs what is missing of phase `index` (1-based) of `run`: creates its branch at the
/// previous phase's tip when needed, runs the tasks not yet committed (for a revision:
/// not yet committed for that review), and records or clears the phase's failure.
/// The outer `Err` is prflow's own trouble (git); the inner one is why the phase failed.
///
/// Two callers: the local loop below and `flow`'s run loop (which runs a due phase or
/// a revision through one function of its own).
pub fn run_phase(
    repo: &Repo,
    run: &LoadedRun,
    runners: &Runners,
    progress: &dyn Progress,
    index: usize,
    revision: Option<&Revision>,
) -> Result<Result<(), String>> {
    let meta = &run.meta;
    let approved = state::local_approvals(repo, &meta.run_id);
    let st = state::read_state(repo, meta, &run.plan, &approved)?;
    let ps = &st.phases[index - 1];
    let planned = &run.plan.phases[index - 1];
    let branch_ref = naming::branch_ref(&ps.branch);
    if ps.tip.is_none() {
        let base = ps
            .base
            .ok_or_else(|| anyhow!("phase {index} has no base: the phase before it is missing"))?;
        repo.cas_ref(&branch_ref, base, None, "prflow: phase branch")?;
    }
    let done = match revision {
        None => ps.done.keys().cloned().collect(),
        Some(r) => state::revised_tasks(repo, &meta.run_id, ps, r.review_id)?,
    };
    let failure_ref = naming::failure_ref(&meta.run_id, index);
    repo.delete_ref(&failure_ref)?;
    progress.phase_started(index, &ps.name, &ps.branch, planned.tasks.len());
    let skipped_before = st.phases[..index - 1]
        .iter()
        .flat_map(|p| p.control.skipped.clone())
        .collect();
    let end = phase::run_phase(phase::PhaseRun {
        repo_path: repo.git.path().to_path_buf(),
        run_id: &meta.run_id,
        workflow: &run.workflow,
        workflow_ref: format!("{}@{}", meta.workflow_path, meta.workflow_blob),
        phase: planned,
        branch_ref,
        done,
        outputs: st.outputs(),
        feedback: revision.map(|r| &r.feedback),
        revision: revision.map(|r| (r.number, r.review_id)),
        runners,
        progress,
        control: ps.control.clone(),
        skipped_before,
        // A revision runs the phase's loops again from their first iteration.
        iterations_done: match revision {
            None => state::iterations_done(repo, &meta.run_id, ps)?,
            Some(_) => Default::default(),
        },
        skip_hooks: meta.skip_hooks,
    });
    state::write_control(repo, &meta.run_id, index, &end.control)?;
    match end.result {
        Ok(_) => {
            progress.phase_finished(index, &ps.name);
            Ok(Ok(()))
        }
        Err(failure) => {
            repo.write_tree_ref(&failure_ref, &[("failure.txt", failure.message.as_bytes())])?;
            Ok(Err(failure.message))
        }
    }
}

/// Runs phases in order until one waits for a review, fails, or all are done.
fn drive(
    repo: &Repo,
    run: &LoadedRun,
    runners: &Runners,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let meta = &run.meta;
    let approved = state::local_approvals(repo, &meta.run_id);
    let read = || state::read_state(repo, meta, &run.plan, &approved);
    for i in 0..run.plan.phases.len() {
        let st = read()?;
        match st.phases[i].status {
            PhaseStatus::Done => continue,
            PhaseStatus::WaitingForReview => {
                return Ok(report(meta, st, Outcome::WaitingForReview, None))
            }
            PhaseStatus::Pending | PhaseStatus::Running | PhaseStatus::Failed => {}
        }
        if let Err(message) = run_phase(repo, run, runners, progress, i + 1, None)? {
            return Ok(report(meta, read()?, Outcome::Failed, Some(message)));
        }
        let st = read()?;
        if st.phases[i].status == PhaseStatus::WaitingForReview {
            return Ok(report(meta, st, Outcome::WaitingForReview, None));
        }
    }
    Ok(report(meta, read()?, Outcome::Finished, None))
}

fn report(meta: &RunMeta, state: RunState, outcome: Outcome, error: Option<String>) -> RunReport {
    let run = &meta.run_id;
    let next = match outcome {
        Outcome::WaitingForReview => {
            let p = state.current();
            let branch = p.map(|p| p.branch.as_str()).unwrap_or("");
            format!(
                "review branch {branch} (e.g. `git log -p {branch}`), then `prflow approve --run {run}` to continue"
            )
        }
        Outcome::Finished => {
            let last = state.phases.last().map(|p| p.branch.as_str()).unwrap_or("");
            format!("the run is done; the result is on {last} (merge it, or push the branches and open PRs)")
        }
        Outcome::Failed => format!(
            "fix the cause, then run the same command again: committed tasks are kept and only the rest run (`prflow status --run {run}`)"
        ),
    };
    RunReport {
        run_id: run.clone(),
        outcome,
        state,
        notes: Vec::new(),
        error,
        next,
    }
}
