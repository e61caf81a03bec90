//! `GET /metrics`: the service's counters, gauges and histograms, exposed with the
//! `prometheus-client` crate (OpenMetrics text, escaped as the format says).
//!
//! Every label value is bounded, because anyone can send a request: a delivery
//! whose signature does not verify is counted under one series with no event label
//! (`outcome="unauthorized"`); a verified one under its event only when prflow knows
//! that event (`event="other"` otherwise). Run states are kept for the latest
//! [`MAX_RUNS`] runs, so the map behind `prflow_runs` cannot grow forever.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the duration histograms.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// Runs whose latest state `prflow_runs` counts; older ones are forgotten first.
pub const MAX_RUNS: usize = 10_000;

/// The events a verified delivery is counted under by name (the rest: `other`).
const KNOWN_EVENTS: &[&str] = &[
    "ping",
    "pull_request_review",
    "issue_comment",
    "pull_request",
    "check_run",
    "check_suite",
    "push",
    "installation",
    "installation_repositories",
    "repository_dispatch",
    "workflow_dispatch",
    "star",
];

/// Labels as (name, value) pairs: some series have no `event` label at all.
type Labels = Vec<(&'static str, String)>;

/// A histogram of durations in seconds.
pub struct Seconds(Histogram);

impl Seconds {
    fn new() -> Seconds {
        Seconds(Histogram::new(BUCKETS.iter().copied()))
    }

    pub fn observe(&self, d: Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// Everything `/metrics` reports.
pub struct Metrics {
    registry: Registry,
    /// (event, outcome): queued, duplicate, ignored, not_allowed, bad_request,
    /// unavailable; (outcome) alone before a signature is verified: unauthorized,
    /// too_large, timeout, bad_request, unavailable.
    deliveries: Family<Labels, Counter>,
    /// Handling attempts of journalled deliveries by how they ended: done, failed,
    /// retry (a transient failure with another attempt scheduled).
    handled: Family<Labels, Counter>,
    /// Retries scheduled after transient failures.
    pub deliveries_retried: Counter,
    /// Deliveries journalled and not finished (waiting or running).
    pub queue_depth: Gauge,
    /// Deliveries being handled right now.
    pub in_flight: Gauge,
    /// Runs by the state their latest handling reported, from `run_states`.
    runs: Family<Labels, Gauge>,
    run_states: Mutex<RunStates>,
    /// Request to 2xx, for accepted deliveries.
    pub ack_seconds: Seconds,
    /// Handler duration.
    pub handle_seconds: Seconds,
    /// GitHub API calls by kind; `github_reads` and `github_writes` are its two
    /// series, set by the handler from the client's counts (`inner().store`).
    api_calls: Family<Labels, Counter>,
    pub github_reads: Counter,
    pub github_writes: Counter,
    /// The last x-ratelimit-remaining seen (-1: none yet).
    pub github_rate_remaining: Gauge,
}

/// run key → (latest state, when it was set), bounded to [`MAX_RUNS`] runs.
#[derive(Default)]
struct RunStates {
    latest: HashMap<String, (String, u64)>,
    /// When each run was last set → the run (oldest first).
    order: BTreeMap<u64, String>,
    clock: u64,
}

impl RunStates {
    fn set(&mut self, run: &str, state: &str) {
        self.clock += 1;
        if let Some((_, at)) = self.latest.remove(run) {
            self.order.remove(&at);
        }
        self.latest
            .insert(run.to_string(), (state.to_string(), self.clock));
        self.order.insert(self.clock, run.to_string());
        while self.latest.len() > MAX_RUNS {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.latest.remove(&oldest);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let api_calls = Family::<Labels, Counter>::default();
        let kind = |k: &str| {
            api_calls
                .get_or_create(&vec![("kind", k.to_string())])
                .clone()
        };
        let (github_reads, github_writes) = (kind("read"), kind("write"));
        let mut m = Metrics {
            registry: Registry::default(),
            api_calls,
            deliveries: Family::default(),
            handled: Family::default(),
            deliveries_retried: Counter::default(),
            queue_depth: Gauge::default(),
            in_flight: Gauge::default(),
            runs: Family::default(),
            run_states: Mutex::new(RunStates::default()),
            ack_seconds: Seconds::new(),
            handle_seconds: Seconds::new(),
            github_reads,
            github_writes,
            github_rate_remaining: Gauge::default(),
        };
        m.github_rate_remaining.set(-1);
        let r = &mut m.registry;
        r.register(
            "prflow_webhook_deliveries",
            "Webhook deliveries received, by event and outcome (no event label before the signature is verified)",
            m.deliveries.clone(),
        );
        r.register(
            "prflow_deliveries_handled",
            "Handling attempts of journalled deliveries, by outcome (done, failed, retry)",
            m.handled.clone(),
        );
        r.register(
            "prflow_deliveries_retried",
            "Retries scheduled after a transient failure (GitHub 5xx, network, rate limit)",
            m.deliveries_retried.clone(),
        );
        r.register(
            "prflow_queue_depth",
            "Journalled deliveries not finished yet",
            m.queue_depth.clone(),
        );
        r.register(
            "prflow_in_flight",
            "Deliveries being handled now",
            m.in_flight.clone(),
        );
        r.register(
            "prflow_runs",
            "Runs by the state their latest event left them in (the latest 10000 runs)",
            m.runs.clone(),
        );
        r.register(
            "prflow_github_api_calls",
            "GitHub API calls made",
            m.api_calls.clone(),
        );
        r.register(
            "prflow_github_rate_limit_remaining",
            "Latest x-ratelimit-remaining seen (-1: none yet)",
            m.github_rate_remaining.clone(),
        );
        r.register(
            "prflow_webhook_ack_seconds",
            "Time from request to acknowledgement of accepted deliveries (journal commit included)",
            m.ack_seconds.0.clone(),
        );
        r.register(
            "prflow_delivery_handle_seconds",
            "Time spent handling one delivery",
            m.handle_seconds.0.clone(),
        );
        m
    }

    /// A delivery whose signature verified, by its (bounded) event name.
    pub fn delivery(&self, event: &str, outcome: &str) {
        let event = if KNOWN_EVENTS.contains(&event) {
            event
        } else {
            "other"
        };
        self.deliveries
            .get_or_create(&vec![
                ("event", event.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }

    /// A request refused before its signature was checked or because it did not
    /// verify: whatever its headers say, one series per outcome.
    pub fn refused(&self, outcome: &str) {
        self.deliveries
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    pub fn handled(&self, outcome: &str) {
        self.handled
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    pub fn run_state(&self, run_key: &str, state: &str) {
        let mut r = self.run_states.lock().unwrap_or_else(|e| e.into_inner());
        r.set(run_key, state);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        // Recount the runs per state under the lock, so two scrapes never mix.
        let r = self.run_states.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_state: BTreeMap<&str, i64> = BTreeMap::new();
        for (state, _) in r.latest.values() {
            *by_state.entry(state).or_default() += 1;
        }
        self.runs.clear();
        for (state, n) in by_state {
            self.runs
                .get_or_create(&vec![("state", state.to_string())])
                .set(n);
        }
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The content type of [`Metrics::render`]'s text.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.delivery("pull_request_review", "queued");
        m.ack_seconds.observe(Duration::from_micros(700));
        m.handled("retry");
        m.deliveries_retried.inc();
        m.github_reads.inner().store(7, Ordering::Relaxed);
        let t = m.render();
        assert!(
            t.contains("prflow_deliveries_handled_total{outcome=\"retry\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("\nprflow_deliveries_retried_total 1\n"), "{t}");
        assert!(t.contains(
            "prflow_webhook_deliveries_total{event=\"pull_request_review\",outcome=\"queued\"} 1\n"
        ));
        assert!(
            t.contains("prflow_github_api_calls_total{kind=\"read\"} 7\n"),
            "{t}"
        );
        assert!(t.contains("prflow_github_rate_limit_remaining -1\n"), "{t}");
        assert!(
            t.contains("prflow_webhook_ack_seconds_bucket{le=\"0.0005\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("prflow_webhook_ack_seconds_bucket{le=\"0.001\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("prflow_webhook_ack_seconds_count 1\n"), "{t}");
        assert!(t.ends_with("# EOF\n"), "{t}");
    }

    #[test]
    fn label_values_are_bounded_and_refusals_have_no_event() {
        let m = Metrics::new();
        m.delivery("x\"}evil", "ignored");
        m.delivery("made-up-event", "ignored");
        m.refused("unauthorized");
        m.refused("unauthorized");
        let t = m.render();
        assert!(
            t.contains("prflow_webhook_deliveries_total{event=\"other\",outcome=\"ignored\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("prflow_webhook_deliveries_total{outcome=\"unauthorized\"} 2\n"),
            "{t}"
        );
        assert!(!t.contains("evil"), "{t}");
    }

    #[test]
    fn run_states_keep_the_latest_runs_only() {
        let m = Metrics::new();
        for i in 0..MAX_RUNS + 50 {
            m.run_state(&format!("acme/app#{i}"), "waiting-for-review");
        }
        m.run_state("acme/app#0", "finished");
        let t = m.render();
        assert!(
            t.contains(&format!(
                "prflow_runs{{state=\"waiting-for-review\"}} {}\n",
                MAX_RUNS - 1
            )),
            "{t}"
        );
        assert!(t.contains("prflow_runs{state=\"finished\"} 1\n"), "{t}");
    }
}
