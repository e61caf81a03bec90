//! A run's state, read from git alone: branches, trailers and a few refs under
//! `refs/prflow/` (their names: [`super::naming`]). Nothing else is needed to resume,
//! report or approve a run. The metadata ref holds a tree with `run.json` ([`RunMeta`])
//! and `workflow` (the exact workflow text the run started with).

use super::naming::{approval_ref, branch_name, branch_ref, failure_ref, landed_ref, meta_ref};
use crate::gitops::{trailers, Repo};
use crate::workflow::plan::Plan;
use anyhow::{Context, Result};
use git2::Oid;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

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
    /// Tasks in plan order with their commit (`None`: not done yet).
    pub tasks: Vec<(String, Option<String>)>,
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
        let done = match (tip, base) {
            (Some(tip), Some(base)) => done_tasks(repo, &meta.run_id, base, tip)?,
            _ => HashMap::new(),
        };
        let failure = repo
            .read_tree_ref(&failure_ref(&meta.run_id, phase.index), "failure.txt")
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let all_done = phase.tasks.iter().all(|t| done.contains_key(t));
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
