//! Runs one phase: tasks start as soon as their dependencies are committed, up to the
//! workflow's concurrency, each in its own isolated tree; finished tasks are applied
//! to the phase branch one at a time with a three-way merge and committed with their
//! trailers. The ref update (compare-and-swap) is the commit point, so a crash at any
//! moment leaves whole commits only, and the next invocation runs what is missing.
//!
//! Control flow ([`control`]) shapes what runs: tasks are grouped in units (a task, an
//! `iterative` task, a loop's body) whose steps run one after the other, each step one
//! commit (`Prflow-Iteration: N` when looped); a task whose condition is false, or a
//! handler nothing triggered, is skipped; a failure is handled by its `onFailure`
//! handlers or the workflow's `failurePolicy`.

use super::control::{self, Unit};
use super::merge::{self, Conflict};
use super::progress::Progress;
use super::runners::Runners;
use super::state::PhaseControl;
use crate::agents::{paths, AgentOutput, Feedback, FileChange, TaskRequest, TreeView};
use crate::gitops::{self, trailers, Repo};
use crate::workflow::{plan::PlannedPhase, vars, FailurePolicy, Task, Workflow};
use git2::Oid;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// How a phase ended: the new tip (or why it stopped), and what control flow decided
/// (kept whether or not the phase failed).
pub struct PhaseEnd {
    pub result: Result<Oid, PhaseFailure>,
    pub control: PhaseControl,
}

struct Job {
    task: Task,
    start: Oid,
    attempt: u32,
    /// 1-based iteration of a looped task; 0 otherwise.
    iteration: u32,
    /// The unit (index into the active units) the step belongs to.
    unit: usize,
    /// Run-time placeholders of this step (for hooks).
    runtime: Map<String, Value>,
}

struct JobDone {
    job: Job,
    result: Result<(Vec<FileChange>, AgentOutput), String>,
}

/// Reads the tree a task starts from.
struct GitTree<'r> {
    repo: &'r Repo,
    tree: Oid,
}

impl TreeView for GitTree<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.repo.read(self.tree, path)
    }
    fn list(&self, prefix: &str) -> Vec<String> {
        self.repo.list(self.tree, prefix)
    }
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
    /// The unit stopped (a failure): it takes no more steps.
    stopped: bool,
    finished: bool,
}

/// Runs the phase's remaining tasks; returns the new branch tip.
pub fn run_phase(ctx: PhaseRun<'_>) -> PhaseEnd {
    let mut control = ctx.control.clone();
    let result = run_units(&ctx, &mut control);
    PhaseEnd { result, control }
}

