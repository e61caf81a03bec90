//! The shared store: PostgreSQL, for several replicas of `prflow serve`.
//!
//! - A delivery is durable when its `INSERT … ON CONFLICT (id) DO NOTHING`
//!   commits; the replica that took it answers GitHub only then.
//! - Workers of every replica claim deliveries ([`claims`]): `FOR UPDATE SKIP
//!   LOCKED`, a lease renewed while they work, the oldest pending delivery of
//!   a run first and nothing else of that run meanwhile.
//! - Run locks are session advisory locks on a hash of the run key, held on
//!   a pooled connection; a replica that dies loses its session and its locks.
//! - The installation registry is one row, changed under `FOR UPDATE`.
//! - Deliveries are written in batches, one statement and one commit each
//!   ([`intake`]); the statements of the hot path (append, finish, claim) are
//!   prepared once per pooled connection (`prepare_cached`).
//!
//! No TLS: run the database on the cluster network or a sidecar
//! (`sslmode=require` is refused with that advice).

mod claims;
mod intake;
pub mod migrations;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

use super::{redact_url, Claims, RunGuard, Store};
use crate::server::installations::Installations;
use crate::server::journal::{Appended, Delivery, DeliveryStatus, Outcome};
use crate::server::key::RunLocks;
use crate::server::queue::BoxFuture;

/// Connections per replica: the workers, their run locks and leases, intake.
const POOL_SIZE: usize = 24;

/// [`Store`] over one PostgreSQL database shared by every replica.
pub struct PgStore {
    pool: Pool,
    /// The URL without its password, for messages.
    shown: String,
    /// The password, scrubbed from every error message that leaves here.
    password: Option<String>,
    /// Local holders queue here before taking a connection for the advisory lock.
    local_runs: RunLocks,
    /// Connections holding a leader lock, by timer.
    leaders: tokio::sync::Mutex<HashMap<String, Object>>,
    /// Group commit of new deliveries.
    intake: intake::Intake,
}

impl PgStore {
    /// Connect, check the server answers, and apply missing migrations.
    pub async fn connect(url: &str) -> Result<PgStore> {
        let shown = redact_url(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
            anyhow!(
                "PRFLOW_DATABASE_URL ({shown}) is not a PostgreSQL URL: \
                 write postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(anyhow!(
                "PRFLOW_DATABASE_URL ({shown}) asks for sslmode=require, but prflow connects \
                 without TLS: reach the database over the cluster network or a TLS sidecar, \
                 and drop sslmode"
            ));
        }
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("prflow");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .context("building the PostgreSQL connection pool")?;
        let scrub: intake::Scrub = {
            let (shown, password) = (shown.clone(), password.clone());
            Arc::new(move |e: anyhow::Error| {
                let e = e.context(format!("writing deliveries to PostgreSQL at {shown}"));
                scrub_password(password.as_deref(), e)
            })
        };
        let store = PgStore {
            intake: intake::Intake::start(pool.clone(), scrub),
            pool,
            shown,
            password,
            local_runs: RunLocks::default(),
            leaders: tokio::sync::Mutex::new(HashMap::new()),
        };
        let mut client = store.client().await.map_err(|e| {
            anyhow!(
                "{e:#} (check PRFLOW_DATABASE_URL, that the server runs and that pg_hba.conf lets this host in)"
            )
        })?;
        let applied = migrations::apply(&mut client)
            .await
            .map_err(|e| store.scrub(e.context("migrating the prflow schema")))?;
        if !applied.is_empty() {
            tracing::info!(database = %store.shown, versions = ?applied, "applied schema migrations");
        }
        Ok(store)
    }

    /// A pooled connection, or an error naming the database (never its password).
    async fn client(&self) -> Result<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| self.scrub(anyhow!("connecting to PostgreSQL at {}: {e}", self.shown)))
    }

    /// `e` with the password (should a driver ever echo it) replaced by `***`.
    fn scrub(&self, e: anyhow::Error) -> anyhow::Error {
        scrub_password(self.password.as_deref(), e)
    }

    async fn status_now(&self, id: &str) -> Result<Option<DeliveryStatus>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT state, attempts, retry_at, error FROM deliveries WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| DeliveryStatus {
            state: r.get(0),
            attempts: r.get::<_, i32>(1).max(0) as u32,
            retry_at: r.get(2),
            error: r.get(3),
        }))
    }

    async fn check_now(&self) -> Result<String> {
        let client = self.client().await?;
        let version = migrations::current(&client).await?;
        let latest = migrations::latest();
        if version < latest {
            return Err(anyhow!(
                "PostgreSQL {} is at schema version {version}, this prflow needs {latest}: \
                 restart a replica to apply the migrations",
                self.shown
            ));
        }
        Ok(format!(
            "PostgreSQL {} reachable, schema version {version}",
            self.shown
        ))
    }

    async fn update_registry(
        &self,
        change: &mut (dyn FnMut(&mut Installations) + Send),
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO registry (name, body) VALUES ('installations', $1) ON CONFLICT DO NOTHING",
            &[&serde_json::to_string(&Installations::default())?],
        )
        .await?;
        let body: String = tx
            .query_one(
                "SELECT body FROM registry WHERE name = 'installations' FOR UPDATE",
                &[],
            )
            .await?
            .get(0);
        let mut reg = parse_registry(&body)?;
        change(&mut reg);
        tx.execute(
            "UPDATE registry SET body = $1 WHERE name = 'installations'",
            &[&serde_json::to_string(&reg)?],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn registry_now(&self) -> Result<Installations> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT body FROM registry WHERE name = 'installations'",
                &[],
            )
            .await?;
        match row {
            Some(r) => parse_registry(&r.get::<_, String>(0)),
            None => Ok(Installations::default()),
        }
    }

    async fn lock_run_now(&self, key: &str) -> Result<RunGuard> {
        // Workers of this replica wait in memory, not each on a connection.
        let local = self.local_runs.lock(key).await;
        let client = self.client().await?;
        let id = lock_id("run", key);
        client
            .execute("SELECT pg_advisory_lock($1)", &[&id])
            .await
            .map_err(|e| self.scrub(anyhow!("taking the lock of run {key} in PostgreSQL: {e}")))?;
        Ok(Box::new(AdvisoryGuard {
            client: Some(client),
            id,
            _local: local,
        }))
    }

    async fn lead_now(&self, timer: &str) -> Result<bool> {
        let mut leaders = self.leaders.lock().await;
        if let Some(held) = leaders.get(timer) {
            if held.simple_query("SELECT 1").await.is_ok() {
                return Ok(true);
            }
            // The session (and the lock with it) is gone: try again below.
            leaders.remove(timer);
        }
        let client = self.client().await?;
        let got: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&lock_id("timer", timer)],
            )
            .await?
            .get(0);
        if got {
            leaders.insert(timer.to_string(), client);
        }
        Ok(got)
    }
}

