//! `prflow serve` as a separate process: the real binary on a loopback port,
//! its data dir in a temp dir, its logs captured. Deliveries are processed by
//! the recording handler (`--handler record:FILE`), so these tests check the
//! service (verification, journal, dedupe, restart, serialization, shutdown)
//! independently of what the core does with an event.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};

/// Wait until the record holds `n` lines (or time out), return them.
async fn wait_records(svc: &Svc, n: usize, within: Duration) -> Vec<Value> {
    let end = Instant::now() + within;
    loop {
        let r = records(svc);
        if r.len() >= n || Instant::now() > end {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_and_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let svc = spawn(dir.path(), &[], &[]);
    let body = review("acme/shop", 1, "feature", "acme/shop");

    // Unsigned, wrong signature, signed with an unknown secret, malformed header: 401.
    for sig in [
        None,
        Some(sign("not-the-secret", &body)),
        Some("sha256=00".into()),
        Some(format!("sha256={}", "0".repeat(64))),
    ] {
        let (st, _) = post(
            &svc,
            Some("pull_request_review"),
            Some("bad-sig"),
            body.clone(),
            sig,
        )
        .await;
        assert_eq!(st, 401);
    }
    // One byte changed after signing.
    let mut tampered = body.clone();
    let sig = sign(SECRET, &body);
    *tampered.last_mut().unwrap() = b' ';
    let (st, _) = post(
        &svc,
        Some("pull_request_review"),
        Some("tampered"),
        tampered,
        Some(sig),
    )
    .await;
    assert_eq!(st, 401);

    // Missing event or delivery header: 400.
    let sig = sign(SECRET, &body);
    let (st, text) = post(
        &svc,
        None,
        Some("no-event"),
        body.clone(),
        Some(sig.clone()),
    )
    .await;
    assert_eq!((st, text.trim()), (400, "missing X-GitHub-Event header"));
    let (st, _) = post(
        &svc,
        Some("pull_request_review"),
        None,
        body.clone(),
        Some(sig),
    )
    .await;
    assert_eq!(st, 400);

    // Malformed JSON, correctly signed: 400.
    let (st, _) = deliver(
        &svc,
        "pull_request_review",
        "bad-json",
        b"{\"action\":".to_vec(),
    )
    .await;
    assert_eq!(st, 400);

    // Events prflow does not act on: 202, ignored.
    let (st, text) = deliver(&svc, "star", "star-1", br#"{"action":"created"}"#.to_vec()).await;
    assert_eq!((st, text.trim()), (202, "ignored"));

    // Over 25 MB: 413.
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let (st, _) = deliver(&svc, "push", "big", big).await;
    assert_eq!(st, 413);

    // Valid, with the current and with the rotated-out secret; and on Probot's path.
    let (st, text) = deliver(&svc, "pull_request_review", "good-1", body.clone()).await;
    assert_eq!((st, text.trim()), (202, "queued"));
    let body2 = review("acme/shop", 2, "feature2", "acme/shop");
    let s2 = sign(OLD_SECRET, &body2);
    let (st, _) = post(
        &svc,
        Some("pull_request_review"),
        Some("good-2"),
        body2,
        Some(s2),
    )
    .await;
    assert_eq!(st, 202);
    let body3 = review("acme/shop", 3, "feature3", "acme/shop");
    let resp = reqwest::Client::new()
        .post(svc.url("/api/github/webhooks"))
        .header("x-github-event", "pull_request_review")
        .header("x-github-delivery", "good-3")
        .header("x-hub-signature-256", sign(SECRET, &body3))
        .body(body3)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);

    // Only the three valid deliveries were queued and handled.
    let r = wait_records(&svc, 3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ids: Vec<String> = records(&svc)
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["good-1", "good-2", "good-3"], "{r:?}");
    let m = metrics(&svc).await;
    assert!(
        m.contains("prflow_webhook_deliveries_total{outcome=\"unauthorized\"} 5"),
        "{m}"
    );
    assert!(
        m.contains(
            "prflow_webhook_deliveries_total{event=\"pull_request_review\",outcome=\"queued\"} 3"
        ),
        "{m}"
    );
    assert!(m.contains("outcome=\"too_large\"} 1"), "{m}");

    // The secrets never reach the logs, even at debug level.
    let log = svc.log();
    assert!(log.contains("webhook refused (401)"), "{log}");
    assert!(
        !log.contains(SECRET) && !log.contains(OLD_SECRET),
        "a secret is in the log"
    );
}

#[test]
fn refuses_to_start_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WEBHOOK_SECRET"), "{err}");
    // A secret of only commas and spaces is no secret either.
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("WEBHOOK_SECRET", " , ")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn journalled_before_ack_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), &[], &[("PRFLOW_RECORD_DELAY_MS", "3000")]);
    for i in 1..=3 {
        let (st, _) = deliver(
            &svc,
            "pull_request_review",
            &format!("k9-{i}"),
            review("acme/shop", i, &format!("f{i}"), "acme/shop"),
        )
        .await;
        assert_eq!(st, 202);
    }
    // Killed right after the 2xx, before any work finished.
    svc.kill9();
    assert!(records(&svc).is_empty());
    let svc = spawn(dir.path(), &[], &[]);
    assert_eq!(svc.recovered, 3);
    let r = wait_records(&svc, 3, Duration::from_secs(10)).await;
    let mut ids: Vec<&str> = r.iter().map(|v| v["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["k9-1", "k9-2", "k9-3"]);
    assert!(svc.log().contains("did not finish"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_delivery_is_processed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), &[], &[]);
    let body = review("acme/shop", 1, "f", "acme/shop");
    assert_eq!(
        deliver(&svc, "pull_request_review", "dup-1", body.clone())
            .await
            .0,
        202
    );
    let (st, text) = deliver(&svc, "pull_request_review", "dup-1", body.clone()).await;
    assert_eq!((st, text.trim()), (200, "duplicate: already received"));
    wait_records(&svc, 1, Duration::from_secs(5)).await;
    handled_through(&svc, &body, "after-dup-1", &["dup-1", "after-dup-1"]).await;
    // Still recognised after a restart.
    svc.sigterm();
    svc.wait_exit(Duration::from_secs(10)).unwrap();
    let svc = spawn(dir.path(), &[], &[]);
    assert_eq!(svc.recovered, 0);
    assert_eq!(
        deliver(&svc, "pull_request_review", "dup-1", body.clone())
            .await
            .0,
        200
    );
    handled_through(
        &svc,
        &body,
        "after-restart",
        &["dup-1", "after-dup-1", "after-restart"],
    )
    .await;
}

/// Delivers `body` again under a new id and waits until it is handled: one key's
/// deliveries are handled in order, so by then every delivery answered before it has
/// been handled too, and the record holds exactly `expected` — no sleep, no guess.
async fn handled_through(svc: &Svc, body: &[u8], id: &str, expected: &[&str]) {
    let (st, _) = deliver(svc, "pull_request_review", id, body.to_vec()).await;
    assert_eq!(st, 202);
    let r = wait_records(svc, expected.len(), Duration::from_secs(10)).await;
    let ids: Vec<&str> = r.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "what the handler was given, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn work_is_serialized_per_run_and_parallel_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let svc = spawn(
        dir.path(),
        &["--workers", "4"],
        &[("PRFLOW_RECORD_DELAY_MS", "400")],
    );
    // Two approvals of the same phase PR, one of the next phase PR of the
    // same run (all `acme/shop@run:r1`), and one of another repository.
    let sends = [
        (
            "s-1",
            review("acme/shop", 5, "prflow/r1/02-services", "acme/shop"),
        ),
        (
            "s-2",
            review("acme/shop", 5, "prflow/r1/02-services", "acme/shop"),
        ),
        (
            "s-3",
            review("acme/shop", 6, "prflow/r1/03-frontend", "acme/shop"),
        ),
        (
            "o-1",
            review("acme/other", 1, "prflow/r9/01-design", "acme/other"),
        ),
    ];
    let futs = sends
        .iter()
        .map(|(id, b)| deliver(&svc, "pull_request_review", id, b.clone()));
    for (st, _) in futures::future::join_all(futs).await {
        assert_eq!(st, 202);
    }
    let r = wait_records(&svc, 4, Duration::from_secs(10)).await;
    assert_eq!(r.len(), 4, "{r:?}");
    let span = |id: &str| {
        let v = r.iter().find(|v| v["id"] == id).unwrap();
        (
            v["start_ms"].as_u64().unwrap(),
            v["end_ms"].as_u64().unwrap(),
            v["run_key"].as_str().unwrap().to_string(),
        )
    };
    let mut same: Vec<_> = ["s-1", "s-2", "s-3"].iter().map(|i| span(i)).collect();
    assert!(same.iter().all(|s| s.2 == "acme/shop@run:r1"), "{same:?}");
    same.sort();
    for w in same.windows(2) {
        assert!(w[0].1 <= w[1].0, "same run handled concurrently: {same:?}");
    }
    let other = span("o-1");
    assert_eq!(other.2, "acme/other@run:r9");
    assert!(
        same.iter().any(|s| s.0 < other.1 && other.0 < s.1),
        "another run waited for this one: {same:?} {other:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_in_flight_work_or_leaves_it_journalled() {
    // Finishes: the handler needs 800 ms, the grace is 20 s.
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), &[], &[("PRFLOW_RECORD_DELAY_MS", "800")]);
    let body = review("acme/shop", 1, "f", "acme/shop");
    assert_eq!(
        deliver(&svc, "pull_request_review", "t-1", body.clone())
            .await
            .0,
        202
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    svc.sigterm();
    let status = svc
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        records(&svc).len(),
        1,
        "in-flight work finished before exit"
    );
    let log = svc.log();
    assert!(log.contains("shutdown requested"), "{log}");

    // Leaves journalled: the handler needs 10 s, the grace is 0 s.
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(
        dir.path(),
        &["--shutdown-grace", "0"],
        &[("PRFLOW_RECORD_DELAY_MS", "10000")],
    );
    assert_eq!(
        deliver(&svc, "pull_request_review", "t-2", body).await.0,
        202
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    svc.sigterm();
    svc.wait_exit(Duration::from_secs(5))
        .expect("exits after SIGTERM");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(records(&svc).is_empty());
    let svc = spawn(dir.path(), &[], &[]);
    assert_eq!(svc.recovered, 1);
    let r = wait_records(&svc, 1, Duration::from_secs(5)).await;
    assert_eq!(r[0]["id"], "t-2");
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlist_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let svc = spawn(
        dir.path(),
        &[],
        &[("PRFLOW_REPO_ALLOWLIST", "acme/*, me/tool")],
    );
    let (st, text) = deliver(
        &svc,
        "pull_request_review",
        "a-1",
        review("evil/shop", 1, "f", "evil/shop"),
    )
    .await;
    assert_eq!(
        (st, text.trim()),
        (202, "ignored: repository not in the allowlist")
    );
    assert_eq!(
        deliver(
            &svc,
            "pull_request_review",
            "a-2",
            review("acme/shop", 1, "f", "acme/shop")
        )
        .await
        .0,
        202
    );
    // A review of a pull request from a fork: handled, never trusted.
    assert_eq!(
        deliver(
            &svc,
            "pull_request_review",
            "a-3",
            review("me/tool", 2, "patch", "mallory/tool")
        )
        .await
        .0,
        202
    );
    let r = wait_records(&svc, 2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(records(&svc).len(), 2);
    let by = |id: &str| r.iter().find(|v| v["id"] == id).cloned().unwrap();
    assert_eq!(by("a-2")["trusted"], true);
    assert_eq!(by("a-3")["trusted"], false);
    assert!(svc
        .log()
        .contains("evil/shop is not in PRFLOW_REPO_ALLOWLIST"));
    assert!(metrics(&svc).await.contains("outcome=\"not_allowed\"} 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let svc = spawn(dir.path(), &[], &[]);
    let live = reqwest::get(svc.url("/health/live")).await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    // No App configured: alive, not ready, and it says why.
    let ready = reqwest::get(svc.url("/health/ready")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.text().await.unwrap().contains("APP_ID"));

    deliver(
        &svc,
        "pull_request_review",
        "m-1",
        review("acme/shop", 1, "f", "acme/shop"),
    )
    .await;
    wait_records(&svc, 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let resp = reqwest::get(svc.url("/metrics")).await.unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    // Every sample line is `name{labels} value` with a declared TYPE (OpenMetrics:
    // a counter's TYPE names it without `_total`).
    let mut types = std::collections::HashMap::new();
    let sample = regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$"#).unwrap();
    let mut values = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with("# HELP ") && line != "# EOF" {
            let c = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let name = &c[1];
            let family = [
                ("_bucket", "histogram"),
                ("_sum", "histogram"),
                ("_count", "histogram"),
                ("_total", "counter"),
            ]
            .iter()
            .find_map(|(s, kind)| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).map(|t| t == kind).unwrap_or(false))
            })
            .unwrap_or(name);
            assert!(types.contains_key(family), "no TYPE for {name}");
            let v: f64 = c[4].parse().unwrap();
            values.insert(line.rsplit_once(' ').unwrap().0.to_string(), v);
        }
    }
    assert_eq!(
        values["prflow_webhook_deliveries_total{event=\"pull_request_review\",outcome=\"queued\"}"],
        1.0
    );
    assert_eq!(
        values["prflow_deliveries_handled_total{outcome=\"done\"}"],
        1.0
    );
    assert_eq!(values["prflow_queue_depth"], 0.0);
    assert_eq!(values["prflow_webhook_ack_seconds_count"], 1.0);
    assert_eq!(values["prflow_runs{state=\"recorded\"}"], 1.0);
    assert!(values.contains_key("prflow_github_rate_limit_remaining"));
}

