//! Quality gates: checks run on each phase's head and reported as check runs `prflow/<gate>`.
//!
//! A gate gets a plain directory holding the phase head (no `.git` needed), the list of
//! paths the phase changed, and the workflow. It answers with a [`GateResult`] that maps
//! one to one onto a GitHub check run (conclusion, title, summary, text, annotations), so
//! the GitHub code only has to send it.
//!
//! The rule every gate follows: a gate that cannot measure says so with
//! [`Conclusion::Neutral`] or [`Conclusion::Skipped`] and the reason in its title and
//! summary. It never reports [`Conclusion::Success`] for something it did not see.
//!
//! Built in: `code-review` ([`review`]), `security-scan` ([`security`]), `coverage`
//! ([`coverage`]), `performance` ([`performance`], driving [`loadgen`]), and `command`
//! gates ([`command`]) for every gate the workflow declares with a `run`.

pub mod command;
pub mod coverage;
pub mod files;
pub mod loadgen;
pub mod performance;
pub mod review;
pub mod security;

use crate::workflow::{GateSpec, Workflow};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// GitHub rejects check run `summary` and `text` longer than this many characters.
pub const GITHUB_TEXT_LIMIT: usize = 65535;

/// What a gate looks at.
pub struct GateInput<'a> {
    pub workflow: &'a Workflow,
    /// The phase head checked out: a plain directory, no `.git` needed.
    pub checkout: &'a Path,
    /// Paths the phase changed, relative to `checkout`, `/`-separated.
    pub changed_files: &'a [String],
    /// 1-based phase number (as in [`crate::workflow::plan::PlannedPhase::index`]).
    pub phase: usize,
}

/// A check run conclusion, serialized as GitHub spells it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Skipped,
}

/// A check run annotation level, serialized as GitHub spells it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

/// A finding on one file and line range, shown by GitHub in the PR's diff.
#[derive(Clone, Serialize, Deserialize, Debug, PartialEq)]
pub struct Annotation {
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub level: AnnotationLevel,
    pub title: Option<String>,
    pub message: String,
}

impl Annotation {
    /// A one-line annotation.
    pub fn at(path: &str, line: u32, level: AnnotationLevel, title: &str, message: String) -> Self {
        let line = line.max(1);
        Annotation {
            path: path.to_string(),
            start_line: line,
            end_line: line,
            level,
            title: Some(title.to_string()),
            message,
        }
    }
}

/// One gate's outcome: everything a check run needs.
#[derive(Clone, Serialize, Deserialize, Debug)]
pub struct GateResult {
    /// The gate name, without the `prflow/` prefix (see [`check_name`]).
    pub name: String,
    pub required: bool,
    pub conclusion: Conclusion,
    /// One line: the check run's title.
    pub title: String,
    /// Markdown, at most [`GITHUB_TEXT_LIMIT`] characters.
    pub summary: String,
    /// Markdown details, at most [`GITHUB_TEXT_LIMIT`] characters.
    pub text: String,
    pub annotations: Vec<Annotation>,
    pub duration_ms: u64,
}

impl GateResult {
    /// A result with empty text and no annotations; `run_gate` fills in name, required, duration.
    pub(crate) fn new(
        conclusion: Conclusion,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        GateResult {
            name: String::new(),
            required: false,
            conclusion,
            title: title.into(),
            summary: summary.into(),
            text: String::new(),
            annotations: Vec::new(),
            duration_ms: 0,
        }
    }

    pub(crate) fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    pub(crate) fn with_annotations(mut self, annotations: Vec<Annotation>) -> Self {
        self.annotations = annotations;
        self
    }
}

/// The check run name of a gate: `prflow/<gate>` (named with the run's other names).
pub use crate::engine::naming::check_name;

/// The gates a workflow asks for, in order: its declared `gates`, then the built-ins its
/// `quality` flags turn on (`codeReview` → `code-review`, `securityScan` → `security-scan`,
/// `performanceThreshold` → `performance`). A declared gate with a built-in's name replaces
/// the built-in. The parser already appends the built-ins; this is idempotent either way.
pub fn gates_for(workflow: &Workflow) -> Vec<GateSpec> {
    let mut out: Vec<GateSpec> = Vec::new();
    for g in &workflow.gates {
        if !out.iter().any(|o| o.name == g.name) {
            out.push(g.clone());
        }
    }
    let q = &workflow.quality;
    for (on, name) in [
        (q.code_review, "code-review"),
        (q.security_scan, "security-scan"),
        (q.performance.is_some(), "performance"),
    ] {
        if on && !out.iter().any(|o| o.name == name) {
            out.push(GateSpec {
                name: name.to_string(),
                run: None,
                paths: Vec::new(),
                // Gates that `quality` flags turn on are advisory: claude-flow's flags
                // say what to measure, not what blocks. Declare the gate in `gates` with
                // `"required": true` to make an approval wait for it.
                required: false,
            });
        }
    }
    out
}

