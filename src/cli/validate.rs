//! `prflow validate FILE`: check a workflow and print a one-screen summary.
//!
//! Valid: the summary on stdout, warnings on stderr, exit 0. Invalid: every problem
//! on stderr, one per line (`FILE:LINE:COL: error: MESSAGE (at /pointer)`), exit 1.

use crate::engine::runners::Runners;
use crate::workflow::{self, locate, plan, Diagnostic, Loaded, RunnerSpec, Workflow};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The workflow file (JSON or YAML).
    pub file: PathBuf,
    /// Exit 1 when a task cannot run on this machine (no runner serves it), as the
    /// Action and the App require.
    #[arg(long)]
    pub strict: bool,
    /// The default runner a run would get (`prflow run --runner`), for tasks nothing
    /// else serves.
    #[arg(long, env = "PRFLOW_DEFAULT_RUNNER", value_name = "RUNNER")]
    pub runner: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let runner = match default_runner(args.runner.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match load_reporting(&args.file) {
        Some(mut loaded) => {
            let unservable = machine_warnings(&loaded, runner);
            // A task asking a pack for what it does not generate (a framework, a
            // database, a feature) is wrong on every machine: an error, strict or not.
            let refused: Vec<&Diagnostic> = unservable
                .iter()
                .filter(|d| d.severity == workflow::Severity::Error)
                .collect();
            if !args.strict && !refused.is_empty() {
                for d in &refused {
                    eprintln!("{d}");
                }
                eprintln!(
                    "{}: {} task{} ask{} for what the template packs do not generate; \
                     change the input, or give the task a command or llm runner",
                    args.file.display(),
                    refused.len(),
                    if refused.len() == 1 { "" } else { "s" },
                    if refused.len() == 1 { "s" } else { "" },
                );
                return ExitCode::from(1);
            }
            if args.strict && !unservable.is_empty() {
                for w in &unservable {
                    eprintln!("{}", strict_error(w));
                }
                eprintln!(
                    "{}: {} task{} cannot run here (--strict): {}",
                    args.file.display(),
                    unservable.len(),
                    if unservable.len() == 1 { "" } else { "s" },
                    crate::engine::naming::NO_RUNNER_FIX
                );
                return ExitCode::from(1);
            }
            for w in unservable {
                eprintln!("{w}");
                loaded.warnings.push(w);
            }
            use std::io::Write as _;
            // A closed pipe (`prflow validate … | head`) is not worth a panic.
            let _ = std::io::stdout()
                .lock()
                .write_all(summary(&loaded).as_bytes());
            // The process ends here; the OS frees a large workflow faster than drop.
            std::mem::forget(loaded);
            ExitCode::SUCCESS
        }
        None => ExitCode::from(1),
    }
}

