//! Retries of `prflow serve` as a separate process: the real binary with the
//! flaky test handler (`--handler flaky:FILE:N`), whose first N attempts at
//! each delivery fail with a typed transient GitHub error and whose
//! `permanent-…` deliveries fail with a 422. The journal is read through
//! `Journal::status_of` (a second SQLite connection) while the service runs.
//! The process helpers are shared with tests/serve.rs (tests/common/mod.rs).

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{metrics, records, review, Svc};
use prflow::server::journal::{DeliveryStatus, Journal};
use serde_json::Value;

/// Start `prflow serve` with data in `dir`, the flaky handler failing
/// `failures` attempts per delivery, retries `base_ms` apart (×3).
fn spawn(dir: &Path, failures: u32, base_ms: u64) -> Svc {
    let handler = format!("flaky:{}:{failures}", dir.join("record.jsonl").display());
    let base_ms = base_ms.to_string();
    common::spawn(
        dir,
        &["--handler", &handler],
        &[("PRFLOW_RETRY_BASE_MS", &base_ms)],
    )
}

/// A signed `pull_request_review` (approved) of PR `pr` on branch `head_ref`.
async fn deliver(svc: &Svc, id: &str, pr: u64, head_ref: &str) {
    let body = review("acme/shop", pr, head_ref, "acme/shop");
    let (status, _) = common::deliver(svc, "pull_request_review", id, body).await;
    assert_eq!(status, 202, "{id}: {}", svc.log());
}

/// The flaky handler's lines for `id`, in order.
fn attempts(svc: &Svc, id: &str) -> Vec<Value> {
    records(svc).into_iter().filter(|v| v["id"] == id).collect()
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
