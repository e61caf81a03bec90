//! Retries of `prflow serve` as a separate process: the real binary with the
//! flaky test handler (`--handler flaky:FILE:N`), whose first N attempts at
//! each delivery fail with a typed transient GitHub error and whose
//! `permanent-…` deliveries fail with a 422. The journal is read through
//! `Journal::status_of` (a second SQLite connection) while the service runs.
//! Helpers are a minimal copy of those in tests/serve.rs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use prflow::server::journal::{DeliveryStatus, Journal};
use serde_json::{json, Value};

const SECRET: &str = "whsec-retry-Vb6Qm3Ke8Wd1";

fn sign(body: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

struct Svc {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    base: String,
    dir: PathBuf,
    recovered: u64,
}

impl Svc {
    fn record(&self) -> PathBuf {
        self.dir.join("record.jsonl")
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    fn sigterm(&self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }
    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
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

/// Start `prflow serve` on 127.0.0.1:0 with data in `dir`, the flaky handler
/// failing `failures` attempts per delivery, retries `base_ms` apart (×3).
fn spawn(dir: &Path, failures: u32, base_ms: u64) -> Svc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prflow"));
    cmd.arg("serve")
        .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir)
        .arg("--handler")
        .arg(format!(
            "flaky:{}:{failures}",
            dir.join("record.jsonl").display()
        ));
    for v in [
        "APP_ID",
        "PRIVATE_KEY",
        "PRIVATE_KEY_PATH",
        "PORT",
        "HOST",
        "PRFLOW_REPO_ALLOWLIST",
        "PRFLOW_DATA_DIR",
        "PRFLOW_WORKERS",
        "PRFLOW_HANDLER",
        "PRFLOW_MAX_ATTEMPTS",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("WEBHOOK_SECRET", SECRET)
        .env("PRFLOW_RETRY_BASE_MS", base_ms.to_string())
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json");
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

/// A signed `pull_request_review` (approved) of PR `pr` on branch `head_ref`.
async fn deliver(svc: &Svc, id: &str, pr: u64, head_ref: &str) {
    let body = serde_json::to_vec(&json!({
        "action": "submitted",
        "review": {"id": 100 + pr, "state": "approved", "user": {"login": "bob"}, "commit_id": "a".repeat(40), "body": "lgtm"},
        "pull_request": {"number": pr, "head": {"ref": head_ref, "sha": "a".repeat(40), "repo": {"full_name": "acme/shop"}},
                          "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": "acme/shop"}}},
        "repository": {"name": "shop", "full_name": "acme/shop", "owner": {"login": "acme"}, "default_branch": "main", "private": false, "fork": false},
        "installation": {"id": 7},
        "sender": {"login": "bob"}
    }))
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/webhook", svc.base))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request_review")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "{id}: {}", svc.log());
}

/// The flaky handler's lines for `id`, in order.
fn attempts(svc: &Svc, id: &str) -> Vec<Value> {
    std::fs::read_to_string(svc.record())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["id"] == id)
        .collect()
}

fn status(svc: &Svc, id: &str) -> Option<DeliveryStatus> {
    Journal::status_of(&svc.dir, id).unwrap()
}

