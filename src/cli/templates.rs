//! `prflow templates`.

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the template packs.
    List,
}

pub fn run(_c: Command) -> ExitCode {
    eprintln!("prflow templates: not implemented yet");
    ExitCode::from(1)
}
