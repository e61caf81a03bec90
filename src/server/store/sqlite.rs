//! The single-process store: the SQLite journal in the data directory
//! ([`Journal`]: group commit, WAL), `installations.json` beside it, and
//! run locks held in this process. What a single replica (or a laptop) needs,
//! with no server to run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Result;

use super::{RunGuard, Store};
use crate::server::installations::Installations;
use crate::server::journal::{Appended, Delivery, DeliveryStatus, Durability, Journal, Outcome};
use crate::server::key::RunLocks;
use crate::server::queue::BoxFuture;

/// [`Store`] over the SQLite journal of one data directory.
pub struct SqliteStore {
    journal: Journal,
    dir: PathBuf,
    /// What the journal held unfinished at open, until the queue takes it.
    pending: Mutex<Vec<Delivery>>,
    /// Serializes read-change-write of `installations.json` between workers.
    registry: tokio::sync::Mutex<()>,
    run_locks: RunLocks,
}

impl SqliteStore {
    /// Open (or create) `dir/journal.sqlite3`.
    pub fn open(dir: &Path, durability: Durability) -> Result<SqliteStore> {
        let (journal, pending) = Journal::open_with(dir, durability)?;
        Ok(SqliteStore {
            journal,
            dir: dir.to_path_buf(),
            pending: Mutex::new(pending),
            registry: tokio::sync::Mutex::new(()),
            run_locks: RunLocks::default(),
        })
    }

    /// The journal underneath (its writer thread, its file).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("SQLite journal {}", self.journal.path().display())
    }

    fn append(&self, d: Delivery) -> BoxFuture<'_, Result<Appended>> {
        Box::pin(self.journal.append(d))
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        outcome: Outcome,
        error: Option<String>,
    ) -> BoxFuture<'a, Result<()>> {
        // Written with the writer's next batch: the commit path stays one fsync per batch.
        self.journal.finish(id, outcome, error);
        Box::pin(async { Ok(()) })
    }

    fn retry<'a>(&'a self, id: &'a str, retry_at: i64, error: String) -> BoxFuture<'a, Result<()>> {
        self.journal.retry(id, retry_at, error);
        Box::pin(async { Ok(()) })
    }

    fn flush(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.journal.flush())
    }

    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<DeliveryStatus>>> {
        Box::pin(async move {
            self.journal.flush().await;
            let (dir, id) = (self.dir.clone(), id.to_string());
            tokio::task::spawn_blocking(move || Journal::status_of(&dir, &id)).await?
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            // The journal was opened before the router existed; a writer that
            // no longer answers a flush means it is gone.
            if self.journal.flush().await {
                Ok("journal open".into())
            } else {
                Err("the delivery journal is not open".into())
            }
        })
    }

    fn installations(&self) -> BoxFuture<'_, Result<Installations>> {
        Box::pin(async move { Installations::load(&self.dir) })
    }

    fn update_installations<'a>(
        &'a self,
        change: &'a mut (dyn FnMut(&mut Installations) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let _only_writer = self.registry.lock().await;
            let mut reg = Installations::load(&self.dir)?;
            let before = reg.clone();
            change(&mut reg);
            if reg != before {
                reg.save(&self.dir)?;
            }
            Ok(())
        })
    }

    fn lock_run<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<RunGuard>> {
        Box::pin(async move { Ok(Box::new(self.run_locks.lock(key).await) as RunGuard) })
    }

    fn take_pending(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
