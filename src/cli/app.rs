//! `prflow app …`: helpers for registering prflow as a GitHub App.

use std::process::ExitCode;

use crate::server::app_manifest::manifest;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the GitHub App manifest (least permissions prflow needs) as JSON.
    Manifest(ManifestArgs),
    /// Register prflow on GitHub with one click: a local page posts the manifest,
    /// GitHub creates the App, and its credentials are written where `serve` reads them.
    Register(super::app_register::RegisterArgs),
}

#[derive(clap::Args)]
pub struct ManifestArgs {
    /// Public base URL of the `prflow serve` service; webhooks go to URL/webhook.
    #[arg(long, default_value = "https://prflow.example.com")]
    pub url: String,
    /// The App's name on GitHub (must be unique there).
    #[arg(long, default_value = "prflow")]
    pub name: String,
    /// `actions` adds `actions: write`, needed by `serve --executor actions`.
    #[arg(long, value_enum, default_value_t = crate::server::config::ExecutorKind::Local)]
    pub executor: crate::server::config::ExecutorKind,
}

pub fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Register(a) => super::app_register::run(a),
        Command::Manifest(a) => {
            if !(a.url.starts_with("https://") || a.url.starts_with("http://")) {
                eprintln!(
                    "prflow app manifest: --url `{}` must start with https:// (GitHub delivers webhooks to it)",
                    a.url
                );
                return ExitCode::from(2);
            }
            let m = manifest(
                &a.url,
                &a.name,
                a.executor == crate::server::config::ExecutorKind::Actions,
            );
            println!(
                "{}",
                serde_json::to_string_pretty(&m).expect("a JSON value serializes")
            );
            ExitCode::SUCCESS
        }
    }
}
