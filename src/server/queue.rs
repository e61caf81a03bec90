//! The work queue: journalled deliveries are handled after the 2xx, one at
//! a time per run key and in parallel across keys, bounded by a worker count.
//!
//! Serializing per run makes concurrent events deterministic: two approvals
//! arriving together are handled one after the other, and the second finds
//! the run already continued (the core is idempotent). Different runs and
//! repositories do not wait for each other beyond the worker bound.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;

use super::journal::{Delivery, Journal, Outcome};
use super::metrics::Metrics;

/// A boxed, sendable future (what [`Handler::handle`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What handling a delivery reported.
#[derive(Debug, Clone, Default)]
pub struct Handled {
    /// The state the run is left in (`waiting-for-review`, `finished` …), for metrics.
    pub run_state: Option<String>,
}

/// Does the work of one delivery. Production uses [`super::handler::FlowHandler`];
/// tests use a recording handler. Must be idempotent: after a crash a
/// delivery may be handled again.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<Handled>>;
}

struct Inner {
    handler: Arc<dyn Handler>,
    journal: Journal,
    metrics: Arc<Metrics>,
    workers: Arc<Semaphore>,
    /// Keys with a worker; the deque holds what waits behind the running one.
    keys: Mutex<HashMap<String, VecDeque<Delivery>>>,
    stopping: AtomicBool,
}

/// Handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    pub fn new(
        handler: Arc<dyn Handler>,
        journal: Journal,
        metrics: Arc<Metrics>,
        workers: usize,
    ) -> Queue {
        Queue {
            inner: Arc::new(Inner {
                handler,
                journal,
                metrics,
                workers: Arc::new(Semaphore::new(workers.max(1))),
                keys: Mutex::new(HashMap::new()),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// Queue a journalled delivery. Never blocks.
    pub fn push(&self, d: Delivery) {
        self.inner
            .metrics
            .queue_depth
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
    /// Whatever did not start or finish stays `pending` in the journal and
    /// is handled by the next process. Returns true when nothing was left running.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let end = Instant::now() + grace;
        loop {
            if self.inner.metrics.in_flight.load(Ordering::SeqCst) == 0 {
                self.inner.journal.flush().await;
                return true;
            }
            if Instant::now() >= end {
                self.inner.journal.flush().await;
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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

/// The worker of one key: handle `first`, then whatever queued behind it.
async fn run_key(inner: Arc<Inner>, first: Delivery) {
    let mut next = Some(first);
    while let Some(d) = next {
        let Ok(permit) = inner.workers.clone().acquire_owned().await else {
            return;
        };
        if inner.stopping.load(Ordering::SeqCst) {
            // Left pending in the journal for the next process.
            return;
        }
        inner.metrics.in_flight.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let res = AssertUnwindSafe(inner.handler.handle(&d))
            .catch_unwind()
            .await;
        inner.metrics.handle_seconds.observe(started.elapsed());
        match res {
            Ok(Ok(h)) => {
                if let Some(s) = &h.run_state {
                    inner.metrics.run_state(&d.run_key, s);
                }
                inner.journal.finish(&d.id, Outcome::Done, None);
                inner.metrics.handled("done");
                tracing::info!(delivery = %d.id, event = %d.event, run_key = %d.run_key, ms = started.elapsed().as_millis() as u64, "delivery handled");
            }
            Ok(Err(e)) => {
                inner
                    .journal
                    .finish(&d.id, Outcome::Failed, Some(format!("{e:#}")));
                inner.metrics.handled("failed");
                tracing::warn!(delivery = %d.id, event = %d.event, run_key = %d.run_key, error = %format!("{e:#}"), "delivery failed");
            }
            Err(_) => {
                inner
                    .journal
                    .finish(&d.id, Outcome::Failed, Some("the handler panicked".into()));
                inner.metrics.handled("failed");
                tracing::error!(delivery = %d.id, event = %d.event, "the handler panicked");
            }
        }
        inner.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        inner.metrics.in_flight.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        let mut keys = inner.keys.lock().unwrap_or_else(|e| e.into_inner());
        next = keys.get_mut(&d.run_key).and_then(|q| q.pop_front());
        if next.is_none() {
            keys.remove(&d.run_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

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

    fn d(id: &str, key: &str) -> Delivery {
        Delivery {
            id: id.into(),
            event: "e".into(),
            payload: "{}".into(),
            run_key: key.into(),
            trusted: true,
        }
    }

    #[tokio::test]
    async fn same_key_serialized_other_keys_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let h = Arc::new(Slow {
            log: Mutex::new(vec![]),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let q = Queue::new(h.clone(), j, Arc::new(Metrics::new()), 4);
        for i in 0..3 {
            q.push(d(&format!("a{i}"), "a"));
            q.push(d(&format!("b{i}"), "b"));
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
}
