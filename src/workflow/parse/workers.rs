//! claude-flow v3's dual-mode file: `{taskContext, workers[…]}`.
//!
//! claude-flow's dual-mode orchestrator (`@claude-flow/codex`, `ruflo dual run --config
//! workers.json`) runs each worker as a headless coding-agent CLI: `claude -p PROMPT` or
//! `codex exec PROMPT`, after the workers it `dependsOn`. prflow reads the same file with
//! the same meaning: each worker is a task done by an agent of its own, whose runner is
//! that CLI run as a `command` runner in the task's checkout, so each worker becomes one
//! commit. `taskContext` is the workflow's shared context, which every prompt carries.

use super::{ids_with_pointers, object_id, opt_bool, opt_count_at_most, opt_string, unit_timeout};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::{child, index};
use crate::workflow::model::{Agent, CommandLine, RunnerSpec, Task, TaskControl};
use crate::workflow::validate::{AgentSrc, Dep, TaskSrc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The coding-agent CLIs a worker's `platform` names.
pub const PLATFORMS: &[&str] = &["claude", "codex"];

/// The most turns a worker may ask of `claude --max-turns`.
const MAX_TURNS: u64 = 1000;

/// The workers as agents and tasks, with where each came from.
#[derive(Default)]
pub(super) struct Workers {
    pub agents: Vec<Agent>,
    pub agent_src: Vec<AgentSrc>,
    pub tasks: Vec<Task>,
    pub task_src: Vec<TaskSrc>,
}

pub(super) fn workers(v: Option<&Value>, r: &mut Report) -> Workers {
    let mut out = Workers::default();
    let items = match v {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            r.error("/workers", "the file has no workers: add at least one to `workers`, e.g. {\"id\": \"coder\", \"platform\": \"codex\", \"role\": \"coder\", \"prompt\": \"…\"}");
            return out;
        }
        _ => {
            r.error(
                "/workers",
                "`workers` is a list of workers, each with an `id`, a `platform` (claude or codex) and a `prompt`",
            );
            return out;
        }
    };
    for (i, item) in items.iter().enumerate() {
        if let Some((agent, task, deps)) = worker(i, item, r) {
            let at = index("/workers", i);
            out.agent_src.push(AgentSrc {
                pointer: at.clone(),
                assigned: Vec::new(),
            });
            out.task_src.push(TaskSrc {
                agent_pointer: Some(child(&at, "platform")),
                pointer: at,
                index: i,
                deps,
            });
            out.agents.push(agent);
            out.tasks.push(task);
        }
    }
    out
}

fn worker(i: usize, item: &Value, r: &mut Report) -> Option<(Agent, Task, Vec<Dep>)> {
    let at = index("/workers", i);
    let Value::Object(obj) = item else {
        r.error(
            &at,
            "each worker is an object with an `id`, a `platform` (claude or codex) and a `prompt`",
        );
        return None;
    };
    let why = "(`dependsOn` and commits name workers by id)";
    let id = object_id(obj, &at, "worker", keys::WORKER, why, r)?;
    let platform = platform(obj, &id, &at, r);
    let prompt = match obj.get("prompt") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            r.error(&child(&at, "prompt"), format!("worker `{id}`'s `prompt` must be a non-empty string: what the {} CLI is asked to do", platform.unwrap_or("coding-agent")));
            None
        }
        None => {
            r.error(&at, format!("worker `{id}` has no `prompt`: add \"prompt\": \"…\", what its CLI is asked to do"));
            None
        }
    };
    let role = opt_string(obj, "role", &at, r).unwrap_or_else(|| id.clone());
    let model = opt_string(obj, "model", &at, r);
    let max_turns = opt_count_at_most(
        obj,
        "maxTurns",
        &at,
        "a whole number of turns, e.g. 10",
        MAX_TURNS,
        r,
    );
    let timeout_ms = unit_timeout(obj, &at, r);
    let read_only = opt_bool(obj, "readOnly", &at, r).unwrap_or(false);
    let deps: Vec<Dep> = ids_with_pointers(
        obj.get("dependsOn"),
        &child(&at, "dependsOn"),
        "`dependsOn`",
        r,
    )
    .into_iter()
    .map(|(dep, pointer)| Dep {
        id: dep,
        pointer,
        implied_by: None,
    })
    .collect();
    let (platform, prompt) = (platform?, prompt?);
    let command = command_line(platform, model.as_deref(), max_turns, read_only);
    let runner = RunnerSpec::Command {
        command: CommandLine::Shell(command),
        timeout_s: None,
        env: BTreeMap::new(),
    };
    let mut extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !["id", "role", "prompt", "dependsOn", "timeout"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    extra.insert("platform".into(), Value::String(platform.into()));
    let agent = Agent {
        id: id.clone(),
        name: role.clone(),
        kind: role.clone(),
        capabilities: Vec::new(),
        runner: Some(runner),
        extra: Map::new(),
    };
    let task = Task {
        id: id.clone(),
        name: role,
        description: Some(prompt),
        agent: id,
        kind: None,
        dependencies: Vec::new(),
        input: Value::Object(Map::new()),
        output_keys: Vec::new(),
        output: Value::Null,
        runner: None,
        timeout_ms,
        retries: 0,
        priority: 50,
        extra,
        control: TaskControl::default(),
    };
    Some((agent, task, deps))
}

