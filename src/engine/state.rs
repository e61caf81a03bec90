//! A run's state, read from git alone: branches, trailers and a few refs under
//! `refs/prflow/` (their names: [`super::naming`]). Nothing else is needed to resume,
//! report or approve a run. The metadata ref holds a tree with `run.json` ([`RunMeta`])
//! and `workflow` (the exact workflow text the run started with).

use super::naming::{
    approval_ref, branch_name, branch_ref, control_ref, failure_ref, landed_ref, meta_ref,
};
use crate::gitops::{trailers, Repo};
use crate::workflow::plan::Plan;
use anyhow::{Context, Result};
use git2::Oid;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a run was started from; stored once when the run starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub run_id: String,
    /// Repository-relative path of the workflow (absolute when it lives outside).
    pub workflow_path: String,
    /// Git blob id of the workflow text the run uses.
    pub workflow_blob: String,
    /// The commit phase 1 starts from.
    pub base: String,
    /// What the user named as base (`HEAD`, `main` …), for messages and PR bases.
    pub base_ref: String,
    /// Who started the run (a GitHub login), for the self-approval rule.
    #[serde(default)]
    pub starter: Option<String>,
    /// The issue or PR whose comment started the run: it carries the status comment.
    #[serde(default)]
    pub origin_issue: Option<u64>,
    /// The default runner the run started with (`--runner`, the Action's `runner`,
    /// `PRFLOW_DEFAULT_RUNNER`), so a continued run serves its tasks the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_runner: Option<String>,
    /// `--skip-hooks`: the run's tasks run without the workflow's `hooks`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_hooks: bool,
}

/// The run id: a short hash of (workflow path, workflow blob, base commit), so the same
/// trigger twice is the same run.
pub fn run_id(workflow_path: &str, workflow_blob: &str, base: &str) -> String {
    let mut h = Sha256::new();
    h.update(workflow_path.as_bytes());
    h.update([0]);
    h.update(workflow_blob.as_bytes());
    h.update([0]);
    h.update(base.as_bytes());
    hex::encode(&h.finalize()[..5])
}

/// Reads a run's metadata and workflow text.
pub fn read_meta(repo: &Repo, run: &str) -> Option<(RunMeta, String)> {
    let r = meta_ref(run);
    let meta: RunMeta = serde_json::from_slice(&repo.read_tree_ref(&r, "run.json")?).ok()?;
    let text = String::from_utf8(repo.read_tree_ref(&r, "workflow")?).ok()?;
    Some((meta, text))
}

/// Stores a run's metadata (idempotent: an existing run is left as it is).
pub fn write_meta(repo: &Repo, meta: &RunMeta, workflow_text: &str) -> Result<()> {
    let r = meta_ref(&meta.run_id);
    if repo.ref_target(&r).is_some() || repo.git.find_reference(&r).is_ok() {
        return Ok(());
    }
    let json = serde_json::to_vec_pretty(meta)?;
    repo.write_tree_ref(
        &r,
        &[("run.json", &json), ("workflow", workflow_text.as_bytes())],
    )?;
    Ok(())
}

/// A task committed on a phase branch.
#[derive(Debug, Clone, Serialize)]
pub struct DoneTask {
    pub commit: String,
    #[serde(skip)]
    pub outputs: Map<String, Value>,
    /// The newest commit's `Prflow-Iteration`, for looped tasks.
    #[serde(skip)]
    pub iteration: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseStatus {
    Done,
    WaitingForReview,
    Running,
    Pending,
    Failed,
}

impl PhaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Done => "done",
            PhaseStatus::WaitingForReview => "waiting-for-review",
            PhaseStatus::Running => "running",
            PhaseStatus::Pending => "pending",
            PhaseStatus::Failed => "failed",
        }
    }
}

/// One phase as git shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseState {
    pub index: usize,
    pub name: String,
    pub branch: String,
    pub checkpoint: Option<String>,
    pub status: PhaseStatus,
    /// The branch tip, when the branch exists.
    pub head: Option<String>,
    /// Tasks in plan order with their commit (`None`: not done yet, or skipped).
    pub tasks: Vec<(String, Option<String>)>,
    /// What control flow decided in this phase: skipped and handled tasks, finished
    /// loops.
    #[serde(flatten)]
    pub control: PhaseControl,
    /// Why the phase failed, when it did.
    pub failure: Option<String>,
    /// A person merged the phase's PR (its head is recorded as landed).
    pub landed: bool,
    #[serde(skip)]
    pub done: HashMap<String, DoneTask>,
    #[serde(skip)]
    pub base: Option<Oid>,
    #[serde(skip)]
    pub tip: Option<Oid>,
}

