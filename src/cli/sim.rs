//! `prflow sim`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("prflow sim: not implemented yet");
    ExitCode::from(1)
}