#[test]
fn app_manifest_has_least_permissions() {
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["app", "manifest", "--url", "https://prflow.acme.dev"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["name"], "prflow");
    assert_eq!(m["url"], "https://prflow.acme.dev");
    assert_eq!(
        m["hook_attributes"]["url"],
        "https://prflow.acme.dev/webhook"
    );
    assert!(m["redirect_url"]
        .as_str()
        .unwrap()
        .starts_with("https://prflow.acme.dev"));
    assert_eq!(m["public"], false);
    assert_eq!(
        m["default_permissions"],
        json!({"contents": "write", "pull_requests": "write", "checks": "write", "statuses": "write", "issues": "write", "metadata": "read"})
    );
    let events: Vec<&str> = m["default_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for e in [
        "issue_comment",
        "pull_request",
        "pull_request_review",
        "check_run",
        "push",
    ] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args([
            "app",
            "manifest",
            "--url",
            "https://x.dev",
            "--executor",
            "actions",
        ])
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["default_permissions"]["actions"], "write");
}

/// A repository at `dir/src` on `main` with one commit (README.md), for the
/// simulator to serve.
fn shop_repo(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    init_repo(&src, &[("README.md", "shop\n")]);
    src
}

/// Branch `feature` off the current branch of `src`, one commit adding `file`.
fn feature_branch(src: &Path, file: &str, text: &str) {
    git(src, &["checkout", "-qb", "feature"]);
    commit_files(src, &[(file, text)], "feature");
}

