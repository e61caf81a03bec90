//! `prflow plan FILE [--format text|json]`: the phases, their tasks in run order
//! and the checkpoints, without running anything.

use crate::engine::runners::Runners;
use crate::workflow::plan::{self, Plan};
use crate::workflow::Workflow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The workflow file (JSON or YAML).
    pub file: PathBuf,
    /// `json` prints {"workflow", "concurrency", "phases": [{"index", "name", "tasks",
    /// "checkpoint"}], "system": the model the template packs render from
    /// (templates/README.md), "unservable": [{"task", "reason"}]}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The default runner a run would get (`prflow run --runner`), for tasks nothing
    /// else serves.
    #[arg(long, env = "PRFLOW_DEFAULT_RUNNER", value_name = "RUNNER")]
    pub runner: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let default = match super::validate::default_runner(args.runner.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(loaded) = super::validate::load_reporting(&args.file) else {
        return ExitCode::from(1);
    };
    let p = plan::plan(&loaded.workflow);
    let unservable = match Runners::new(&super::validate::repo_root(&loaded.path)) {
        Ok(r) => r.with_default(default).check_all(&loaded.workflow, None),
        Err(e) => {
            eprintln!("prflow plan: cannot check which tasks can run here: {e:#}");
            Vec::new()
        }
    };
    let out = match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&p).expect("a plan is plain data");
            v["system"] = crate::agents::template::system::system(&loaded.workflow);
            v["unservable"] = unservable
                .iter()
                .map(|u| serde_json::json!({"task": u.task, "reason": u.reason}))
                .collect();
            let mut s = serde_json::to_string_pretty(&v).expect("a plan is plain data");
            s.push('\n');
            s
        }
        Format::Text => {
            let mut s = text(&loaded.workflow, &p);
            let services = crate::agents::template::system::summary(&loaded.workflow);
            if !services.is_empty() {
                let _ = writeln!(s, "\nsystem (what the template packs generate; `--format json` shows every field):");
                for line in services {
                    let _ = writeln!(s, "  {line}");
                }
            }
            if !unservable.is_empty() {
                let _ = writeln!(
                    s,
                    "\n{} task(s) no runner here can serve (`prflow run` would refuse):",
                    unservable.len()
                );
                for u in &unservable {
                    let _ = writeln!(s, "  {u}");
                }
                let _ = writeln!(s, "  {}", crate::engine::naming::NO_RUNNER_FIX);
            }
            s
        }
    };
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`prflow plan … | head`) is not an error worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    // The process ends here: skip freeing a large workflow piece by piece (a few ms
    // of a 1,000-task `plan`), the OS takes the memory back at once.
    std::mem::forget(loaded);
    ExitCode::SUCCESS
}

/// The plan as text: each phase with its tasks in run order, and the graph as
/// steps (tasks on the same step may run at the same time) with their dependencies.
pub fn text(w: &Workflow, p: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "workflow: {}", p.workflow);
    let _ = writeln!(s, "concurrency: {}", p.concurrency);
    let _ = writeln!(s, "phases: {}", p.phases.len());
    let tasks: HashMap<&str, &crate::workflow::Task> =
        w.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut phase_of: HashMap<&str, usize> = HashMap::with_capacity(w.tasks.len());
    for ph in &p.phases {
        for t in &ph.tasks {
            phase_of.insert(t.as_str(), ph.index);
        }
    }
    for ph in &p.phases {
        let _ = writeln!(s);
        let wait = match &ph.checkpoint {
            Some(c) => format!(" -- checkpoint: waits for approval after `{c}`"),
            None => String::new(),
        };
        let _ = writeln!(s, "phase {}: {} [{}]{wait}", ph.index, ph.name, ph.slug);
        // Step = 1 + the deepest same-phase dependency; run order puts deps first.
        let mut step: HashMap<&str, usize> = HashMap::with_capacity(ph.tasks.len());
        let width = ph.tasks.iter().map(|t| t.len()).max().unwrap_or(0);
        let agent_width = ph
            .tasks
            .iter()
            .map(|t| tasks[t.as_str()].agent.len() + 2)
            .max()
            .unwrap_or(0);
        for id in &ph.tasks {
            let t = tasks[id.as_str()];
            let st = t
                .dependencies
                .iter()
                .filter_map(|d| step.get(d.as_str()))
                .max()
                .map_or(1, |m| m + 1);
            step.insert(id.as_str(), st);
            let deps: Vec<String> = t
                .dependencies
                .iter()
                .map(|d| match phase_of.get(d.as_str()) {
                    Some(&n) if n != ph.index => format!("{d} (phase {n})"),
                    _ => d.clone(),
                })
                .collect();
            let agent = format!("[{}]", t.agent);
            let line = if deps.is_empty() {
                format!("  step {st:>2}  {id:<width$}  {agent}")
            } else {
                format!(
                    "  step {st:>2}  {id:<width$}  {agent:<agent_width$}  <- {}",
                    deps.join(", ")
                )
            };
            let _ = writeln!(s, "{line}");
        }
    }
    s
}
