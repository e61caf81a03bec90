//! Intake under load: every delivery `prflow serve` acknowledged with a 2xx is in
//! its journal, even when the process is killed (SIGKILL) in the middle of a
//! burst of concurrent deliveries — the 2xx is sent only after the commit.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use prflow::server::Journal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_of_a_burst_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = spawn(dir.path(), &["--handler", "none"], &[]);
    let body = review("acme/shop", 1, "f", "acme/shop");
    let sig = sign(SECRET, &body);
    let url = svc.url("/webhook");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop_at = Instant::now() + Duration::from_millis(1500);
    // 32 clients, each on its own kept-alive connection, as fast as answers come.
    let clients: Vec<_> = (0..32)
        .map(|c| {
            let (url, body, sig, acked) = (url.clone(), body.clone(), sig.clone(), acked.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0.. {
                    let id = format!("burst-{c}-{i}");
                    let sent = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-github-event", "pull_request_review")
                        .header("x-github-delivery", &id)
                        .header("x-hub-signature-256", &sig)
                        .body(body.clone())
                        .send()
                        .await;
                    // Killed under us: whatever was not answered was not acknowledged.
                    let Ok(r) = sent else { return };
                    if r.status().is_success() {
                        acked.lock().unwrap().push(id);
                    }
                    if Instant::now() > stop_at {
                        return;
                    }
                }
            })
        })
        .collect();
    // Killed while the clients are still sending.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    svc.kill9();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} deliveries acknowledged",
        acked.len()
    );

    // Restarted: the journal holds every acknowledged delivery.
    let svc = spawn(dir.path(), &["--handler", "none"], &[]);
    drop(svc);
    let (journal, _) = Journal::open(dir.path()).unwrap();
    let known = journal.known(&acked).unwrap();
    let missing: Vec<&String> = acked.iter().filter(|id| !known.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged deliveries are not in the journal: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
}