/// The whole run as git shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunState {
    pub run_id: String,
    pub workflow: String,
    pub workflow_path: String,
    pub base: String,
    pub phases: Vec<PhaseState>,
}

impl RunState {
    pub fn finished(&self) -> bool {
        self.phases.iter().all(|p| p.status == PhaseStatus::Done)
    }
    /// The first phase that is not done.
    pub fn current(&self) -> Option<&PhaseState> {
        self.phases.iter().find(|p| p.status != PhaseStatus::Done)
    }
    /// Every skipped task of the run, and why.
    pub fn skipped(&self) -> BTreeMap<String, String> {
        self.phases
            .iter()
            .flat_map(|p| {
                p.control
                    .skipped
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
            })
            .collect()
    }

    /// Outputs of every committed task, for `${task.output.key}`.
    pub fn outputs(&self) -> HashMap<String, Map<String, Value>> {
        let mut out = HashMap::new();
        for p in &self.phases {
            for (id, d) in &p.done {
                out.insert(id.clone(), d.outputs.clone());
            }
        }
        out
    }
}

/// Tasks of `run` committed between `base` (excluded) and `tip`.
pub fn done_tasks(
    repo: &Repo,
    run: &str,
    base: Oid,
    tip: Oid,
) -> Result<HashMap<String, DoneTask>> {
    let mut done = HashMap::new();
    for (id, t) in run_commits(repo, run, base, tip)? {
        if let Some(task) = trailers::get(&t, trailers::TASK) {
            // Newest first: a revision's commit wins over the original's outputs.
            done.entry(task.to_string()).or_insert_with(|| DoneTask {
                commit: id.to_string(),
                outputs: trailers::outputs(&t),
                iteration: trailers::get(&t, trailers::ITERATION).and_then(|n| n.parse().ok()),
            });
        }
    }
    Ok(done)
}

/// A commit's trailers, in order.
type Trailers = Vec<(String, String)>;

/// The commits of `run` between `base` (excluded) and `tip`, newest first, with their
/// trailers. Commits people pushed (no `Prflow-Run`) are skipped.
fn run_commits(repo: &Repo, run: &str, base: Oid, tip: Oid) -> Result<Vec<(Oid, Trailers)>> {
    let mut walk = repo.git.revwalk()?;
    walk.push(tip)?;
    walk.hide(base).ok();
    let mut out = Vec::new();
    for id in walk {
        let id = id?;
        let t = trailers::parse(&repo.message(id)?);
        if trailers::get(&t, trailers::RUN) == Some(run) {
            out.push((id, t));
        }
    }
    Ok(out)
}

/// Was phase `index` approved at head `tip`? Local runs answer from approval refs,
/// GitHub runs from PR reviews.
pub type Approvals<'a> = &'a dyn Fn(usize, Oid) -> bool;

/// Local approvals: `refs/prflow/approvals/<run>/<NN>` points at the approved head.
pub fn local_approvals<'a>(repo: &'a Repo, run: &'a str) -> impl Fn(usize, Oid) -> bool + 'a {
    move |index, tip| repo.ref_target(&approval_ref(run, index)) == Some(tip)
}

/// Reads every phase of a run from git.
pub fn read_state(
    repo: &Repo,
    meta: &RunMeta,
    plan: &Plan,
    approved: Approvals<'_>,
) -> Result<RunState> {
    let mut phases = Vec::new();
    let mut prev_tip: Option<Oid> =
        Some(Oid::from_str(&meta.base).context("run metadata has a bad base commit")?);
    for phase in &plan.phases {
        let branch = branch_name(&meta.run_id, phase);
        // A landed phase's branch may be deleted (GitHub's auto-delete): what landed
        // stands in for it.
        let landed = repo.ref_target(&landed_ref(&meta.run_id, phase.index));
        let tip = repo.ref_target(&branch_ref(&branch)).or(landed);
        let base = prev_tip;
        let mut done = match (tip, base) {
            (Some(tip), Some(base)) => done_tasks(repo, &meta.run_id, base, tip)?,
            _ => HashMap::new(),
        };
        let failure = repo
            .read_tree_ref(&failure_ref(&meta.run_id, phase.index), "failure.txt")
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let control = read_control(repo, &meta.run_id, phase.index);
        // A looped task is done when its loop finished, not at its first iteration.
        done.retain(|t, d| d.iteration.is_none() || control.looped.contains(t));
        let all_done = phase.tasks.iter().all(|t| {
            done.contains_key(t)
                || control.skipped.contains_key(t)
                || control.handled.contains_key(t)
        });
        let approved = tip.is_some_and(|t| approved(phase.index, t));
        let status = if landed.is_some() {
            PhaseStatus::Done
        } else if tip.is_none() {
            PhaseStatus::Pending
        } else if failure.is_some() {
            PhaseStatus::Failed
        } else if !all_done {
            PhaseStatus::Running
        } else if phase.checkpoint.is_some() && !approved {
            PhaseStatus::WaitingForReview
        } else {
            PhaseStatus::Done
        };
        let tasks = phase
            .tasks
            .iter()
            .map(|t| (t.clone(), done.get(t).map(|d| d.commit.clone())))
            .collect();
        phases.push(PhaseState {
            index: phase.index,
            name: phase.name.clone(),
            branch,
            checkpoint: phase.checkpoint.clone(),
            status,
            head: tip.map(|t| t.to_string()),
            tasks,
            control,
            failure,
            landed: landed.is_some(),
            done,
            base,
            tip,
        });
        prev_tip = tip;
    }
    Ok(RunState {
        run_id: meta.run_id.clone(),
        workflow: plan.workflow.clone(),
        workflow_path: meta.workflow_path.clone(),
        base: meta.base.clone(),
        phases,
    })
}