fn run_units(ctx: &PhaseRun<'_>, control: &mut PhaseControl) -> Result<Oid, PhaseFailure> {
    let repo = Repo::open(&ctx.repo_path).map_err(fail)?;
    let mut tip = repo
        .ref_target(&ctx.branch_ref)
        .ok_or_else(|| PhaseFailure {
            message: format!(
                "branch {} disappeared while the run was working",
                ctx.branch_ref
            ),
        })?;
    let workflow = ctx.workflow;
    let phase_tasks: HashSet<&str> = ctx.phase.tasks.iter().map(String::as_str).collect();
    let mut done = ctx.done.clone();
    done.extend(control.skipped.keys().cloned());
    done.extend(control.handled.keys().cloned());
    let mut outputs = ctx.outputs.clone();
    let mut skipped_all = ctx.skipped_before.clone();
    skipped_all.extend(control.skipped.clone());
    let pending: Vec<&Task> = ctx
        .phase
        .tasks
        .iter()
        .filter(|t| !done.contains(*t))
        .filter_map(|t| workflow.task(t))
        .collect();
    let mut waiting: Vec<Unit> = Unit::plan(workflow, &pending);
    let mut active: Vec<Active> = Vec::new();
    let concurrency = workflow.concurrency.max(1);
    let mut failures: Vec<String> = Vec::new();
    let policy = workflow.settings.failure_policy;
    let mut stop = false;
    // Failures waiting for their onFailure handlers: task → the tail of its error.
    let mut failed: HashMap<String, String> = HashMap::new();

    let odb = repo.git.odb().map_err(|e| fail(e.into()))?;
    let mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(|e| fail(e.into()))?;
    let mut durable_tip = tip;
    let mut durable = done.clone();

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<JobDone>();
    let workers = concurrency.min(waiting.len()).max(1);

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || {
                let Ok(repo) = Repo::open(&ctx.repo_path) else {
                    return;
                };
                loop {
                    let job = match job_rx.lock().unwrap().recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    if job.attempt > 0 {
                        // Retries back off as the workflow's retryPolicy says.
                        let policy = ctx.workflow.settings.retry_policy;
                        std::thread::sleep(policy.delay(job.attempt));
                    }
                    let result = execute(ctx, &repo, &job);
                    let _ = done_tx.send(JobDone { job, result });
                }
            });
        }
        drop(done_tx);

        let mut running = 0usize;
        // Whole commits are made in memory (a mempack) and written as one pack with one
        // ref update per batch: the ref update stays the commit point, so a crash loses
        // at most a batch of whole tasks, which the next run redoes.
        let mut unflushed: Vec<String> = Vec::new();
        let mut oldest_unflushed = Instant::now();
        loop {
            // A unit whose dependencies (or last step) are committed in memory only must
            // wait for a flush.
            let blocked_on_memory = running < concurrency
                && !stop
                && (active.iter().any(|a| a.needs_flush && !a.finished)
                    || waiting.iter().any(|u| {
                        let deps =
                            || unit_deps(workflow, u).filter(|d| phase_tasks.contains(d.as_str()));
                        deps().all(|d| done.contains(d) || failed.contains_key(d))
                            && !deps().all(|d| durable.contains(d) || failed.contains_key(d))
                    }));
            if tip != durable_tip
                && (blocked_on_memory
                    || running == 0
                    || unflushed.len() >= FLUSH_BATCH
                    || oldest_unflushed.elapsed() >= FLUSH_AFTER)
            {
                if let Err(e) = flush(ctx, &repo, &mempack, &mut durable_tip, tip) {
                    failures.push(e);
                    stop = true;
                    break;
                }
                durable.extend(unflushed.drain(..));
                for a in &mut active {
                    a.needs_flush = false;
                }
            } else if tip == durable_tip && !unflushed.is_empty() {
                durable.extend(unflushed.drain(..));
                for a in &mut active {
                    a.needs_flush = false;
                }
            }
            // Start what is ready, until nothing more moves.
            loop {
                let mut moved = false;
                if !stop {
                    let mut i = 0;
                    while i < waiting.len() {
                        let ready = unit_deps(workflow, &waiting[i]).all(|d| {
                            durable.contains(d)
                                || failed.contains_key(d)
                                || !phase_tasks.contains(d.as_str())
                        });
                        if ready {
                            let unit = waiting.remove(i);
                            active.push(Active {
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
                }
                for (ui, a) in active.iter_mut().enumerate() {
                    if running >= concurrency || stop {
                        break;
                    }
                    if a.finished || a.in_flight || a.needs_flush {
                        continue;
                    }
                    let step = if a.stopped {
                        Ok(None)
                    } else {
                        a.unit.next(workflow, &outputs)
                    };
                    let step = match step {
                        Ok(Some(step)) => step,
                        Ok(None) => {
                            finish_unit(
                                ctx,
                                a,
                                control,
                                &mut skipped_all,
                                &mut done,
                                &mut unflushed,
                            );
                            moved = true;
                            continue;
                        }
                        Err(e) => {
                            let first = a.unit.tasks[0].clone();
                            ctx.progress.task_failed(&first, &e);
                            failures.push(format!("task `{first}` failed: {e}"));
                            a.stopped = true;
                            a.finished = true;
                            if policy == FailurePolicy::FailFast {
                                stop = true;
                            } else {
                                let ids = a.unit.tasks.clone();
                                drop_blocked(workflow, &mut waiting, &ids);
                            }
                            moved = true;
                            continue;
                        }
                    };
                    moved = true;
                    let Some(task) = workflow.task(&step.task) else {
                        continue;
                    };
                    if a.unit.looped()
                        && ctx
                            .iterations_done
                            .contains(&(step.task.clone(), step.iteration))
                    {
                        // Committed by an earlier invocation: the loop goes on after it.
                        a.committed.insert(step.task.clone());
                        continue;
                    }
                    let committed = |id: &str| outputs.contains_key(id);
                    let trigger = if control::is_handler(workflow, &task.id) {
                        match control::trigger_of(workflow, &task.id, &committed, &failed) {
                            None => {
                                let why = format!(
                                    "a handler ({}) that nothing triggered",
                                    handler_of(workflow, &task.id)
                                );
                                skip(
                                    ctx,
                                    a,
                                    &task.id,
                                    &why,
                                    control,
                                    &mut skipped_all,
                                    &mut done,
                                    &mut durable,
                                );
                                continue;
                            }
                            Some(t) => t,
                        }
                    } else {
                        None
                    };
                    let known = control::Known {
                        outputs: &outputs,
                        skipped: &skipped_all,
                    };
                    let runtime =
                        control::runtime_values(workflow, task, &step, trigger.as_deref());
                    let mut prepared = task.clone();
                    prepared.input = vars::resolve_runtime(&prepared.input, &runtime);
                    let extra =
                        vars::resolve_runtime(&Value::Object(prepared.extra.clone()), &runtime);
                    if let Value::Object(extra) = extra {
                        prepared.extra = extra;
                    }
                    if let Value::String(n) =
                        vars::resolve_runtime(&Value::String(prepared.name.clone()), &runtime)
                    {
                        prepared.name = n;
                    }
                    if let Some(d) = &prepared.description {
                        if let Value::String(d) =
                            vars::resolve_runtime(&Value::String(d.clone()), &runtime)
                        {
                            prepared.description = Some(d);
                        }
                    }
                    match control::decide(workflow, &prepared, &known) {
                        Ok(control::Decision::Run) => {}
                        Ok(control::Decision::Skip(why)) => {
                            if a.unit.looped() {
                                ctx.progress.task_skipped(
                                    &task.id,
                                    &format!("iteration {}: {why}", step.iteration),
                                );
                            } else {
                                skip(
                                    ctx,
                                    a,
                                    &task.id,
                                    &why,
                                    control,
                                    &mut skipped_all,
                                    &mut done,
                                    &mut durable,
                                );
                            }
                            continue;
                        }
                        Err(e) => {
                            ctx.progress.task_failed(&task.id, &e);
                            let action = on_failure(
                                ctx,
                                a,
                                &task.id,
                                &e,
                                control,
                                &mut failed,
                                &mut done,
                                &mut durable,
                            );
                            match action {
                                FailureAction::Fail => {
                                    failures.push(format!("task `{}` failed: {e}", task.id));
                                    if policy == FailurePolicy::FailFast {
                                        stop = true;
                                    } else {
                                        let ids = a.unit.tasks.clone();
                                        drop_blocked(workflow, &mut waiting, &ids);
                                    }
                                }
                                FailureAction::Handled => {}
                            }
                            continue;
                        }
                    }
                    prepared.input = vars::resolve_outputs(&prepared.input, &outputs);
                    ctx.progress.task_started(&prepared.id, &prepared.agent);
                    a.in_flight = true;
                    let _ = job_tx.send(Job {
                        task: prepared,
                        start: durable_tip,
                        attempt: 0,
                        iteration: step.iteration,
                        unit: ui,
                        runtime,
                    });
                    running += 1;
                }
                if !moved {
                    break;
                }
            }
            if running == 0 {
                if tip != durable_tip || !unflushed.is_empty() {
                    continue;
                }
                break;
            }
            let wait = if tip == durable_tip {
                Duration::from_secs(3600)
            } else {
                FLUSH_AFTER.saturating_sub(oldest_unflushed.elapsed())
            };
            let finished = match done_rx.recv_timeout(wait) {
                Ok(f) => f,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            running -= 1;
            let job = finished.job;
            let id = job.task.id.clone();
            let ui = job.unit;
            match finished.result {
                Ok((changes, output)) => {
                    match build_commit(
                        ctx,
                        &repo,
                        tip,
                        job.start,
                        &job.task,
                        job.iteration,
                        changes,
                        &output,
                    ) {
                        Ok((new_tip, files)) => {
                            if tip == durable_tip {
                                oldest_unflushed = Instant::now();
                            }
                            tip = new_tip;
                            ctx.progress.task_done(&id, &tip.to_string(), files);
                            outputs.insert(id.clone(), output.outputs);
                            let a = &mut active[ui];
                            a.in_flight = false;
                            a.committed.insert(id.clone());
                            if a.unit.looped() {
                                a.needs_flush = true;
                            } else {
                                done.insert(id.clone());
                                unflushed.push(id.clone());
                                a.finished = true;
                            }
                            // A handler that succeeded may complete the handling of a failure.
                            settle_handled(
                                workflow,
                                &id,
                                &outputs,
                                &mut failed,
                                control,
                                &mut done,
                                &mut durable,
                            );
                        }
                        Err(e) => {
                            // A conflict or a refused path always stops the phase.
                            ctx.progress.task_failed(&id, &e);
                            failures.push(e);
                            active[ui].in_flight = false;
                            active[ui].stopped = true;
                            stop = true;
                        }
                    }
                }
                Err(e) if job.attempt < job.task.retries => {
                    ctx.progress.task_failed(&id, &format!("{e} (retrying)"));
                    ctx.progress.task_started(&id, &job.task.agent);
                    let _ = job_tx.send(Job {
                        start: durable_tip,
                        attempt: job.attempt + 1,
                        ..job
                    });
                    running += 1;
                }
                Err(e) => {
                    ctx.progress.task_failed(&id, &e);
                    let a = &mut active[ui];
                    a.in_flight = false;
                    if a.unit.continue_on_error(workflow) {
                        // The loop goes on with its next step; the failure is noted.
                        control.handled.insert(
                            id.clone(),
                            format!(
                                "iteration {} failed (continueOnError): {}",
                                job.iteration,
                                control::error_tail(&e)
                            ),
                        );
                        continue;
                    }
                    match on_failure(
                        ctx,
                        a,
                        &id,
                        &e,
                        control,
                        &mut failed,
                        &mut done,
                        &mut durable,
                    ) {
                        FailureAction::Handled => {}
                        FailureAction::Fail => {
                            failures.push(format!("task `{id}` failed: {e}"));
                            if policy == FailurePolicy::FailFast {
                                stop = true;
                            } else {
                                // failurePolicy: continue — keep running what does not need it.
                                let ids = a.unit.tasks.clone();
                                drop_blocked(workflow, &mut waiting, &ids);
                            }
                        }
                    }
                    // A handler that failed leaves the failure it handles unhandled.
                    unhandle(workflow, &id, &mut failed, &mut failures);
                }
            }
        }
        // Whatever was committed in memory is written before the phase reports.
        if tip != durable_tip {
            match flush(ctx, &repo, &mempack, &mut durable_tip, tip) {
                Ok(()) => durable.extend(unflushed.drain(..)),
                Err(e) => failures.push(e),
            }
        }
        drop(job_tx);
    });

    // Failures whose handlers never ran (the phase stopped first) stay failures.
    let mut left: Vec<_> = failed.into_iter().collect();
    left.sort();
    for (t, e) in left {
        failures.push(format!("task `{t}` failed: {e}"));
    }
    if !failures.is_empty() {
        return Err(PhaseFailure {
            message: failures.join("\n"),
        });
    }
    let not_started: Vec<&str> = waiting
        .iter()
        .flat_map(|u| u.tasks.iter().map(String::as_str))
        .chain(
            active
                .iter()
                .filter(|a| !a.finished)
                .flat_map(|a| a.unit.tasks.iter().map(String::as_str)),
        )
        .collect();
    if !not_started.is_empty() {
        return Err(PhaseFailure {
            message: format!(
                "tasks {} could not start: a task they depend on failed",
                not_started.join(", ")
            ),
        });
    }
    Ok(tip)
}

/// The dependencies of a unit's tasks outside the unit.
fn unit_deps<'w>(workflow: &'w Workflow, unit: &'w Unit) -> impl Iterator<Item = &'w String> + 'w {
    unit.tasks
        .iter()
        .filter_map(|t| workflow.task(t))
        .flat_map(|t| t.dependencies.iter())
        .filter(|d| !unit.tasks.contains(d))
}

/// "onSuccess of `a`", "onFailure of `b`" …: which tasks name `handler`.
fn handler_of(workflow: &Workflow, handler: &str) -> String {
    let mut names = Vec::new();
    for t in &workflow.tasks {
        if t.control.on_success.iter().any(|h| h == handler) {
            names.push(format!("onSuccess of `{}`", t.id));
        }
        if t.control.on_failure.iter().any(|h| h == handler) {
            names.push(format!("onFailure of `{}`", t.id));
        }
    }
    names.join(", ")
}

/// Records a task as skipped: finished for its dependents, no commit, no outputs.
#[allow(clippy::too_many_arguments)]
fn skip(
    ctx: &PhaseRun<'_>,
    a: &mut Active,
    task: &str,
    why: &str,
    control: &mut PhaseControl,
    skipped_all: &mut BTreeMap<String, String>,
    done: &mut HashSet<String>,
    durable: &mut HashSet<String>,
) {
    ctx.progress.task_skipped(task, why);
    control.skipped.insert(task.to_string(), why.to_string());
    skipped_all.insert(task.to_string(), why.to_string());
    done.insert(task.to_string());
    durable.insert(task.to_string());
    if !a.unit.looped() {
        a.finished = true;
    }
}

/// A unit with no more steps: its tasks are finished; a looped task that never
/// committed is recorded as skipped (or as handled when its iterations failed).
fn finish_unit(
    ctx: &PhaseRun<'_>,
    a: &mut Active,
    control: &mut PhaseControl,
    skipped_all: &mut BTreeMap<String, String>,
    done: &mut HashSet<String>,
    unflushed: &mut Vec<String>,
) {
    a.finished = true;
    if !a.unit.looped() {
        return;
    }
    for t in &a.unit.tasks {
        if a.committed.contains(t) {
            control.looped.insert(t.clone());
        } else if !control.handled.contains_key(t) {
            let why = a.unit.why_not_run(ctx.workflow);
            ctx.progress.task_skipped(t, &why);
            control.skipped.insert(t.clone(), why.clone());
            skipped_all.insert(t.clone(), why);
        }
        done.insert(t.clone());
        unflushed.push(t.clone());
    }
}

/// What a failure does to the phase.
enum FailureAction {
    /// It stops (or, with `continue`, fails the phase at the end).
    Fail,
    /// It is being handled (onFailure handlers will run), or ignored.
    Handled,
}

/// A task failed: its onFailure handlers (in this phase) get to handle it, or
/// `failurePolicy: ignore` lets the run go on; otherwise it is a failure.
#[allow(clippy::too_many_arguments)]
fn on_failure(
    ctx: &PhaseRun<'_>,
    a: &mut Active,
    task: &str,
    error: &str,
    control: &mut PhaseControl,
    failed: &mut HashMap<String, String>,
    done: &mut HashSet<String>,
    durable: &mut HashSet<String>,
) -> FailureAction {
    a.stopped = true;
    a.finished = true;
    let handlers = ctx
        .workflow
        .task(task)
        .map(|t| t.control.on_failure.clone())
        .unwrap_or_default();
    let here: HashSet<&str> = ctx.phase.tasks.iter().map(String::as_str).collect();
    if !handlers.is_empty() && handlers.iter().all(|h| here.contains(h.as_str())) {
        failed.insert(task.to_string(), control::error_tail(error));
        return FailureAction::Handled;
    }
    if ctx.workflow.settings.failure_policy == FailurePolicy::Ignore {
        control.handled.insert(
            task.to_string(),
            format!(
                "ignored (failurePolicy: ignore): {}",
                control::error_tail(error)
            ),
        );
        done.insert(task.to_string());
        durable.insert(task.to_string());
        return FailureAction::Handled;
    }
    FailureAction::Fail
}

/// After handler `handler` succeeded: a failure whose every onFailure handler has
/// now committed is handled — finished for its dependents, the phase goes on.
fn settle_handled(
    workflow: &Workflow,
    handler: &str,
    outputs: &HashMap<String, Map<String, Value>>,
    failed: &mut HashMap<String, String>,
    control: &mut PhaseControl,
    done: &mut HashSet<String>,
    durable: &mut HashSet<String>,
) {
    let settled: Vec<String> = failed
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
        if let Some(e) = failed.remove(&t) {
            control
                .handled
                .insert(t.clone(), format!("handled by onFailure: {e}"));
            done.insert(t.clone());
            durable.insert(t);
        }
    }
}

