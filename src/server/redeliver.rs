//! Nothing lost while the App was down: the redelivery sweep.
//!
//! GitHub does not redeliver a webhook that failed (the App was down, a
//! deploy was restarting it, a 503): it records the failure and stops. So on
//! start, and then every few minutes, `serve` lists its recent deliveries
//! (`GET /app/hook/deliveries`, newest first) and asks GitHub to send again
//! (`POST /app/hook/deliveries/{id}/attempts`) each event that
//! - has no successful delivery (GitHub's advice: a failed delivery's
//!   `status` is not `OK`; every delivery of one event shares its `guid`),
//! - is not in the journal (a 2xx can be lost on the way back even though
//!   the delivery was journalled), and
//! - could succeed when sent again: the App never answered (`status_code` 0),
//!   answered 5xx, 408 or 429. A 400 or 401 would be refused again.
//!
//! Bounded, so a sweep never starts a storm: it reads deliveries back to the
//! previous sweep's start (the first looks back [`Limits::lookback`]) and at
//! most [`Limits::max_pages`] pages; it asks for at most
//! [`Limits::max_redeliveries`] redeliveries, oldest first (a run's events in
//! order); an event already delivered [`Limits::max_deliveries_per_event`]
//! times is left alone; an event this process asked for in the last
//! [`Limits::settle`] is not asked for again (GitHub's redelivery is
//! asynchronous: the listing shows it only after it was attempted).
//!
//! [`sweep`] is one pass; [`Sweeper`] keeps the state between passes and
//! [`Sweeper::run`] repeats them — with a shared store (PostgreSQL, several
//! replicas) only on the replica that holds the `redelivery` timer's lead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::github::{GitHub, HookDelivery};

use super::store::Store;

/// What a sweep may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How far back the first sweep after a start looks (GitHub keeps deliveries 3 days).
    pub lookback: Duration,
    /// Pages of 100 deliveries read per sweep at most.
    pub max_pages: usize,
    /// Redeliveries asked for per sweep at most; the rest wait for the next sweep.
    pub max_redeliveries: usize,
    /// An event GitHub already sent this many times is not sent again.
    pub max_deliveries_per_event: usize,
    /// How long an event this process had redelivered is not asked for again.
    pub settle: Duration,
    /// Deliveries are read back to this much before the previous sweep's start
    /// (a delivery is listed once attempted, which can end after a sweep began).
    pub overlap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lookback: Duration::from_secs(3 * 24 * 3600),
            max_pages: 20,
            max_redeliveries: 100,
            max_deliveries_per_event: 3,
            settle: Duration::from_secs(600),
            overlap: Duration::from_secs(120),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Deliveries read.
    pub listed: usize,
    /// Events with no successful delivery.
    pub failed_events: usize,
    /// Of those, in the store already (the 2xx was lost, not the delivery).
    pub journalled: usize,
    /// Redeliveries asked for (delivery ids).
    pub redelivered: Vec<u64>,
    /// Left for the next sweep (over the per-sweep bound).
    pub deferred: usize,
    /// Not sent again: refused for good (4xx), too many deliveries, or asked for recently.
    pub skipped: usize,
}

/// One event's deliveries in the listing.
struct Event {
    /// The newest delivery (the one to redeliver), and the oldest's id (for ordering).
    newest: HookDelivery,
    oldest_id: u64,
    deliveries: usize,
    succeeded: bool,
}

/// Could sending it again succeed? Never answered, a server error, a timeout, a rate limit.
fn worth_retrying(d: &HookDelivery) -> bool {
    matches!(d.status_code, 0 | 408 | 429 | 500..=599)
}

