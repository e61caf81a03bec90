//! `prflow status`: where runs stand, read from git alone.

use crate::engine;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The repository holding the runs.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Show one run only.
    #[arg(long)]
    pub run: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> ExitCode {
    let runs = match engine::status(&args.repo, args.run.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("prflow status: {e:#}");
            return ExitCode::from(1);
        }
    };
    match args.format {
        Format::Json => {
            let value = if args.run.is_some() {
                serde_json::to_value(runs.first()).unwrap_or_default()
            } else {
                serde_json::to_value(&runs).unwrap_or_default()
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        Format::Text => {
            if runs.is_empty() {
                println!("no prflow runs in this repository; start one with `prflow run WORKFLOW`");
            }
            for r in &runs {
                println!("run {} — {} ({})", r.run_id, r.workflow, r.workflow_path);
                for p in &r.phases {
                    println!(
                        "  phase {} {} [{}] {}",
                        p.index,
                        p.name,
                        p.status.as_str(),
                        p.branch
                    );
                    if let Some(f) = &p.failure {
                        for line in f.lines() {
                            println!("      ! {line}");
                        }
                    }
                    for (task, commit) in &p.tasks {
                        let c = commit.as_deref().map(|c| &c[..8]).unwrap_or("-");
                        println!("      {c:<8} {task}");
                    }
                }
            }
        }
    }
    ExitCode::SUCCESS
}