/// After handler `handler` failed: the failures it was handling are failures again.
fn unhandle(
    workflow: &Workflow,
    handler: &str,
    failed: &mut HashMap<String, String>,
    failures: &mut Vec<String>,
) {
    let lost: Vec<String> = failed
        .keys()
        .filter(|t| {
            workflow
                .task(t)
                .is_some_and(|t| t.control.on_failure.iter().any(|h| h == handler))
        })
        .cloned()
        .collect();
    for t in lost {
        if let Some(e) = failed.remove(&t) {
            failures.push(format!(
                "task `{t}` failed and its onFailure handler `{handler}` failed too: {e}"
            ));
        }
    }
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
    waiting.retain(|u| !u.tasks.iter().any(|t| blocked.contains(t)));
}

/// Runs one task in isolation (with the workflow's hooks around it) and returns the
/// files it changed.
fn execute(
    ctx: &PhaseRun<'_>,
    repo: &Repo,
    job: &Job,
) -> Result<(Vec<FileChange>, AgentOutput), String> {
    let workflow = ctx.workflow;
    let task = &*ctx.runners.assign(workflow, &job.task);
    let agent = workflow
        .agent(&task.agent)
        .ok_or_else(|| format!("agent `{}` is not in the workflow", task.agent))?;
    let runner = ctx.runners.for_task(workflow, task)?;
    let tree = repo.tree_of(job.start).map_err(|e| e.to_string())?;
    let view = GitTree { repo, tree };
    let hooks = (!ctx.skip_hooks && !workflow.hooks.is_empty()).then_some(&workflow.hooks);
    let workdir = if runner.needs_workdir() || hooks.is_some() {
        // A random name in prflow's private temp root: never the task id.
        let dir = crate::agents::sandbox::temp::dir("task")
            .map_err(|e| format!("cannot create the task's isolated tree: {e}"))?;
        repo.checkout_into(tree, dir.path())
            .map_err(|e| e.to_string())?;
        Some(dir)
    } else {
        None
    };
    let hook = |which: &str, cmd: &Option<String>, error: Option<&str>| -> Result<(), String> {
        match (cmd, &workdir) {
            (Some(cmd), Some(dir)) => {
                crate::agents::hooks::run(which, cmd, dir.path(), &job.runtime, error)
            }
            _ => Ok(()),
        }
    };
    if let Some(h) = hooks {
        hook("pre-task", &h.pre_task, None)?;
    }
    let req = TaskRequest {
        run_id: ctx.run_id,
        workflow,
        task,
        agent,
        phase: ctx.phase.index,
        feedback: ctx.feedback,
        base: &view,
        workdir: workdir
            .as_ref()
            .filter(|_| runner.needs_workdir())
            .map(|d| d.path()),
        output_dir: &workflow.output_dir,
    };
    let output = match runner.run(&req) {
        Ok(o) => o,
        Err(e) => {
            let e = e.to_string();
            if let Some(h) = hooks {
                // An on-error hook reports; it never changes the outcome.
                let _ = hook("on-error", &h.on_error, Some(&control::error_tail(&e)));
            }
            return Err(e);
        }
    };
    if let Some(h) = hooks {
        hook("post-task", &h.post_task, None)?;
    }
    let changes = match &workdir {
        Some(dir) => {
            let mut changes = repo
                .changes_in_dir(tree, dir.path())
                .map_err(|e| e.to_string())?;
            // A runner that answers in memory (templates) wins over what hooks wrote.
            for f in &output.files {
                changes.retain(|c| c.path != f.path);
                changes.push(f.clone());
            }
            changes
        }
        None => output.files.clone(),
    };
    Ok((changes, output))
}

