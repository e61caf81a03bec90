//! The command line. Each subcommand lives in its own module with its own clap
//! `Args` and a `run` that returns the process exit code:
//! 0 success, 1 the work failed (invalid workflow, failed task), 2 usage error.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod action;
pub mod app;
pub mod app_register;
pub mod approve;
pub mod demo;
pub mod github_mode;
pub mod plan;
pub mod run;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod status;
pub mod templates;
pub mod validate;

#[derive(Parser)]
#[command(
    name = "prflow",
    version,
    about = "Turn multi-agent workflow files into reviewable git history",
    long_about = "prflow runs a claude-flow workflow file: every phase becomes a branch, every task one \
commit, every phase a pull request; checkpoints wait for an approving review and quality gates become \
check runs.\n\nStart with `prflow demo` (no GitHub account needed) or `prflow run WORKFLOW`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check a workflow file and print a summary (exit 1 with every problem if invalid).
    Validate(validate::Args),
    /// Show the phases, their tasks in run order and the checkpoints.
    Plan(plan::Args),
    /// The whole flow offline: simulator + App + reviewers, on the microservices workflow.
    Demo(demo::Args),
    /// Run a workflow: phases become branches, tasks commits; stops at checkpoints.
    Run(run::Args),
    /// Approve the checkpoint that waits and continue the run.
    Approve(approve::Args),
    /// Show runs, phases and tasks with their commits (read from git).
    Status(status::Args),
    /// Print the JSON Schema of the workflow format (for editors and linters).
    Schema(schema::Args),
    /// Start the GitHub simulator (for trying prflow and for tests).
    Sim(sim::Args),
    /// Run the GitHub App service: signed webhooks in, runs carried forward.
    Serve(Box<serve::Args>),
    /// The GitHub Action's step: reads the runner's GITHUB_* and INPUT_* variables.
    Action(action::Args),
    /// GitHub App helpers (`prflow app manifest`).
    #[command(subcommand)]
    App(app::Command),
    /// List and describe template packs.
    #[command(subcommand)]
    Templates(templates::Command),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    crate::agents::sandbox::harden_self();
    // serve, sim and demo handle their signals with tokio (and clean up on the way out).
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Sim(_) | Command::Demo(_)
    ) {
        crate::agents::sandbox::temp::remove_on_signals();
    }
    let code = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Approve(a) => approve::run(a),
        Command::Status(a) => status::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Action(a) => action::run(a),
        Command::App(c) => app::run(c),
        Command::Templates(c) => templates::run(c),
    };
    crate::agents::sandbox::temp::cleanup();
    code
}
