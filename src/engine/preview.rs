//! `--dry-run`: what a run would do — phases, branches, PRs, and the unified diff of
//! every file each task would write — with nothing written anywhere. Template tasks
//! are rendered in memory over an overlay of the base tree; command tasks are not
//! run (running them is the side effect a dry run promises not to have).

use super::runners::Runners;
use crate::agents::{FileChange, TaskRequest, TreeView};
use crate::gitops::Repo;
use crate::workflow::{plan::Plan, vars, RunnerSpec, Workflow};
use anyhow::Result;
use git2::Oid;
use serde_json::{Map, Value};
use similar::TextDiff;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The base tree plus everything earlier tasks of the preview wrote.
struct Overlay<'r> {
    repo: &'r Repo,
    tree: Oid,
    files: BTreeMap<String, Option<Vec<u8>>>,
}

impl TreeView for Overlay<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.files.get(path) {
            Some(v) => v.clone(),
            None => self.repo.read(self.tree, path),
        }
    }
    fn list(&self, prefix: &str) -> Vec<String> {
        let mut all: Vec<String> = self
            .repo
            .list(self.tree, prefix)
            .into_iter()
            .filter(|p| !matches!(self.files.get(p), Some(None)))
            .collect();
        for (p, v) in &self.files {
            if v.is_some() && p.starts_with(prefix) && !all.contains(p) {
                all.push(p.clone());
            }
        }
        all.sort();
        all
    }
}

/// Renders the preview of a whole run as text.
pub fn preview(
    repo: &Repo,
    run_id: &str,
    base: Oid,
    base_name: &str,
    workflow: &Workflow,
    plan: &Plan,
    runners: &Runners,
) -> Result<String> {
    let mut out = String::new();
    let mut overlay = Overlay {
        repo,
        tree: repo.tree_of(base)?,
        files: BTreeMap::new(),
    };
    let mut outputs: HashMap<String, Map<String, Value>> = HashMap::new();
    writeln!(
        out,
        "dry run of `{}` (run {run_id}): nothing is written",
        workflow.name
    )?;
    let mut previous = base_name.to_string();
    for phase in &plan.phases {
        let branch = super::naming::branch_name(run_id, phase);
        writeln!(
            out,
            "\nphase {} `{}` → branch {branch}",
            phase.index, phase.name
        )?;
        writeln!(out, "  pull request: {branch} → {previous}")?;
        match &phase.checkpoint {
            Some(cp) => writeln!(out, "  waits for approval after checkpoint `{cp}`")?,
            None => writeln!(out, "  no checkpoint: the next phase follows at once")?,
        }
        for id in &phase.tasks {
            let Some(task) = workflow.task(id) else {
                continue;
            };
            let mut task = runners.assign(workflow, task).into_owned();
            task.input = vars::resolve_outputs(&task.input, &outputs);
            let Some(agent) = workflow.agent(&task.agent) else {
                continue;
            };
            writeln!(out, "\n  task `{id}` ({})", agent.id)?;
            match workflow.runner_for(&task) {
                RunnerSpec::Command { command, .. } => {
                    writeln!(
                        out,
                        "    would run {} in an isolated checkout; a dry run does not run commands",
                        serde_json::to_string(&command)?
                    )?;
                    continue;
                }
                RunnerSpec::Llm {
                    provider, model, ..
                } => {
                    writeln!(
                        out,
                        "    would ask {provider} model {model}; a dry run makes no calls"
                    )?;
                    continue;
                }
                RunnerSpec::Template { .. } => {}
            }
            let runner = match runners.for_task(workflow, &task) {
                Ok(r) => r,
                Err(e) => {
                    writeln!(out, "    cannot run here: {e}")?;
                    continue;
                }
            };
            let req = TaskRequest {
                run_id,
                workflow,
                task: &task,
                agent,
                phase: phase.index,
                feedback: None,
                base: &overlay,
                workdir: None,
                output_dir: &workflow.output_dir,
            };
            let result = match runner.run(&req) {
                Ok(r) => r,
                Err(e) => {
                    writeln!(out, "    would fail: {e}")?;
                    continue;
                }
            };
            for change in &result.files {
                if let Err(e) =
                    crate::agents::paths::check(&change.path, &workflow.output_dir, false)
                {
                    writeln!(out, "    would fail: {e}")?;
                    continue;
                }
                write_diff(&mut out, &overlay, change)?;
            }
            for change in result.files {
                overlay.files.insert(change.path, change.content);
            }
            outputs.insert(task.id.clone(), result.outputs);
        }
        previous = branch;
    }
    Ok(out)
}

fn write_diff(out: &mut String, overlay: &Overlay<'_>, change: &FileChange) -> Result<()> {
    let old = overlay.read(&change.path);
    let (old_text, new_text) = (
        old.as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default(),
        change
            .content
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default(),
    );
    let what = match (&old, &change.content) {
        (None, Some(_)) => "new file",
        (Some(_), None) => "deleted",
        _ => "changed",
    };
    writeln!(out, "    {what}: {}", change.path)?;
    if change.content.as_ref().is_some_and(|c| c.contains(&0)) {
        writeln!(out, "    (binary)")?;
        return Ok(());
    }
    let diff = TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{}", change.path), &format!("b/{}", change.path))
        .to_string();
    for line in unified.lines() {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}
