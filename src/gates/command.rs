//! Command gates: `sh -c RUN` in the checkout; exit 0 passes.
//!
//! The command runs through [`crate::agents::sandbox`] (no secret in its environment, a
//! supervisor) so that a timeout (or the end of the gate) stops everything it started,
//! not just the shell. Output goes to an anonymous temp
//! file, which keeps stdout and stderr in order and cannot fill a pipe and hang. File and
//! line references in the output (`path:line:col: message`, `path(line,col): message`,
//! ESLint's stylish and compact formats, rustc's `-->`, stack frames) become annotations
//! when the path exists in the checkout.

use super::{fenced_tail, Annotation, AnnotationLevel, Conclusion, GateResult, GITHUB_TEXT_LIMIT};
use crate::agents::sandbox;
use crate::workflow::CommandLine;
use regex::Regex;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

/// How long a command gate may run before its process group is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The most output kept for the report and for annotations (the end of it).
const OUTPUT_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// More annotations than this are dropped (GitHub shows them in batches of 50 anyway).
const MAX_ANNOTATIONS: usize = 500;

/// How a command ended.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// `None` when killed by a signal (including our timeout).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// Combined stdout and stderr in order: the last [`OUTPUT_TAIL_BYTES`] of it.
    pub output: String,
    pub duration: Duration,
}

impl CommandRun {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Runs `sh -c cmd` in `dir` through the [`sandbox`] (a clean environment with `env`
/// added, a supervisor) and waits up to `timeout`. On timeout everything it started gets
/// SIGTERM, then SIGKILL two seconds later. When the shell exits, whatever it left
/// running is killed too, `setsid` included.
pub fn run_shell(
    cmd: &str,
    dir: &Path,
    timeout: Duration,
    env: &[(String, String)],
) -> std::io::Result<CommandRun> {
    let mut out = tempfile::tempfile()?;
    let line = CommandLine::Shell(cmd.to_string());
    let mut command = sandbox::command(&line, dir, env);
    command
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?));
    let finished = sandbox::run_with_timeout(&mut command, timeout)?;
    let len = out.seek(SeekFrom::End(0))?;
    out.seek(SeekFrom::Start(len.saturating_sub(OUTPUT_TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    out.read_to_end(&mut bytes)?;
    Ok(CommandRun {
        exit_code: finished.status.and_then(|s| s.code()),
        timed_out: finished.timed_out,
        output: String::from_utf8_lossy(&bytes).into_owned(),
        duration: finished.duration,
    })
}

/// The whole command gate: run, conclude from the exit code, report the output's tail.
pub fn gate(cmd: &str, checkout: &Path, timeout: Duration) -> GateResult {
    // CI=true: test runners then run once instead of watching, and print plain output.
    let env = [("CI".to_string(), "true".to_string())];
    let run = match run_shell(cmd, checkout, timeout, &env) {
        Ok(run) => run,
        Err(e) => {
            return GateResult::new(
                Conclusion::Neutral,
                "the command could not be started",
                format!("`sh -c {cmd:?}` could not be started in the checkout: {e}. Is `sh` installed on the machine running prflow?"),
            )
        }
    };
    let secs = run.duration.as_secs_f64();
    let (conclusion, title, summary) = if run.timed_out {
        (
            Conclusion::Failure,
            format!("timed out after {}s", timeout.as_secs()),
            format!(
                "`{cmd}` was still running after {}s; its process group was killed. Make it faster or split it into smaller gates.",
                timeout.as_secs()
            ),
        )
    } else {
        match run.exit_code {
            Some(0) => (
                Conclusion::Success,
                format!("passed in {secs:.1}s"),
                format!("`{cmd}` exited with code 0 in {secs:.1}s."),
            ),
            Some(code) => (
                Conclusion::Failure,
                format!("failed with exit code {code}"),
                format!("`{cmd}` exited with code {code} after {secs:.1}s."),
            ),
            None => (
                Conclusion::Failure,
                "killed by a signal".to_string(),
                format!("`{cmd}` was killed by a signal after {secs:.1}s."),
            ),
        }
    };
    let annotations = parse_annotations(&run.output, checkout, !run.success());
    let summary = if annotations.is_empty() {
        summary
    } else {
        format!(
            "{summary}\n\n{} file reference(s) from the output are shown as annotations.",
            annotations.len()
        )
    };
    let text = if run.output.trim().is_empty() {
        "The command printed nothing.".to_string()
    } else {
        format!(
            "Output (the end of it):\n\n{}",
            fenced_tail(&strip_ansi(&run.output), GITHUB_TEXT_LIMIT - 64)
        )
    };
    GateResult::new(conclusion, title, summary)
        .with_text(text)
        .with_annotations(annotations)
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]").unwrap());
/// `path:line:col: message` and `path:line: message` (gcc, rustc short, tsc --pretty false, pylint, mypy, flake8, go vet …).
static GCC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?P<path>[A-Za-z0-9_./@+~-][^\s:()'\x22]*?):(?P<line>\d+)(?::(?P<col>\d+))?(?::\s*|\s+)(?P<msg>.*)$",
    )
    .unwrap()
});
/// `path(line,col): message` (tsc, MSBuild).
static PAREN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?P<path>[A-Za-z0-9_./@+~-][^\s:()'\x22]*)\((?P<line>\d+)(?:,(?P<col>\d+))?\)\s*:?\s*(?P<msg>.*)$")
        .unwrap()
});
/// ESLint compact: `path: line 3, col 7, Error - message (rule)`.
static COMPACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<path>[^\s:][^:]*): line (?P<line>\d+), col (?P<col>\d+), (?P<sev>\w+) - (?P<msg>.*)$").unwrap()
});
/// ESLint stylish, the line under a file header: `  3:7  error  message  rule`.
static STYLISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)\s*$")
        .unwrap()
});
/// A location inside a line: rustc's `--> path:line:col`, stack frames `at fn (path:line:col)`, TAP `at: path:line:col`.
static INNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:-->|\bat:?)\s+(?:[^()\s]+\s+)?\(?(?:file://)?(?P<path>[^\s:()'\x22]+):(?P<line>\d+)(?::(?P<col>\d+))?\)?",
    )
    .unwrap()
});
static ERROR_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(error|warning|not ok|assertionerror|\w*error:|fail|panicked|thread '.*' panicked)").unwrap()
});