/// Applies a task's changes onto the branch tip and makes its commit (one commit per
/// task); the ref moves when the batch is flushed.
#[allow(clippy::too_many_arguments)]
fn build_commit(
    ctx: &PhaseRun<'_>,
    repo: &Repo,
    tip: Oid,
    start: Oid,
    task: &Task,
    iteration: u32,
    changes: Vec<FileChange>,
    output: &AgentOutput,
) -> Result<(Oid, usize), String> {
    let mut checked = Vec::with_capacity(changes.len());
    for mut c in changes {
        let refused = |e: paths::PathError| {
            format!(
                "task `{}` wrote a path it may not write: {e}; nothing of it was committed",
                task.id
            )
        };
        c.path = paths::check(&c.path, &ctx.workflow.output_dir, false).map_err(refused)?;
        if let (true, Some(target)) = (c.symlink, &c.content) {
            paths::check_link(&c.path, target).map_err(refused)?;
        }
        checked.push(c);
    }
    let files = checked.len();
    let merged = merge::onto_tip(repo, ctx.run_id, start, tip, &checked).map_err(|e| match e {
        merge::Error::Conflict(Conflict { path, other_task }) => format!(
            "tasks `{}` and `{}` both changed `{path}` differently; the phase stopped and \
             the branch keeps only whole commits. Make one task depend on the other, or \
             have them write different files.",
            other_task
                .as_deref()
                .unwrap_or("(a commit not made by prflow)"),
            task.id
        ),
        merge::Error::Git(e) => e.to_string(),
    })?;
    let tip_tree = repo.tree_of(tip).map_err(|e| e.to_string())?;
    let tree = repo.apply(tip_tree, &merged).map_err(|e| e.to_string())?;
    let agent = ctx.workflow.agent(&task.agent);
    let author = gitops::agent_signature(&task.agent, agent.map(|a| a.name.as_str()).unwrap_or(""))
        .map_err(|e| e.to_string())?;
    let committer = gitops::prflow_signature().map_err(|e| e.to_string())?;
    let message = commit_message(ctx, task, iteration, output, files);
    let commit = repo
        .commit(tree, tip, &author, &committer, &message)
        .map_err(|e| e.to_string())?;
    Ok((commit, files))
}

