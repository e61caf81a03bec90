//! A finished task as one commit on the branch tip: every path it wrote checked, its
//! changes merged three-way onto what the phase committed since the task started, and
//! the commit message with its trailers (the run's contract, `docs/architecture.md`).

use super::PhaseRun;
use crate::agents::{paths, AgentOutput, FileChange};
use crate::engine::merge::{self, Conflict};
use crate::gitops::{self, trailers, Repo};
use crate::workflow::Task;
use git2::Oid;

/// Applies a task's changes onto the branch tip and makes its commit (one commit per
/// task); the ref moves when the batch is flushed.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_commit(
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

/// The commit message: what the task is and said, then its trailers.
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