/// The simulator serving `src` as `acme/shop`, signing its webhooks with
/// SECRET and sending them to `webhook_url` (`None`: until `set_webhook_url`).
async fn shop_sim(src: &Path, webhook_url: Option<String>) -> Sim {
    Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), src.to_path_buf())],
        webhook_url,
        webhook_secret: Some(SECRET.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `prflow serve` as the simulator's App: its data dir (`dir/data`) and what
/// names the App to it (APP_ID, PRIVATE_KEY_PATH, GITHUB_API_URL).
struct App {
    data: PathBuf,
    app_id: String,
    key: String,
    api: String,
}

impl App {
    fn new(dir: &Path, sim: &Sim) -> App {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        App {
            data,
            app_id: sim.app_id().to_string(),
            key: sim.private_key_path().to_str().unwrap().to_string(),
            api: sim.api_url(),
        }
    }

    /// Start `prflow serve` as the App with `args` (see [`spawn`]).
    fn serve(&self, args: &[&str]) -> Svc {
        let envs = [
            ("APP_ID", self.app_id.as_str()),
            ("PRIVATE_KEY_PATH", self.key.as_str()),
            ("GITHUB_API_URL", self.api.as_str()),
        ];
        spawn(&self.data, args, &envs)
    }
}

/// POST `body` to `url` (the simulator's API) as the user with `token`: the
/// JSON answered.
async fn api_post(url: String, token: &str, body: Value) -> Value {
    json_as(reqwest::Client::new().post(url).json(&body), token).await
}

/// GET `url` (the simulator's API) as the user with `token`: the JSON answered.
async fn api_get(url: String, token: &str) -> Value {
    json_as(reqwest::Client::new().get(url), token).await
}

/// The simulator sends real signed webhooks (a ping, a pull request, a
/// review, a redelivery) to `prflow serve` running as a separate process,
/// which authenticates as the simulator's App for `/health/ready`.
#[tokio::test(flavor = "multi_thread")]
async fn end_to_end_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let src = shop_repo(dir.path());
    feature_branch(&src, "app.js", "console.log(1)\n");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = shop_sim(&src, Some(format!("http://127.0.0.1:{port}/webhook"))).await;
    // The hello (ping, installation) went out before the service was up.
    sim.wait_deliveries(Duration::from_secs(15)).await;
    let app = App::new(dir.path(), &sim);
    let api = &app.api;
    let svc = app.serve(&["--port", &port.to_string()]);
    let ready = reqwest::get(svc.url("/health/ready")).await.unwrap();
    let status = ready.status().as_u16();
    assert_eq!(status, 200, "{}", ready.text().await.unwrap());

    let http = reqwest::Client::new();
    let ping = sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "ping")
        .expect("the simulator sent a ping");
    let r = http
        .post(format!("{api}/_sim/deliveries/{}/redeliver", ping.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);

    let alice = sim.create_user("alice", "write").unwrap();
    let bob = sim.create_user("bob", "write").unwrap();
    let pr = api_post(
        format!("{api}/repos/acme/shop/pulls"),
        &alice,
        json!({"title": "Feature", "head": "feature", "base": "main"}),
    )
    .await;
    let n = pr["number"].as_u64().expect("a pull request number");
    let sha = pr["head"]["sha"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{api}/repos/acme/shop/pulls/{n}/reviews"))
        .bearer_auth(&bob)
        .json(&json!({"event": "APPROVE", "body": "lgtm", "commit_id": sha}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);

    let r = wait_records(&svc, 2, Duration::from_secs(10)).await;
    let events: Vec<&str> = r.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["ping", "pull_request_review"], "{r:?}");
    assert_eq!(r[1]["run_key"], format!("acme/shop#{n}"));
    assert_eq!(r[1]["trusted"], true);
    let review = sim
        .deliveries()
        .into_iter()
        .rev()
        .find(|d| d.event == "pull_request_review")
        .unwrap();
    assert_eq!(review.status_code, Some(202));
    // pull_request `opened` is not an event prflow acts on: acknowledged, ignored.
    let opened = sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "pull_request")
        .unwrap();
    assert_eq!(opened.status_code, Some(202));

    // GitHub's "Redeliver" keeps the delivery id: acknowledged, not processed again.
    http.post(format!("{api}/_sim/deliveries/{}/redeliver", review.id))
        .send()
        .await
        .unwrap();
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let again = sim.deliveries().into_iter().last().unwrap();
    assert_eq!((again.redelivery, again.status_code), (true, Some(200)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(records(&svc).len(), 2);
    drop(svc);
    sim.shutdown().await;
}

/// The production handler (`--handler flow`, the default) against the
/// simulator: the delivery is handed to the core with an installation token
/// for the repository, and the journal records it as done.
#[tokio::test(flavor = "multi_thread")]
async fn production_handler_hands_events_to_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let src = shop_repo(dir.path());
    feature_branch(&src, "a.txt", "a\n");
    let sim = shop_sim(&src, None).await;
    let app = App::new(dir.path(), &sim);
    let (data, api) = (&app.data, &app.api);
    let mut svc = app.serve(&["--handler", "flow"]);
    sim.set_webhook_url(Some(svc.url("/webhook")));
    let http = reqwest::Client::new();
    let alice = sim.create_user("alice", "write").unwrap();
    let bob = sim.create_user("bob", "write").unwrap();
    let pr = api_post(
        format!("{api}/repos/acme/shop/pulls"),
        &alice,
        json!({"title": "Feature", "head": "feature", "base": "main"}),
    )
    .await;
    let n = pr["number"].as_u64().unwrap();
    http.post(format!("{api}/repos/acme/shop/pulls/{n}/reviews"))
        .bearer_auth(&bob)
        .json(&json!({"event": "APPROVE", "body": "lgtm"}))
        .send()
        .await
        .unwrap();
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let review = sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "pull_request_review")
        .unwrap();
    assert_eq!(review.status_code, Some(202));
    // Not a prflow phase PR: the core looks and ignores it; the journal says done.
    let end = Instant::now() + Duration::from_secs(15);
    let mut state = None;
    while Instant::now() < end {
        state = prflow::server::Journal::state_of(data, &review.guid).unwrap();
        if state.as_deref() != Some("pending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.as_deref(), Some("done"), "{}", svc.log());
    assert!(metrics(&svc)
        .await
        .contains("prflow_runs{state=\"ignored\"} 1"));
    svc.sigterm();
    assert!(svc.wait_exit(Duration::from_secs(10)).unwrap().success());
    sim.shutdown().await;
}

/// Issue 5, item 7: the service is killed (SIGKILL) in the middle of a run — while a
/// task runs, after the phase is pushed but before its PR exists, right after the PR —
/// and restarted on the same journal: the run finishes with one branch, one PR, one
/// gate report and one status comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_the_app_finishes_without_duplicates() {
    for point in ["during-task", "after-push", "after-pr"] {
        let dir = tempfile::tempdir().unwrap();
        let hold = dir.path().join("hold");
        let started = dir.path().join("started");
        std::fs::write(&hold, "").unwrap();
        let src = dir.path().join("src");
        let task = format!(
            "touch {s}; while [ -e {h} ]; do sleep 0.05; done; echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt",
            s = started.display(),
            h = hold.display()
        );
        let wf = json!({
            "name": "Crash",
            "agents": [{"id": "dev", "type": "developer", "runner": {"command": task}}],
            "tasks": [{"id": "one", "agentId": "dev"}, {"id": "two", "agentId": "dev", "dependencies": ["one"]}],
            "execution": {"checkpoints": ["one"]},
            "gates": [{"name": "lint", "run": "true"}]
        });
        init_repo(&src, &[(".prflow/workflow.json", &wf.to_string())]);
        let sim = shop_sim(&src, None).await;
        let app = App::new(dir.path(), &sim);
        let api = &app.api;
        let mut svc = app.serve(&["--handler", "flow"]);
        let port = svc.base.rsplit(':').next().unwrap().to_string();
        sim.set_webhook_url(Some(svc.url("/webhook")));
        let http = reqwest::Client::new();
        let alice = sim.create_user("alice", "write").unwrap();
        let get = |path: String| api_get(format!("{api}{path}"), &alice);
        if point == "after-push" {
            // Hold the PR creation for a while: the kill lands between push and PR.
            http.post(format!("{api}/_sim/faults"))
                .json(&json!({"method": "POST", "path": "/repos/acme/shop/pulls$", "status": 200, "delay_ms": 4000, "times": 1}))
                .send()
                .await
                .unwrap();
        }
        let issues = format!("{api}/repos/acme/shop/issues");
        let issue = api_post(issues, &alice, json!({"title": "Build it"})).await;
        let n = issue["number"].as_u64().unwrap();
        let comments = format!("{api}/repos/acme/shop/issues/{n}/comments");
        api_post(comments, &alice, json!({"body": "/prflow run"})).await;
        if point == "after-pr" {
            // Hold the status comment that follows the PR: the kill lands after the PR
            // while the delivery is still being worked on.
            http.post(format!("{api}/_sim/faults"))
                .json(&json!({"method": "POST", "path": "/issues/\\d+/comments$", "status": 200, "delay_ms": 4000, "times": 1}))
                .send()
                .await
                .unwrap();
        }

        let deadline = Instant::now() + Duration::from_secs(30);
        let bare = sim.bare_repo_path("acme/shop");
        loop {
            let reached = match point {
                "during-task" => started.exists(),
                "after-push" => {
                    let _ = std::fs::remove_file(&hold);
                    !git(&bare, &["for-each-ref", "refs/heads/prflow"]).is_empty()
                }
                _ => {
                    let _ = std::fs::remove_file(&hold);
                    let pulls = get("/repos/acme/shop/pulls?state=all".into()).await;
                    pulls.as_array().is_some_and(|p| !p.is_empty())
                }
            };
            if reached {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{point}: never reached; log: {}",
                svc.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        svc.kill9();
        let _ = std::fs::remove_file(&hold);
        let svc = app.serve(&["--handler", "flow", "--port", &port]);
        assert!(svc.recovered >= 1, "{point}: nothing was left to recover");

        // The run settles waiting for review on phase 1.
        let deadline = Instant::now() + Duration::from_secs(60);
        let marker = "<!-- prflow:status run=";
        loop {
            let comments = get(format!("/repos/acme/shop/issues/{n}/comments")).await;
            let waiting = comments.as_array().into_iter().flatten().any(|c| {
                c["body"].as_str().is_some_and(|b| {
                    b.contains(marker) && b.contains("waits for an approving review")
                })
            });
            if waiting {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{point}: the run did not settle; log: {}",
                svc.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pulls = get("/repos/acme/shop/pulls?state=all".into()).await;
        assert_eq!(pulls.as_array().unwrap().len(), 1, "{point}: {pulls}");
        let head = pulls[0]["head"]["sha"].as_str().unwrap().to_string();
        let checks = get(format!("/repos/acme/shop/commits/{head}/check-runs")).await;
        let lint = checks["check_runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "prflow/lint")
            .count();
        assert_eq!(lint, 1, "{point}: {checks}");
        let comments = get(format!("/repos/acme/shop/issues/{n}/comments")).await;
        let status = comments
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["body"].as_str().unwrap_or("").contains(marker))
            .count();
        assert_eq!(status, 1, "{point}: {comments}");
        let branches = git(
            &bare,
            &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
        );
        assert_eq!(branches.lines().count(), 1, "{point}: {branches}");
        let tasks = git(
            &bare,
            &[
                "log",
                "--format=%(trailers:key=Prflow-Task,valueonly)",
                "main..",
                branches.trim(),
            ],
        );
        let tasks = tasks
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert_eq!(tasks, vec!["one"], "{point}: every task exactly once");
        drop(svc);
        sim.shutdown().await;
    }
}

/// Issue 5, item 4 (`installation*`): the App learns the repositories it is
/// installed on, acts as the right installation for an event that does not
/// name one, and forgets a repository taken away — its work trees are
/// deleted and later events for it are not acted on with stale state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installation_events_learn_and_forget_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let src = shop_repo(dir.path());
    let sim = shop_sim(&src, None).await;
    let app = App::new(dir.path(), &sim);
    let (data, api) = (&app.data, &app.api);
    let mut svc = app.serve(&["--handler", "flow"]);
    let inst = sim.installation_id();
    let installation = |action: &str, field: &str, repos: &[&str]| {
        let repos: Vec<Value> = repos.iter().map(|r| repo(r)).collect();
        serde_json::to_vec(&json!({
            "action": action,
            "installation": {"id": inst, "account": {"login": "acme"}},
            field: repos,
            "sender": {"login": "acme-admin"}
        }))
        .unwrap()
    };
    let wait_done = |id: &'static str| {
        let data = data.clone();
        async move {
            let end = Instant::now() + Duration::from_secs(15);
            loop {
                let s = prflow::server::Journal::state_of(&data, id).unwrap();
                if s.as_deref() != Some("pending") || Instant::now() > end {
                    return s;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    };
    let registry = || -> Value {
        serde_json::from_slice(&std::fs::read(data.join("installations.json")).unwrap()).unwrap()
    };

    let body = installation("created", "repositories", &["acme/shop", "acme/Web"]);
    assert_eq!(deliver(&svc, "installation", "i-1", body).await.0, 202);
    assert_eq!(
        wait_done("i-1").await.as_deref(),
        Some("done"),
        "{}",
        svc.log()
    );
    assert_eq!(
        registry()["repositories"],
        json!({"acme/shop": inst, "acme/web": inst})
    );
    assert!(
        svc.log().contains("prflow now serves 2 repositories"),
        "{}",
        svc.log()
    );

    // A comment without an installation id: the registry names it (no lookup
    // call), and the core answers `/prflow help` as that installation.
    let alice = sim.create_user("alice", "write").unwrap();
    let issues = format!("{api}/repos/acme/shop/issues");
    let issue = api_post(issues, &alice, json!({"title": "Run it"})).await;
    let n = issue["number"].as_u64().unwrap();
    let comments = format!("{api}/repos/acme/shop/issues/{n}/comments");
    let said = api_post(comments.clone(), &alice, json!({"body": "/prflow help"})).await;
    let comment = serde_json::to_vec(&json!({
        "action": "created",
        "issue": {"number": n},
        "comment": {"id": said["id"], "body": "/prflow help", "user": {"login": "alice", "type": "User"}},
        "repository": repo("acme/shop"),
        "sender": {"login": "alice"}
    }))
    .unwrap();
    assert_eq!(deliver(&svc, "issue_comment", "c-1", comment).await.0, 202);
    assert_eq!(
        wait_done("c-1").await.as_deref(),
        Some("done"),
        "{}",
        svc.log()
    );
    let comments: Vec<Value> = serde_json::from_value(api_get(comments, &alice).await).unwrap();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[1]["body"]
        .as_str()
        .unwrap()
        .contains("/prflow run"));
    let work = data.join("work").join("acme").join("shop");
    assert!(
        work.is_dir(),
        "the comment was handled in a work tree of acme/shop"
    );

    // The repository is taken away: its work trees go, the registry forgets it.
    let body = installation("removed", "repositories_removed", &["acme/shop"]);
    assert_eq!(
        deliver(&svc, "installation_repositories", "i-2", body)
            .await
            .0,
        202
    );
    assert_eq!(
        wait_done("i-2").await.as_deref(),
        Some("done"),
        "{}",
        svc.log()
    );
    assert!(
        !work.exists(),
        "work trees of a forgotten repository are deleted"
    );
    assert_eq!(registry()["repositories"], json!({"acme/web": inst}));

    // Suspended: work for its repositories is refused with the reason, not attempted.
    let body = installation("suspend", "repositories", &[]);
    assert_eq!(deliver(&svc, "installation", "i-3", body).await.0, 202);
    assert_eq!(wait_done("i-3").await.as_deref(), Some("done"));
    let comment = serde_json::to_vec(&json!({
        "action": "created",
        "issue": {"number": 1},
        "comment": {"id": 2, "body": "/prflow status", "user": {"login": "alice", "type": "User"}},
        "repository": repo("acme/web"),
        "installation": {"id": inst},
        "sender": {"login": "alice"}
    }))
    .unwrap();
    assert_eq!(deliver(&svc, "issue_comment", "c-2", comment).await.0, 202);
    assert_eq!(wait_done("c-2").await.as_deref(), Some("failed"));
    assert!(svc.log().contains("is suspended"), "{}", svc.log());

    // It all survives a restart.
    svc.sigterm();
    assert!(svc.wait_exit(Duration::from_secs(10)).unwrap().success());
    let svc = app.serve(&["--handler", "flow"]);
    assert_eq!(registry()["suspended"], json!([inst]));
    drop(svc);
    sim.shutdown().await;
}
