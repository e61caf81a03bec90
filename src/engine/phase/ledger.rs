//! What the phase knows of its tasks while it runs: which are finished (committed,
//! skipped, handled), which of those are written, their outputs, the failures waiting
//! for their `onFailure` handlers, and why the phase fails.
//!
//! [`Ledger::task_failed`] is the one place a failure is decided: its `onFailure`
//! handlers take it, `failurePolicy: ignore` lets it pass, `continue` keeps running what
//! does not need it, `failFast` stops the phase.

use crate::engine::control::{self, Known, Unit};
use crate::engine::progress::Progress;
use crate::engine::state::PhaseControl;
use crate::workflow::{FailurePolicy, Workflow};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

use super::PhaseRun;

/// Where a failure comes from, which decides who may handle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    /// The task failed (its run, or its condition): its `onFailure` handlers, then the
    /// workflow's `failurePolicy`.
    Task,
    /// A loop's condition or items could not be evaluated: `failurePolicy` alone (the
    /// loop's first task has no handlers for its loop).
    Loop,
    /// Its changes could not be committed (two tasks wrote the same file differently,
    /// a path it may not write): the phase always stops.
    Commit,
}

/// What a failure does to the rest of the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Consequence {
    /// Its `onFailure` handlers will run, or `failurePolicy: ignore`: the phase goes on.
    Handled,
    /// The phase takes no more steps (`failFast`, or a commit that could not be made).
    Stop,
    /// `failurePolicy: continue`: what depends on the failed unit does not start; the
    /// rest runs, and the phase fails at the end.
    DropDependents,
}

pub(super) struct Ledger<'c> {
    workflow: &'c Workflow,
    progress: &'c dyn Progress,
    phase_tasks: HashSet<&'c str>,
    /// Finished for their dependents: committed (maybe in memory only), skipped, handled.
    pub done: HashSet<String>,
    /// Finished and written: a unit that depends only on these may start.
    pub durable: HashSet<String>,
    /// Outputs of every committed task so far (all phases).
    pub outputs: HashMap<String, Map<String, Value>>,
    /// Tasks skipped so far (every phase), and why.
    pub skipped_all: BTreeMap<String, String>,
    /// Failures waiting for their `onFailure` handlers: task → the tail of its error.
    pub failed: HashMap<String, String>,
    /// Why the phase fails, in the order it happened.
    pub failures: Vec<String>,
    /// The phase takes no more steps.
    pub stop: bool,
    /// What control flow decided (skipped, handled, looped), kept with the run.
    pub control: &'c mut PhaseControl,
}

impl<'c> Ledger<'c> {
    pub fn new(ctx: &'c PhaseRun<'_>, control: &'c mut PhaseControl) -> Self {
        let mut done = ctx.done.clone();
        done.extend(control.skipped.keys().cloned());
        done.extend(control.handled.keys().cloned());
        let mut skipped_all = ctx.skipped_before.clone();
        skipped_all.extend(control.skipped.clone());
        Ledger {
            workflow: ctx.workflow,
            progress: ctx.progress,
            phase_tasks: ctx.phase.tasks.iter().map(String::as_str).collect(),
            durable: done.clone(),
            done,
            outputs: ctx.outputs.clone(),
            skipped_all,
            failed: HashMap::new(),
            failures: Vec::new(),
            stop: false,
            control,
        }
    }

