//! The command runner: any coding-agent CLI (claude, codex, aider, a script) run in
//! the task's isolated checkout. Whatever it changes there becomes the task's commit.
//!
//! The task is described to the command through the environment:
//! `PRFLOW_TASK_ID`, `PRFLOW_RUN_ID`, `PRFLOW_TASK_JSON` (a file with the task, its
//! agent, the resolved input and any review feedback), `PRFLOW_PROMPT_FILE` (a prompt
//! written for CLIs such as `claude -p "$(cat $PRFLOW_PROMPT_FILE)"`), and
//! `PRFLOW_OUTPUT_FILE` (where the command may write a JSON object of outputs).
//! It runs through [`sandbox`]: a clean environment (none of prflow's secrets), and a
//! supervisor so a timeout kills everything it started, `setsid` included.

use super::sandbox;
use super::{AgentError, AgentOutput, Runner, TaskRequest};
use crate::workflow::{CommandLine, RunnerSpec, Task, Workflow};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

/// Default timeout when neither the runner, the task nor the settings give one.
const DEFAULT_TIMEOUT_S: u64 = 600;
/// How much of stderr a failure message quotes.
const STDERR_TAIL: u64 = 2000;

pub struct CommandRunner;

/// Reserved words and builtins of `sh`: a string starting with one of these runs
/// without looking anything up on PATH.
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "[", "[[", ".", ":", "alias", "bg", "break", "case", "cd", "command",
    "continue", "do", "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "false",
    "fc", "fg", "fi", "for", "function", "getopts", "hash", "if", "in", "jobs", "kill", "let",
    "local", "printf", "pwd", "read", "readonly", "return", "select", "set", "shift", "source",
    "test", "then", "time", "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset",
    "until", "wait", "while", "echo",
];

fn spec_of<'a>(workflow: &'a Workflow, task: &'a Task) -> Option<RunnerSpec> {
    match workflow.runner_for(task) {
        spec @ RunnerSpec::Command { .. } => Some(spec),
        _ => None,
    }
}

/// The program a command line starts, when it can be known without running it.
///
/// A string is shell (it runs as `sh -c STRING`), so its first word is only taken as a
/// program to look up when it is a plain name: letters, digits and `._+-/` only, then
/// a blank or the end, and not a reserved word or builtin. Anything else (`true; …`,
/// `(cd x && …)`, `FOO=1 cmd`, `$TOOL`, quotes, globs, redirections) is left to the
/// shell: a check must never refuse valid shell.
fn program(cmd: &CommandLine) -> Option<String> {
    match cmd {
        CommandLine::Argv(argv) => argv.first().cloned(),
        CommandLine::Shell(s) => {
            let s = s.trim_start();
            let end = s.find([' ', '\t', '\n']);
            let first = &s[..end.unwrap_or(s.len())];
            let plain = !first.is_empty()
                && first
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+-/".contains(c));
            (plain && !SHELL_WORDS.contains(&first)).then(|| first.to_string())
        }
    }
}

/// Is `program` there, on `path` (the runner's PATH: its own `env` or prflow's)?
fn on_path(program: &str, path: Option<std::ffi::OsString>) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    path.map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

impl Runner for CommandRunner {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn needs_workdir(&self) -> bool {
        true
    }

    fn check(&self, workflow: &Workflow, task: &Task) -> Result<(), String> {
        let Some(RunnerSpec::Command { command, env, .. }) = spec_of(workflow, task) else {
            return Err("the task's runner is not a command".into());
        };
        let path = env
            .get("PATH")
            .map(std::ffi::OsString::from)
            .or_else(|| std::env::var_os("PATH"));
        if let CommandLine::Argv(argv) = &command {
            if argv.is_empty() {
                return Err("the command is an empty list".into());
            }
        }
        match program(&command) {
            Some(p) if !on_path(&p, path) => Err(format!(
                "command `{p}` was not found on PATH: install it, or change the runner"
            )),
            _ => Ok(()),
        }
    }

