//! Running one task in isolation: a view of the tree it starts from (or a checkout
//! of it for runners that need a working directory, and for hooks), the workflow's
//! `pre-task`/`post-task`/`on-error` hooks around it, and the files it changed.

use super::workers::Job;
use super::PhaseRun;
use crate::agents::{AgentOutput, FileChange, TaskRequest, TreeView};
use crate::engine::control;
use crate::gitops::Repo;
use git2::Oid;

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

/// Runs one task in isolation (with the workflow's hooks around it) and returns the
/// files it changed.
pub(super) fn execute(
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
