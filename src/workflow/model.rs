//! The normalized workflow: what every claude-flow dialect is parsed into.
//!
//! The parser (`parse/`) accepts every dialect seen in claude-flow's own examples
//! and produces these types; everything after parsing (planning, the engine, the
//! agents, the GitHub code) only ever sees this one shape. Keys prflow does not know
//! are kept in `extra` and handed to agents untouched.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parsed, validated workflow with `${name}` variables already substituted.
///
/// `${task-id.output.key}` references are left in place inside task inputs; the
/// engine resolves them at run time from the outputs of earlier tasks.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    /// `taskContext`: what every task's prompt starts from (claude-flow v3's dual-mode
    /// file gives its workers one shared context).
    pub context: Option<String>,
    /// Agents in file order.
    pub agents: Vec<Agent>,
    /// Tasks in file order. Ids are unique.
    pub tasks: Vec<Task>,
    /// Where the file lists its tasks: `/tasks`, or `/workers` in claude-flow v3's
    /// dual-mode file (task N is at `{tasks_at}/N`, for messages).
    pub tasks_at: &'static str,
    /// How many tasks of one phase may run at once (`sequential` = 1).
    pub concurrency: usize,
    /// Task ids after which the run waits for an approval, in file order.
    pub checkpoints: Vec<String>,
    /// prflow's explicit `phases`, when the file lists them.
    pub phases: Option<Vec<PhaseSpec>>,
    /// Quality gates: prflow's `gates` plus the built-in ones the `quality` flags ask for.
    pub gates: Vec<GateSpec>,
    pub quality: Quality,
    /// Logins or `org/team` slugs asked to review each checkpoint PR.
    pub reviewers: Vec<String>,
    /// May the person who started the run approve its checkpoints?
    pub allow_self_approval: bool,
    /// Events that start a run by themselves (`push`).
    pub on: Vec<String>,
    /// Root (relative to the repository) under which agents write.
    pub output_dir: String,
    pub settings: Settings,
    /// The variables after substitution, for agents and templates.
    pub variables: Map<String, Value>,
    /// Top-level keys prflow does not interpret (`orchestrator`, `memory`, …).
    pub extra: Map<String, Value>,
    /// Named conditions (`conditions[]`) that tasks refer to by id.
    pub conditions: Vec<Condition>,
    /// `loops[]`: task groups repeated per item or while a condition holds.
    pub loops: Vec<LoopSpec>,
    /// Shell commands run around every task (`hooks`, or `settings.hooks`).
    pub hooks: Hooks,
}

#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    /// claude-flow's `type` (architect, developer, tester …).
    #[serde(rename = "type")]
    pub kind: String,
    pub capabilities: Vec<String>,
    /// `runner` on the agent; `None` means the default template runner.
    pub runner: Option<RunnerSpec>,
    /// `config` / `configuration` and every other key, kept for agents.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Id of the one agent that does this task.
    pub agent: String,
    /// claude-flow's task `type` (design, development, testing …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Ids of tasks that must be done first (declared plus those implied by
    /// `${task.output.key}` references), deduplicated, in file order.
    pub dependencies: Vec<String>,
    /// The task input with `${name}` substituted; output references left in place.
    pub input: Value,
    /// Keys this task declares in `output` (object keys, or array items that are strings).
    pub output_keys: Vec<String>,
    /// The raw `output` value, for agents (artifacts lists and the like).
    pub output: Value,
    /// Overrides the agent's runner.
    pub runner: Option<RunnerSpec>,
    pub timeout_ms: Option<u64>,
    pub retries: u32,
    /// Normalized priority: higher runs first among ready tasks. Strings map
    /// critical=100, high=75, medium/normal=50, low=25.
    pub priority: i64,
    /// Every other key (`claudePrompt`, `tools`, `parallel` …), kept for agents.
    pub extra: Map<String, Value>,
    /// `condition`, `onSuccess`/`onFailure`, `iterative`.
    pub control: TaskControl,
}

/// When and how often a task runs, and what runs after it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskControl {
    /// A condition id (of `conditions[]`), a variable name, or an inline expression;
    /// `${t.output.k}` references in it are resolved before it is evaluated.
    pub condition: Option<String>,
    /// Tasks run after this one succeeds.
    pub on_success: Vec<String>,
    /// Tasks run after this one fails; when they succeed the failure is handled.
    pub on_failure: Vec<String>,
    /// `iterative: true`: the task runs `max_iterations` times, one commit each.
    pub iterative: bool,
    pub max_iterations: Option<u32>,
}

