//! Prometheus text for `GET /metrics`, kept by hand: a few counters, gauges
//! and two histograms do not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the duration histograms.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// A histogram of durations in seconds.
pub struct Histogram {
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Everything `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    /// (event, outcome) → count. Outcomes: queued, duplicate, ignored, not_allowed,
    /// unauthorized, bad_request, too_large, unavailable.
    deliveries: Mutex<BTreeMap<(String, String), u64>>,
    /// (outcome) → count of handling attempts by how they ended: done,
    /// failed, retry (a transient failure with another attempt scheduled).
    handled: Mutex<BTreeMap<String, u64>>,
    /// Retries scheduled after transient failures.
    pub deliveries_retried: AtomicU64,
    /// Deliveries journalled and not finished (waiting or running).
    pub queue_depth: AtomicI64,
    /// Deliveries being handled right now.
    pub in_flight: AtomicI64,
    /// run key → the state its latest handling reported (`waiting-for-review` …).
    run_states: Mutex<BTreeMap<String, String>>,
    /// Request to 2xx, for accepted deliveries.
    pub ack_seconds: Histogram,
    /// Handler duration.
    pub handle_seconds: Histogram,
    /// GitHub API calls (reads, writes) and the last rate-limit remaining, set by the handler.
    pub github_reads: AtomicU64,
    pub github_writes: AtomicU64,
    pub github_rate_remaining: AtomicI64,
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics::default();
        m.github_rate_remaining.store(-1, Ordering::Relaxed);
        m
    }

    pub fn delivery(&self, event: &str, outcome: &str) {
        let mut d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        *d.entry((sanitize(event), outcome.to_string())).or_default() += 1;
    }

    pub fn handled(&self, outcome: &str) {
        let mut h = self.handled.lock().unwrap_or_else(|e| e.into_inner());
        *h.entry(outcome.to_string()).or_default() += 1;
    }

    pub fn run_state(&self, run_key: &str, state: &str) {
        let mut r = self.run_states.lock().unwrap_or_else(|e| e.into_inner());
        r.insert(run_key.to_string(), state.to_string());
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP prflow_webhook_deliveries_total Webhook deliveries received, by event and outcome.\n# TYPE prflow_webhook_deliveries_total counter\n");
        for ((event, outcome), n) in self
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "prflow_webhook_deliveries_total{{event=\"{event}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP prflow_deliveries_handled_total Handling attempts of journalled deliveries, by outcome (done, failed, retry).\n# TYPE prflow_deliveries_handled_total counter\n");
        for (outcome, n) in self
            .handled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "prflow_deliveries_handled_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP prflow_deliveries_retried_total Retries scheduled after a transient failure (GitHub 5xx, network, rate limit).\n# TYPE prflow_deliveries_retried_total counter\nprflow_deliveries_retried_total {}", self.deliveries_retried.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP prflow_queue_depth Journalled deliveries not finished yet.\n# TYPE prflow_queue_depth gauge\nprflow_queue_depth {}", self.queue_depth.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP prflow_in_flight Deliveries being handled now.\n# TYPE prflow_in_flight gauge\nprflow_in_flight {}", self.in_flight.load(Ordering::Relaxed));
        out.push_str("# HELP prflow_runs Runs by the state their latest event left them in.\n# TYPE prflow_runs gauge\n");
        let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
        for s in self
            .run_states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            *by_state.entry(sanitize(s)).or_default() += 1;
        }
        for (s, n) in by_state {
            let _ = writeln!(out, "prflow_runs{{state=\"{s}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP prflow_github_api_calls_total GitHub API calls made.\n# TYPE prflow_github_api_calls_total counter\nprflow_github_api_calls_total{{kind=\"read\"}} {}\nprflow_github_api_calls_total{{kind=\"write\"}} {}", self.github_reads.load(Ordering::Relaxed), self.github_writes.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP prflow_github_rate_limit_remaining Latest x-ratelimit-remaining seen (-1: none yet).\n# TYPE prflow_github_rate_limit_remaining gauge\nprflow_github_rate_limit_remaining {}", self.github_rate_remaining.load(Ordering::Relaxed));
        self.ack_seconds.render(
            &mut out,
            "prflow_webhook_ack_seconds",
            "Time from request to acknowledgement of accepted deliveries (journal commit included).",
            "",
        );
        self.handle_seconds.render(
            &mut out,
            "prflow_delivery_handle_seconds",
            "Time spent handling one delivery.",
            "",
        );
        out
    }
}

/// Label values come from headers: keep them to a safe alphabet and length.
fn sanitize(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.delivery("pull_request_review", "queued");
        m.delivery("x\"}evil", "ignored");
        m.ack_seconds.observe(Duration::from_micros(700));
        m.handled("retry");
        m.deliveries_retried.fetch_add(1, Ordering::Relaxed);
        let t = m.render();
        assert!(t.contains("prflow_deliveries_handled_total{outcome=\"retry\"} 1"));
        assert!(t.contains("\nprflow_deliveries_retried_total 1\n"));
        assert!(t.contains(
            "prflow_webhook_deliveries_total{event=\"pull_request_review\",outcome=\"queued\"} 1"
        ));
        assert!(t.contains("event=\"x__evil\""));
        assert!(t.contains("prflow_webhook_ack_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(t.contains("prflow_webhook_ack_seconds_bucket{le=\"0.001\"} 1"));
        assert!(t.contains("prflow_webhook_ack_seconds_count 1"));
    }
}
