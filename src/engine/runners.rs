//! Which runner carries out which task, and the check that every task can be served
//! before a run writes anything.

use crate::agents::command::CommandRunner;
use crate::agents::llm::LlmRunner;
use crate::agents::template::TemplateRunner;
use crate::agents::Runner;
use crate::workflow::{RunnerSpec, Task, Workflow};
use anyhow::Result;
use std::borrow::Cow;
use std::path::Path;

/// The runners available on this machine.
pub struct Runners {
    /// Template packs load once, when the first task needs them; a broken pack then
    /// fails the tasks that need templates, not workflows that only run commands.
    template: Result<TemplateRunner, String>,
    command: CommandRunner,
    llm: LlmRunner,
    /// The runner given outside the workflow (`--runner`, the Action's `runner`,
    /// `PRFLOW_DEFAULT_RUNNER`) for tasks nothing else serves.
    default: Option<RunnerSpec>,
}

/// A task no runner here can carry out, and why.
#[derive(Debug, Clone)]
pub struct Unservable {
    pub task: String,
    pub reason: String,
    /// The template pack for the task refuses one of its input values (a framework,
    /// database or feature it does not generate): wrong on any machine, so `validate`
    /// reports it as an error. Otherwise the task only lacks a runner here.
    pub refused: bool,
}

impl std::fmt::Display for Unservable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.refused {
            // The reason names the task and what the pack supports.
            f.write_str(&self.reason)
        } else {
            write!(f, "task `{}` cannot run here: {}", self.task, self.reason)
        }
    }
}

impl Runners {
    /// Embedded template packs plus the repository's own `.prflow/templates/`.
    pub fn new(repo_root: &Path) -> Result<Runners> {
        let packs = repo_root.join(".prflow/templates");
        let template = TemplateRunner::new(packs.is_dir().then_some(packs.as_path()))
            .map_err(|e| format!("{e:#}"));
        Ok(Runners {
            template,
            command: CommandRunner,
            llm: LlmRunner,
            default: None,
        })
    }

    /// Sets the default runner: it serves the tasks whose task, agent and
    /// `settings.runner` name no runner and that no template pack serves.
    pub fn with_default(mut self, default: Option<RunnerSpec>) -> Runners {
        self.default = default;
        self
    }

    /// `task` as it runs here: with the default runner as its own when it falls
    /// through to templates and no template pack serves it. Precedence (first wins):
    /// the task's `runner`, its agent's, `settings.runner`, a template pack that
    /// matches, the default runner.
    pub fn assign<'t>(&self, workflow: &Workflow, task: &'t Task) -> Cow<'t, Task> {
        let Some(default) = &self.default else {
            return Cow::Borrowed(task);
        };
        let named = task.runner.is_some()
            || workflow.settings.runner.is_some()
            || workflow
                .agent(&task.agent)
                .is_some_and(|a| a.runner.is_some());
        let templates_serve = self
            .template
            .as_ref()
            .is_ok_and(|t| t.check(workflow, task).is_ok());
        if named || templates_serve {
            return Cow::Borrowed(task);
        }
        let mut t = task.clone();
        t.runner = Some(default.clone());
        Cow::Owned(t)
    }

    /// The runner for `task`, or why there is none.
    pub fn for_task(&self, workflow: &Workflow, task: &Task) -> Result<&dyn Runner, String> {
        match workflow.runner_for(task) {
            RunnerSpec::Template { .. } => match &self.template {
                Ok(t) => Ok(t),
                Err(e) => Err(format!("the template packs could not be loaded: {e}")),
            },
            RunnerSpec::Command { .. } => Ok(&self.command),
            RunnerSpec::Llm { .. } => Ok(&self.llm),
        }
    }

    /// Names of the template packs available, for messages.
    pub fn pack_names(&self) -> Vec<String> {
        match &self.template {
            Ok(t) => t.packs().iter().map(|p| p.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether `task` goes to the template packs and the one chosen refuses an input value.
    fn refuses(&self, workflow: &Workflow, task: &Task) -> bool {
        matches!(workflow.runner_for(task), RunnerSpec::Template { .. })
            && self
                .template
                .as_ref()
                .is_ok_and(|t| t.refusal(workflow, task).is_some())
    }

    /// Every task (of `only`, or all) that no runner can serve on this machine.
    pub fn check_all(&self, workflow: &Workflow, only: Option<&[String]>) -> Vec<Unservable> {
        workflow
            .tasks
            .iter()
            .filter(|t| only.is_none_or(|ids| ids.contains(&t.id)))
            .filter_map(|t| {
                let t = self.assign(workflow, t);
                let result = self
                    .for_task(workflow, &t)
                    .and_then(|r| r.check(workflow, &t));
                result.err().map(|reason| Unservable {
                    task: t.id.clone(),
                    reason,
                    refused: self.refuses(workflow, &t),
                })
            })
            .collect()
    }
}
