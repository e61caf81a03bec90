//! The store contract, run against both backends: SQLite in a temp dir and
//! PostgreSQL in a fresh database (`PRFLOW_TEST_DATABASE_URL`; see
//! tests/common/pg.rs). Then what only a shared store does: claims with
//! leases across replicas, leader election, migrations applied once by
//! replicas starting together, and a password that never shows.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg;
use prflow::github::events::{Installation, InstallationAction};
use prflow::server::dispatch::ClaimSettings;
use prflow::server::journal::Durability;
use prflow::server::queue::Retries;
use prflow::server::store::{self, Store};
use prflow::server::{Appended, BoxFuture, Delivery, Handled, Handler, Metrics, Outcome, Queue};

fn delivery(id: &str, run_key: &str) -> Delivery {
    Delivery {
        id: id.into(),
        event: "ping".into(),
        payload: "{}".into(),
        run_key: run_key.into(),
        trusted: true,
        attempts: 0,
        retry_at: None,
    }
}

/// Both stores (PostgreSQL only when a test cluster is configured).
async fn backends(test: &str) -> Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = store::open(None, dir.path(), Durability::Full)
        .await
        .unwrap();
    let mut out = vec![("sqlite", sqlite, dir)];
    if let Some(url) = pg::fresh_database(test).await {
        let dir = tempfile::tempdir().unwrap();
        let pg = store::open(Some(&url), dir.path(), Durability::Full)
            .await
            .unwrap();
        out.push(("postgres", pg, dir));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_keeps_each_delivery_once_with_its_outcome_and_retries() {
    for (name, s, _dir) in backends("journal").await {
        assert_eq!(
            s.append(delivery("a", "k")).await.unwrap(),
            Appended::New,
            "{name}"
        );
        assert_eq!(
            s.append(delivery("a", "k")).await.unwrap(),
            Appended::Duplicate,
            "{name}"
        );
        assert_eq!(
            s.append(delivery("b", "k")).await.unwrap(),
            Appended::New,
            "{name}"
        );
        s.finish("a", Outcome::Done, None).await.unwrap();
        s.retry("b", 1_700_000_000_123, "GitHub server error 502".into())
            .await
            .unwrap();
        s.retry("b", 1_700_000_000_456, "GitHub server error 503".into())
            .await
            .unwrap();
        assert!(s.flush().await);
        let a = s.status("a").await.unwrap().unwrap();
        assert_eq!((a.state.as_str(), a.attempts), ("done", 0), "{name}");
        let b = s.status("b").await.unwrap().unwrap();
        assert_eq!(
            (b.state.as_str(), b.attempts, b.retry_at, b.error.as_deref()),
            (
                "pending",
                2,
                Some(1_700_000_000_456),
                Some("GitHub server error 503")
            ),
            "{name}"
        );
        // Finishing keeps the count and the error; a late retry revives nothing.
        s.finish("b", Outcome::Failed, Some("gave up".into()))
            .await
            .unwrap();
        s.retry("b", 1, "late".into()).await.unwrap();
        let b = s.status("b").await.unwrap().unwrap();
        assert_eq!(
            (b.state.as_str(), b.attempts, b.retry_at, b.error.as_deref()),
            ("failed", 2, None, Some("gave up")),
            "{name}"
        );
        assert_eq!(s.status("never").await.unwrap(), None, "{name}");
        assert!(s.check().await.is_ok(), "{name}: {:?}", s.check().await);
    }
}

/// A burst, as 32 connections send one: every request answered only with its
/// delivery written, and a delivery sent twice at once new exactly once — PostgreSQL writes a burst in shared
/// commits, SQLite in its group commit.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_appends_is_written_whole_and_each_delivery_is_new_once() {
    const N: usize = 300;
    for (name, s, _dir) in backends("burst").await {
        let mut tasks = Vec::new();
        for i in 0..N {
            for _copy in 0..2 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    let mut d = delivery(&format!("burst-{i}"), &format!("run-{}", i % 7));
                    d.payload = format!(r#"{{"n":{i},"text":"a, \"quoted\" {{brace}} é"}}"#);
                    (i, s.append(d).await.unwrap())
                }));
            }
        }
        let mut new = vec![0; N];
        for t in tasks {
            let (i, appended) = t.await.unwrap();
            if appended == Appended::New {
                new[i] += 1;
            }
        }
        let wrong: Vec<usize> = (0..N).filter(|&i| new[i] != 1).collect();
        assert!(wrong.is_empty(), "{name}: not new exactly once: {wrong:?}");
        for i in 0..N {
            let st = s.status(&format!("burst-{i}")).await.unwrap().unwrap();
            assert_eq!(st.state, "pending", "{name}: burst-{i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_installation_registry_changes_atomically_and_reads_back() {
    for (name, s, _dir) in backends("registry").await {
        assert!(s.installations().await.unwrap().is_empty(), "{name}");
        let created = Installation {
            action: InstallationAction::Created,
            installation_id: 7,
            account: "acme".into(),
            repositories_added: vec!["acme/Shop".into(), "acme/web".into()],
            repositories_removed: vec![],
        };
        // Twenty workers changing it at once lose nothing.
        let mut tasks = vec![];
        for i in 0..20u64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.update_installations(&mut |reg| {
                    reg.learn(&format!("acme/r{i}"), 7);
                })
                .await
                .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut learned = vec![];
        s.update_installations(&mut |reg| learned = reg.apply(&created).learned)
            .await
            .unwrap();
        assert_eq!(learned, ["acme/Shop", "acme/web"], "{name}");
        let reg = s.installations().await.unwrap();
        assert_eq!(reg.len(), 22, "{name}");
        assert_eq!(reg.installation_of("ACME/shop"), Some(7), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_lock_serializes_its_holders_only() {
    for (name, s, _dir) in backends("runlock").await {
        let held = s.lock_run("acme/shop@run:1").await.unwrap();
        let other = tokio::time::timeout(Duration::from_secs(2), s.lock_run("acme/shop@run:2"))
            .await
            .unwrap_or_else(|_| panic!("{name}: another run's lock is free"))
            .unwrap();
        drop(other);
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.lock_run("acme/shop@run:1").await.unwrap() });
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            !waiter.is_finished(),
            "{name}: the second holder of a run waits"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap_or_else(|_| panic!("{name}: released"))
            .unwrap();
    }
}

/// A shared store for `test` and its URL, or `None` (skipped).
async fn shared(test: &str) -> Option<(Arc<dyn Store>, String, tempfile::TempDir)> {
    let url = pg::fresh_database(test).await?;
    let dir = tempfile::tempdir().unwrap();
    let s = store::open(Some(&url), dir.path(), Durability::Full)
        .await
        .unwrap();
    Some((s, url, dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_take_a_runs_oldest_delivery_once_and_a_dead_claim_is_taken_over() {
    let Some((s, url, dir)) = shared("claims").await else {
        return;
    };
    // A second replica on the same database.
    let other = store::open(Some(&url), dir.path(), Durability::Full)
        .await
        .unwrap();
    for (id, key) in [("k1", "k"), ("k2", "k"), ("j1", "j")] {
        s.append(delivery(id, key)).await.unwrap();
    }
    let lease = Duration::from_millis(600);
    let (a, b) = (s.claims().unwrap(), other.claims().unwrap());
    let first = a.claim("A", lease).await.unwrap().unwrap();
    assert_eq!(first.id, "k1");
    // B may not take k2 while k1 is claimed: it gets the other run.
    let second = b.claim("B", lease).await.unwrap().unwrap();
    assert_eq!(second.id, "j1");
    assert_eq!(
        b.claim("B", lease).await.unwrap(),
        None,
        "k2 waits behind k1"
    );
    // A keeps its claim alive past the lease; B still gets nothing.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(a.renew("k1", "A", lease).await.unwrap());
    assert!(b.renew("j1", "B", lease).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.claim("B", lease).await.unwrap(), None);
    // A dies (no more heartbeats): once its lease ends, B takes k1 over.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let taken = b.claim("B", lease).await.unwrap().unwrap();
    assert_eq!(taken.id, "k1");
    assert!(
        !a.renew("k1", "A", lease).await.unwrap(),
        "A lost its claim"
    );
    other.finish("k1", Outcome::Done, None).await.unwrap();
    // Now k2 is the run's oldest pending delivery.
    assert_eq!(b.claim("B", lease).await.unwrap().unwrap().id, "k2");
    // A clean shutdown gives claims back at once.
    b.release("B").await.unwrap();
    assert_eq!(a.claim("A", lease).await.unwrap().unwrap().id, "k2");
    assert_eq!(a.claim("A", lease).await.unwrap().unwrap().id, "j1");
    // A retry not yet due is not claimable, and holds its run back.
    s.append(delivery("r1", "r")).await.unwrap();
    s.append(delivery("r2", "r")).await.unwrap();
    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 500;
    s.finish("k2", Outcome::Done, None).await.unwrap();
    s.finish("j1", Outcome::Done, None).await.unwrap();
    assert_eq!(a.claim("A", lease).await.unwrap().unwrap().id, "r1");
    s.retry("r1", due, "502".into()).await.unwrap();
    assert_eq!(
        a.claim("A", lease).await.unwrap(),
        None,
        "r1 not due, r2 behind it"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r1 = a.claim("A", lease).await.unwrap().unwrap();
    assert_eq!((r1.id.as_str(), r1.attempts), ("r1", 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_replica_leads_a_timer_until_it_goes() {
    let Some((s, url, dir)) = shared("leader").await else {
        return;
    };
    let other = store::open(Some(&url), dir.path(), Durability::Full)
        .await
        .unwrap();
    assert!(s.claims().unwrap().lead("redeliver").await.unwrap());
    assert!(
        s.claims().unwrap().lead("redeliver").await.unwrap(),
        "still the leader"
    );
    assert!(!other.claims().unwrap().lead("redeliver").await.unwrap());
    assert!(
        other.claims().unwrap().lead("retries").await.unwrap(),
        "another timer is free"
    );
    drop(s); // the leader's pool closes: its session and lock end
    let end = Instant::now() + Duration::from_secs(5);
    while !other.claims().unwrap().lead("redeliver").await.unwrap() {
        assert!(Instant::now() < end, "the lock outlived its replica");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_starting_together_apply_the_migrations_once() {
    let Some(url) = pg::fresh_database("migrations").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let opens = (0..4).map(|_| store::open(Some(&url), dir.path(), Durability::Full));
    let stores: Vec<_> = futures::future::join_all(opens)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ready = stores[0].check().await.unwrap();
    assert!(ready.contains("reachable, schema version 1"), "{ready}");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_password_never_shows() {
    let Some(url) = pg::fresh_database("password").await else {
        return;
    };
    let password = pg::password_of(&url).expect("the test cluster's role has a password");
    let dir = tempfile::tempdir().unwrap();
    let s = store::open(Some(&url), dir.path(), Durability::Full)
        .await
        .unwrap();
    let shown = format!("{} {}", s.describe(), s.check().await.unwrap());
    assert!(
        !shown.contains(&password) && shown.contains("***"),
        "{shown}"
    );
    // A wrong password, and a database that does not exist: the errors name
    // the server, never the password.
    let wrong = url.replacen(&password, "not-the-password-123", 1);
    let e = format!(
        "{:#}",
        store::open(Some(&wrong), dir.path(), Durability::Full)
            .await
            .err()
            .unwrap()
    );
    assert!(
        !e.contains("not-the-password-123") && e.contains("PRFLOW_DATABASE_URL"),
        "{e}"
    );
    let missing = pg::with_database(&url, "no_such_database_here");
    let e = format!(
        "{:#}",
        store::open(Some(&missing), dir.path(), Durability::Full)
            .await
            .err()
            .unwrap()
    );
    assert!(
        !e.contains(&password) && e.contains("no_such_database_here"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        store::open(
            Some("postgres://u:pw-in-a-bad-url@[::1"),
            dir.path(),
            Durability::Full
        )
        .await
        .err()
        .unwrap()
    );
    assert!(
        !e.contains("pw-in-a-bad-url") && e.contains("postgres://"),
        "{e}"
    );
}

/// Records each delivery's handling span; a run's spans must not overlap.
struct Spans {
    log: Mutex<Vec<(String, String, Instant, Instant)>>,
    running: AtomicUsize,
}

impl Handler for Spans {
    fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<Handled>> {
        Box::pin(async move {
            self.running.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            tokio::time::sleep(Duration::from_millis(30)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.log
                .lock()
                .unwrap()
                .push((d.run_key.clone(), d.id.clone(), start, Instant::now()));
            Ok(Handled::default())
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_handle_every_delivery_once_and_each_run_in_order() {
    let Some((s, url, dir)) = shared("queues").await else {
        return;
    };
    let other = store::open(Some(&url), dir.path(), Durability::Full)
        .await
        .unwrap();
    let spans = Arc::new(Spans {
        log: Mutex::new(vec![]),
        running: AtomicUsize::new(0),
    });
    let settings = |owner: &str| ClaimSettings {
        owner: owner.into(),
        lease: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    };
    let queues = [
        Queue::start(
            spans.clone(),
            s.clone(),
            Arc::new(Metrics::new()),
            4,
            Retries::default(),
            settings("A"),
        ),
        Queue::start(
            spans.clone(),
            other.clone(),
            Arc::new(Metrics::new()),
            4,
            Retries::default(),
            settings("B"),
        ),
    ];
    // Four runs, five deliveries each, journalled through either replica.
    for i in 0..5 {
        for run in ["a", "b", "c", "d"] {
            let d = delivery(&format!("{run}{i}"), run);
            let (store, queue) = if i % 2 == 0 {
                (&s, &queues[0])
            } else {
                (&other, &queues[1])
            };
            assert_eq!(store.append(d.clone()).await.unwrap(), Appended::New);
            queue.push(d);
        }
    }
    let end = Instant::now() + Duration::from_secs(20);
    while spans.log.lock().unwrap().len() < 20 {
        assert!(
            Instant::now() < end,
            "not all handled: {:?}",
            spans.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = spans.log.lock().unwrap().clone();
    assert_eq!(log.len(), 20, "each delivery handled once: {log:?}");
    for run in ["a", "b", "c", "d"] {
        let mut mine: Vec<_> = log.iter().filter(|x| x.0 == run).collect();
        mine.sort_by_key(|x| x.2);
        let order: Vec<&str> = mine.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            order,
            [0, 1, 2, 3, 4].map(|i| format!("{run}{i}")),
            "{run} in arrival order"
        );
        for w in mine.windows(2) {
            assert!(w[0].3 <= w[1].2, "{run}: two replicas handled it at once");
        }
    }
    for id in ["a0", "d4"] {
        assert_eq!(s.status(id).await.unwrap().unwrap().state, "done");
    }
    for q in &queues {
        assert!(q.shutdown(Duration::from_secs(2)).await);
    }
}
