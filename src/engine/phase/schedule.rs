//! The phase's scheduler: units wait until what they depend on is written, then take
//! their steps one at a time on the workers; a finished step becomes a commit (or a
//! failure for the [`Ledger`] to decide), and commits are written in batches.

use super::batch::Batch;
use super::commit::build_commit;
use super::ledger::{Consequence, FailureKind, Ledger};
use super::prepare::{prepare, Prepared};
use super::workers::{with_workers, Job, JobDone, Pool, Received};
use super::{PhaseFailure, PhaseRun};
use crate::engine::control::{Step, Unit};
use crate::engine::state::PhaseControl;
use crate::gitops::Repo;
use crate::workflow::{Task, Workflow};
use git2::Oid;
use std::collections::HashSet;

/// Runs the phase's pending tasks; returns the new branch tip.
pub(super) fn run(ctx: &PhaseRun<'_>, control: &mut PhaseControl) -> Result<Oid, PhaseFailure> {
    let repo = Repo::open(&ctx.repo_path).map_err(|e| PhaseFailure::new(format!("{e:#}")))?;
    let tip = repo.ref_target(&ctx.branch_ref).ok_or_else(|| {
        PhaseFailure::new(format!(
            "branch {} disappeared while the run was working",
            ctx.branch_ref
        ))
    })?;
    let git_failure = |e: git2::Error| PhaseFailure::new(format!("{:#}", anyhow::Error::from(e)));
    let odb = repo.git.odb().map_err(git_failure)?;
    let mempack = odb.add_new_mempack_backend(1000).map_err(git_failure)?;

    let ledger = Ledger::new(ctx, control);
    let pending: Vec<&Task> = ctx
        .phase
        .tasks
        .iter()
        .filter(|t| !ledger.done.contains(*t))
        .filter_map(|t| ctx.workflow.task(t))
        .collect();
    let waiting = Unit::plan(ctx.workflow, &pending);
    let concurrency = ctx.workflow.concurrency.max(1);
    let workers = concurrency.min(waiting.len()).max(1);
    let mut scheduler = Scheduler {
        ctx,
        repo: &repo,
        concurrency,
        waiting,
        active: Vec::new(),
        ledger,
        batch: Batch::new(&mempack, &ctx.branch_ref, tip),
    };
    with_workers(ctx, workers, |pool| scheduler.drive(pool));
    scheduler.outcome()
}

/// A unit that started: its steps run one at a time.
struct Active {
    unit: Unit,
    /// A step of it is running.
    in_flight: bool,
    /// Its last step is committed in memory only; the next must wait for a flush.
    needs_flush: bool,
    /// Tasks of it that committed at least once.
    committed: HashSet<String>,
    /// It takes no more steps (a failure).
    stopped: bool,
    finished: bool,
}

struct Scheduler<'s, 'm, 'odb> {
    ctx: &'s PhaseRun<'s>,
    repo: &'s Repo,
    concurrency: usize,
    /// Units whose dependencies are not all written yet.
    waiting: Vec<Unit>,
    /// Units that started; a step's `Job::unit` is an index into this.
    active: Vec<Active>,
    ledger: Ledger<'s>,
    batch: Batch<'m, 'odb>,
}

