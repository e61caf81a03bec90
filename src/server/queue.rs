//! The work queue: journalled deliveries are handled after the 2xx, one at
//! a time per run key and in parallel across keys, bounded by a worker count.
//!
//! Serializing per run makes concurrent events deterministic: two approvals
//! arriving together are handled one after the other, and the second finds
//! the run already continued (the core is idempotent). Different runs and
//! repositories do not wait for each other beyond the worker bound.
//!
//! **Retries.** GitHub is answered before the work runs, so it never
//! redelivers; a delivery whose work fails for a transient reason
//! ([`is_transient`]: GitHub 5xx, transport, rate limit, network I/O) is
//! tried again here, up to [`Retries::max_attempts`] attempts, waiting
//! `base`, `3·base`, `9·base` … in between. Any other error, and a panic, is
//! permanent: the delivery is `failed` at once, its error in the journal.
//! While a retry waits, its key's worker waits with it: later deliveries of
//! the same run stay queued behind it (a run's events are handled in
//! order), other keys carry on, and the wait holds neither a worker slot
//! nor shutdown — on SIGTERM the retry stays `pending` in the journal with
//! its due time, and the next process resumes the schedule.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use tokio::sync::{watch, Semaphore};

use super::dispatch::{self, ClaimSettings};
use super::journal::{Delivery, Outcome};
use super::metrics::Metrics;
use super::store::Store;
use crate::github::error::is_transient;

/// A boxed, sendable future (what [`Handler::handle`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What handling a delivery reported.
#[derive(Debug, Clone, Default)]
pub struct Handled {
    /// The state the run is left in (`waiting-for-review`, `finished` …), for metrics.
    pub run_state: Option<String>,
}

/// Does the work of one delivery. Production uses [`super::handler::FlowHandler`];
/// tests use a recording handler. Must be idempotent: after a crash or a
/// transient failure a delivery is handled again.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<Handled>>;
}

/// Longest wait between two attempts, whatever the base and the count.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Wait after the first failed attempt; tripled after each further one.
    pub base: Duration,
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
}

impl Default for Retries {
    /// 5 attempts, 10 s, 30 s, 90 s, 270 s apart.
    fn default() -> Self {
        Retries {
            base: Duration::from_secs(10),
            max_attempts: 5,
        }
    }
}

impl Retries {
    /// The wait after the `failed`-th failed attempt (1-based): `base·3^(failed-1)`,
    /// at most [`MAX_RETRY_DELAY`].
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 3u32.saturating_pow(failed.saturating_sub(1));
        self.base
            .checked_mul(factor)
            .unwrap_or(MAX_RETRY_DELAY)
            .min(MAX_RETRY_DELAY)
    }
}

pub(super) struct Inner {
    handler: Arc<dyn Handler>,
    pub(super) store: Arc<dyn Store>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) workers: Arc<Semaphore>,
    retries: Retries,
    /// Keys with a worker; the deque holds what waits behind the running one.
    pub(super) keys: Mutex<HashMap<String, VecDeque<Delivery>>>,
    pub(super) stopping: AtomicBool,
    /// Flips to true on shutdown; wakes workers waiting for a retry.
    pub(super) stop: watch::Sender<bool>,
    /// A shared store's claim settings (`None`: the queue lives in this process).
    pub(super) claims: Option<ClaimSettings>,
    /// Wakes the claim loop when this replica journalled something new.
    pub(super) wake: tokio::sync::Notify,
    /// Wakes the claim loop when one of its workers finished: the next
    /// delivery of that run may be claimable now.
    pub(super) freed: tokio::sync::Notify,
}

/// Handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    /// A queue with the default [`Retries`].
    pub fn new(
        handler: Arc<dyn Handler>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        workers: usize,
    ) -> Queue {
        Queue::with_retries(handler, store, metrics, workers, Retries::default())
    }

    /// A queue retrying transient failures as `retries` says.
    pub fn with_retries(
        handler: Arc<dyn Handler>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        workers: usize,
        retries: Retries,
    ) -> Queue {
        Queue::start(
            handler,
            store,
            metrics,
            workers,
            retries,
            ClaimSettings::default(),
        )
    }

    /// A queue over `store`: in this process for a store without claims;
    /// for a shared store, a claim loop that takes work any replica journalled.
    pub fn start(
        handler: Arc<dyn Handler>,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        workers: usize,
        retries: Retries,
        claims: ClaimSettings,
    ) -> Queue {
        let shared = store.claims().is_some();
        let queue = Queue {
            inner: Arc::new(Inner {
                handler,
                store,
                metrics,
                workers: Arc::new(Semaphore::new(workers.max(1))),
                retries: Retries {
                    max_attempts: retries.max_attempts.max(1),
                    ..retries
                },
                keys: Mutex::new(HashMap::new()),
                stopping: AtomicBool::new(false),
                stop: watch::channel(false).0,
                claims: shared.then_some(claims),
                wake: tokio::sync::Notify::new(),
                freed: tokio::sync::Notify::new(),
            }),
        };
        if shared {
            tokio::spawn(dispatch::claim_loop(queue.inner.clone()));
        }
        queue
    }

    /// Queue a journalled delivery (one recovered from the journal keeps
    /// its attempts and waits until its `retry_at`). Never blocks.
    pub fn push(&self, d: Delivery) {
        if self.inner.claims.is_some() {
            // Journalled in the shared store: a worker of some replica claims it.
            self.inner.wake.notify_one();
            return;
        }
        self.inner
            .metrics
            .queue_depth
            .inner()
            .fetch_add(1, Ordering::Relaxed);
        let mut keys = self.inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waiting) = keys.get_mut(&d.run_key) {
            waiting.push_back(d);
            return;
        }
        keys.insert(d.run_key.clone(), VecDeque::new());
        drop(keys);
        let inner = self.inner.clone();
        tokio::spawn(async move { run_key(inner, d).await });
    }

    /// Stop starting new work; wait up to `grace` for what runs to finish.
    /// Whatever did not start or finish — a waiting retry included — stays
    /// `pending` in the journal and is handled by the next process. Returns
    /// true when nothing was left running.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.send_replace(true);
        self.inner.wake.notify_waiters();
        let end = Instant::now() + grace;
        let clean = loop {
            if self.inner.metrics.in_flight.inner().load(Ordering::SeqCst) == 0 {
                break true;
            }
            if Instant::now() >= end {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        self.inner.store.flush().await;
        if let (Some(c), Some(settings)) = (self.inner.store.claims(), &self.inner.claims) {
            // What this replica still holds is claimable by the others at once.
            if let Err(e) = c.release(&settings.owner).await {
                tracing::warn!("{e:#}; the other replicas take the work over when the leases end");
            }
        }
        clean
    }

    /// Number of run keys with work waiting or running.
    pub fn active_keys(&self) -> usize {
        self.inner
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sleep until `at` (unix ms); false when shutdown began first.
async fn wait_until(inner: &Inner, at: i64) -> bool {
    let mut stop = inner.stop.subscribe();
    let left = at.saturating_sub(now_ms());
    if left > 0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(left as u64)) => {}
            _ = stop.wait_for(|s| *s) => return false,
        }
    }
    !inner.stopping.load(Ordering::SeqCst)
}

/// How one attempt ended.
pub(super) enum Attempt {
    /// `done` or `failed` is journalled: on to the next delivery of the key.
    Finished,
    /// A retry is journalled and `d.retry_at` set: wait, then try again.
    Retry,
    /// Shutdown began before the attempt started: leave it pending.
    Stopped,
}

/// The worker of one key: handle `first` (retries included), then whatever queued behind it.
async fn run_key(inner: Arc<Inner>, first: Delivery) {
    let mut next = Some(first);
    while let Some(mut d) = next {
        loop {
            if let Some(at) = d.retry_at {
                if !wait_until(&inner, at).await {
                    // Stays pending in the journal with its retry_at.
                    return;
                }
            }
            match attempt(&inner, &mut d).await {
                Attempt::Finished => break,
                Attempt::Retry => continue,
                Attempt::Stopped => return,
            }
        }
        inner
            .metrics
            .queue_depth
            .inner()
            .fetch_sub(1, Ordering::Relaxed);
        let mut keys = inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        next = keys.get_mut(&d.run_key).and_then(|q| q.pop_front());
        if next.is_none() {
            keys.remove(&d.run_key);
        }
    }
}

/// One attempt at `d`, holding a worker slot; journals its end or its retry.
async fn attempt(inner: &Inner, d: &mut Delivery) -> Attempt {
    let Ok(_permit) = inner.workers.clone().acquire_owned().await else {
        return Attempt::Stopped;
    };
    attempt_holding_a_slot(inner, d).await
}