fn parse_registry(body: &str) -> Result<Installations> {
    serde_json::from_str(body).context(
        "the installation registry in PostgreSQL (table registry, row `installations`) is \
         not one prflow wrote; delete the row and prflow relearns installations from the next events",
    )
}

/// A stable advisory-lock id for `key` in `space` (the same on every replica and version).
fn lock_id(space: &str, key: &str) -> i64 {
    let digest = Sha256::digest(format!("prflow:{space}:{key}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A run's advisory lock, held on its own session until dropped.
struct AdvisoryGuard {
    client: Option<Object>,
    id: i64,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for AdvisoryGuard {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if client
                        .execute("SELECT pg_advisory_unlock($1)", &[&id])
                        .await
                        .is_err()
                    {
                        // Closing the session releases the lock as surely.
                        drop(Object::take(client));
                    }
                });
            }
            // No runtime to unlock on: close the session, which releases it.
            Err(_) => drop(Object::take(client)),
        }
    }
}

impl Store for PgStore {
    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.shown)
    }

    fn append(&self, d: Delivery) -> BoxFuture<'_, Result<Appended>> {
        Box::pin(self.intake.append(d))
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        outcome: Outcome,
        error: Option<String>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let state = match outcome {
                Outcome::Done => "done",
                Outcome::Failed => "failed",
            };
            let failed = |e| self.scrub(anyhow!("recording the end of delivery {id}: {e}"));
            let client = self.client().await?;
            let update = client
                .prepare_cached(
                    "UPDATE deliveries SET state = $2, error = $3, finished_at = now(),
                         retry_at = NULL, claimed_by = NULL, lease_until = NULL
                     WHERE id = $1",
                )
                .await
                .map_err(failed)?;
            client
                .execute(&update, &[&id, &state, &error])
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn retry<'a>(&'a self, id: &'a str, retry_at: i64, error: String) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // The claim is given back: whichever worker is free when it is due takes it.
            self.client()
                .await?
                .execute(
                    "UPDATE deliveries SET attempts = attempts + 1, retry_at = $2, error = $3,
                         claimed_by = NULL, lease_until = NULL
                     WHERE id = $1 AND state = 'pending'",
                    &[&id, &retry_at, &error],
                )
                .await
                .map_err(|e| self.scrub(anyhow!("scheduling a retry of delivery {id}: {e}")))?;
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, bool> {
        // Every write above has committed when its future returned.
        Box::pin(async { true })
    }

    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<DeliveryStatus>>> {
        Box::pin(self.status_now(id))
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            self.check_now()
                .await
                .map_err(|e| format!("{:#}", self.scrub(e)))
        })
    }

    fn installations(&self) -> BoxFuture<'_, Result<Installations>> {
        Box::pin(self.registry_now())
    }

    fn update_installations<'a>(
        &'a self,
        change: &'a mut (dyn FnMut(&mut Installations) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.update_registry(change)
                .await
                .map_err(|e| self.scrub(e.context("changing the installation registry")))
        })
    }

    fn lock_run<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<RunGuard>> {
        Box::pin(self.lock_run_now(key))
    }

    fn take_pending(&self) -> Vec<Delivery> {
        vec![]
    }

    fn claims(&self) -> Option<&dyn Claims> {
        Some(self)
    }
}

/// `e` with `password` (should a driver ever echo it) replaced by `***`.
fn scrub_password(password: Option<&str>, e: anyhow::Error) -> anyhow::Error {
    match password {
        Some(p) if !p.is_empty() => {
            let text = format!("{e:#}");
            if text.contains(p) {
                anyhow!(text.replace(p, "***"))
            } else {
                e
            }
        }
        _ => e,
    }
}