/// What control flow decided in one phase, kept beside the branch (a task that did
/// not run leaves no commit to carry it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseControl {
    /// Tasks that did not run, and why (a false condition, a handler nothing
    /// triggered, a loop with no iteration). They count as finished and have no outputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
    /// Tasks that failed without stopping the run (their `onFailure` handlers
    /// succeeded, `failurePolicy: ignore`, a loop's `continueOnError`), with the error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub handled: BTreeMap<String, String>,
    /// Looped tasks (loop bodies, `iterative` tasks) whose every iteration ran.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub looped: BTreeSet<String>,
}

impl PhaseControl {
    pub fn is_empty(&self) -> bool {
        self.skipped.is_empty() && self.handled.is_empty() && self.looped.is_empty()
    }
}

/// What control flow decided in phase `index` (empty when nothing).
pub fn read_control(repo: &Repo, run: &str, index: usize) -> PhaseControl {
    repo.read_tree_ref(&control_ref(run, index), "control.json")
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records what control flow decided in phase `index` (replacing what was recorded).
pub fn write_control(repo: &Repo, run: &str, index: usize, control: &PhaseControl) -> Result<()> {
    let r = control_ref(run, index);
    if control.is_empty() {
        return repo.delete_ref(&r);
    }
    if &read_control(repo, run, index) == control {
        return Ok(());
    }
    let json = serde_json::to_vec_pretty(control)?;
    repo.write_tree_ref(&r, &[("control.json", &json)])?;
    Ok(())
}

/// (task, iteration) of every looped step committed on a phase.
pub fn iterations_done(
    repo: &Repo,
    run: &str,
    phase: &PhaseState,
) -> Result<std::collections::HashSet<(String, u32)>> {
    let (Some(tip), Some(base)) = (phase.tip, phase.base) else {
        return Ok(Default::default());
    };
    Ok(run_commits(repo, run, base, tip)?
        .into_iter()
        .filter_map(|(_, t)| {
            let task = trailers::get(&t, trailers::TASK)?.to_string();
            let n = trailers::get(&t, trailers::ITERATION)?.parse().ok()?;
            Some((task, n))
        })
        .collect())
}

/// Tasks of a phase already committed for the revision that answers `review_id`.
pub fn revised_tasks(
    repo: &Repo,
    run: &str,
    phase: &PhaseState,
    review_id: u64,
) -> Result<std::collections::HashSet<String>> {
    let (Some(tip), Some(base)) = (phase.tip, phase.base) else {
        return Ok(Default::default());
    };
    let review = review_id.to_string();
    Ok(run_commits(repo, run, base, tip)?
        .into_iter()
        .filter(|(_, t)| trailers::get(t, trailers::REVIEW) == Some(review.as_str()))
        .filter_map(|(_, t)| trailers::get(&t, trailers::TASK).map(str::to_string))
        .collect())
}

/// The highest revision number committed on a phase (0 when never revised).
pub fn revision_count(repo: &Repo, run: &str, phase: &PhaseState) -> Result<u32> {
    let (Some(tip), Some(base)) = (phase.tip, phase.base) else {
        return Ok(0);
    };
    Ok(run_commits(repo, run, base, tip)?
        .iter()
        .filter_map(|(_, t)| trailers::get(t, trailers::REVISION)?.parse().ok())
        .max()
        .unwrap_or(0))
}
