//! Group commit for deliveries written to PostgreSQL.
//!
//! Each acknowledged delivery must be committed before its 2xx, but one
//! `INSERT` and one commit per delivery makes the database (a parse-free
//! execute, a WAL flush, a round trip) the limit of intake, and of every
//! replica sharing it. So the requests of one replica queue here and are
//! written together: one `INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO
//! NOTHING RETURNING id` per batch, in arrival order, at most [`IN_FLIGHT`]
//! batches at once. A batch is whatever arrived while the previous ones were
//! being written, so a lone delivery waits for nothing and a burst shares its
//! commits. Every request is answered only after its batch committed; a failed
//! batch fails every request in it (GitHub then redelivers them).

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::server::journal::{Appended, Delivery};

/// Deliveries written by one statement at the most.
const MAX_BATCH: usize = 256;
/// Batches being written at once (each holds one pooled connection).
const IN_FLIGHT: usize = 4;

type Reply = oneshot::Sender<Result<Appended>>;
/// Turns a database error into the message that leaves the store (the URL
/// named, the password scrubbed).
pub(super) type Scrub = Arc<dyn Fn(anyhow::Error) -> anyhow::Error + Send + Sync>;

const INSERT: &str =
    "INSERT INTO deliveries (id, event, payload, run_key, trusted, attempts, retry_at)
     SELECT id, event, payload, run_key, trusted, attempts, retry_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::int4[], $7::int8[])
          WITH ORDINALITY AS u(id, event, payload, run_key, trusted, attempts, retry_at, n)
     ORDER BY n
     ON CONFLICT (id) DO NOTHING
     RETURNING id";

/// The queue in front of the writer task; dropping it stops the task once the
/// batches in flight are written.
pub(super) struct Intake {
    tx: mpsc::UnboundedSender<(Delivery, Reply)>,
}

impl Intake {
    /// Start the writer task on the current runtime.
    pub(super) fn start(pool: Pool, scrub: Scrub) -> Intake {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(pool, scrub, rx));
        Intake { tx }
    }

    /// Write `d`; resolves once it is committed (or found to be a redelivery).
    pub(super) async fn append(&self, d: Delivery) -> Result<Appended> {
        let id = d.id.clone();
        let stopped = || anyhow!("writing delivery {id}: the PostgreSQL writer has stopped");
        let (reply, answer) = oneshot::channel();
        self.tx.send((d, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(
    pool: Pool,
    scrub: Scrub,
    mut rx: mpsc::UnboundedReceiver<(Delivery, Reply)>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        drain(&mut rx, &mut batch);
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // What arrived while every slot was busy joins this batch.
        drain(&mut rx, &mut batch);
        let (pool, scrub) = (pool.clone(), scrub.clone());
        tokio::spawn(async move {
            let written = insert(&pool, &batch).await.map_err(|e| scrub(e));
            answer(batch, written);
            drop(slot);
        });
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<(Delivery, Reply)>, batch: &mut Vec<(Delivery, Reply)>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
}

/// One statement, one commit: the ids that were new.
async fn insert(pool: &Pool, batch: &[(Delivery, Reply)]) -> Result<HashSet<String>> {
    let client = pool
        .get()
        .await
        .map_err(|e| anyhow!("no connection: {e}"))?;
    let statement = client
        .prepare_cached(INSERT)
        .await
        .map_err(|e| anyhow!("preparing the insert: {e}"))?;
    let column = |f: fn(&Delivery) -> &str| batch.iter().map(|(d, _)| f(d)).collect::<Vec<_>>();
    let ids = column(|d| &d.id);
    let events = column(|d| &d.event);
    let payloads = column(|d| &d.payload);
    let run_keys = column(|d| &d.run_key);
    let trusted: Vec<bool> = batch.iter().map(|(d, _)| d.trusted).collect();
    let attempts: Vec<i32> = batch
        .iter()
        .map(|(d, _)| d.attempts.min(i32::MAX as u32) as i32)
        .collect();
    let retry_at: Vec<Option<i64>> = batch.iter().map(|(d, _)| d.retry_at).collect();
    let rows = client
        .query(
            &statement,
            &[
                &ids, &events, &payloads, &run_keys, &trusted, &attempts, &retry_at,
            ],
        )
        .await
        .map_err(|e| anyhow!("{} deliveries in one commit: {e}", batch.len()))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Answer every request of a written batch. A delivery whose id came twice in
/// one batch is new once: the first request queues it, the second is told it
/// is a redelivery, as it would be had it come a moment later.
fn answer(batch: Vec<(Delivery, Reply)>, written: Result<HashSet<String>>) {
    match written {
        Ok(mut new) => {
            for (d, reply) in batch {
                let appended = if new.remove(&d.id) {
                    Appended::New
                } else {
                    Appended::Duplicate
                };
                let _ = reply.send(Ok(appended));
            }
        }
        Err(e) => {
            let message = format!("{e:#}");
            for (_, reply) in batch {
                let _ = reply.send(Err(anyhow!("{message}")));
            }
        }
    }
}
