//! Nothing lost while the App was down (#17 item 3): webhooks GitHub failed to
//! deliver because `prflow serve` was not running are found through the App's
//! webhook deliveries API when it starts, and sent again — except those the
//! journal already holds. The simulator is GitHub; serve is the real binary.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};

/// The simulator serving `src` as `acme/shop`, sending webhooks to `port` signed with SECRET.
async fn sim_to(src: &Path, port: u16) -> Sim {
    Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), src.to_path_buf())],
        webhook_url: Some(format!("http://127.0.0.1:{port}/webhook")),
        webhook_secret: Some(SECRET.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `prflow serve` on `port` as the simulator's App, sweeping every `every` seconds
/// (0: never), then `args`.
fn serve_as_app(data: &Path, sim: &Sim, port: u16, every: &str, args: &[&str]) -> Svc {
    let port = port.to_string();
    let mut all = vec!["--port", port.as_str()];
    all.extend_from_slice(args);
    let (id, key, api) = (
        sim.app_id().to_string(),
        sim.private_key_path().display().to_string(),
        sim.api_url(),
    );
    spawn(
        data,
        &all,
        &[
            ("APP_ID", id.as_str()),
            ("PRIVATE_KEY_PATH", key.as_str()),
            ("GITHUB_API_URL", api.as_str()),
            ("PRFLOW_REDELIVER_EVERY", every),
        ],
    )
}

async fn api(sim: &Sim, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", sim.api_url());
    let req = match method {
        "POST" => reqwest::Client::new()
            .post(url)
            .json(&body.unwrap_or(json!({}))),
        _ => reqwest::Client::new().get(url),
    };
    json_as(req, token).await
}

/// GUIDs of the deliveries that failed, in order, once the simulator is idle.
async fn failed_guids(sim: &Sim) -> Vec<String> {
    assert!(sim.wait_deliveries(Duration::from_secs(20)).await);
    sim.deliveries()
        .into_iter()
        .filter(|d| d.status != "OK")
        .map(|d| d.guid)
        .collect()
}

/// How many redeliveries of `guid` the simulator made.
fn redeliveries(sim: &Sim, guid: &str) -> usize {
    sim.deliveries()
        .iter()
        .filter(|d| d.guid == guid && d.redelivery)
        .count()
}

/// Wait until `done` holds (or fail after `within`, saying `what`).
async fn until(within: Duration, what: &str, svc: &Svc, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < end, "{what}; log: {}", svc.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The App is down when someone asks for a run; when it starts, its first
/// sweep has GitHub redeliver the lost events, and the run happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_app_was_down_are_redelivered_and_the_run_happens() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join(".prflow")).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(
        src.join(".prflow/workflow.json"),
        json!({
            "name": "Down",
            "agents": [{"id": "dev", "type": "developer", "runner": {"command": "echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt"}}],
            "tasks": [{"id": "one", "agentId": "dev"}, {"id": "two", "agentId": "dev", "dependencies": ["one"]}],
            "execution": {"checkpoints": ["one"]}
        })
        .to_string(),
    )
    .unwrap();
    git(&src, &["add", "."]);
    git(
        &src,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "init",
        ],
    );
    let port = free_port();
    let sim = sim_to(&src, port).await;
    let alice = sim.create_user("alice", "write").unwrap();

    // Nobody listens on the App's webhook URL.
    let issue = api(
        &sim,
        &alice,
        "POST",
        "/repos/acme/shop/issues",
        Some(json!({"title": "Build it"})),
    )
    .await;
    let n = issue["number"].as_u64().unwrap();
    let comments = format!("/repos/acme/shop/issues/{n}/comments");
    api(
        &sim,
        &alice,
        "POST",
        &comments,
        Some(json!({"body": "/prflow run"})),
    )
    .await;
    let lost = failed_guids(&sim).await;
    let asked = sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "issue_comment")
        .unwrap();
    assert!(lost.contains(&asked.guid), "{lost:?}");

    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let svc = serve_as_app(&data, &sim, port, "1", &["--handler", "flow"]);

    // The run happens: phase 1's PR, and the status comment waiting for a review.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = api(&sim, &alice, "GET", &comments, None).await;
        let waiting = c.as_array().into_iter().flatten().any(|c| {
            c["body"].as_str().is_some_and(|b| {
                b.contains("<!-- prflow:status run=") && b.contains("waits for an approving review")
            })
        });
        if waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not happen; log: {}",
            svc.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pulls = api(
        &sim,
        &alice,
        "GET",
        "/repos/acme/shop/pulls?state=all",
        None,
    )
    .await;
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");

    // Each lost event was sent again once, under its own guid, and not again
    // by the sweeps that followed (every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for guid in &lost {
        assert_eq!(
            redeliveries(&sim, guid),
            1,
            "{guid}: {:?}",
            sim.deliveries()
        );
    }
    let again = sim
        .deliveries()
        .into_iter()
        .find(|d| d.guid == asked.guid && d.redelivery)
        .unwrap();
    assert_eq!(again.status_code, Some(202));
    drop(svc);
    sim.shutdown().await;
}

/// A delivery the journal holds is not asked for again, even though GitHub
/// recorded it as failed (the App journalled it, then its answer was lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_already_journalled_is_not_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let src = git_repo();
    let port = free_port();
    let sim = sim_to(src.path(), port).await;
    let alice = sim.create_user("alice", "write").unwrap();
    let issue = api(
        &sim,
        &alice,
        "POST",
        "/repos/acme/shop/issues",
        Some(json!({"title": "x"})),
    )
    .await;
    let n = issue["number"].as_u64().unwrap();
    let comments = format!("/repos/acme/shop/issues/{n}/comments");
    api(
        &sim,
        &alice,
        "POST",
        &comments,
        Some(json!({"body": "/prflow help"})),
    )
    .await;
    let lost = failed_guids(&sim).await;
    let kept = sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "issue_comment")
        .unwrap();

    // The App journals the comment (sweeps off), then stops.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut svc = serve_as_app(&data, &sim, port, "0", &[]);
    let body = serde_json::to_vec(&kept.payload).unwrap();
    let (status, text) = deliver(&svc, "issue_comment", &kept.guid, body).await;
    assert_eq!((status, text.trim()), (202, "queued"));
    svc.sigterm();
    svc.wait_exit(Duration::from_secs(10)).unwrap();

    // Started with sweeps on: everything lost comes again but the comment.
    let svc = serve_as_app(&data, &sim, port, "1", &[]);
    let others: Vec<&String> = lost.iter().filter(|g| **g != kept.guid).collect();
    assert!(!others.is_empty(), "{lost:?}");
    until(
        Duration::from_secs(20),
        "the lost events were not redelivered",
        &svc,
        || others.iter().all(|g| redeliveries(&sim, g) == 1),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(redeliveries(&sim, &kept.guid), 0, "{:?}", sim.deliveries());
    for g in &others {
        assert_eq!(redeliveries(&sim, g), 1, "{g}");
    }
    let handled: Vec<String> = records(&svc)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        handled.iter().filter(|id| **id == kept.guid).count(),
        1,
        "{handled:?}"
    );
    drop(svc);
    sim.shutdown().await;
}
