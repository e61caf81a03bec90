//! Helpers the test binaries share (each takes it as `mod common;`; the simulator's
//! tests add tests/sim_support on top):
//! - git, the one way a test runs it, and scratch repositories ([`repos`]);
//! - the prflow binary run as a person runs it, and workflow files ([`cli`]);
//! - the simulator serving a repository ([`sim_serving`]);
//! - `prflow serve` as a separate process (tests/serve*.rs, tests/replicas.rs): start the
//!   real binary on a loopback port with its data and log in a temp dir, sign and
//!   deliver webhooks, read what the test handlers recorded;
//! - what the bot said and whether a test read it ([`outbox`]).
#![allow(dead_code)] // each test binary uses only part of it

pub mod cli;
pub mod outbox;
pub mod pg;
pub mod proxy;
pub mod repos;
pub mod yaml;

// Re-exported so a test names them `common::git` …; each binary uses only some.
#[allow(unused_imports)]
pub use cli::{prflow, text, write_workflow};
#[allow(unused_imports)]
pub use repos::{
    all_refs, commit_files, git, git_in, git_repo, init_repo, prflow_branches, repo_with,
};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};

/// The webhook secret `prflow serve` is started with.
pub const SECRET: &str = "whsec-test-Zq8Xv2Lm9Tr4";
/// A rotated-out secret, still accepted (WEBHOOK_SECRET = "SECRET,OLD_SECRET").
pub const OLD_SECRET: &str = "whsec-old-Kp3Nw7Yc1Bd5";

/// GitHub's `X-Hub-Signature-256` of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// A running `prflow serve`; killed when dropped.
pub struct Svc {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The data dir (journal, record file, serve.log).
    pub dir: PathBuf,
    /// Pending deliveries the process found in its journal on start.
    pub recovered: u64,
}

impl Svc {
    /// The record file of the `record:`/`flaky:` test handlers.
    pub fn record(&self) -> PathBuf {
        self.dir.join("record.jsonl")
    }
    /// Everything the process logged so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    /// The process id of the running `prflow serve`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn sigterm(&self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `prflow serve` on 127.0.0.1, data in `dir`, logs (debug, JSON) to
/// dir/serve.log, secrets SECRET and OLD_SECRET, then `args` and `envs`.
/// Unless `args` name them: `--handler record:<dir>/record.jsonl` and
/// `--port 0`. Settings from the environment running the tests are cleared.
pub fn spawn(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Svc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .unwrap();
    let mut cmd = serve_command(dir);
    if !args.contains(&"--handler") {
        cmd.args(["--handler", &record_handler(dir)]);
    }
    if !args.contains(&"--port") {
        cmd.args(["--port", "0"]);
    }
    cmd.args(args);
    // No redelivery sweeps unless a test asks (tests/serve_redeliver.rs): the
    // others count deliveries, and a sweep would add what the App missed.
    cmd.env("WEBHOOK_SECRET", format!("{SECRET},{OLD_SECRET}"))
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .env("PRFLOW_REDELIVER_EVERY", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "serve printed {line:?} ({e}); log: {}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        )
    });
    Svc {
        child,
        _stdout: stdout,
        base: format!("http://{}", v["listening"].as_str().unwrap()),
        dir: dir.to_path_buf(),
        recovered: v["recovered"].as_u64().unwrap(),
    }
}

/// `--handler`'s value for the `record:` test handler writing to dir/record.jsonl.
pub fn record_handler(dir: &Path) -> String {
    format!("record:{}", dir.join("record.jsonl").display())
}

/// `prflow serve` on 127.0.0.1 with its data in `dir`, none of the settings the
/// environment running the tests may hold (App credentials, webhook secret, port,
/// handler, limits …): what a test does not pass, serve does not get.
pub fn serve_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prflow"));
    cmd.arg("serve")
        .args(["--host", "127.0.0.1", "--data-dir"])
        .arg(dir);
    for v in [
        "APP_ID",
        "PRIVATE_KEY",
        "PRIVATE_KEY_PATH",
        "PORT",
        "HOST",
        "PRFLOW_REPO_ALLOWLIST",
        "PRFLOW_DATA_DIR",
        "LOG_FORMAT",
        "PRFLOW_RECORD_DELAY_MS",
        "PRFLOW_WORKERS",
        "PRFLOW_HANDLER",
        "PRFLOW_MAX_ATTEMPTS",
        "PRFLOW_RETRY_BASE_MS",
        "PRFLOW_HEADER_TIMEOUT_MS",
        "PRFLOW_BODY_TIMEOUT_MS",
        "PRFLOW_MAX_CONNECTIONS",
        "PRFLOW_DATABASE_URL",
        "PRFLOW_CLAIM_LEASE_MS",
        "PRFLOW_CLAIM_POLL_MS",
        "WEBHOOK_SECRET",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

/// A webhook's `repository` object for `owner/name`.
pub fn repo(full: &str) -> Value {
    let (o, n) = full.split_once('/').unwrap();
    json!({"name": n, "full_name": full, "owner": {"login": o}, "default_branch": "main", "private": false, "fork": false})
}

/// A `pull_request_review` `submitted` (approved) payload.
pub fn review(full: &str, pr: u64, head_ref: &str, head_repo: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": "submitted",
        "review": {"id": 100 + pr, "state": "approved", "user": {"login": "bob"}, "commit_id": "a".repeat(40), "body": "lgtm"},
        "pull_request": {"number": pr, "head": {"ref": head_ref, "sha": "a".repeat(40), "repo": {"full_name": head_repo}},
                          "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": full}}},
        "repository": repo(full),
        "installation": {"id": 7},
        "sender": {"login": "bob"}
    }))
    .unwrap()
}

/// POST `body` to /webhook with the headers given; the status and the text answered.
pub async fn post(
    svc: &Svc,
    event: Option<&str>,
    id: Option<&str>,
    body: Vec<u8>,
    sig: Option<String>,
) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(svc.url("/webhook"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(e) = event {
        r = r.header("x-github-event", e);
    }
    if let Some(i) = id {
        r = r.header("x-github-delivery", i);
    }
    if let Some(s) = sig {
        r = r.header("x-hub-signature-256", s);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A delivery signed with SECRET, as GitHub sends it.
pub async fn deliver(svc: &Svc, event: &str, id: &str, body: Vec<u8>) -> (u16, String) {
    let s = sign(SECRET, &body);
    post(svc, Some(event), Some(id), body, Some(s)).await
}

/// The lines of the test handler's record file so far.
pub fn records(svc: &Svc) -> Vec<Value> {
    std::fs::read_to_string(svc.record())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Send `req` with `token` as its bearer: the JSON answered (the simulator's API).
pub async fn json_as(req: reqwest::RequestBuilder, token: &str) -> Value {
    req.bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn metrics(svc: &Svc) -> String {
    reqwest::get(svc.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The simulator serving the repository at `src` as `full` (`owner/name`), with no
/// webhook receiver.
pub async fn sim_serving(full: &str, src: &Path) -> prflow::sim::Sim {
    prflow::sim::Sim::start(prflow::sim::SimConfig {
        repos: vec![(full.to_string(), src.to_path_buf())],
        ..Default::default()
    })
    .await
    .unwrap()
}
