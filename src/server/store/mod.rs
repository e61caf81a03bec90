//! Where `prflow serve` keeps what must outlive a process: the delivery
//! journal, the run queue's claims, run locks and the installation registry.
//!
//! One trait, two backends, chosen by `--database-url`:
//! - [`sqlite`] (no URL): the SQLite journal in the data directory
//!   ([`super::journal`]), `installations.json` beside it, in-process run
//!   locks. One process per data directory; the queue lives in memory and is
//!   rebuilt from the journal on start.
//! - [`postgres`] (`postgres://…`): everything in PostgreSQL, so several
//!   replicas behind one load balancer share it. Any replica makes a delivery
//!   durable before answering; workers *claim* deliveries ([`Claims`]) with a
//!   lease they keep alive, so a dead replica's work is taken over; a run's
//!   deliveries are claimed one at a time, oldest first; run locks are
//!   advisory locks; timers run on the replica holding the leader lock.
//!
//! The same contract tests (`tests/store.rs`) run against both.

pub mod postgres;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::installations::Installations;
use super::journal::{Appended, Delivery, DeliveryStatus, Outcome};
use super::queue::BoxFuture;

/// Held while one run's work is under way; dropping it lets the next holder in.
pub type RunGuard = Box<dyn Send + Sync>;

/// The durable state of `prflow serve`.
pub trait Store: Send + Sync + 'static {
    /// Which backend, for logs and `/health/ready` (`SQLite journal dir/journal.sqlite3`,
    /// `PostgreSQL host:port/db`): never a password.
    fn describe(&self) -> String;

    /// Write `d` durably; returns once it is committed. A delivery id seen
    /// before is a [`Appended::Duplicate`] and changes nothing.
    fn append(&self, d: Delivery) -> BoxFuture<'_, Result<Appended>>;

    /// Record the end of a delivery's work.
    fn finish<'a>(
        &'a self,
        id: &'a str,
        outcome: Outcome,
        error: Option<String>,
    ) -> BoxFuture<'a, Result<()>>;

    /// Keep `id` pending for another attempt due at `retry_at` (unix ms),
    /// counting the failed one; a finished delivery is never revived.
    fn retry<'a>(&'a self, id: &'a str, retry_at: i64, error: String) -> BoxFuture<'a, Result<()>>;

    /// Wait until everything written so far is durable; false when the store is gone.
    fn flush(&self) -> BoxFuture<'_, bool>;

    /// State, attempts, due retry and last error of one delivery.
    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<DeliveryStatus>>>;

    /// `Ok(what is ready)` when the store answers and its schema is current;
    /// `Err(why not)` otherwise (both without secrets): `/health/ready`.
    fn check(&self) -> BoxFuture<'_, Result<String, String>>;

    /// The installation registry as stored now.
    fn installations(&self) -> BoxFuture<'_, Result<Installations>>;

    /// Change the registry atomically: `change` sees the current registry
    /// (no other replica or worker changes it meanwhile) and the result is stored.
    fn update_installations<'a>(
        &'a self,
        change: &'a mut (dyn FnMut(&mut Installations) + Send),
    ) -> BoxFuture<'a, Result<()>>;

    /// Hold run `key`'s lock (across every replica sharing the store) until the guard drops.
    fn lock_run<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<RunGuard>>;

    /// Deliveries an earlier process left pending, for a store whose queue
    /// lives in memory; a shared store returns none (its workers claim them).
    fn take_pending(&self) -> Vec<Delivery>;

    /// Work claimed from the store by any replica: `Some` for a shared store.
    fn claims(&self) -> Option<&dyn Claims> {
        None
    }
}

/// A queue shared by replicas: each delivery is claimed by one worker at a
/// time, under a lease its holder renews; a lease that runs out (its replica
/// died) lets another worker claim the delivery again.
pub trait Claims: Send + Sync {
    /// Claim the oldest due delivery whose run has nothing older pending and
    /// no live claim; `None` when there is no such delivery.
    fn claim<'a>(
        &'a self,
        owner: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>>>;

    /// Extend `owner`'s lease on `id`; false when the claim was lost.
    fn renew<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Give `owner`'s unfinished claims back at once (a clean shutdown).
    fn release<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Try to become (or stay) the leader for `timer` (retries, redelivery
    /// sweeps): true on exactly one replica at a time, until it dies or lets go.
    fn lead<'a>(&'a self, timer: &'a str) -> BoxFuture<'a, Result<bool>>;
}

/// Open the store `--database-url` names, or the SQLite journal in `data_dir`.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
    durability: super::journal::Durability,
) -> Result<Arc<dyn Store>> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Ok(Arc::new(postgres::PgStore::connect(url).await?)),
        None => {
            let dir = data_dir.to_path_buf();
            let store =
                tokio::task::spawn_blocking(move || sqlite::SqliteStore::open(&dir, durability))
                    .await??;
            Ok(Arc::new(store))
        }
    }
}

/// `url` with its password replaced by `***`: what logs, errors and
/// `/health` may show of a database URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a database URL that is not scheme://…)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    // Query parameters may carry a password too (`?password=…`).
    let host = match host.split_once('?') {
        Some((h, _)) => format!("{h}?***"),
        None => host.to_string(),
    };
    match auth.map(|a| a.split_once(':').map(|(u, _)| u).unwrap_or(a)) {
        Some(user) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            redact_url("postgres://prflow:s3cr%40t@db:5432/prflow"),
            "postgres://prflow:***@db:5432/prflow"
        );
        assert_eq!(
            redact_url("postgres://db/prflow?password=hunter2&sslmode=require"),
            "postgres://db/prflow?***"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u:***@db/x");
        assert!(!redact_url("host=db password=hunter2").contains("hunter2"));
    }
}
