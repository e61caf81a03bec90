//! Issue 17, item 4: three `prflow serve` replicas (real processes) on one
//! PostgreSQL database behind a round-robin proxy, the simulator as GitHub.
//! A whole two-phase run is driven by webhooks; the replica running phase 1's
//! task is killed with SIGKILL in the middle of it (another replica takes the
//! delivery over when its lease ends, rebuilding the work tree from the
//! remote); every delivery is then redelivered once more. Exactly one
//! branch, PR, check-run set and status comment per phase.

mod common;

use std::time::{Duration, Instant};

use common::*;
use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};

/// The parent process id of `pid`, from /proc.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Which of `replicas` has `pid` among its descendants.
fn replica_running(pid: u32, replicas: &[Svc]) -> Option<usize> {
    let mut p = pid;
    for _ in 0..32 {
        if let Some(i) = replicas.iter().position(|r| r.pid() == p) {
            return Some(i);
        }
        p = parent_of(p)?;
        if p <= 1 {
            return None;
        }
    }
    None
}

async fn pending_deliveries(db: &tokio_postgres::Client) -> (i64, i64) {
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed') FROM deliveries",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Wait until the simulator has nothing to send and the shared queue nothing to do
/// (twice, 300 ms apart), or panic with `what` and the replicas' logs.
async fn settle(sim: &Sim, db: &tokio_postgres::Client, replicas: &[Svc], what: &str) {
    let end = Instant::now() + Duration::from_secs(90);
    let mut quiet = 0;
    while quiet < 2 {
        assert!(
            Instant::now() < end,
            "{what}: never settled ({:?} pending/failed); logs:\n{}",
            pending_deliveries(db).await,
            replicas
                .iter()
                .map(|r| r.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        let idle = sim.wait_deliveries(Duration::from_millis(100)).await;
        quiet = if idle && pending_deliveries(db).await.0 == 0 {
            quiet + 1
        } else {
            0
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_survive_a_kill_and_redeliveries_with_one_of_everything() {
    let Some(url) = pg::fresh_database("replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (hold, started) = (dir.path().join("hold"), dir.path().join("started"));
    std::fs::write(&hold, "").unwrap();
    let src = dir.path().join("src");
    // The task says which process runs it, then waits until the test lets go.
    let task = format!(
        "echo $$ > {s}; while [ -e {h} ]; do sleep 0.05; done; echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt",
        s = started.display(),
        h = hold.display()
    );
    let wf = json!({
        "name": "Replicated",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command": task}}],
        "tasks": [{"id": "one", "agentId": "dev"}, {"id": "two", "agentId": "dev", "dependencies": ["one"]}],
        "execution": {"checkpoints": ["one"]},
        "gates": [{"name": "lint", "run": "true"}]
    });
    init_repo(&src, &[(".prflow/workflow.json", &wf.to_string())]);
    let sim = Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), src.clone())],
        webhook_secret: Some(SECRET.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let api = sim.api_url();
    let (app_id, key) = (
        sim.app_id().to_string(),
        sim.private_key_path().to_str().unwrap().to_string(),
    );
    let envs = [
        ("APP_ID", app_id.as_str()),
        ("PRIVATE_KEY_PATH", key.as_str()),
        ("GITHUB_API_URL", api.as_str()),
        ("PRFLOW_DATABASE_URL", url.as_str()),
        ("PRFLOW_CLAIM_LEASE_MS", "1500"),
        ("PRFLOW_CLAIM_POLL_MS", "50"),
    ];
    let mut replicas: Vec<Svc> = (0..3)
        .map(|i| {
            let data = dir.path().join(format!("replica-{i}"));
            std::fs::create_dir_all(&data).unwrap();
            spawn(&data, &["--handler", "flow"], &envs)
        })
        .collect();
    for r in &replicas {
        let ready = reqwest::get(r.url("/health/ready")).await.unwrap();
        let text = ready.text().await.unwrap();
        assert!(
            text.contains("PostgreSQL") && text.contains("schema version 1"),
            "{text}"
        );
        assert!(
            !text.contains(pg::password_of(&url).unwrap().as_str()),
            "{text}"
        );
    }
    let lb = proxy::start(
        replicas
            .iter()
            .map(|r| r.base.trim_start_matches("http://").to_string())
            .collect(),
    )
    .await;
    sim.set_webhook_url(Some(format!("{}/webhook", lb.base)));
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);

    let alice = sim.create_user("alice", "write").unwrap();
    let bob = sim.create_user("bob", "write").unwrap();
    let get = |path: String| json_as(reqwest::Client::new().get(format!("{api}{path}")), &alice);
    let post = |path: String, token: String, body: Value| {
        let url = format!("{api}{path}");
        async move { json_as(reqwest::Client::new().post(url).json(&body), &token).await }
    };
    let issue = post(
        "/repos/acme/shop/issues".into(),
        alice.clone(),
        json!({"title": "Build it"}),
    )
    .await;
    let n = issue["number"].as_u64().unwrap();
    post(
        format!("/repos/acme/shop/issues/{n}/comments"),
        alice.clone(),
        json!({"body": "/prflow run"}),
    )
    .await;

    // Phase 1's task runs on some replica: kill that one in the middle of it.
    let end = Instant::now() + Duration::from_secs(60);
    let victim = loop {
        if let Some(pid) = std::fs::read_to_string(&started)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            if let Some(i) = replica_running(pid, &replicas) {
                break i;
            }
        }
        assert!(
            Instant::now() < end,
            "the task never started; logs:\n{}",
            replicas
                .iter()
                .map(|r| r.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    replicas[victim].kill9();
    std::fs::remove_file(&hold).unwrap();
    settle(&sim, &db, &replicas, "phase 1 after the kill").await;

    let pulls = get("/repos/acme/shop/pulls?state=all".into()).await;
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");
    let head1 = pulls[0]["head"]["sha"].as_str().unwrap().to_string();
    let pr1 = pulls[0]["number"].as_u64().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{api}/repos/acme/shop/pulls/{pr1}/reviews"))
        .bearer_auth(&bob)
        .json(&json!({"event": "APPROVE", "body": "lgtm", "commit_id": head1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    settle(&sim, &db, &replicas, "phase 2").await;

    // Every delivery once more, as GitHub's "Redeliver" would.
    let http = reqwest::Client::new();
    for d in sim.deliveries().into_iter().filter(|d| !d.redelivery) {
        let r = http
            .post(format!("{api}/_sim/deliveries/{}/redeliver", d.id))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
    }
    settle(&sim, &db, &replicas, "the redeliveries").await;

    let live: Vec<usize> = (0..3).filter(|i| *i != victim).collect();
    let routed = lb.routed.lock().unwrap().clone();
    for i in &live {
        assert!(routed.contains(i), "replica {i} got no request: {routed:?}");
    }
    assert_eq!(
        pending_deliveries(&db).await,
        (0, 0),
        "nothing pending or failed"
    );
    let redelivered = sim
        .deliveries()
        .into_iter()
        .filter(|d| d.redelivery)
        .collect::<Vec<_>>();
    assert!(!redelivered.is_empty());
    for d in &redelivered {
        assert!(matches!(d.status_code, Some(200) | Some(202)), "{d:?}");
    }

    // One of everything per phase.
    let pulls = get("/repos/acme/shop/pulls?state=all".into()).await;
    let pulls = pulls.as_array().unwrap();
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    let bare = sim.bare_repo_path("acme/shop");
    let branches = git(
        &bare,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/prflow",
        ],
    );
    assert_eq!(branches.lines().count(), 2, "{branches}");
    for pr in pulls {
        let head = pr["head"]["sha"].as_str().unwrap();
        let checks = get(format!("/repos/acme/shop/commits/{head}/check-runs")).await;
        let lint = checks["check_runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "prflow/lint")
            .count();
        assert_eq!(lint, 1, "{checks}");
    }
    let comments = get(format!("/repos/acme/shop/issues/{n}/comments")).await;
    let status = comments
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["body"]
                .as_str()
                .unwrap_or("")
                .contains("<!-- prflow:status run=")
        })
        .count();
    assert_eq!(status, 1, "{comments}");
    let last = branches.lines().max().unwrap();
    let tasks = git(
        &bare,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Prflow-Task,valueonly)",
            "main..",
            last,
        ],
    );
    let tasks: Vec<String> = tasks.split_whitespace().map(str::to_string).collect();
    assert_eq!(tasks, ["one", "two"], "every task exactly once");
    drop(replicas);
    sim.shutdown().await;
}
