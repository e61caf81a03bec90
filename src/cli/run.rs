//! `prflow run`: start or continue the run of a workflow file in a local repository.

use crate::engine::{self, progress, Outcome, RunReport, RunRequest, StartError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The workflow file (JSON or YAML), inside or outside the repository.
    pub file: PathBuf,
    /// The repository to write branches into.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Where phase 1 starts (a branch, tag or commit).
    #[arg(long)]
    pub base: Option<String>,
    /// Start a new run even when this workflow has an unfinished one.
    #[arg(long)]
    pub new_run: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run on GitHub: push phases, open stacked PRs, read reviews (OWNER/REPO).
    #[arg(long, value_name = "OWNER/REPO")]
    pub github: Option<String>,
    #[command(flatten)]
    pub connection: super::github_mode::GithubArgs,
    /// Show what would happen (phases, branches, PRs, every file's diff); write nothing.
    /// Exits 1 when a real run would refuse to start.
    #[arg(long)]
    pub dry_run: bool,
    /// The runner of tasks nothing else serves (no runner on the task, its agent or
    /// `settings.runner`, and no template pack): a command line such as 'claude -p' or
    /// 'codex exec' (the task's prompt is added as its last argument),
    /// llm:PROVIDER:MODEL, or template:PACK.
    #[arg(long, env = "PRFLOW_DEFAULT_RUNNER", value_name = "RUNNER")]
    pub runner: Option<String>,
    /// Run no `hooks` (a hook that calls claude-flow needs it installed and the network).
    /// Recorded with the run: continuing it keeps them skipped.
    #[arg(long)]
    pub skip_hooks: bool,
}

pub fn run(args: Args) -> ExitCode {
    if let Some(full) = args.github.clone() {
        return super::github_mode::run_on_github(&args, &full);
    }
    let req = RunRequest {
        repo_dir: args.repo.clone(),
        workflow_file: args.file.clone(),
        base: args.base.clone(),
        new_run: args.new_run,
        default_runner: args.runner.clone(),
        skip_hooks: args.skip_hooks,
    };
    if let Some(Err(e)) = args
        .runner
        .as_deref()
        .map(crate::workflow::runner::parse_default)
    {
        eprintln!("prflow run: --runner: {e}");
        return ExitCode::from(2);
    }
    if args.dry_run {
        return match engine::dry_run(&req) {
            Ok((text, unservable)) => {
                print!("{text}");
                if unservable.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(StartError::Invalid(d)) => {
                eprint!("{d}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("prflow run: {e}");
                ExitCode::from(1)
            }
        };
    }
    let view = progress::for_terminal(args.quiet || args.json);
    match engine::run(&req, view.as_ref()) {
        Ok(report) => print_report(&report, args.json),
        Err(StartError::Invalid(d)) => {
            eprint!("{d}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("prflow run: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints what an invocation did; the exit code says whether the work failed.
pub fn print_report(report: &RunReport, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        println!("run {} ({})", report.run_id, report.state.workflow);
        for p in &report.state.phases {
            println!(
                "  phase {} {:<28} {:<20} {}",
                p.index,
                p.name,
                p.status.as_str(),
                p.branch
            );
        }
        if let Some(e) = &report.error {
            eprintln!("error: {e}");
        }
        println!("next: {}", report.next);
    }
    match report.outcome {
        Outcome::Failed => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}