/// `--runner` parsed; a bad one is a usage error (exit 2) that says how to write it.
pub fn default_runner(given: Option<&str>) -> Result<Option<RunnerSpec>, ExitCode> {
    match given.map(workflow::runner::parse_default) {
        None => Ok(None),
        Some(Ok(r)) => Ok(Some(r)),
        Some(Err(e)) => {
            eprintln!("prflow: --runner: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// A machine warning as the error `--strict` makes of it.
fn strict_error(w: &Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: workflow::Severity::Error,
        ..w.clone()
    }
}

/// Loads a workflow, printing warnings (or every problem) to stderr.
/// Shared by `validate` and `plan` so both report problems the same way.
pub fn load_reporting(file: &std::path::Path) -> Option<Loaded> {
    match workflow::load(file) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Some(loaded)
        }
        Err(problems) => {
            eprint!("{problems}");
            None
        }
    }
}

/// The repository a workflow file lives in (for its `.prflow/templates/`), else the
/// current directory.
pub fn repo_root(file: &Path) -> PathBuf {
    let start = std::fs::canonicalize(file)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `validate` checks the file, not the machine: a task that no runner here can serve
/// (no template pack matches, a command not on PATH) is a warning, not an error;
/// `prflow run` refuses to start on it. A task whose template pack refuses one of its
/// input values (see `template::select::refusal`) is an error instead.
fn machine_warnings(loaded: &Loaded, default: Option<RunnerSpec>) -> Vec<Diagnostic> {
    let runners = match Runners::new(&repo_root(&loaded.path)) {
        Ok(r) => r.with_default(default),
        Err(e) => {
            return vec![Diagnostic::warning(
                loaded.path.display().to_string(),
                1,
                1,
                "",
                format!("cannot check which tasks can run here: {e:#}"),
            )]
        }
    };
    let index: HashMap<&str, usize> = loaded
        .workflow
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let unservable = runners.check_all(&loaded.workflow, None);
    if unservable.is_empty() {
        return Vec::new();
    }
    let positions = locate::positions_in(&loaded.path, &loaded.text);
    unservable
        .into_iter()
        .map(|u| {
            let pointer = index
                .get(u.task.as_str())
                .map(|i| format!("{}/{i}", loaded.workflow.tasks_at))
                .unwrap_or_default();
            let pos = positions.value(&pointer);
            let d = Diagnostic::warning(
                loaded.path.display().to_string(),
                pos.line,
                pos.col,
                pointer,
                u.to_string(),
            );
            if u.refused {
                strict_error(&d)
            } else {
                d
            }
        })
        .collect()
}

/// Joins names on one line, cut with "… and N more" to keep the summary one screen.
fn names<'a>(items: impl ExactSizeIterator<Item = &'a str>, max: usize) -> String {
    let total = items.len();
    let shown: Vec<&str> = items.take(max).collect();
    let mut s = shown.join(", ");
    if total > max {
        let _ = write!(s, " … and {} more", total - max);
    }
    if s.is_empty() {
        s.push_str("(none)");
    }
    s
}

/// The summary printed for a valid workflow.
pub fn summary(loaded: &Loaded) -> String {
    let w: &Workflow = &loaded.workflow;
    let p = plan::plan(w);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: valid workflow \"{}\"",
        loaded.path.display(),
        w.name
    );
    let _ = writeln!(
        s,
        "  agents ({}): {}",
        w.agents.len(),
        names(w.agents.iter().map(|a| a.id.as_str()), 8)
    );
    let _ = writeln!(
        s,
        "  tasks ({}): {}",
        w.tasks.len(),
        names(w.tasks.iter().map(|t| t.id.as_str()), 8)
    );
    let _ = writeln!(
        s,
        "  concurrency: {}{}",
        w.concurrency,
        if w.concurrency == 1 {
            " (one task at a time)"
        } else {
            " tasks at once per phase"
        }
    );
    let _ = writeln!(s, "  phases ({}):", p.phases.len());
    const MAX_PHASES: usize = 10;
    for ph in p.phases.iter().take(MAX_PHASES) {
        let wait = match &ph.checkpoint {
            Some(c) => format!("; then waits for approval after `{c}`"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "    {}. {} ({} task{}): {}{wait}",
            ph.index,
            ph.name,
            ph.tasks.len(),
            if ph.tasks.len() == 1 { "" } else { "s" },
            names(ph.tasks.iter().map(String::as_str), 6)
        );
    }
    if p.phases.len() > MAX_PHASES {
        let _ = writeln!(
            s,
            "    … and {} more (see `prflow plan`)",
            p.phases.len() - MAX_PHASES
        );
    }
    let gates: Vec<String> = w
        .gates
        .iter()
        .map(
            |g| match (&g.run, g.name.as_str(), &w.quality.performance) {
                (Some(run), _, _) => format!("{} (`{run}`)", g.name),
                (None, "performance", Some(t)) => {
                    let mut parts = Vec::new();
                    if t.response_time_ms != u64::MAX {
                        parts.push(format!("p95 <= {} ms", t.response_time_ms));
                    }
                    if t.throughput > 0 {
                        parts.push(format!(">= {} req/s", t.throughput));
                    }
                    format!("performance ({})", parts.join(", "))
                }
                (None, name, _) => name.to_string(),
            },
        )
        .collect();
    let _ = writeln!(s, "  gates: {}", names(gates.iter().map(String::as_str), 8));
    if !w.reviewers.is_empty() {
        let _ = writeln!(
            s,
            "  reviewers: {}",
            names(w.reviewers.iter().map(String::as_str), 8)
        );
    }
    if !loaded.warnings.is_empty() {
        let n = loaded.warnings.len();
        let _ = writeln!(
            s,
            "  {n} warning{} (on stderr)",
            if n == 1 { "" } else { "s" }
        );
    }
    s
}
