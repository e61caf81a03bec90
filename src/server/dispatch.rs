//! The claim loop of a replica on a shared store: take a worker slot, claim
//! the next delivery any replica journalled, handle it while a heartbeat
//! keeps the lease alive, repeat. With nothing to claim it sleeps until this
//! replica journals something or the poll interval passes (work journalled
//! by the other replicas, a retry falling due, a dead replica's lease ending).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::queue::{attempt_holding_a_slot, Attempt, Inner};

/// How long a claim loop woken by a newly journalled delivery waits before it
/// asks: at most 50 such claim queries a second per replica, not one per
/// delivery; new work starts at most this much later (its work takes seconds).
const WAKE_COALESCE: Duration = Duration::from_millis(20);

/// How a replica claims from a shared store.
#[derive(Debug, Clone)]
pub struct ClaimSettings {
    /// This replica's name on its claims (host, process id, a random part).
    pub owner: String,
    /// How long a claim holds without a heartbeat; a dead replica's work waits this long.
    pub lease: Duration,
    /// How often an idle replica looks for work the others journalled.
    pub poll: Duration,
}

impl Default for ClaimSettings {
    fn default() -> Self {
        ClaimSettings {
            owner: replica_name(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(200),
        }
    }
}

/// `HOSTNAME` (the pod's name on Kubernetes), the process id and a random part.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Runs until shutdown: one claimed delivery per free worker slot.
pub(super) async fn claim_loop(inner: Arc<Inner>) {
    let Some(settings) = inner.claims.clone() else {
        return;
    };
    let mut stop = inner.stop.subscribe();
    loop {
        let Ok(permit) = inner.workers.clone().acquire_owned().await else {
            return;
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let claimed = match inner.store.claims() {
            Some(c) => c.claim(&settings.owner, settings.lease).await,
            None => return,
        };
        match claimed {
            Ok(Some(d)) => {
                let inner = inner.clone();
                let settings = settings.clone();
                tokio::spawn(async move {
                    handle_claimed(&inner, &settings, d).await;
                    drop(permit);
                    // A slot is free: there may be more to claim at once.
                    inner.freed.notify_one();
                });
            }
            Ok(None) => {
                drop(permit);
                let journalled = tokio::select! {
                    _ = inner.wake.notified() => true,
                    _ = inner.freed.notified() => false,
                    _ = tokio::time::sleep(settings.poll) => false,
                    _ = stop.wait_for(|s| *s) => return,
                };
                if journalled {
                    // Every delivery this replica journals wakes the loop: wait
                    // a moment more, so that a burst of them becomes one claim
                    // query rather than one each (at thousands a second those
                    // took the database's CPU from intake). A finished worker
                    // (`freed`) claims at once: its run's next delivery waits.
                    tokio::select! {
                        _ = tokio::time::sleep(WAKE_COALESCE) => {}
                        _ = inner.freed.notified() => {}
                    }
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!("{e:#}; trying again in {:?}", settings.lease / 10);
                tokio::select! {
                    _ = tokio::time::sleep(settings.lease / 10) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// Handle one claimed delivery, renewing its lease a few times per lease period.
async fn handle_claimed(inner: &Arc<Inner>, settings: &ClaimSettings, mut d: super::Delivery) {
    inner
        .metrics
        .queue_depth
        .inner()
        .fetch_add(1, Ordering::Relaxed);
    inner
        .keys
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(d.run_key.clone())
        .or_default();
    let heartbeat = {
        let inner = inner.clone();
        let (id, owner, lease) = (d.id.clone(), settings.owner.clone(), settings.lease);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let Some(c) = inner.store.claims() else {
                    return;
                };
                match c.renew(&id, &owner, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(delivery = %id, "the claim was lost (its lease ran out); another replica may handle it too — the work is idempotent");
                        return;
                    }
                    Err(e) => tracing::warn!(delivery = %id, "{e:#}"),
                }
            }
        })
    };
    // A due retry ran here and now: the claim already waited for `retry_at`.
    d.retry_at = None;
    let ended = attempt_holding_a_slot(inner, &mut d).await;
    heartbeat.abort();
    if matches!(ended, Attempt::Retry) {
        // Journalled with its due time and given back: whoever is free then claims it.
        tracing::debug!(delivery = %d.id, "retry scheduled in the shared store");
    }
    inner
        .metrics
        .queue_depth
        .inner()
        .fetch_sub(1, Ordering::Relaxed);
    inner
        .keys
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&d.run_key);
}
