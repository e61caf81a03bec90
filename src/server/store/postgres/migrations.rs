//! The PostgreSQL schema, as numbered migrations. Each is applied once, in
//! order, inside one transaction, and recorded in `schema_migrations`; every
//! replica applies what is missing on start, under an advisory lock, so
//! replicas starting together do not race. Never edit a migration that has
//! shipped: add the next one.

use anyhow::{Context, Result};

/// (version, what it does, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "deliveries with claims; the installation registry",
    "CREATE TABLE deliveries (
         -- Arrival order: pending work of one run is handled oldest first.
         seq BIGSERIAL PRIMARY KEY,
         -- X-GitHub-Delivery as GitHub sent it: a redelivery hits ON CONFLICT.
         id TEXT NOT NULL UNIQUE,
         event TEXT NOT NULL,
         payload TEXT NOT NULL,
         run_key TEXT NOT NULL,
         trusted BOOLEAN NOT NULL,
         state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
         error TEXT,
         attempts INTEGER NOT NULL DEFAULT 0,
         -- Unix ms when the next attempt is due; NULL = now.
         retry_at BIGINT,
         received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
         finished_at TIMESTAMPTZ,
         -- The worker holding the delivery, until lease_until (renewed while it works).
         claimed_by TEXT,
         lease_until TIMESTAMPTZ
     );
     CREATE INDEX deliveries_pending_by_run ON deliveries (run_key, seq) WHERE state = 'pending';
     CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
     CREATE TABLE registry (
         name TEXT PRIMARY KEY,
         body TEXT NOT NULL
     );",
)];

/// The version a current schema has.
pub fn latest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Advisory lock id serializing migrations between replicas ("prflow-m").
const MIGRATION_LOCK: i64 = 0x7072_666c_6f77_2d6d;

/// Apply every migration the database lacks; returns the versions applied now.
pub async fn apply(client: &mut tokio_postgres::Client) -> Result<Vec<i32>> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for another replica's migrations")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             description TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .context("creating schema_migrations")?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = vec![];
    for (version, what, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying migration {version} ({what})"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
            &[version, what],
        )
        .await?;
        applied.push(*version);
    }
    tx.commit().await.context("committing the migrations")?;
    Ok(applied)
}

/// The highest version recorded, 0 for an empty database.
pub async fn current(client: &tokio_postgres::Client) -> Result<i32> {
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.get(0))
}
