//! `prflow approve`: approve the checkpoint that waits (locally) and continue the run.

use crate::engine::{self, progress};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The repository holding the run.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The run to approve (needed only when several runs wait).
    #[arg(long)]
    pub run: Option<String>,
    /// Record the approval without continuing the run.
    #[arg(long)]
    pub no_continue: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    let (run_id, phase) = match engine::approve(&args.repo, args.run.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("prflow approve: {e:#}");
            return ExitCode::from(1);
        }
    };
    if !args.json {
        eprintln!("approved phase {phase} of run {run_id}");
    }
    if args.no_continue {
        return ExitCode::SUCCESS;
    }
    let view = progress::for_terminal(args.quiet || args.json);
    match engine::continue_run(&args.repo, &run_id, view.as_ref()) {
        Ok(report) => super::run::print_report(&report, args.json),
        Err(e) => {
            eprintln!("prflow approve: {e:#}");
            ExitCode::from(1)
        }
    }
}