/// Adds `new` and everything under it that differs from `old` to the pack.
fn insert_changed(
    repo: &Repo,
    pb: &mut git2::PackBuilder<'_>,
    old: Option<Oid>,
    new: Oid,
) -> Result<(), git2::Error> {
    if old == Some(new) {
        return Ok(());
    }
    pb.insert_object(new, None)?;
    let new_tree = repo.git.find_tree(new)?;
    let old_tree = match old {
        Some(o) => Some(repo.git.find_tree(o)?),
        None => None,
    };
    for entry in new_tree.iter() {
        let before = old_tree
            .as_ref()
            .and_then(|t| entry.name().and_then(|n| t.get_name(n)))
            .map(|e| (e.id(), e.kind()));
        if before.map(|(id, _)| id) == Some(entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                let old_sub = before
                    .filter(|(_, k)| *k == Some(git2::ObjectType::Tree))
                    .map(|(id, _)| id);
                insert_changed(repo, pb, old_sub, entry.id())?;
            }
            _ => pb.insert_object(entry.id(), None)?,
        }
    }
    Ok(())
}

/// Tasks committed in memory since the last flush, at most.
const FLUSH_BATCH: usize = 32;
/// How long a committed task may wait in memory before it is written.
const FLUSH_AFTER: Duration = Duration::from_millis(25);

