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

/// `serve` given no App credentials: with `--public-url`, the registration page of
/// `prflow app register` on serve's own address, then the credentials it wrote.
/// `Some(code)` when serve must stop here.
fn register_first(args: &mut crate::server::ServeArgs) -> Option<ExitCode> {
    let Some(url) = args.public_url.clone() else {
        eprintln!(
            "prflow serve: no App credentials (APP_ID, PRIVATE_KEY_PATH, WEBHOOK_SECRET). To create the App \
             from here, start serve with --public-url https://… (where GitHub will send webhooks): it shows \
             a page that registers the App, then starts; or run `prflow app register --url https://…`."
        );
        return None;
    };
    let listen = match args.listen_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("prflow serve: {e}");
            return Some(ExitCode::from(2));
        }
    };
    let code = super::app_register::run(super::app_register::RegisterArgs {
        url,
        org: args.app_org.clone(),
        name: "prflow".into(),
        github_url: args.github_url.clone(),
        github_api_url: args.github_api_url.clone(),
        data_dir: args.data_dir.clone(),
        listen,
        executor: args.executor,
    });
    if code != ExitCode::SUCCESS {
        return Some(code);
    }
    match super::app_register::fill_from_registration(args) {
        Ok(true) => None,
        Ok(false) => {
            eprintln!("prflow serve: the registration wrote no credentials");
            Some(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("prflow serve: {e}");
            Some(ExitCode::from(2))
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    let mut args = args.serve;
    init_logging(args.log_format);
    // Credentials written by `prflow app register`, when none are given.
    let registered = match super::app_register::fill_from_registration(&mut args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("prflow serve: {e}");
            return ExitCode::from(2);
        }
    };
    // No App yet: register one first, on this service's own address.
    if !registered && args.app_id.is_none() {
        if let Some(code) = register_first(&mut args) {
            return code;
        }
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
