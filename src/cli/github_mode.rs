//! `prflow run --github`: the CLI as a front end of the GitHub flow. It only builds a
//! [`FlowContext`] and a [`Trigger::Run`]; the flow decides everything else.

use crate::flow::{self, FlowContext, FlowOptions, FlowReport, Trigger};
use crate::github::{host, Auth, GitHub, GitHubConfig, RetryPolicy};
use std::path::PathBuf;
use std::process::ExitCode;

/// How to reach GitHub: the flags `run --github` and `status --github` share.
#[derive(clap::Args, Clone, Debug)]
pub struct GithubArgs {
    /// The GitHub API (github.com, `https://HOST/api/v3`, or `prflow sim`'s URL).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub api_url: String,
    /// The environment variable holding the token.
    #[arg(long, default_value = "GITHUB_TOKEN")]
    pub token_env: String,
    /// Git remote URL; derived from the API URL when absent.
    #[arg(long)]
    pub git_url: Option<String>,
}

/// Builds the context for a token-authenticated run on `OWNER/REPO`.
pub fn context(
    full: &str,
    args: &GithubArgs,
    workdir: Option<PathBuf>,
    options: FlowOptions,
) -> Result<FlowContext, String> {
    let (owner, repo) = full
        .split_once('/')
        .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| format!("--github wants OWNER/REPO, not `{full}`"))?;
    let auth = Auth::token_from_env(&args.token_env).map_err(|e| e.to_string())?;
    let workdir = workdir.unwrap_or_else(|| flow::session::default_workdir(owner, repo));
    let mut config = GitHubConfig::new(&args.api_url);
    config.retry = RetryPolicy::from_env(&|name| std::env::var(name).ok())?;
    // ETags kept beside the working clone: a re-run with nothing new reads 304s, free of rate limit.
    config.etag_file = Some(workdir.with_extension("etags.json"));
    let github = GitHub::new(config, auth).map_err(|e| e.to_string())?;
    Ok(FlowContext {
        github,
        owner: owner.to_string(),
        repo: repo.to_string(),
        git_url: args
            .git_url
            .clone()
            .unwrap_or_else(|| host::git_url(&host::git_base(&args.api_url), owner, repo)),
        workdir,
        options,
    })
}

/// Logs to stderr: warnings by default, `RUST_LOG=prflow=debug` shows every API call.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run_on_github(args: &super::run::Args, full: &str) -> ExitCode {
    init_logging();
    let options = FlowOptions {
        dry_run: args.dry_run,
        trusted: true,
        quiet: args.quiet || args.json,
        default_runner: args.runner.clone(),
        ..Default::default()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow run: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // octocrab's client needs a runtime when it is built.
    let _guard = rt.enter();
    let workdir = (args.repo != std::path::Path::new(".")).then(|| args.repo.clone());
    let ctx = match context(full, &args.connection, workdir, options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("prflow run: {e}");
            return ExitCode::from(2);
        }
    };
    let path = args.file.to_string_lossy().replace('\\', "/");
    let trigger = Trigger::Run {
        workflow_path: path.trim_start_matches("./").to_string(),
        base: args.base.clone(),
        starter: std::env::var("PRFLOW_STARTER").unwrap_or_default(),
    };
    match rt.block_on(flow::handle(&ctx, trigger)) {
        Ok(report) => print(&report, args.json),
        Err(e) => {
            eprintln!("prflow run: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Prints a flow report (as JSON, or [`FlowReport::text`]); exit 1 when the run failed.
pub fn print(report: &FlowReport, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", report.text());
    }
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