    fn run(&self, req: &TaskRequest<'_>) -> Result<AgentOutput, AgentError> {
        let Some(RunnerSpec::Command {
            command,
            timeout_s,
            env,
        }) = spec_of(req.workflow, req.task)
        else {
            return Err(AgentError::Failed(
                "the task's runner is not a command".into(),
            ));
        };
        let workdir = req
            .workdir
            .ok_or_else(|| AgentError::Failed("no isolated tree was prepared".into()))?;
        let scratch =
            sandbox::temp::dir("scratch").map_err(|e| fail("cannot create a scratch dir", e))?;
        let task_json = scratch.path().join("task.json");
        let prompt_file = scratch.path().join("prompt.md");
        let output_file = scratch.path().join("outputs.json");
        let doc = serde_json::json!({
            "run_id": req.run_id,
            "phase": req.phase,
            "workflow": req.workflow.name,
            "task": req.task,
            "agent": req.agent,
            "input": req.task.input,
            "feedback": req.feedback,
            "output_dir": req.output_dir,
        });
        sandbox::temp::write_private(
            &task_json,
            &serde_json::to_vec_pretty(&doc).unwrap_or_default(),
        )
        .map_err(|e| fail("cannot write the task file", e))?;
        sandbox::temp::write_private(&prompt_file, prompt(req).as_bytes())
            .map_err(|e| fail("cannot write the prompt", e))?;
        let stdout = tempfile::tempfile().map_err(|e| fail("cannot create a log file", e))?;
        let mut stderr = tempfile::tempfile().map_err(|e| fail("cannot create a log file", e))?;

        let task_env = [
            ("PRFLOW_TASK_ID", req.task.id.as_str()),
            ("PRFLOW_RUN_ID", req.run_id),
            ("PRFLOW_TASK_JSON", path_str(&task_json)),
            ("PRFLOW_PROMPT_FILE", path_str(&prompt_file)),
            ("PRFLOW_OUTPUT_FILE", path_str(&output_file)),
        ];
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(task_env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let mut cmd = sandbox::command(&command, workdir, &env);
        cmd.stdout(stdout.try_clone().map_err(|e| fail("log file", e))?)
            .stderr(stderr.try_clone().map_err(|e| fail("log file", e))?);
        let timeout = timeout_s
            .or(req.task.timeout_ms.map(|ms| ms.div_ceil(1000)))
            .or(req.workflow.settings.timeout_ms.map(|ms| ms.div_ceil(1000)))
            .unwrap_or(DEFAULT_TIMEOUT_S);
        let finished = sandbox::run_with_timeout(&mut cmd, Duration::from_secs(timeout))
            .map_err(|e| AgentError::Failed(format!("cannot start the command: {e}")))?;
        if finished.timed_out {
            return Err(AgentError::Timeout(timeout));
        }
        let Some(status) = finished.status else {
            return Err(AgentError::Failed(
                "the command could not be stopped".into(),
            ));
        };
        if !status.success() {
            let tail = tail(&mut stderr);
            let code = status
                .code()
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "a signal".into());
            return Err(AgentError::Failed(format!(
                "the command failed with {code}{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; the end of its stderr:\n{tail}")
                }
            )));
        }
        let outputs = match std::fs::read(&output_file) {
            Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => {
                    return Err(AgentError::Failed(
                        "$PRFLOW_OUTPUT_FILE must hold a JSON object of outputs".into(),
                    ))
                }
            },
            Err(_) => Default::default(),
        };
        Ok(AgentOutput {
            files: Vec::new(),
            outputs,
            summary: None,
        })
    }
}

/// Scratch paths are made by prflow from the temp dir; lossy is never reached in practice.
fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn fail(what: &str, e: impl std::fmt::Display) -> AgentError {
    AgentError::Failed(format!("{what}: {e}"))
}

pub(crate) fn tail(file: &mut std::fs::File) -> String {
    let len = file.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_string()
}