/// [`attempt`] for a worker that already holds its slot (the claim loop's).
pub(super) async fn attempt_holding_a_slot(inner: &Inner, d: &mut Delivery) -> Attempt {
    if inner.stopping.load(Ordering::SeqCst) {
        // Left pending in the journal for the next process.
        return Attempt::Stopped;
    }
    inner
        .metrics
        .in_flight
        .inner()
        .fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let res = AssertUnwindSafe(inner.handler.handle(d))
        .catch_unwind()
        .await;
    inner.metrics.handle_seconds.observe(started.elapsed());
    let number = d.attempts + 1;
    let max = inner.retries.max_attempts;
    let ended = match res {
        Ok(Ok(h)) => {
            if let Some(s) = &h.run_state {
                inner.metrics.run_state(&d.run_key, s);
            }
            record(inner.store.finish(&d.id, Outcome::Done, None).await);
            inner.metrics.handled("done");
            tracing::info!(delivery = %d.id, event = %d.event, run_key = %d.run_key, attempt = number, ms = started.elapsed().as_millis() as u64, "delivery handled");
            Attempt::Finished
        }
        Ok(Err(e)) if is_transient(&e) && number < max => {
            let wait = inner.retries.delay(number);
            let error = format!("{e:#}");
            d.attempts = number;
            d.retry_at = Some(now_ms().saturating_add(wait.as_millis() as i64));
            // Journalled before the worker slot and in_flight are given back,
            // so shutdown's flush always finds it written.
            record(
                inner
                    .store
                    .retry(&d.id, d.retry_at.unwrap_or_default(), error.clone())
                    .await,
            );
            inner.metrics.handled("retry");
            inner
                .metrics
                .deliveries_retried
                .inner()
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(delivery = %d.id, event = %d.event, run_key = %d.run_key, attempt = number, max_attempts = max, retry_in_ms = wait.as_millis() as u64, error = %error, "delivery failed for a transient reason; retrying");
            Attempt::Retry
        }
        Ok(Err(e)) => {
            let error = if is_transient(&e) {
                format!("gave up after {number} attempt(s) (--max-attempts {max}): {e:#}")
            } else {
                format!("{e:#}")
            };
            record(
                inner
                    .store
                    .finish(&d.id, Outcome::Failed, Some(error.clone()))
                    .await,
            );
            inner.metrics.handled("failed");
            tracing::error!(delivery = %d.id, event = %d.event, run_key = %d.run_key, attempt = number, error = %error, "delivery failed");
            Attempt::Finished
        }
        Err(_) => {
            record(
                inner
                    .store
                    .finish(&d.id, Outcome::Failed, Some("the handler panicked".into()))
                    .await,
            );
            inner.metrics.handled("failed");
            tracing::error!(delivery = %d.id, event = %d.event, attempt = number, "the handler panicked");
            Attempt::Finished
        }
    };
    inner
        .metrics
        .in_flight
        .inner()
        .fetch_sub(1, Ordering::SeqCst);
    ended
}

