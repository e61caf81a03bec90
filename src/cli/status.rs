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
    /// Read the run from GitHub (branches, trailers and PRs) for OWNER/REPO.
    #[arg(long, value_name = "OWNER/REPO")]
    pub github: Option<String>,
    #[command(flatten)]
    pub connection: super::github_mode::GithubArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> ExitCode {
    if let Some(full) = &args.github {
        return on_github(&args, full);
    }
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
                        let note = match (p.control.skipped.get(task), p.control.handled.get(task))
                        {
                            (Some(why), _) => format!("  (skipped: {why})"),
                            (None, Some(e)) => {
                                format!("  (failed, {})", e.lines().next().unwrap_or(""))
                            }
                            _ => String::new(),
                        };
                        println!("      {c:<8} {task}{note}");
                    }
                }
            }
        }
    }
    ExitCode::SUCCESS
}

fn on_github(args: &Args, full: &str) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow status: {e}");
            return ExitCode::from(1);
        }
    };
    let _guard = rt.enter();
    let workdir = (args.repo != std::path::Path::new(".")).then(|| args.repo.clone());
    let ctx = match super::github_mode::context(full, &args.connection, workdir, Default::default())
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("prflow status: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(crate::flow::status(&ctx, args.run.as_deref())) {
        Ok(runs) => {
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&runs).unwrap_or_default()
                ),
                Format::Text => {
                    for r in &runs {
                        println!(
                            "run {} — {} ({})",
                            r.state.run_id, r.state.workflow, r.state.workflow_path
                        );
                        for (p, pr) in r.state.phases.iter().zip(&r.pull_requests) {
                            let pr = pr
                                .as_ref()
                                .map(|(n, st, url)| format!("#{n} {st} {url}"))
                                .unwrap_or_else(|| "no PR".into());
                            println!(
                                "  phase {} {} [{}] {} — {pr}",
                                p.index,
                                p.name,
                                p.status.as_str(),
                                p.branch
                            );
                        }
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("prflow status: {e:#}");
            ExitCode::from(1)
        }
    }
}