/// Poll the journal until `id`'s row satisfies `ok` (or fail after `within`).
async fn wait_status(
    svc: &Svc,
    id: &str,
    within: Duration,
    ok: impl Fn(&DeliveryStatus) -> bool,
) -> DeliveryStatus {
    let end = Instant::now() + within;
    loop {
        if let Some(s) = status(svc, id).filter(|s| ok(s)) {
            return s;
        }
        assert!(
            Instant::now() < end,
            "{id}: journal row {:?}; log:\n{}",
            status(svc, id),
            svc.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metrics(svc: &Svc) -> String {
    reqwest::get(format!("{}/metrics", svc.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_permanent_ones_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let svc = spawn(dir.path(), 2, 100);
    // Two deliveries of one run (same key), one permanent failure elsewhere.
    deliver(&svc, "flaky-1", 5, "prflow/r1/02-services").await;
    deliver(&svc, "flaky-2", 5, "prflow/r1/02-services").await;
    deliver(&svc, "permanent-1", 9, "feature").await;

    let within = Duration::from_secs(8);
    for id in ["flaky-1", "flaky-2"] {
        let st = wait_status(&svc, id, within, |s| s.state != "pending").await;
        assert_eq!((st.state.as_str(), st.attempts), ("done", 2), "{id}");
        let a = attempts(&svc, id);
        let outcomes: Vec<&str> = a.iter().map(|v| v["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["transient", "transient", "ok"], "{id}");
        let start = |i: usize| a[i]["start_ms"].as_u64().unwrap();
        // Waits of 100 ms, then 300 ms.
        assert!(start(1) - start(0) >= 100, "{id}: {a:?}");
        assert!(start(2) - start(1) >= 300, "{id}: {a:?}");
    }
    // The run's second delivery waited behind the first one's retries.
    let first_done = attempts(&svc, "flaky-1")[2]["end_ms"].as_u64().unwrap();
    let second_start = attempts(&svc, "flaky-2")[0]["start_ms"].as_u64().unwrap();
    assert!(second_start >= first_done, "same run handled out of order");

    let st = wait_status(&svc, "permanent-1", within, |s| s.state != "pending").await;
    assert_eq!((st.state.as_str(), st.attempts), ("failed", 0));
    let error = st.error.unwrap();
    assert!(error.contains("rejected (422)"), "{error}");
    assert_eq!(attempts(&svc, "permanent-1").len(), 1);

    let m = metrics(&svc).await;
    assert!(m.contains("\nprflow_deliveries_retried_total 4\n"), "{m}");
    assert!(m.contains("prflow_deliveries_handled_total{outcome=\"retry\"} 4"));
    assert!(m.contains("prflow_deliveries_handled_total{outcome=\"done\"} 2"));
    assert!(m.contains("prflow_deliveries_handled_total{outcome=\"failed\"} 1"));
    let log = svc.log();
    assert!(log.contains("retrying"), "{log}");
    assert!(log.contains("server error 502"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_while_a_retry_waits_it_is_retried_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), 1, 1500);
    deliver(&svc, "k9-retry", 3, "feature").await;
    let st = wait_status(&svc, "k9-retry", Duration::from_secs(5), |s| {
        s.attempts == 1
    })
    .await;
    assert_eq!(st.state, "pending");
    let due = st.retry_at.unwrap() as u64;
    assert!(due > now_ms(), "killed before the retry was due");
    svc.kill9();
    assert_eq!(attempts(&svc, "k9-retry").len(), 1);

    let svc = spawn(dir.path(), 1, 1500);
    assert_eq!(svc.recovered, 1);
    let st = wait_status(&svc, "k9-retry", Duration::from_secs(5), |s| {
        s.state != "pending"
    })
    .await;
    assert_eq!((st.state.as_str(), st.attempts), ("done", 1));
    let a = attempts(&svc, "k9-retry");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[1]["outcome"], "ok");
    assert_ne!(a[0]["pid"], a[1]["pid"], "retried by the restarted process");
    assert!(
        a[1]["start_ms"].as_u64().unwrap() >= due,
        "the restarted process kept the schedule: {a:?}, due {due}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_does_not_wait_for_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), 1, 60_000);
    deliver(&svc, "term-retry", 4, "feature").await;
    wait_status(&svc, "term-retry", Duration::from_secs(5), |s| {
        s.attempts == 1
    })
    .await;
    let t = Instant::now();
    svc.sigterm();
    let exit = svc
        .wait_exit(Duration::from_secs(5))
        .expect("exits after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let st = status(&svc, "term-retry").unwrap();
    assert_eq!((st.state.as_str(), st.attempts), ("pending", 1));
    assert!(st.retry_at.unwrap() as u64 > now_ms() + 50_000);
    assert!(st.error.unwrap().contains("server error 502"));
}