/// Runs one gate to completion. Blocking (the performance gate runs its own runtime on
/// its own thread, so this is safe to call from `spawn_blocking`). Never panics: a bug
/// inside a gate becomes a `neutral` result that says so.
pub fn run_gate(spec: &GateSpec, input: &GateInput) -> GateResult {
    let started = Instant::now();
    let mut result = match paths_filter(spec, input.changed_files) {
        Some(skip) => skip,
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(spec, input)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                GateResult::new(
                    Conclusion::Neutral,
                    "the gate crashed; nothing was measured",
                    format!("The `{}` gate stopped with an internal error: {what}. This is a bug in prflow; please report it.", spec.name),
                )
            }),
    };
    result.name = spec.name.clone();
    result.required = spec.required;
    result.duration_ms = started.elapsed().as_millis() as u64;
    result.title = truncate_chars(&result.title, 200);
    result.summary = truncate_chars(&result.summary, GITHUB_TEXT_LIMIT);
    result.text = truncate_chars(&result.text, GITHUB_TEXT_LIMIT);
    result
}

/// Which implementation a spec means. A `performance` gate with `run` uses it as the
/// command that starts the service; any other gate with `run` is a command gate.
fn dispatch(spec: &GateSpec, input: &GateInput) -> GateResult {
    match (spec.name.as_str(), spec.run.as_deref()) {
        ("performance", run) => performance::run(input, run),
        (_, Some(run)) => command::gate(run, input.checkout, command::DEFAULT_TIMEOUT),
        ("code-review", None) => review::run(input),
        ("security-scan", None) => security::run(input),
        ("coverage", None) => coverage::run(input),
        (other, None) => GateResult::new(
            Conclusion::Neutral,
            format!("unknown gate `{other}`"),
            format!(
                "`{other}` is not a built-in gate (code-review, security-scan, coverage, performance) and has no `run` command, so nothing ran. Add `\"run\": \"<shell command>\"` to the gate in the workflow."
            ),
        ),
    }
}

/// `Some(skipped)` when the gate has `paths` and the phase changed nothing under them.
fn paths_filter(spec: &GateSpec, changed: &[String]) -> Option<GateResult> {
    if spec.paths.is_empty()
        || changed
            .iter()
            .any(|f| spec.paths.iter().any(|p| path_matches(p, f)))
    {
        return None;
    }
    let list = spec
        .paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(GateResult::new(
        Conclusion::Skipped,
        format!("no changes under {}", spec.paths.join(", ")),
        format!(
            "Skipped: this phase changed {} file(s), none under {list}.",
            changed.len()
        ),
    ))
}

/// A `paths` entry matches a file when it is a path prefix on a component boundary
/// (`services/` and `services` both match `services/a.js`), or a glob (`**/*.rs`).
fn path_matches(pattern: &str, file: &str) -> bool {
    let file = file.trim_start_matches("./");
    let pattern = pattern.trim_start_matches("./");
    if pattern.is_empty() || pattern == "." || pattern == "/" {
        return true;
    }
    if pattern.contains(['*', '?', '[']) {
        return globset::Glob::new(pattern)
            .map(|g| g.compile_matcher().is_match(file))
            .unwrap_or(false);
    }
    let prefix = pattern.trim_end_matches('/');
    file == prefix
        || file
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// At most `max` characters, cut on a char boundary with a note when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let note = "\n\n… (truncated)";
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(note);
    out
}

/// A fenced code block holding the last part of `s`, at most `max` characters in all.
pub(crate) fn fenced_tail(s: &str, max: usize) -> String {
    let fence = if s.contains("```") { "~~~~" } else { "```" };
    let overhead = fence.len() * 2 + 40;
    let budget = max.saturating_sub(overhead);
    let count = s.chars().count();
    let body: String = if count > budget {
        let skip = count - budget;
        format!(
            "… ({skip} characters cut)\n{}",
            s.chars().skip(skip).collect::<String>()
        )
    } else {
        s.to_string()
    };
    format!("{fence}text\n{}\n{fence}", body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_on_component_boundaries_and_globs() {
        assert!(path_matches("services/", "services/a/b.js"));
        assert!(path_matches("services", "services/a/b.js"));
        assert!(!path_matches("services", "servicesx/a.js"));
        assert!(path_matches("**/*.rs", "src/lib.rs"));
        assert!(!path_matches("docs/", "src/lib.rs"));
    }

    #[test]
    fn fenced_tail_keeps_the_end_within_the_limit() {
        let long = "x".repeat(100_000) + "THE END";
        let t = fenced_tail(&long, GITHUB_TEXT_LIMIT);
        assert!(t.chars().count() <= GITHUB_TEXT_LIMIT);
        assert!(t.contains("THE END"));
    }
}