impl Scheduler<'_, '_, '_> {
    fn workflow(&self) -> &Workflow {
        self.ctx.workflow
    }

    /// Until nothing runs and nothing is left to write: write what is due, start what
    /// is ready, take what a worker finished.
    fn drive(&mut self, pool: &mut Pool) {
        loop {
            let pressed = pool.running == 0 || self.blocked_on_memory(pool.running);
            match self.batch.settle(self.repo, pressed) {
                Ok(Some(written)) => self.made_durable(written),
                Ok(None) => {}
                Err(e) => {
                    self.ledger.failures.push(e);
                    self.ledger.stop = true;
                    break;
                }
            }
            self.start_ready(pool);
            if pool.running == 0 {
                if self.batch.has_pending() {
                    continue;
                }
                break;
            }
            match pool.receive(self.batch.patience()) {
                Received::Done(done) => self.step_done(*done, pool),
                Received::Timeout => continue,
                Received::Closed => break,
            }
        }
        // Whatever was committed in memory is written before the phase reports.
        match self.batch.flush(self.repo) {
            Ok(written) => self.ledger.durable.extend(written),
            Err(e) => self.ledger.failures.push(e),
        }
    }

    /// Is work waiting only because a commit it needs is in memory? Then the batch is
    /// written now rather than when it is full or old.
    fn blocked_on_memory(&self, running: usize) -> bool {
        if running >= self.concurrency || self.ledger.stop {
            return false;
        }
        let ledger = &self.ledger;
        self.active.iter().any(|a| a.needs_flush && !a.finished)
            || self.waiting.iter().any(|u| {
                let deps = || unit_deps(self.workflow(), u).filter(|d| ledger.in_phase(d));
                deps().all(|d| ledger.finished(d)) && !deps().all(|d| ledger.settled(d))
            })
    }

    /// The batch's tasks are written: their dependents may start.
    fn made_durable(&mut self, written: Vec<String>) {
        self.ledger.durable.extend(written);
        for a in &mut self.active {
            a.needs_flush = false;
        }
    }

    /// Starts units whose dependencies are written, and gives each free unit its next
    /// step, until nothing more moves.
    fn start_ready(&mut self, pool: &mut Pool) {
        loop {
            let mut moved = self.activate_ready();
            for ui in 0..self.active.len() {
                if pool.running >= self.concurrency || self.ledger.stop {
                    break;
                }
                let a = &self.active[ui];
                if a.finished || a.in_flight || a.needs_flush {
                    continue;
                }
                moved = true;
                self.advance(ui, pool);
            }
            if !moved {
                break;
            }
        }
    }

    /// Moves the waiting units whose dependencies are written to the active ones.
    fn activate_ready(&mut self) -> bool {
        if self.ledger.stop {
            return false;
        }
        let mut moved = false;
        let mut i = 0;
        while i < self.waiting.len() {
            let ready =
                unit_deps(self.ctx.workflow, &self.waiting[i]).all(|d| self.ledger.settled(d));
            if ready {
                let unit = self.waiting.remove(i);
                self.active.push(Active {
                    unit,
                    in_flight: false,
                    needs_flush: false,
                    committed: HashSet::new(),
                    stopped: false,
                    finished: false,
                });
                moved = true;
            } else {
                i += 1;
            }
        }
        moved
    }

    /// Unit `ui`'s next step: it finishes, fails (a loop's condition), or takes it.
    fn advance(&mut self, ui: usize, pool: &mut Pool) {
        let a = &mut self.active[ui];
        let next = if a.stopped {
            Ok(None)
        } else {
            a.unit.next(self.ctx.workflow, &self.ledger.outputs)
        };
        match next {
            Ok(Some(step)) => self.take_step(ui, step, pool),
            Ok(None) => self.finish_unit(ui),
            Err(e) => {
                let first = self.active[ui].unit.tasks[0].clone();
                self.fail(ui, &first, &e, FailureKind::Loop);
            }
        }
    }

    /// Runs `step` of unit `ui` on a worker, unless an earlier invocation committed it,
    /// it is skipped, or it fails before it runs.
    fn take_step(&mut self, ui: usize, step: Step, pool: &mut Pool) {
        let workflow = self.ctx.workflow;
        let Some(task) = workflow.task(&step.task) else {
            return;
        };
        let a = &mut self.active[ui];
        if a.unit.looped()
            && self
                .ctx
                .iterations_done
                .contains(&(step.task.clone(), step.iteration))
        {
            // Committed by an earlier invocation: the loop goes on after it.
            a.committed.insert(step.task.clone());
            return;
        }
        match prepare(
            workflow,
            task,
            &step,
            &self.ledger.known(),
            &self.ledger.failed,
        ) {
            Prepared::Run { task, runtime } => {
                self.ctx.progress.task_started(&task.id, &task.agent);
                self.active[ui].in_flight = true;
                pool.send(Job {
                    task: *task,
                    start: self.batch.durable_tip,
                    attempt: 0,
                    iteration: step.iteration,
                    unit: ui,
                    runtime,
                });
            }
            Prepared::Untriggered(why) => self.skip(ui, &task.id, &why),
            Prepared::ConditionFalse(why) if self.active[ui].unit.looped() => {
                // One iteration is skipped; the loop goes on.
                let why = format!("iteration {}: {why}", step.iteration);
                self.ctx.progress.task_skipped(&task.id, &why);
            }
            Prepared::ConditionFalse(why) => self.skip(ui, &task.id, &why),
            Prepared::Fails(e) => self.fail(ui, &task.id, &e, FailureKind::Task),
        }
    }

    /// A worker finished a step: commit it, retry it, or fail it.
    fn step_done(&mut self, done: JobDone, pool: &mut Pool) {
        let JobDone { job, result } = done;
        let ui = job.unit;
        let id = job.task.id.clone();
        match result {
            Ok((changes, output)) => {
                let commit = build_commit(
                    self.ctx,
                    self.repo,
                    self.batch.tip,
                    job.start,
                    &job.task,
                    job.iteration,
                    changes,
                    &output,
                );
                match commit {
                    Ok((tip, files)) => {
                        self.batch.committed(tip);
                        self.ctx.progress.task_done(&id, &tip.to_string(), files);
                        let a = &mut self.active[ui];
                        a.in_flight = false;
                        a.committed.insert(id.clone());
                        let last_step = !a.unit.looped();
                        if last_step {
                            a.finished = true;
                            self.batch.finished(id.clone());
                        } else {
                            a.needs_flush = true;
                        }
                        self.ledger.committed(&id, output.outputs, last_step);
                    }
                    Err(e) => self.fail(ui, &id, &e, FailureKind::Commit),
                }
            }
            Err(e) if job.attempt < job.task.retries => {
                self.ctx
                    .progress
                    .task_failed(&id, &format!("{e} (retrying)"));
                self.ctx.progress.task_started(&id, &job.task.agent);
                pool.send(Job {
                    start: self.batch.durable_tip,
                    attempt: job.attempt + 1,
                    ..job
                });
            }
            Err(e) => {
                self.active[ui].in_flight = false;
                if self.active[ui].unit.continue_on_error(self.ctx.workflow) {
                    self.ledger.iteration_failed(&id, job.iteration, &e);
                } else {
                    self.fail(ui, &id, &e, FailureKind::Task);
                }
            }
        }
    }

    /// The one way a failure is carried out: the unit stops, and the ledger decides
    /// what it does to the rest of the phase.
    fn fail(&mut self, ui: usize, task: &str, error: &str, kind: FailureKind) {
        let a = &mut self.active[ui];
        a.in_flight = false;
        a.stopped = true;
        a.finished = true;
        let consequence = self.ledger.task_failed(task, error, kind);
        if consequence == Consequence::DropDependents {
            let tasks = self.active[ui].unit.tasks.clone();
            drop_blocked(self.ctx.workflow, &mut self.waiting, &tasks);
        }
    }

    /// Records `task` of unit `ui` as skipped; a unit that does not loop is finished.
    fn skip(&mut self, ui: usize, task: &str, why: &str) {
        self.ledger.skip(task, why);
        let a = &mut self.active[ui];
        if !a.unit.looped() {
            a.finished = true;
        }
    }

    /// Unit `ui` has no more steps; a loop's tasks are finished with it.
    fn finish_unit(&mut self, ui: usize) {
        let a = &mut self.active[ui];
        a.finished = true;
        if a.unit.looped() {
            for t in self.ledger.loop_finished(&a.unit, &a.committed) {
                self.batch.finished(t);
            }
        }
    }

    /// The new tip, or why the phase failed.
    fn outcome(self) -> Result<Oid, PhaseFailure> {
        let tip = self.batch.tip;
        let failures = self.ledger.into_failures();
        if !failures.is_empty() {
            return Err(PhaseFailure::new(failures.join("\n")));
        }
        let not_started: Vec<&str> = self
            .waiting
            .iter()
            .chain(self.active.iter().filter(|a| !a.finished).map(|a| &a.unit))
            .flat_map(|u| u.tasks.iter().map(String::as_str))
            .collect();
        if !not_started.is_empty() {
            return Err(PhaseFailure::new(format!(
                "tasks {} could not start: a task they depend on failed",
                not_started.join(", ")
            )));
        }
        Ok(tip)
    }
}

/// The dependencies of a unit's tasks outside the unit.
fn unit_deps<'w>(workflow: &'w Workflow, unit: &'w Unit) -> impl Iterator<Item = &'w String> + 'w {
    unit.tasks
        .iter()
        .filter_map(|t| workflow.task(t))
        .flat_map(|t| t.dependencies.iter())
        .filter(|d| !unit.tasks.contains(d))
}

/// Drops the waiting units that depend, directly or not, on `failed` tasks.
fn drop_blocked(workflow: &Workflow, waiting: &mut Vec<Unit>, failed: &[String]) {
    let mut blocked: HashSet<String> = failed.iter().cloned().collect();
    loop {
        let before = blocked.len();
        for u in waiting.iter() {
            if unit_deps(workflow, u).any(|d| blocked.contains(d)) {
                blocked.extend(u.tasks.iter().cloned());
            }
        }
        if blocked.len() == before {
            break;
        }
    }
    waiting.retain(|u| !u.tasks.iter().any(|t| blocked.contains(t)))
}