/// A named condition.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub id: String,
    pub expression: String,
    /// `javascript` or `simple`: both are evaluated as JavaScript expressions.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopKind {
    Foreach,
    While,
}

/// One `loops[]` entry.
#[derive(Debug, Clone, Serialize)]
pub struct LoopSpec {
    pub id: String,
    pub kind: LoopKind,
    /// foreach: the expression yielding the list (or `items`); while: the condition.
    pub condition: Option<String>,
    /// foreach: a literal list of items.
    pub items: Option<Vec<Value>>,
    /// The loop body, in order.
    pub tasks: Vec<String>,
    pub max_iterations: u32,
    pub continue_on_error: bool,
}

/// Shell commands run in the task's checkout: before the runner, after it, and
/// when it failed (`${task.id}`, `${task.name}`, `${error.message}` filled in).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hooks {
    pub pre_task: Option<String>,
    pub post_task: Option<String>,
    pub on_error: Option<String>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.pre_task.is_none() && self.post_task.is_none() && self.on_error.is_none()
    }
}

/// How an agent (or a task) is carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerSpec {
    /// Render a template pack; `pack` pins one by name, else packs are matched.
    Template { pack: Option<String> },
    /// Run a CLI in the task's isolated tree.
    Command {
        /// `sh -c STRING` when given as a string, else the argv itself.
        command: CommandLine,
        timeout_s: Option<u64>,
        env: BTreeMap<String, String>,
    },
    /// An OpenAI-compatible or Anthropic chat endpoint.
    Llm {
        provider: String,
        model: String,
        base_url: Option<String>,
        api_key_env: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseSpec {
    pub name: String,
    pub tasks: Vec<String>,
    pub checkpoint: bool,
}

/// A quality gate, run on every phase head and reported as `prflow/<name>`.
#[derive(Debug, Clone, Serialize)]
pub struct GateSpec {
    pub name: String,
    /// A shell command for command gates; `None` for built-in gates.
    pub run: Option<String>,
    /// Only run when the phase changed something under these paths (empty = always).
    pub paths: Vec<String>,
    /// Must pass before an approval continues the run.
    pub required: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Quality {
    pub code_review: bool,
    pub security_scan: bool,
    pub performance: Option<PerformanceThreshold>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PerformanceThreshold {
    /// p95 response time, milliseconds.
    pub response_time_ms: u64,
    /// Requests per second.
    pub throughput: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// Default task timeout (claude-flow writes milliseconds).
    pub timeout_ms: Option<u64>,
    pub failure_policy: FailurePolicy,
    /// `retryPolicy`: how long to wait between a task's retries.
    pub retry_policy: RetryPolicy,
    /// `settings.runner`: the runner of tasks that nothing else serves.
    pub runner: Option<RunnerSpec>,
}

/// Waits between retries: `fixed` 1 s, `linear` N s, `exponential` 2^(N-1) s (capped at 60 s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryPolicy {
    #[default]
    Exponential,
    Linear,
    Fixed,
    Immediate,
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (1 = the first retry).
    pub fn delay(self, retry: u32) -> std::time::Duration {
        let secs = match self {
            RetryPolicy::Immediate => 0,
            RetryPolicy::Fixed => 1,
            RetryPolicy::Linear => u64::from(retry),
            RetryPolicy::Exponential => 1u64 << retry.saturating_sub(1).min(6),
        };
        std::time::Duration::from_secs(secs.min(60))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    #[default]
    FailFast,
    /// Independent tasks go on; the phase reports its failures at the end.
    Continue,
    /// Failures are recorded and the run goes on as if the task had been skipped.
    Ignore,
}

impl Workflow {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// The runner that carries out `task`: the task's own, else its agent's, else the
    /// workflow's default (`settings.runner`), else templates.
    pub fn runner_for(&self, task: &Task) -> RunnerSpec {
        task.runner
            .clone()
            .or_else(|| self.agent(&task.agent).and_then(|a| a.runner.clone()))
            .or_else(|| self.settings.runner.clone())
            .unwrap_or(RunnerSpec::Template { pack: None })
    }
}
