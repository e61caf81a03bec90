//! `prflow demo`: the whole flow with no GitHub account and no key.
//!
//! It starts the simulator and the App service in this process, imports a scratch
//! repository holding claude-flow's microservices workflow, and then plays the
//! people: Alice comments `/prflow run …` on an issue, and Bob approves each
//! checkpoint PR in review. Everything else is exactly what the App does with real
//! signed webhooks on loopback.

use crate::server::config::ServeArgs;
use crate::sim::{Sim, SimConfig};
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const WORKFLOW: &str = include_str!("../../examples/microservices-workflow.json");
const WORKFLOW_PATH: &str = "examples/microservices-workflow.json";
const REPO: &str = "demo/shop";

#[derive(clap::Args)]
pub struct Args {
    /// Keep the simulator running at the end (Ctrl-C stops it) to look around:
    /// every PR, its checks and the run graph are web pages of the simulator.
    #[arg(long)]
    pub keep: bool,
    /// Leave the reviewing to you: stop after phase 1's PR, print its page's URL
    /// and keep running; approve it there as bob and the App opens phase 2 (implies --keep).
    #[arg(long)]
    pub browse: bool,
    /// Where to put the scratch repository and the simulator's data (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How long to wait for one phase before giving up, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

pub fn run(args: Args) -> ExitCode {
    // The App's own log (warnings and errors by default; RUST_LOG=info for more).
    super::github_mode::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow demo: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(demo(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prflow demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[derive(Parser)]
struct ServeWrapper {
    #[command(flatten)]
    serve: ServeArgs,
}

async fn demo(args: Args) -> Result<()> {
    let temp;
    let root = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new().prefix("prflow-demo-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(root.join("sim"))?;
    let scratch = root.join("shop");
    make_scratch_repo(&scratch)?;
    let started = Instant::now();

    let sim = Sim::start(SimConfig {
        data_dir: Some(root.join("sim")),
        repos: vec![(REPO.into(), scratch.clone())],
        ..Default::default()
    })
    .await
    .context("starting the GitHub simulator")?;
    let serve_args = ServeWrapper::try_parse_from([
        "serve",
        "--app-id",
        &sim.app_id().to_string(),
        "--private-key-path",
        &sim.private_key_path().to_string_lossy(),
        "--webhook-secret",
        &sim.webhook_secret(),
        "--github-api-url",
        &sim.api_url(),
        "--git-url",
        &sim.git_url(),
        "--data-dir",
        &root.join("app").to_string_lossy(),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ])
    .map_err(|e| anyhow!("{e}"))?
    .serve;
    let service = crate::server::start(&serve_args, None)
        .await
        .context("starting the App service")?;
    let app_url = format!("http://{}", service.addr);
    sim.set_webhook_url(Some(format!("{app_url}/webhook")));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(service.serve(async {
        let _ = stop_rx.await;
    }));

    let alice = sim.create_user("alice", "write")?;
    let bob = sim.create_user("bob", "write")?;
    let api = sim.api_url();
    let http = reqwest::Client::new();
    println!("GitHub simulator: {api}   App service: {app_url}");
    println!(
        "scratch repository: {} (imported as {REPO})\n",
        scratch.display()
    );

    let issue = call(
        &http,
        &alice,
        "POST",
        &format!("{api}/repos/{REPO}/issues"),
        Some(json!({
            "title": "Build the shop from the microservices workflow",
            "body": "Let's have the agents build it."
        })),
    )
    .await?;
    let issue_no = issue["number"]
        .as_u64()
        .ok_or_else(|| anyhow!("no issue number"))?;
    call(
        &http,
        &alice,
        "POST",
        &format!("{api}/repos/{REPO}/issues/{issue_no}/comments"),
        Some(json!({
            "body": format!("/prflow run {WORKFLOW_PATH}")
        })),
    )
    .await?;
    println!("alice commented `/prflow run {WORKFLOW_PATH}` on issue #{issue_no}");

    let phases = 3;
    let mut first_pr = String::new();
    let mut left_to_you = false;
    for phase in 1..=phases {
        let pr =
            wait_for_phase_pr(&http, &bob, &api, phase, Duration::from_secs(args.timeout)).await?;
        let number = pr["number"].as_u64().unwrap_or_default();
        let head = pr["head"]["sha"].as_str().unwrap_or_default().to_string();
        println!(
            "\nphase {phase}: PR #{number} {} ← {}\n  {}",
            pr["base"]["ref"].as_str().unwrap_or(""),
            pr["head"]["ref"].as_str().unwrap_or(""),
            pr["title"].as_str().unwrap_or("")
        );
        let checks = call(
            &http,
            &bob,
            "GET",
            &format!("{api}/repos/{REPO}/commits/{head}/check-runs"),
            None,
        )
        .await?;
        for c in checks["check_runs"].as_array().into_iter().flatten() {
            println!(
                "  check {:<24} {:<10} {}",
                c["name"].as_str().unwrap_or(""),
                c["conclusion"].as_str().unwrap_or("pending"),
                c["output"]["title"].as_str().unwrap_or("")
            );
        }
        if phase == 1 {
            first_pr = pr["html_url"].as_str().unwrap_or_default().to_string();
        }
        if args.browse {
            left_to_you = true;
            break;
        }
        call(&http, &bob, "POST", &format!("{api}/repos/{REPO}/pulls/{number}/reviews"), Some(json!({
            "event": "APPROVE", "commit_id": head, "body": "Looks good: approved by the demo reviewer."
        })))
        .await?;
        println!("  bob approved PR #{number}");
    }
    if left_to_you {
        println!("\nYour turn: open phase 1's pull request in a browser,");
        println!("  {first_pr}");
        println!(
            "pick bob at the top right (the reviewer), approve it, and the App opens phase 2's PR."
        );
        println!("--browse: the simulator and the App keep running; Ctrl-C stops them.");
        let _ = tokio::signal::ctrl_c().await;
    } else {
        wait_for_done(
            &http,
            &bob,
            &api,
            issue_no,
            Duration::from_secs(args.timeout),
        )
        .await?;
        println!(
            "\nThe run is done: {phases} phases, {phases} PRs, every checkpoint approved, in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
        land_in_order(&http, &bob, &api, phases, Duration::from_secs(args.timeout)).await?;
        println!("See it in a browser (pick who you act as at the top right of a page):");
        println!("  the first PR  {first_pr}");
        println!("  every PR      {api}/{REPO}/pulls?state=all");
        println!("  the run issue {api}/{REPO}/issues/{issue_no}");
        println!(
            "  git clone http://x-access-token:{bob}@{}/{REPO}.git   (bob's token, valid only in this simulator)",
            sim.git_url().trim_start_matches("http://")
        );
        if args.keep {
            println!("\n--keep: the simulator and the App keep running; Ctrl-C stops them.");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    let _ = stop_tx.send(());
    let _ = serving.await;
    sim.shutdown().await;
    if !(args.keep || left_to_you) {
        println!(
            "\nThe simulator and the App have stopped: the URLs above are gone. \
             `prflow demo --keep` keeps them running until Ctrl-C."
        );
    }
    Ok(())
}

/// Plays the person who lands the stack: Bob squash-merges PR 1 into `main`, waits
/// for the App to retarget PR 2 to `main` and merge `main` into its branch (so PR 2
/// shows only phase 2 again, with its gates run on the new head), merges it, and so
/// on up the stack — the order teams merge approved PRs in on GitHub.
async fn land_in_order(
    http: &reqwest::Client,
    bob: &str,
    api: &str,
    phases: usize,
    timeout: Duration,
) -> Result<()> {
    println!("\nBob lands the stack one PR at a time (squash, GitHub's common default):");
    let mut merged = Vec::new();
    let mut restacked_from: Option<String> = None;
    for phase in 1..=phases {
        let pr =
            wait_for_landable(http, bob, api, phase, restacked_from.as_deref(), timeout).await?;
        let number = pr["number"].as_u64().unwrap_or_default();
        let files = call(
            http,
            bob,
            "GET",
            &format!("{api}/repos/{REPO}/pulls/{number}/files?per_page=100"),
            None,
        )
        .await?;
        let files = files.as_array().map_or(0, Vec::len);
        let how = if phase == 1 {
            ""
        } else {
            ", retargeted and restacked by the App"
        };
        // The head of the PR above, to see the App's restack land on it.
        restacked_from = open_phase_pr(http, bob, api, phase + 1)
            .await?
            .and_then(|p| p["head"]["sha"].as_str().map(str::to_string));
        call(
            http,
            bob,
            "PUT",
            &format!("{api}/repos/{REPO}/pulls/{number}/merge"),
            Some(json!({"merge_method": "squash"})),
        )
        .await
        .with_context(|| format!("merging PR #{number}"))?;
        println!(
            "  PR #{number} (phase {phase}: {files} files, base main{how}) squash-merged into main"
        );
        merged.push(format!("#{number}"));
    }
    let open = call(
        http,
        bob,
        "GET",
        &format!("{api}/repos/{REPO}/pulls?state=open"),
        None,
    )
    .await?;
    let still_open = open.as_array().map_or(0, Vec::len);
    let main = call(
        http,
        bob,
        "GET",
        &format!("{api}/repos/{REPO}/branches/main"),
        None,
    )
    .await?;
    let sha = main["commit"]["sha"].as_str().unwrap_or_default();
    println!(
        "The stack landed: {} merged into main in order; {still_open} PRs open; main is at {}.",
        merged.join(", "),
        &sha[..sha.len().min(7)]
    );
    Ok(())
}

/// The open PR of phase `n`, if there is one.
async fn open_phase_pr(
    http: &reqwest::Client,
    token: &str,
    api: &str,
    n: usize,
) -> Result<Option<Value>> {
    let prefix = format!("{n:02}-");
    let pulls = call(
        http,
        token,
        "GET",
        &format!("{api}/repos/{REPO}/pulls?state=open&per_page=100"),
        None,
    )
    .await?;
    Ok(pulls
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["head"]["ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .is_some_and(|leaf| leaf.starts_with(&prefix))
        })
        .cloned())
}

/// Waits until phase `n`'s PR targets `main`, has moved on from `old_head` (the App
/// merged the new `main` into it) and its gates finished on the new head.
async fn wait_for_landable(
    http: &reqwest::Client,
    token: &str,
    api: &str,
    n: usize,
    old_head: Option<&str>,
    timeout: Duration,
) -> Result<Value> {
    let what = format!("phase {n}'s PR was not retargeted to main and restacked");
    poll(timeout, &what, APP_LOG, move || async move {
        if let Some(pr) = open_phase_pr(http, token, api, n).await? {
            let head = pr["head"]["sha"].as_str().unwrap_or_default();
            if pr["base"]["ref"] == "main"
                && old_head != Some(head)
                && checks_completed(http, token, api, head).await?
            {
                return Ok(Some(pr));
            }
        }
        Ok(None)
    })
    .await
}

/// Where a demo that timed out sends the reader.
const APP_LOG: &str = "; the App's log above says why";

/// Asks `check` every 100 ms until it has an answer. Past `timeout` the error
/// is "`what` within N s`tail`".
async fn poll<T, F, Fut>(timeout: Duration, what: &str, tail: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what} within {} s{tail}", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn make_scratch_repo(dir: &Path) -> Result<()> {
    if dir.join(".git").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("examples"))?;
    std::fs::write(dir.join("README.md"), "# shop\n\nBuilt by prflow's demo.\n")?;
    std::fs::write(dir.join(WORKFLOW_PATH), WORKFLOW)?;
    let repo = git2::Repository::init(dir)?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = git2::Signature::now("Demo", "demo@prflow.invalid")?;
    let commit = repo.commit(
        None,
        &sig,
        &sig,
        "Add the microservices workflow",
        &tree,
        &[],
    )?;
    repo.reference("refs/heads/main", commit, true, "demo")?;
    repo.set_head("refs/heads/main")?;
    Ok(())
}

async fn call(
    http: &reqwest::Client,
    token: &str,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut req = http.request(method.parse()?, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{method} {url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Did every check run on `head` complete (and is there at least one)?
async fn checks_completed(
    http: &reqwest::Client,
    token: &str,
    api: &str,
    head: &str,
) -> Result<bool> {
    let checks = call(
        http,
        token,
        "GET",
        &format!("{api}/repos/{REPO}/commits/{head}/check-runs"),
        None,
    )
    .await?;
    Ok(checks["check_runs"]
        .as_array()
        .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["status"] == "completed")))
}

/// Waits until phase `n`'s PR exists and its gates have reported.
async fn wait_for_phase_pr(
    http: &reqwest::Client,
    token: &str,
    api: &str,
    n: usize,
    timeout: Duration,
) -> Result<Value> {
    let what = format!("phase {n}'s pull request did not appear");
    poll(timeout, &what, APP_LOG, move || async move {
        if let Some(pr) = open_phase_pr(http, token, api, n).await? {
            let head = pr["head"]["sha"].as_str().unwrap_or_default();
            let body_ready = pr["body"].as_str().is_some_and(|b| b.contains("### Gates"));
            let all_done = checks_completed(http, token, api, head).await?;
            if body_ready && all_done {
                return Ok(Some(pr));
            }
        }
        Ok(None)
    })
    .await
}

/// Waits until the run's status comment says it is done.
async fn wait_for_done(
    http: &reqwest::Client,
    token: &str,
    api: &str,
    issue: u64,
    timeout: Duration,
) -> Result<()> {
    let url = &format!("{api}/repos/{REPO}/issues/{issue}/comments");
    let said_done = move || async move {
        let comments = call(http, token, "GET", url, None).await?;
        let done = comments.as_array().into_iter().flatten().any(|c| {
            c["body"]
                .as_str()
                .is_some_and(|b| b.contains("The run is done"))
        });
        Ok(done.then_some(()))
    };
    poll(timeout, "the run did not report done", "", said_done).await
}