/// Log a failed write of an outcome: the delivery stays pending and is handled again.
fn record(written: anyhow::Result<()>) {
    if let Err(e) = written {
        tracing::error!("{e:#}; the delivery stays pending and is handled again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::journal::{Durability, Journal};
    use crate::server::store::sqlite::SqliteStore;
    use std::sync::atomic::AtomicUsize;

    /// The SQLite store of `dir` and its journal (the tests read rows back through it).
    fn open(dir: &std::path::Path) -> (Arc<SqliteStore>, Journal) {
        let store = Arc::new(SqliteStore::open(dir, Durability::Full).unwrap());
        let j = store.journal().clone();
        (store, j)
    }

    /// Records (key, start, end) and the peak concurrency per key.
    struct Slow {
        log: Mutex<Vec<(String, Instant, Instant)>>,
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Handler for Slow {
        fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<Handled>> {
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(now, Ordering::SeqCst);
                let s = Instant::now();
                tokio::time::sleep(Duration::from_millis(40)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.log
                    .lock()
                    .unwrap()
                    .push((d.run_key.clone(), s, Instant::now()));
                Ok(Handled::default())
            })
        }
    }

    #[tokio::test]
    async fn same_key_serialized_other_keys_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _j) = open(dir.path());
        let h = Arc::new(Slow {
            log: Mutex::new(vec![]),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let q = Queue::new(h.clone(), store, Arc::new(Metrics::new()), 4);
        for i in 0..3 {
            q.push(Delivery::for_test(&format!("a{i}"), "a"));
            q.push(Delivery::for_test(&format!("b{i}"), "b"));
        }
        let t0 = Instant::now();
        while q.active_keys() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let log = h.log.lock().unwrap().clone();
        assert_eq!(log.len(), 6);
        for key in ["a", "b"] {
            let mut spans: Vec<_> = log.iter().filter(|x| x.0 == key).collect();
            spans.sort_by_key(|x| x.1);
            for w in spans.windows(2) {
                assert!(w[0].2 <= w[1].1, "{key}: overlapping handling");
            }
        }
        assert_eq!(h.peak.load(Ordering::SeqCst), 2, "a and b ran side by side");
        assert!(t0.elapsed() < Duration::from_millis(40 * 6));
    }

    /// Fails each delivery as its id says: `t<N>-…` transiently N times
    /// (a GitHub 502 under context), `perm-…` with a 422, `panic-…` by
    /// panicking, `always-…` transiently forever. Logs (id, start) of every attempt.
    struct Scripted {
        log: Mutex<Vec<(String, Instant)>>,
    }

    impl Scripted {
        fn new() -> Arc<Scripted> {
            Arc::new(Scripted {
                log: Mutex::new(vec![]),
            })
        }
        fn starts(&self, id: &str) -> Vec<Instant> {
            let log = self.log.lock().unwrap();
            log.iter().filter(|x| x.0 == id).map(|x| x.1).collect()
        }
    }

    fn server_error() -> anyhow::Error {
        anyhow::Error::new(crate::github::GithubError::Server {
            request: "GET /repos/a/b".into(),
            status: 502,
            attempts: 5,
            message: "bad gateway".into(),
        })
        .context("reading the run")
    }

    impl Handler for Scripted {
        fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<Handled>> {
            Box::pin(async move {
                let n = {
                    let mut log = self.log.lock().unwrap();
                    log.push((d.id.clone(), Instant::now()));
                    log.iter().filter(|x| x.0 == d.id).count()
                };
                if d.id.starts_with("perm") {
                    return Err(anyhow::Error::new(crate::github::GithubError::Validation {
                        request: "POST /repos/a/b/pulls".into(),
                        message: "Validation Failed".into(),
                        errors: vec![],
                    }));
                }
                if d.id.starts_with("panic") {
                    panic!("a bug");
                }
                if d.id.starts_with("always") {
                    return Err(server_error());
                }
                let fails: usize = d.id[1..2].parse().unwrap();
                if n <= fails {
                    return Err(server_error());
                }
                Ok(Handled::default())
            })
        }
    }

    fn fast(max_attempts: u32) -> Retries {
        Retries {
            base: Duration::from_millis(20),
            max_attempts,
        }
    }

    async fn drain(q: &Queue) {
        let end = Instant::now() + Duration::from_secs(10);
        while q.active_keys() > 0 {
            assert!(Instant::now() < end, "the queue did not drain");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn status(j: &Journal, id: &str) -> crate::server::journal::DeliveryStatus {
        j.flush().await;
        let dir = j.path().parent().unwrap();
        Journal::status_of(dir, id).unwrap().unwrap()
    }

    #[test]
    fn backoff_triples_and_is_capped() {
        let r = Retries::default();
        let secs: Vec<u64> = (1..=5).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(secs, [10, 30, 90, 270, 810]);
        assert_eq!(r.delay(40), MAX_RETRY_DELAY);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_with_backoff_permanent_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let (store, j) = open(dir.path());
        let h = Scripted::new();
        let m = Arc::new(Metrics::new());
        let q = Queue::with_retries(h.clone(), store, m.clone(), 4, fast(5));
        for (id, key) in [
            ("t2-a", "a"),
            ("perm-b", "b"),
            ("panic-c", "c"),
            ("always-d", "d"),
        ] {
            j.append(Delivery::for_test(id, key)).await.unwrap();
            q.push(Delivery::for_test(id, key));
        }
        drain(&q).await;

        let t = h.starts("t2-a");
        assert_eq!(t.len(), 3, "two transient failures, then success");
        // Retry times are kept in whole milliseconds, so a wait may fall short of
        // its delay by less than one.
        assert!(t[1] - t[0] >= Duration::from_millis(19), "{t:?}");
        assert!(t[2] - t[1] >= Duration::from_millis(59), "{t:?}");
        let st = status(&j, "t2-a").await;
        assert_eq!((st.state.as_str(), st.attempts), ("done", 2));
        assert_eq!(st.error, None, "done: the retried errors are history");

        assert_eq!(h.starts("perm-b").len(), 1);
        let st = status(&j, "perm-b").await;
        assert_eq!((st.state.as_str(), st.attempts), ("failed", 0));
        assert!(st.error.unwrap().contains("422"));

        assert_eq!(h.starts("panic-c").len(), 1, "a panic is permanent");
        assert_eq!(status(&j, "panic-c").await.state, "failed");

        // Waits of 20, 60, 180 and 540 ms between five attempts; the fifth
        // failure is final.
        assert_eq!(h.starts("always-d").len(), 5);
        let st = status(&j, "always-d").await;
        assert_eq!((st.state.as_str(), st.attempts), ("failed", 4));
        assert!(st.error.unwrap().starts_with("gave up after 5 attempt(s)"));

        let text = m.render();
        assert!(
            text.contains("\nprflow_deliveries_retried_total 6\n"),
            "{text}"
        );
        assert!(text.contains("prflow_deliveries_handled_total{outcome=\"retry\"} 6"));
        assert!(text.contains("prflow_deliveries_handled_total{outcome=\"done\"} 1"));
        assert!(text.contains("prflow_deliveries_handled_total{outcome=\"failed\"} 3"));
        assert_eq!(m.queue_depth.inner().load(Ordering::SeqCst), 0);
        assert_eq!(m.in_flight.inner().load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_waiting_retry_holds_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _j) = open(dir.path());
        let h = Scripted::new();
        // One worker: the retry's wait (300 ms) must not hold it.
        let wide = Retries {
            base: Duration::from_millis(300),
            max_attempts: 5,
        };
        let q = Queue::with_retries(h.clone(), store, Arc::new(Metrics::new()), 1, wide);
        q.push(Delivery::for_test("t1-first", "a"));
        q.push(Delivery::for_test("t0-second", "a"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.push(Delivery::for_test("t0-other", "b"));
        drain(&q).await;
        let first = h.starts("t1-first");
        let second = h.starts("t0-second")[0];
        let other = h.starts("t0-other")[0];
        assert_eq!(first.len(), 2);
        assert!(second > first[1], "the same run waits behind the retry");
        assert!(other < first[1], "another run does not wait for it");
    }

    #[tokio::test]
    async fn shutdown_leaves_a_waiting_retry_pending_and_reopening_resumes_it_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let (store, j) = open(dir.path());
        let h = Scripted::new();
        let slow = Retries {
            base: Duration::from_secs(30),
            max_attempts: 5,
        };
        let q = Queue::with_retries(h.clone(), store.clone(), Arc::new(Metrics::new()), 2, slow);
        j.append(Delivery::for_test("t1-x", "a")).await.unwrap();
        q.push(Delivery::for_test("t1-x", "a"));
        while h.starts("t1-x").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Instant::now();
        assert!(q.shutdown(Duration::from_secs(5)).await);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a 30 s retry wait blocked shutdown"
        );
        let st = status(&j, "t1-x").await;
        assert_eq!((st.state.as_str(), st.attempts), ("pending", 1));
        let due = st.retry_at.unwrap();
        assert!(due > now_ms() + 25_000, "due in ~30 s: {due}");
        drop((q, j, store));

        // The next process finds it with its attempts and due time...
        let (store, j) = open(dir.path());
        let pending = store.take_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].attempts, pending[0].retry_at), (1, Some(due)));
        // ...and waits for it: brought forward to 150 ms from now here, it
        // runs then, not at once.
        let mut p = pending[0].clone();
        p.retry_at = Some(now_ms() + 150);
        let t = Instant::now();
        let q = Queue::with_retries(h.clone(), store.clone(), Arc::new(Metrics::new()), 2, slow);
        q.push(p);
        drain(&q).await;
        assert!(
            t.elapsed() >= Duration::from_millis(140),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(h.starts("t1-x").len(), 2);
        let st = status(&j, "t1-x").await;
        assert_eq!((st.state.as_str(), st.attempts), ("done", 1));
    }
}