/// `2021-05-12T20:33:44Z` → unix seconds; `None` when it does not parse.
fn unix_secs(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// One pass: read deliveries newer than `since` (unix seconds), redeliver
/// what was lost, within `limits`. `recent` holds the GUIDs this process
/// asked to redeliver and when; it is read and updated.
pub async fn sweep(
    gh: &GitHub,
    store: &dyn Store,
    since: i64,
    limits: &Limits,
    recent: &mut HashMap<String, Instant>,
) -> Result<Swept> {
    let mut out = Swept::default();
    let mut events: HashMap<String, Event> = HashMap::new();
    let mut cursor: Option<String> = None;
    'pages: for _ in 0..limits.max_pages.max(1) {
        let page = gh
            .hook_deliveries(100, cursor.as_deref())
            .await
            .context("listing the App's webhook deliveries (GET /app/hook/deliveries)")?;
        for d in page.deliveries {
            // Newest first: the first one older than `since` ends the listing.
            if unix_secs(&d.delivered_at).is_some_and(|t| t < since) {
                break 'pages;
            }
            out.listed += 1;
            let ok = d.status == "OK";
            match events.get_mut(&d.guid) {
                Some(e) => {
                    e.deliveries += 1;
                    e.succeeded |= ok;
                    e.oldest_id = e.oldest_id.min(d.id);
                }
                None => {
                    let guid = d.guid.clone();
                    events.insert(
                        guid,
                        Event {
                            oldest_id: d.id,
                            deliveries: 1,
                            succeeded: ok,
                            newest: d,
                        },
                    );
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let failed: Vec<Event> = events.into_values().filter(|e| !e.succeeded).collect();
    out.failed_events = failed.len();
    if failed.is_empty() {
        return Ok(out);
    }
    recent.retain(|_, at| at.elapsed() < limits.settle);
    let mut todo: Vec<Event> = vec![];
    for e in failed {
        let stored = store
            .status(&e.newest.guid)
            .await
            .with_context(|| format!("looking delivery {} up in the journal", e.newest.guid))?;
        if stored.is_some() {
            out.journalled += 1;
        } else if !worth_retrying(&e.newest)
            || e.deliveries >= limits.max_deliveries_per_event
            || recent.contains_key(&e.newest.guid)
        {
            out.skipped += 1;
        } else {
            todo.push(e);
        }
    }
    todo.sort_by_key(|e| e.oldest_id);
    out.deferred = todo.len().saturating_sub(limits.max_redeliveries);
    todo.truncate(limits.max_redeliveries);
    for e in todo {
        let d = &e.newest;
        gh.redeliver_hook_delivery(d.id).await.with_context(|| {
            format!(
                "asking GitHub to redeliver delivery {} ({} {})",
                d.id, d.event, d.guid
            )
        })?;
        tracing::info!(delivery = %d.guid, hook_delivery_id = d.id, event = %d.event, failed_with = %d.status, "asked GitHub to redeliver a webhook the App did not receive");
        recent.insert(d.guid.clone(), Instant::now());
        out.redelivered.push(d.id);
    }
    Ok(out)
}

/// The sweep's state between passes: where the next one starts reading.
pub struct Sweeper {
    gh: GitHub,
    store: Arc<dyn Store>,
    limits: Limits,
    /// Unix seconds: the start of the last sweep that read everything it had to.
    since: i64,
    recent: HashMap<String, Instant>,
}

impl Sweeper {
    /// A sweeper whose first pass looks back `limits.lookback`.
    pub fn new(gh: GitHub, store: Arc<dyn Store>, limits: Limits) -> Sweeper {
        let since = now_secs().saturating_sub(limits.lookback.as_secs() as i64);
        Sweeper {
            gh,
            store,
            limits,
            since,
            recent: HashMap::new(),
        }
    }

    /// One pass. The next starts where this one started (less the overlap),
    /// unless this one left redeliveries for later.
    pub async fn run_once(&mut self) -> Result<Swept> {
        let started = now_secs();
        let swept = sweep(
            &self.gh,
            self.store.as_ref(),
            self.since,
            &self.limits,
            &mut self.recent,
        )
        .await?;
        if swept.deferred == 0 {
            self.since = started.saturating_sub(self.limits.overlap.as_secs() as i64);
        }
        Ok(swept)
    }

    /// Does this replica sweep? Always with a store of its own (SQLite); with
    /// a shared one, only while it holds the `redelivery` timer's lead.
    async fn leads(&self) -> bool {
        let Some(claims) = self.store.claims() else {
            return true;
        };
        claims.lead("redelivery").await.unwrap_or_else(|e| {
            tracing::warn!("redelivery sweep: cannot tell which replica leads: {e:#}");
            false
        })
    }

    /// A pass now, then one every `every`, until the task is dropped. A failed
    /// pass is logged and tried again at the next tick.
    pub async fn run(mut self, every: Duration) {
        loop {
            if !self.leads().await {
                tokio::time::sleep(every).await;
                continue;
            }
            match self.run_once().await {
                Ok(s) if !s.redelivered.is_empty() || s.deferred > 0 => {
                    tracing::info!(
                        listed = s.listed,
                        failed = s.failed_events,
                        journalled = s.journalled,
                        redelivered = s.redelivered.len(),
                        deferred = s.deferred,
                        skipped = s.skipped,
                        "redelivery sweep"
                    );
                }
                Ok(s) => {
                    tracing::debug!(
                        listed = s.listed,
                        failed = s.failed_events,
                        "redelivery sweep: nothing lost"
                    );
                }
                Err(e) => {
                    tracing::warn!(
                        "redelivery sweep failed; trying again in {} s: {e:#}",
                        every.as_secs()
                    );
                }
            }
            tokio::time::sleep(every).await;
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(status_code: u16) -> HookDelivery {
        HookDelivery {
            id: 1,
            guid: "g".into(),
            delivered_at: "2021-05-12T20:33:44Z".into(),
            redelivery: false,
            status: "x".into(),
            status_code,
            event: "push".into(),
            action: None,
        }
    }

    #[test]
    fn only_failures_that_can_succeed_again_are_redelivered() {
        for code in [0, 408, 429, 500, 502, 503, 504] {
            assert!(worth_retrying(&d(code)), "{code}");
        }
        for code in [400, 401, 404, 413, 422] {
            assert!(!worth_retrying(&d(code)), "{code}");
        }
        assert_eq!(unix_secs("2021-05-12T20:33:44Z"), Some(1_620_851_624));
        assert_eq!(unix_secs("yesterday"), None);
    }
}