/// Removes terminal colour codes.
pub fn strip_ansi(s: &str) -> String {
    ANSI.replace_all(s, "").into_owned()
}

/// File and line references in command output, for files that exist in `checkout`.
/// `failed` picks the level of references that do not say their own severity.
pub fn parse_annotations(output: &str, checkout: &Path, failed: bool) -> Vec<Annotation> {
    let root = checkout
        .canonicalize()
        .unwrap_or_else(|_| checkout.to_path_buf());
    let mut out: Vec<Annotation> = Vec::new();
    let mut stylish_file: Option<String> = None;
    let mut last_header: Option<String> = None;
    let default_level = if failed {
        AnnotationLevel::Failure
    } else {
        AnnotationLevel::Notice
    };
    let clean = strip_ansi(output);
    for raw in clean.lines() {
        if out.len() >= MAX_ANNOTATIONS {
            break;
        }
        let line = raw.trim_end();
        if line.trim().is_empty() {
            stylish_file = None;
            continue;
        }
        let mut push = |path: String, l: &str, msg: &str, level: AnnotationLevel, title: &str| {
            let n: u32 = l.parse().unwrap_or(1);
            let msg = msg.trim();
            let msg = if msg.is_empty() { line.trim() } else { msg };
            let a = Annotation::at(&path, n, level, title, super::truncate_chars(msg, 1000));
            if !out
                .iter()
                .any(|o| o.path == a.path && o.start_line == a.start_line && o.message == a.message)
            {
                out.push(a);
            }
        };
        if let Some(c) = COMPACT.captures(line) {
            if let Some(path) = resolve(&root, &c["path"]) {
                push(
                    path,
                    &c["line"],
                    &c["msg"],
                    severity(&c["sev"], default_level),
                    "lint",
                );
                continue;
            }
        }
        if let (Some(file), Some(c)) = (&stylish_file, STYLISH.captures(line)) {
            push(
                file.clone(),
                &c["line"],
                &c["msg"],
                severity(&c["sev"], default_level),
                "lint",
            );
            continue;
        }
        if let Some(path) = resolve(&root, line.trim()) {
            stylish_file = Some(path);
            continue;
        }
        if let Some(c) = GCC.captures(line).or_else(|| PAREN.captures(line)) {
            if let Some(path) = resolve(&root, &c["path"]) {
                let msg = c["msg"].to_string();
                let level = level_of(&msg, default_level);
                push(path, &c["line"], &msg, level, "output");
                continue;
            }
        }
        if let Some(c) = INNER.captures(line) {
            if let Some(path) = resolve(&root, &c["path"]) {
                let msg = last_header.clone().unwrap_or_default();
                let level = level_of(&msg, default_level);
                push(path, &c["line"], &msg, level, "output");
                continue;
            }
        }
        if ERROR_HEADER.is_match(line) {
            last_header = Some(line.trim().to_string());
        }
    }
    out
}

