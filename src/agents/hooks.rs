//! `hooks` (`pre-task`, `post-task`, `on-error`): shell commands run in a task's
//! isolated checkout before the runner, after it, or when it failed. They run through
//! [`sandbox`] exactly like `command` runners (clean environment, none of prflow's
//! secrets, a supervisor that stops all they start), and what they change there is part
//! of the task's commit.
//!
//! Run-time placeholders in a hook become shell variables set for it, so a value is
//! never pasted into shell code: `"${task.name}"` runs as `"${PRFLOW_TASK_NAME}"`.

use super::sandbox;
use crate::workflow::CommandLine;
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

/// How long one hook may run.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Placeholder → the variable it becomes in a hook.
const VARS: &[(&str, &str)] = &[
    ("task.id", "PRFLOW_TASK_ID"),
    ("task.name", "PRFLOW_TASK_NAME"),
    ("workflow.name", "PRFLOW_WORKFLOW_NAME"),
    ("iteration", "PRFLOW_ITERATION"),
    ("loop.index", "PRFLOW_LOOP_INDEX"),
    ("loop.current_item", "PRFLOW_LOOP_ITEM"),
    ("error.message", "PRFLOW_ERROR_MESSAGE"),
];

/// The hook's shell text with placeholders turned into variable references.
pub fn shell_text(cmd: &str) -> String {
    let mut out = cmd.to_string();
    for (placeholder, var) in VARS {
        out = out.replace(&format!("${{{placeholder}}}"), &format!("${{{var}}}"));
    }
    out
}

/// Runs hook `which` (`cmd`) in `dir`; `Err` says how it failed.
pub fn run(
    which: &str,
    cmd: &str,
    dir: &Path,
    runtime: &Map<String, Value>,
    error: Option<&str>,
) -> Result<(), String> {
    let mut env: Vec<(String, String)> = VARS
        .iter()
        .filter_map(|(placeholder, var)| {
            runtime.get(*placeholder).map(|v| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (var.to_string(), text)
            })
        })
        .collect();
    if let Some(e) = error {
        env.push(("PRFLOW_ERROR_MESSAGE".into(), e.to_string()));
    }
    let line = CommandLine::Shell(shell_text(cmd));
    let mut stderr = tempfile::tempfile().map_err(|e| format!("the {which} hook: {e}"))?;
    let mut command = sandbox::command(&line, dir, &env);
    command.stdout(std::process::Stdio::null()).stderr(
        stderr
            .try_clone()
            .map_err(|e| format!("the {which} hook: {e}"))?,
    );
    let finished = sandbox::run_with_timeout(&mut command, TIMEOUT)
        .map_err(|e| format!("the {which} hook could not start: {e}"))?;
    if finished.timed_out {
        return Err(format!(
            "the {which} hook ran longer than {} s and was stopped",
            TIMEOUT.as_secs()
        ));
    }
    match finished.status {
        Some(s) if s.success() => Ok(()),
        status => {
            let tail = super::command::tail(&mut stderr);
            let code = status
                .and_then(|s| s.code())
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "a signal".into());
            Err(format!(
                "the {which} hook `{cmd}` failed with {code}{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; the end of its stderr:\n{tail}")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_variables_never_pasted_text() {
        assert_eq!(
            shell_text("npx claude-flow@alpha hooks pre-task --description \"${task.name}\" --id ${task.id}"),
            "npx claude-flow@alpha hooks pre-task --description \"${PRFLOW_TASK_NAME}\" --id ${PRFLOW_TASK_ID}"
        );
    }

    #[test]
    fn a_hook_changes_its_directory_and_sees_its_variables_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut rt = Map::new();
        rt.insert(
            "task.name".into(),
            Value::from("a \"quoted\"; rm -rf / name"),
        );
        run(
            "post-task",
            "printf '%s' \"${task.name}\" > name.txt; env > env.txt",
            dir.path(),
            &rt,
            None,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("name.txt")).unwrap(),
            "a \"quoted\"; rm -rf / name"
        );
        let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
        assert!(!env.contains("GITHUB_TOKEN="), "{env}");
        let e = run("pre-task", "echo oops >&2; exit 3", dir.path(), &rt, None).unwrap_err();
        assert!(
            e.contains("pre-task") && e.contains("exit code 3") && e.contains("oops"),
            "{e}"
        );
    }
}
