//! `prflow serve`: run the GitHub App service (see docs/app.md).

use std::process::ExitCode;

use crate::server::config::LogFormat;
use crate::server::{self, ServeArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Logs go to stderr, as JSON lines or pretty text; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Pretty => b.try_init(),
    };
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: Args) -> ExitCode {
    let mut args = args.serve;
    init_logging(args.log_format);
    // Credentials written by `prflow app register`, when none are given.
    if let Err(e) = super::app_register::fill_from_registration(&mut args) {
        eprintln!("prflow serve: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = args.validate() {
        eprintln!("prflow serve: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow serve: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let running = match server::start(&args, None).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("prflow serve: {e:#}");
                return ExitCode::from(1);
            }
        };
        // One machine-readable line on stdout: tests and scripts read the port from it.
        println!(
            "{}",
            serde_json::json!({"listening": running.addr.to_string(), "recovered": running.recovered})
        );
        tracing::info!(addr = %running.addr, data_dir = %args.data_dir.display(), workers = args.workers, "prflow serve: listening (POST /webhook, GET /health/ready, GET /metrics)");
        let code = match running.serve(terminated()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("prflow serve: {e:#}");
                ExitCode::from(1)
            }
        };
        // Work abandoned after the shutdown grace leaves no task folder behind.
        crate::agents::sandbox::temp::cleanup();
        code
    })
}