fn platform(obj: &Map<String, Value>, id: &str, at: &str, r: &mut Report) -> Option<&'static str> {
    let p = child(at, "platform");
    match obj.get("platform") {
        Some(Value::String(s)) => match PLATFORMS.iter().find(|k| **k == s.as_str()) {
            Some(k) => Some(k),
            None => {
                r.error(
                    &p,
                    format!(
                        "worker `{id}` has platform \"{s}\"{}: a worker runs on \"claude\" (claude -p) or \"codex\" (codex exec)",
                        keys::suggestion(s, PLATFORMS.iter().copied())
                    ),
                );
                None
            }
        },
        Some(_) => {
            r.error(&p, "`platform` is \"claude\" or \"codex\"");
            None
        }
        None => {
            r.error(at, format!("worker `{id}` has no `platform`: add \"platform\": \"claude\" (claude -p) or \"codex\" (codex exec)"));
            None
        }
    }
}

/// The shell line claude-flow's orchestrator runs for a worker, with prflow's prompt
/// file in place of its prompt argument: `claude -p PROMPT --output-format text
/// [--max-turns N] [--model M]`, or `codex exec --sandbox workspace-write|read-only
/// --skip-git-repo-check [-m M] PROMPT`.
pub fn command_line(
    platform: &str,
    model: Option<&str>,
    max_turns: Option<u64>,
    read_only: bool,
) -> String {
    const PROMPT: &str = "\"$(cat \"$PRFLOW_PROMPT_FILE\")\"";
    if platform == "claude" {
        let mut line = format!("claude -p {PROMPT} --output-format text");
        if let Some(n) = max_turns {
            line.push_str(&format!(" --max-turns {n}"));
        }
        if let Some(m) = model {
            line.push_str(&format!(" --model {}", shell_quote(m)));
        }
        return line;
    }
    let sandbox = if read_only {
        "read-only"
    } else {
        "workspace-write"
    };
    let mut line = format!("codex exec --sandbox {sandbox} --skip-git-repo-check");
    if let Some(m) = model {
        line.push_str(&format!(" -m {}", shell_quote(m)));
    }
    // `codex exec` takes the prompt last.
    line.push(' ');
    line.push_str(PROMPT);
    line
}

/// `'text'` for `sh`, whatever the text holds: a model name is the file's, not prflow's.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn each_platform_runs_its_own_cli_with_the_prompt() {
        assert_eq!(
            command_line("claude", Some("opus"), Some(10), false),
            "claude -p \"$(cat \"$PRFLOW_PROMPT_FILE\")\" --output-format text --max-turns 10 --model 'opus'"
        );
        assert_eq!(
            command_line("codex", Some("it's"), None, true),
            "codex exec --sandbox read-only --skip-git-repo-check -m 'it'\\''s' \"$(cat \"$PRFLOW_PROMPT_FILE\")\""
        );
    }
}