/// Writes the in-memory objects as one pack and moves the branch from `durable` to
/// `tip` (compare-and-swap: the commit point of every task in the batch).
fn flush(
    ctx: &PhaseRun<'_>,
    repo: &Repo,
    mempack: &git2::Mempack<'_>,
    durable: &mut Oid,
    tip: Oid,
) -> Result<(), String> {
    if tip == *durable {
        return Ok(());
    }
    // Pack exactly the objects the batch created (commits, and the trees and blobs that
    // differ from each parent's): O(files changed), never a walk of the whole tree.
    let mut pb = repo.git.packbuilder().map_err(|e| e.to_string())?;
    pb.set_threads(1);
    let mut cur = tip;
    while cur != *durable {
        let commit = repo.git.find_commit(cur).map_err(|e| e.to_string())?;
        pb.insert_object(cur, None).map_err(|e| e.to_string())?;
        let parent = commit.parent(0).map_err(|e| e.to_string())?;
        insert_changed(repo, &mut pb, Some(parent.tree_id()), commit.tree_id())
            .map_err(|e| format!("cannot pack the phase's commits: {e}"))?;
        cur = parent.id();
    }
    let mut buf = git2::Buf::new();
    pb.write_buf(&mut buf)
        .map_err(|e| format!("cannot pack the phase's commits: {e}"))?;
    let odb = repo.git.odb().map_err(|e| e.to_string())?;
    let mut writer = odb.packwriter().map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut writer, &buf).map_err(|e| e.to_string())?;
    writer
        .commit()
        .map_err(|e| format!("cannot write the phase's commits: {e}"))?;
    mempack.reset().map_err(|e| e.to_string())?;
    repo.cas_ref(
        &ctx.branch_ref,
        tip,
        Some(*durable),
        "prflow: tasks committed",
    )
    .map_err(|_| {
        format!(
            "branch {} moved while prflow was committing to it; run the same command again \
                 (committed tasks are kept, the rest run again)",
            ctx.branch_ref
        )
    })?;
    *durable = tip;
    Ok(())
}