/// A prompt for coding-agent CLIs: who they are, what to do, what reviewers said.
pub fn prompt(req: &TaskRequest<'_>) -> String {
    let mut p = String::new();
    let a = req.agent;
    let capabilities = if a.capabilities.is_empty() {
        String::new()
    } else {
        format!(" with capabilities: {}", a.capabilities.join(", "))
    };
    p.push_str(&format!(
        "You are {} ({}), an agent of type `{}`{capabilities}.\n\n",
        a.name, a.id, a.kind,
    ));
    p.push_str(&format!("Workflow: {}\n", req.workflow.name));
    if let Some(context) = &req.workflow.context {
        p.push_str(&format!("\nContext shared by every task:\n{context}\n\n"));
    }
    p.push_str(&format!("Task `{}`: {}\n", req.task.id, req.task.name));
    if let Some(d) = &req.task.description {
        p.push_str(&format!("\n{d}\n"));
    }
    if let Some(serde_json::Value::String(cp)) = req.task.extra.get("claudePrompt") {
        p.push_str(&format!("\n{cp}\n"));
    }
    let no_input =
        req.task.input.is_null() || req.task.input.as_object().is_some_and(|o| o.is_empty());
    if !no_input {
        p.push_str(&format!(
            "\nInput:\n```json\n{}\n```\n",
            serde_json::to_string_pretty(&req.task.input).unwrap_or_default()
        ));
    }
    if !req.task.output_keys.is_empty() {
        p.push_str(&format!(
            "\nWhen done, write a JSON object with the keys {} to the file named by $PRFLOW_OUTPUT_FILE.\n",
            req.task.output_keys.join(", ")
        ));
    }
    if let Some(fb) = req.feedback {
        p.push_str("\nA reviewer requested changes to your earlier work:\n");
        p.push_str(&fb.body);
        p.push('\n');
        for c in &fb.comments {
            match c.line {
                Some(l) => p.push_str(&format!("- {}:{}: {}\n", c.path, l, c.body)),
                None => p.push_str(&format!("- {}: {}\n", c.path, c.body)),
            }
        }
    }
    let root = if req.output_dir.is_empty() || req.output_dir == "." {
        "the current directory".to_string()
    } else {
        format!("`{}/` in the current directory", req.output_dir)
    };
    p.push_str(&format!(
        "\nWrite your files under {root}. Do not run git commands: prflow commits your changes as one commit.\n"
    ));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(s: &str) -> CommandLine {
        CommandLine::Shell(s.into())
    }

    #[test]
    fn valid_shell_is_never_taken_for_a_program() {
        for s in [
            "true; echo hi > a.txt",
            "(cd sub && make)",
            "trap 'rm -f x' EXIT; make",
            "if true; then :; fi",
            "FOO=1 bar",
            "{ echo a; } > b",
            "exec claude",
            "! false",
            "for i in 1 2; do echo $i; done",
            "$TOOL --run",
            "\"my tool\" x",
            "./x* y",
            "a|b",
            "a>out",
            "~/bin/agent",
            "  \n  echo indented",
        ] {
            assert_eq!(program(&shell(s)), None, "{s}");
        }
    }

    #[test]
    fn a_plain_first_word_is_the_program() {
        assert_eq!(
            program(&shell("claude -p \"$(cat $PRFLOW_PROMPT_FILE)\"")).as_deref(),
            Some("claude")
        );
        assert_eq!(program(&shell("./run.sh")).as_deref(), Some("./run.sh"));
        assert_eq!(program(&shell("codex\texec")).as_deref(), Some("codex"));
        let argv = CommandLine::Argv(vec!["aider".into(), "--yes".into()]);
        assert_eq!(program(&argv).as_deref(), Some("aider"));
    }

    #[test]
    fn the_runners_own_path_is_searched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my-agent"), "").unwrap();
        let path = Some(dir.path().as_os_str().to_owned());
        assert!(on_path("my-agent", path.clone()));
        assert!(!on_path("not-my-agent", path));
    }
}
