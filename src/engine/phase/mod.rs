//! Runs one phase: tasks start as soon as their dependencies are committed, up to the
//! workflow's concurrency, each in its own isolated tree; finished tasks are applied
//! to the phase branch one at a time with a three-way merge and committed with their
//! trailers. The ref update (compare-and-swap) is the commit point, so a crash at any
//! moment leaves whole commits only, and the next invocation runs what is missing.
//!
//! Control flow ([`control`](super::control)) shapes what runs: tasks are grouped in
//! units (a task, an `iterative` task, a loop's body) whose steps run one after the
//! other, each step one commit (`Prflow-Iteration: N` when looped); a task whose
//! condition is false, or a handler nothing triggered, is skipped; a failure is handled
//! by its `onFailure` handlers or the workflow's `failurePolicy`.
//!
//! The parts, each with one job:
//! - [`schedule`]: which unit takes its next step, and what a finished step does;
//! - [`ledger`]: what is done, skipped, handled or failed — and the one place a failure
//!   is decided (`onFailure` handlers, `failurePolicy`);
//! - [`prepare`]: a step's task with its run-time values, or why it does not run;
//! - [`workers`]: the threads that run tasks (with the workflow's retry back-off);
//! - [`execute`]: running one task in isolation, with the workflow's hooks;
//! - [`commit`]: a task's changes as one commit on the branch tip;
//! - [`batch`]: commits kept in memory and written as one pack and one ref update.

mod batch;
mod commit;
mod execute;
mod ledger;
mod prepare;
mod schedule;
mod workers;

use super::progress::Progress;
use super::runners::Runners;
use super::state::PhaseControl;
use crate::agents::Feedback;
use crate::workflow::{plan::PlannedPhase, Workflow};
use git2::Oid;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// Everything a phase needs to run.
pub struct PhaseRun<'a> {
    pub repo_path: PathBuf,
    pub run_id: &'a str,
    pub workflow: &'a Workflow,
    /// `path@blob` for the `Prflow-Workflow` trailer.
    pub workflow_ref: String,
    pub phase: &'a PlannedPhase,
    pub branch_ref: String,
    /// Tasks of this phase already committed.
    pub done: HashSet<String>,
    /// Outputs of every committed task so far (all phases).
    pub outputs: HashMap<String, Map<String, Value>>,
    /// Review feedback when the phase is being revised.
    pub feedback: Option<&'a Feedback>,
    /// `(n, review id)` for the n-th revision after a review; `None` for the first pass.
    pub revision: Option<(u32, u64)>,
    pub runners: &'a Runners,
    pub progress: &'a dyn Progress,
    /// What control flow decided in this phase before (an earlier invocation).
    pub control: PhaseControl,
    /// Tasks of earlier phases that were skipped, and why.
    pub skipped_before: BTreeMap<String, String>,
    /// (task, iteration) already committed in this phase: a resumed loop goes on
    /// after them.
    pub iterations_done: HashSet<(String, u32)>,
    /// `--skip-hooks`: run no `hooks`.
    pub skip_hooks: bool,
}

/// Why a phase stopped.
#[derive(Debug)]
pub struct PhaseFailure {
    pub message: String,
}

impl std::fmt::Display for PhaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PhaseFailure {
    fn new(message: impl Into<String>) -> PhaseFailure {
        PhaseFailure {
            message: message.into(),
        }
    }
}

/// How a phase ended: the new tip (or why it stopped), and what control flow decided
/// (kept whether or not the phase failed).
pub struct PhaseEnd {
    pub result: Result<Oid, PhaseFailure>,
    pub control: PhaseControl,
}

/// Runs the phase's remaining tasks; returns the new branch tip.
pub fn run_phase(ctx: PhaseRun<'_>) -> PhaseEnd {
    let mut control = ctx.control.clone();
    let result = schedule::run(&ctx, &mut control);
    PhaseEnd { result, control }
}
