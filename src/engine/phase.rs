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
        loop {
            // Start every ready task while there is room.
            while running < concurrency && !stop {
                let Some(pos) = pending.iter().position(|t| {
                    t.dependencies
                        .iter()
                        .all(|d| done.contains(d) || !phase_tasks.contains(d.as_str()))
                }) else {
                    break;
                };
                let task = pending.remove(pos);
                let mut task = task.clone();
                task.input = vars::resolve_outputs(&task.input, &outputs);
                ctx.progress.task_started(&task.id, &task.agent);
                let _ = job_tx.send(Job {
                    task,
                    start: tip,
                    attempt: 0,
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok(finished) = done_rx.recv() else { break };
            running -= 1;
            let id = finished.task.id.clone();
            match finished.result {
                Ok((changes, output)) => {
                    match commit_task(
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
                            done.insert(id);
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
                        start: tip,
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
        let dir = tempfile::Builder::new()
            .prefix(&format!("prflow-{}-", task.id))
            .tempdir()
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

/// Applies a task's changes onto the branch tip and commits it (one commit per task).
fn commit_task(
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
        c.path = paths::check(&c.path, &ctx.workflow.output_dir, false).map_err(|e| {
            format!(
                "task `{}` wrote a path it may not write: {e}; nothing of it was committed",
                task.id
            )
        })?;
        checked.push(c);
    }
    let files = checked.len();
    let mut tip = tip;
    // The branch may move under us (a person pushing); retry on a fresh tip.
    for _ in 0..3 {
        let merged =
            merge::onto_tip(repo, ctx.run_id, start, tip, &checked).map_err(|e| match e {
                merge::Error::Conflict(Conflict { path, other_task }) => {
                    format!(
                    "tasks `{}` and `{}` both changed `{path}` differently; the phase stopped and \
                     the branch keeps only whole commits. Make one task depend on the other, or \
                     have them write different files.",
                    other_task.as_deref().unwrap_or("(a commit not made by prflow)"),
                    task.id
                )
                }
                merge::Error::Git(e) => e.to_string(),
            })?;
        let tip_tree = repo.tree_of(tip).map_err(|e| e.to_string())?;
        let tree = repo.apply(tip_tree, &merged).map_err(|e| e.to_string())?;
        let agent = ctx.workflow.agent(&task.agent);
        let author =
            gitops::agent_signature(&task.agent, agent.map(|a| a.name.as_str()).unwrap_or(""))
                .map_err(|e| e.to_string())?;
        let committer = gitops::prflow_signature().map_err(|e| e.to_string())?;
        let message = commit_message(ctx, task, output, files);
        let commit = repo
            .commit(tree, tip, &author, &committer, &message)
            .map_err(|e| e.to_string())?;
        match repo.cas_ref(
            &ctx.branch_ref,
            commit,
            Some(tip),
            &format!("prflow: task {}", task.id),
        ) {
            Ok(()) => return Ok((commit, files)),
            Err(_) => {
                tip = repo.ref_target(&ctx.branch_ref).ok_or_else(|| {
                    format!("branch {} was deleted during the run", ctx.branch_ref)
                })?;
            }
        }
    }
    Err(format!(
        "branch {} kept moving while task `{}` was being committed",
        ctx.branch_ref, task.id
    ))
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