    /// What a task's condition may read.
    pub fn known(&self) -> Known<'_> {
        Known {
            outputs: &self.outputs,
            skipped: &self.skipped_all,
        }
    }

    /// Is `task` one of this phase's (a dependency outside it is finished already)?
    pub fn in_phase(&self, task: &str) -> bool {
        self.phase_tasks.contains(task)
    }

    /// May a unit that depends on `task` start: is it written, failed and waiting for
    /// its handlers, or of an earlier phase?
    pub fn settled(&self, task: &str) -> bool {
        self.durable.contains(task) || self.failed.contains_key(task) || !self.in_phase(task)
    }

    /// Is `task` finished, though perhaps only in memory?
    pub fn finished(&self, task: &str) -> bool {
        self.done.contains(task) || self.failed.contains_key(task)
    }

    /// Records `task` as skipped: finished for its dependents, no commit, no outputs.
    pub fn skip(&mut self, task: &str, why: &str) {
        self.progress.task_skipped(task, why);
        self.control
            .skipped
            .insert(task.to_string(), why.to_string());
        self.skipped_all.insert(task.to_string(), why.to_string());
        self.done.insert(task.to_string());
        self.durable.insert(task.to_string());
    }

    /// A step of `task` committed with `outputs`; `finished` when it was its last.
    pub fn committed(&mut self, task: &str, outputs: Map<String, Value>, finished: bool) {
        self.outputs.insert(task.to_string(), outputs);
        if finished {
            self.done.insert(task.to_string());
        }
        // A handler that succeeded may complete the handling of a failure.
        self.settle_handled(task);
    }

    /// A loop with no more steps: each of its tasks is finished; one that never
    /// committed is recorded as skipped (unless its failure was handled). Returns them.
    pub fn loop_finished(&mut self, unit: &Unit, committed: &HashSet<String>) -> Vec<String> {
        for t in &unit.tasks {
            if committed.contains(t) {
                self.control.looped.insert(t.clone());
            } else if !self.control.handled.contains_key(t) {
                let why = unit.why_not_run(self.workflow);
                self.progress.task_skipped(t, &why);
                self.control.skipped.insert(t.clone(), why.clone());
                self.skipped_all.insert(t.clone(), why);
            }
            self.done.insert(t.clone());
        }
        unit.tasks.clone()
    }

    /// An iteration of a `continueOnError` loop failed: noted, and the loop goes on.
    pub fn iteration_failed(&mut self, task: &str, iteration: u32, error: &str) {
        self.progress.task_failed(task, error);
        self.control.handled.insert(
            task.to_string(),
            format!(
                "iteration {iteration} failed (continueOnError): {}",
                control::error_tail(error)
            ),
        );
    }

    /// `task` failed with `error`: who handles it, and what it does to the phase.
    pub fn task_failed(&mut self, task: &str, error: &str, kind: FailureKind) -> Consequence {
        self.progress.task_failed(task, error);
        let consequence = match kind {
            FailureKind::Commit => {
                self.failures.push(error.to_string());
                self.stop = true;
                return Consequence::Stop;
            }
            FailureKind::Loop => self.by_policy(task, error),
            FailureKind::Task => {
                if self.handled(task, error) {
                    Consequence::Handled
                } else {
                    self.by_policy(task, error)
                }
            }
        };
        if kind == FailureKind::Task {
            // A handler that failed leaves the failures it handles unhandled.
            self.unhandle(task);
        }
        consequence
    }

    /// Why the phase failed, if it did: every failure, then those whose handlers never
    /// ran (the phase stopped first).
    pub fn into_failures(self) -> Vec<String> {
        let mut failures = self.failures;
        let mut left: Vec<_> = self.failed.into_iter().collect();
        left.sort();
        for (t, e) in left {
            failures.push(format!("task `{t}` failed: {e}"));
        }
        failures
    }

    /// Its `onFailure` handlers (all in this phase) will handle the failure, or
    /// `failurePolicy: ignore` lets it pass.
    fn handled(&mut self, task: &str, error: &str) -> bool {
        let handlers = self
            .workflow
            .task(task)
            .map(|t| t.control.on_failure.clone())
            .unwrap_or_default();
        if !handlers.is_empty() && handlers.iter().all(|h| self.in_phase(h)) {
            self.failed
                .insert(task.to_string(), control::error_tail(error));
            return true;
        }
        if self.workflow.settings.failure_policy == FailurePolicy::Ignore {
            self.control.handled.insert(
                task.to_string(),
                format!(
                    "ignored (failurePolicy: ignore): {}",
                    control::error_tail(error)
                ),
            );
            self.done.insert(task.to_string());
            self.durable.insert(task.to_string());
            return true;
        }
        false
    }

    /// An unhandled failure: `failFast` stops the phase, anything else keeps running
    /// what does not depend on it.
    fn by_policy(&mut self, task: &str, error: &str) -> Consequence {
        self.failures.push(format!("task `{task}` failed: {error}"));
        if self.workflow.settings.failure_policy == FailurePolicy::FailFast {
            self.stop = true;
            Consequence::Stop
        } else {
            Consequence::DropDependents
        }
    }

    /// After handler `handler` committed: a failure whose every onFailure handler has
    /// now committed is handled — finished for its dependents, the phase goes on.
    fn settle_handled(&mut self, handler: &str) {
        let workflow = self.workflow;
        let outputs = &self.outputs;
        let settled: Vec<String> = self
            .failed
            .keys()
            .filter(|t| {
                workflow.task(t).is_some_and(|t| {
                    t.control.on_failure.iter().any(|h| h == handler)
                        && t.control.on_failure.iter().all(|h| outputs.contains_key(h))
                })
            })
            .cloned()
            .collect();
        for t in settled {
            if let Some(e) = self.failed.remove(&t) {
                self.control
                    .handled
                    .insert(t.clone(), format!("handled by onFailure: {e}"));
                self.done.insert(t.clone());
                self.durable.insert(t);
            }
        }
    }

    /// After handler `handler` failed: the failures it was handling are failures again.
    fn unhandle(&mut self, handler: &str) {
        let workflow = self.workflow;
        let lost: Vec<String> = self
            .failed
            .keys()
            .filter(|t| {
                workflow
                    .task(t)
                    .is_some_and(|t| t.control.on_failure.iter().any(|h| h == handler))
            })
            .cloned()
            .collect();
        for t in lost {
            if let Some(e) = self.failed.remove(&t) {
                self.failures.push(format!(
                    "task `{t}` failed and its onFailure handler `{handler}` failed too: {e}"
                ));
            }
        }
    }
}
