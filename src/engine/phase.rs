//! Runs one phase: tasks start as soon as their dependencies are committed, up to the
//! workflow's concurrency, each in its own isolated tree; finished tasks are applied
//! to the phase branch one at a time with a three-way merge and committed with their
//! trailers. The ref update (compare-and-swap) is the commit point, so a crash at any
//! moment leaves whole commits only, and the next invocation runs what is missing.

use super::merge::{self, Conflict};
use super::progress::Progress;
use super::runners::Runners;
use crate::agents::{paths, AgentOutput, Feedback, FileChange, TaskRequest, TreeView};
use crate::gitops::{self, trailers, Repo};
use crate::workflow::{plan::PlannedPhase, vars, Task, Workflow};
use git2::Oid;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
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

struct Job {
    task: Task,
    start: Oid,
    attempt: u32,
}

struct JobDone {
    task: Task,
    start: Oid,
    attempt: u32,
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

/// Runs the phase's remaining tasks; returns the new branch tip.
pub fn run_phase(ctx: PhaseRun<'_>) -> Result<Oid, PhaseFailure> {
    let repo = Repo::open(&ctx.repo_path).map_err(fail)?;
    let mut tip = repo
        .ref_target(&ctx.branch_ref)
        .ok_or_else(|| PhaseFailure {
            message: format!(
                "branch {} disappeared while the run was working",
                ctx.branch_ref
            ),
        })?;
    let phase_tasks: HashSet<&str> = ctx.phase.tasks.iter().map(String::as_str).collect();
    let mut done = ctx.done.clone();
    let mut outputs = ctx.outputs.clone();
    let mut pending: Vec<&Task> = ctx
        .phase
        .tasks
        .iter()
        .filter(|t| !done.contains(*t))
        .filter_map(|t| ctx.workflow.task(t))
        .collect();
    let concurrency = ctx.workflow.concurrency.max(1);
    let mut failures: Vec<String> = Vec::new();
    let fail_fast =
        ctx.workflow.settings.failure_policy == crate::workflow::FailurePolicy::FailFast;
    let mut stop = false;

    let odb = repo.git.odb().map_err(|e| fail(e.into()))?;
    let mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(|e| fail(e.into()))?;
    let mut durable_tip = tip;
    let mut durable = done.clone();

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<JobDone>();
    let workers = concurrency.min(pending.len()).max(1);

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            let ctx = &ctx;
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
                    let _ = done_tx.send(JobDone {
                        task: job.task,
                        start: job.start,
                        attempt: job.attempt,
                        result,
                    });
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
            // A task whose dependency is committed in memory only must wait for a flush.
            let blocked_on_memory = running < concurrency
                && !stop
                && pending.iter().any(|t| {
                    let deps = || {
                        t.dependencies
                            .iter()
                            .filter(|d| phase_tasks.contains(d.as_str()))
                    };
                    deps().all(|d| done.contains(d)) && !deps().all(|d| durable.contains(d))
                });
            if !unflushed.is_empty()
                && (blocked_on_memory
                    || running == 0
                    || unflushed.len() >= FLUSH_BATCH
                    || oldest_unflushed.elapsed() >= FLUSH_AFTER)
            {
                if let Err(e) = flush(&ctx, &repo, &mempack, &mut durable_tip, tip) {
                    failures.push(e);
                    stop = true;
                    break;
                }
                durable.extend(unflushed.drain(..));
            }
            // Start every ready task while there is room.
            while running < concurrency && !stop {
                let Some(pos) = pending.iter().position(|t| {
                    t.dependencies
                        .iter()
                        .all(|d| durable.contains(d) || !phase_tasks.contains(d.as_str()))
                }) else {
                    break;
                };
                let task = pending.remove(pos);
                let mut task = task.clone();
                task.input = vars::resolve_outputs(&task.input, &outputs);
                ctx.progress.task_started(&task.id, &task.agent);
                let _ = job_tx.send(Job {
                    task,
                    start: durable_tip,
                    attempt: 0,
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let wait = if unflushed.is_empty() {
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
            let id = finished.task.id.clone();
            match finished.result {
                Ok((changes, output)) => {
                    match build_commit(
                        &ctx,
                        &repo,
                        tip,
                        finished.start,
                        &finished.task,
                        changes,
                        &output,
                    ) {
                        Ok((new_tip, files)) => {
                            tip = new_tip;
                            ctx.progress.task_done(&id, &tip.to_string(), files);
                            outputs.insert(id.clone(), output.outputs);
                            done.insert(id.clone());
                            if unflushed.is_empty() {
                                oldest_unflushed = Instant::now();
                            }
                            unflushed.push(id);
                        }
                        Err(e) => {
                            // A conflict or a refused path always stops the phase.
                            ctx.progress.task_failed(&id, &e);
                            failures.push(e);
                            stop = true;
                        }
                    }
                }
                Err(e) if finished.attempt < finished.task.retries => {
                    ctx.progress.task_failed(&id, &format!("{e} (retrying)"));
                    ctx.progress.task_started(&id, &finished.task.agent);
                    let _ = job_tx.send(Job {
                        task: finished.task,
                        start: durable_tip,
                        attempt: finished.attempt + 1,
                    });
                    running += 1;
                }
                Err(e) => {
                    ctx.progress.task_failed(&id, &e);
                    failures.push(format!("task `{id}` failed: {e}"));
                    if fail_fast {
                        stop = true;
                    } else {
                        // failurePolicy: continue — keep running what does not need it.
                        let blocked = blocked_by(&pending, &id);
                        pending.retain(|t| !blocked.contains(&t.id));
                    }
                }
            }
        }
        // Whatever was committed in memory is written before the phase reports.
        if !unflushed.is_empty() {
            match flush(&ctx, &repo, &mempack, &mut durable_tip, tip) {
                Ok(()) => durable.extend(unflushed.drain(..)),
                Err(e) => failures.push(e),
            }
        }
        drop(job_tx);
    });

    if !failures.is_empty() {
        return Err(PhaseFailure {
            message: failures.join("\n"),
        });
    }
    if !pending.is_empty() {
        let ids: Vec<&str> = pending.iter().map(|t| t.id.as_str()).collect();
        return Err(PhaseFailure {
            message: format!(
                "tasks {} could not start: a task they depend on failed",
                ids.join(", ")
            ),
        });
    }
    Ok(tip)
}

/// Tasks in `pending` that depend, directly or not, on `failed`.
fn blocked_by(pending: &[&Task], failed: &str) -> HashSet<String> {
    let mut blocked: HashSet<String> = HashSet::from([failed.to_string()]);
    loop {
        let before = blocked.len();
        for t in pending {
            if t.dependencies.iter().any(|d| blocked.contains(d)) {
                blocked.insert(t.id.clone());
            }
        }
        if blocked.len() == before {
            break;
        }
    }
    blocked.remove(failed);
    blocked
}

/// Runs one task in isolation and returns the files it changed.
fn execute(
    ctx: &PhaseRun<'_>,
    repo: &Repo,
    job: &Job,
) -> Result<(Vec<FileChange>, AgentOutput), String> {
    let workflow = ctx.workflow;
    let task = &job.task;
    let agent = workflow
        .agent(&task.agent)
        .ok_or_else(|| format!("agent `{}` is not in the workflow", task.agent))?;
    let runner = ctx.runners.for_task(workflow, task)?;
    let tree = repo.tree_of(job.start).map_err(|e| e.to_string())?;
    let view = GitTree { repo, tree };
    let workdir = if runner.needs_workdir() {
        // A random name in prflow's private temp root: never the task id.
        let dir = crate::agents::sandbox::temp::dir("task")
            .map_err(|e| format!("cannot create the task's isolated tree: {e}"))?;
        repo.checkout_into(tree, dir.path())
            .map_err(|e| e.to_string())?;
        Some(dir)
    } else {
        None
    };
    let req = TaskRequest {
        run_id: ctx.run_id,
        workflow,
        task,
        agent,
        phase: ctx.phase.index,
        feedback: ctx.feedback,
        base: &view,
        workdir: workdir.as_ref().map(|d| d.path()),
        output_dir: &workflow.output_dir,
    };
    let output = runner.run(&req).map_err(|e| e.to_string())?;
    let changes = match &workdir {
        Some(dir) => repo
            .changes_in_dir(tree, dir.path())
            .map_err(|e| e.to_string())?,
        None => output.files.clone(),
    };
    Ok((changes, output))
}

/// Applies a task's changes onto the branch tip and makes its commit (one commit per
/// task); the ref moves when the batch is flushed.
fn build_commit(
    ctx: &PhaseRun<'_>,
    repo: &Repo,
    tip: Oid,
    start: Oid,
    task: &Task,
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
    let message = commit_message(ctx, task, output, files);
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

fn commit_message(ctx: &PhaseRun<'_>, task: &Task, output: &AgentOutput, files: usize) -> String {
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
    trailers::format(&task.name, Some(&body), &t)
}

fn fail(e: anyhow::Error) -> PhaseFailure {
    PhaseFailure {
        message: format!("{e:#}"),
    }
}