fn commit_message(
    ctx: &PhaseRun<'_>,
    task: &Task,
    iteration: u32,
    output: &AgentOutput,
    files: usize,
) -> String {
    let mut body = String::new();
    if let Some(d) = &task.description {
        body.push_str(d.trim());
        body.push_str("\n\n");
    }
    if let Some(s) = &output.summary {
        body.push_str(s.trim());
        body.push_str("\n\n");
    }
    if let Some(fb) = ctx.feedback {
        let reviewer = fb.reviewer.as_deref().unwrap_or("a reviewer");
        body.push_str(&format!("Revised after review by {reviewer}.\n\n"));
    }
    body.push_str(&format!("{files} file(s) changed."));
    let mut t: Vec<(&str, String)> = vec![
        (trailers::RUN, ctx.run_id.to_string()),
        (
            trailers::PHASE,
            format!("{:02}-{}", ctx.phase.index, ctx.phase.slug),
        ),
        (trailers::TASK, task.id.clone()),
        (trailers::AGENT, task.agent.clone()),
        (trailers::WORKFLOW, ctx.workflow_ref.clone()),
    ];
    if iteration > 0 {
        t.push((trailers::ITERATION, iteration.to_string()));
    }
    if let Some((n, review)) = ctx.revision {
        t.push((trailers::REVISION, n.to_string()));
        t.push((trailers::REVIEW, review.to_string()));
    }
    for (k, v) in &output.outputs {
        t.push((
            trailers::OUTPUT,
            format!("{k}={}", serde_json::to_string(v).unwrap_or_default()),
        ));
    }
    let subject = if iteration > 0 {
        format!("{} (iteration {iteration})", task.name)
    } else {
        task.name.clone()
    };
    trailers::format(&subject, Some(&body), &t)
}

fn fail(e: anyhow::Error) -> PhaseFailure {
    PhaseFailure {
        message: format!("{e:#}"),
    }
}
