//! `prflow sim`: start the GitHub simulator and print how to reach it.

use crate::sim::{Sim, SimConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Keep repositories, state and the App key in DIR, so they survive a restart.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Import a local git repository (all branches) as OWNER/NAME; repeatable.
    #[arg(long = "repo", value_name = "OWNER/NAME=PATH")]
    pub repos: Vec<String>,
    /// Send signed webhooks here (e.g. http://127.0.0.1:3000/webhook).
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// The webhook secret (default: random, or the one saved in --data).
    #[arg(
        long,
        value_name = "S",
        env = "PRFLOW_SIM_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let mut repos = vec![];
    for r in &args.repos {
        match r.split_once('=') {
            Some((name, path)) if name.contains('/') => {
                repos.push((name.to_string(), PathBuf::from(path)))
            }
            _ => {
                eprintln!("prflow sim: --repo {r:?} must be OWNER/NAME=PATH, e.g. --repo acme/shop=./shop");
                return ExitCode::from(2);
            }
        }
    }
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "prflow sim: warning: listening on {} — /_sim/ controls (create users, faults) need no token; keep it on 127.0.0.1 unless this network is yours",
            args.addr
        );
    }
    let cfg = SimConfig {
        addr: args.addr,
        data_dir: args.data,
        repos,
        webhook_url: args.webhook_url,
        webhook_secret: args.webhook_secret,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow sim: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let sim = match Sim::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("prflow sim: {e:#}");
                return ExitCode::from(1);
            }
        };
        let line = serde_json::json!({
            "api_url": sim.api_url(),
            "git_url": sim.git_url(),
            "app_id": sim.app_id(),
            "private_key_path": sim.private_key_path(),
            "installation_id": sim.installation_id(),
            "webhook_secret": sim.webhook_secret(),
        });
        println!("{line}");
        eprintln!(
            "prflow sim: listening on {} (create a person: curl -X POST {}/_sim/users -d '{{\"login\":\"alice\",\"permission\":\"write\"}}'); Ctrl-C stops it",
            sim.api_url(),
            sim.api_url()
        );
        let _ = tokio::signal::ctrl_c().await;
        sim.shutdown().await;
        ExitCode::SUCCESS
    })
}
