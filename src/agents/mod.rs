//! Agents: what carries out a task. One trait, three kinds (template, command, llm).
//!
//! A runner gets a [`TaskRequest`] (the task with its input resolved, its agent, the
//! review feedback when revising, and a read-only view of the tree it starts from)
//! and answers with the files it wrote. The engine, not the runner, checks every
//! path and turns the answer into one commit, so no runner can write outside the
//! output root or skip the trailers.

pub mod command;
pub mod hooks;
pub mod llm;
pub mod paths;
pub mod sandbox;
pub mod template;

use crate::workflow::{Agent, Task, Workflow};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

/// Review feedback handed to agents when a phase is revised after "changes requested".
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Feedback {
    /// Who asked for the changes.
    pub reviewer: Option<String>,
    /// The review body.
    pub body: String,
    /// Inline review comments.
    pub comments: Vec<InlineComment>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct InlineComment {
    pub path: String,
    pub line: Option<u64>,
    pub body: String,
}

/// Read-only access to the tree a task starts from (the phase tip when it was scheduled).
pub trait TreeView {
    /// The bytes of a file, if it exists.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// Every file path under `prefix` (`""` for all), sorted.
    fn list(&self, prefix: &str) -> Vec<String>;
}

/// Everything a runner may know about the task it carries out.
pub struct TaskRequest<'a> {
    pub run_id: &'a str,
    pub workflow: &'a Workflow,
    /// The task with `${task.output.key}` references in its input already resolved.
    pub task: &'a Task,
    pub agent: &'a Agent,
    /// 1-based phase index.
    pub phase: usize,
    /// Present when the phase is being revised after a review.
    pub feedback: Option<&'a Feedback>,
    /// The tree the task starts from.
    pub base: &'a dyn TreeView,
    /// An isolated checkout of `base`, for runners that [`Runner::needs_workdir`].
    pub workdir: Option<&'a Path>,
    /// Root (relative to the repository) agents write under.
    pub output_dir: &'a str,
}

/// A file a runner wrote (relative to the repository root) or deleted (`content: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub content: Option<Vec<u8>>,
    pub executable: bool,
    /// A symbolic link (mode 120000) whose target is `content`; its target must stay
    /// inside the repository.
    pub symlink: bool,
}

/// What a runner produced.
#[derive(Debug, Clone, Default)]
pub struct AgentOutput {
    /// Files written in memory. Runners that change their workdir instead leave this
    /// empty; the engine reads the workdir.
    pub files: Vec<FileChange>,
    /// Values for the task's declared `output` keys, for later `${task.output.key}`.
    pub outputs: Map<String, Value>,
    /// One line for the commit body and the PR task table.
    pub summary: Option<String>,
}

/// Why a task failed, written for the person reading the run's output.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {0} s")]
    Timeout(u64),
    #[error("no runner can carry out this task: {0}")]
    Unservable(String),
}

/// One kind of agent.
pub trait Runner: Send + Sync {
    /// `template`, `command` or `llm`.
    fn kind(&self) -> &'static str;
    /// Does this runner need an isolated checkout of the base tree?
    fn needs_workdir(&self) -> bool;
    /// Can this runner, on this machine, carry out `task`? Called for every task
    /// before a run writes anything; the error names what is missing and what exists.
    fn check(&self, workflow: &Workflow, task: &Task) -> Result<(), String>;
    /// Carries out the task.
    fn run(&self, req: &TaskRequest<'_>) -> Result<AgentOutput, AgentError>;
}