fn severity(word: &str, default: AnnotationLevel) -> AnnotationLevel {
    match word.to_ascii_lowercase().as_str() {
        "error" | "fatal" => AnnotationLevel::Failure,
        "warning" | "warn" => AnnotationLevel::Warning,
        "info" | "notice" => AnnotationLevel::Notice,
        _ => default,
    }
}

fn level_of(msg: &str, default: AnnotationLevel) -> AnnotationLevel {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("error")
        || lower.contains("fail")
        || lower.contains("not ok")
        || lower.contains("panicked")
    {
        AnnotationLevel::Failure
    } else if lower.contains("warn") {
        AnnotationLevel::Warning
    } else {
        default
    }
}

/// The path relative to `root` when `raw` names a regular file inside it, else `None`.
fn resolve(root: &Path, raw: &str) -> Option<String> {
    let raw = raw.strip_prefix("file://").unwrap_or(raw);
    if raw.is_empty() || raw.len() > 1024 || raw.contains(char::is_whitespace) {
        return None;
    }
    let p = PathBuf::from(raw);
    let rel = if p.is_absolute() {
        p.strip_prefix(root).ok()?.to_path_buf()
    } else {
        p
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    let rel = parts.join("/");
    let meta = std::fs::symlink_metadata(root.join(&rel)).ok()?;
    meta.is_file().then_some(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.ts"), "x\n").unwrap();
        std::fs::write(dir.path().join("src/b.js"), "x\n").unwrap();
        let abs = dir.path().canonicalize().unwrap().join("src/b.js");
        let out = format!(
            "src/a.ts:3:5: error: bad thing\nsrc/a.ts(7,2): error TS2322: nope\n{}\n  9:1  warning  no-unused  rule\n\nsrc/b.js: line 4, col 1, Error - boom (x)\nerror[E0308]: mismatched\n  --> src/a.ts:11:2\nnot/here.js:1:1: ignored\nhttp://localhost:80: nothing\n",
            abs.display()
        );
        let a = parse_annotations(&out, dir.path(), true);
        let got: Vec<(String, u32, AnnotationLevel)> = a
            .iter()
            .map(|a| (a.path.clone(), a.start_line, a.level))
            .collect();
        assert_eq!(
            got,
            vec![
                ("src/a.ts".into(), 3, AnnotationLevel::Failure),
                ("src/a.ts".into(), 7, AnnotationLevel::Failure),
                ("src/b.js".into(), 9, AnnotationLevel::Warning),
                ("src/b.js".into(), 4, AnnotationLevel::Failure),
                ("src/a.ts".into(), 11, AnnotationLevel::Failure),
            ]
        );
        assert_eq!(a[4].message, "error[E0308]: mismatched");
    }
}
