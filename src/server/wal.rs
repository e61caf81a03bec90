//! Keeping the journal's write-ahead log short without a commit waiting for it.
//!
//! Every commit appends its pages to the WAL; a *checkpoint* copies them into
//! the database file, and once every frame is copied the next commit starts
//! the WAL again from the top, overwriting the file in place. Two rules keep
//! that off the commit path:
//!
//! - A thread of its own runs PASSIVE checkpoints every [`CHECKPOINT_EVERY`]:
//!   they never block the writer (they copy what is committed while commits
//!   go on). It publishes how long the WAL was at its last pass.
//! - Under a steady stream of commits that thread never copies the very last
//!   frames, so the WAL would only grow. The writer finishes the job itself —
//!   once the WAL is longer than [`RESTART_FRAMES`], right after the thread's
//!   pass (so few frames are left) and after answering its batch. At 10,000
//!   deliveries/s that is once every few seconds instead of every 128 commits,
//!   which had put a checkpoint and its fsync of the database in front of
//!   about 2 % of all acknowledgements.
//!
//! The WAL file is kept at up to [`WAL_KEEP_BYTES`] when it restarts (SQLite's
//! `journal_size_limit`), so a commit overwrites blocks already allocated and
//! its fdatasync flushes data only, no file-size change for ext4 to journal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpoint thread copies the WAL into the database.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL length (frames of one 4 KB page) past which the writer restarts it: ~16 MB.
pub const RESTART_FRAMES: u64 = 4096;

/// Largest WAL file kept when it restarts (it is cut back to this).
pub const WAL_KEEP_BYTES: u64 = 64 * 1024 * 1024;

/// What the checkpoint thread tells the writer: the WAL's length in frames at
/// its last pass; 0 once the writer has acted on it.
#[derive(Clone, Default)]
pub struct WalLength(Arc<AtomicU64>);

/// One PASSIVE checkpoint: the WAL's length in frames, `None` when another
/// checkpoint was running (SQLite answers busy) or it failed (logged).
fn checkpoint(conn: &Connection) -> Option<u64> {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    }) {
        Ok((0, frames)) => Some(frames.max(0) as u64),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "journal checkpoint failed; the WAL grows until the next one succeeds");
            None
        }
    }
}

/// The checkpoint loop, beside the writer. Ends when the writer drops
/// `stopped`'s sender, after one last checkpoint.
pub fn checkpoints(conn: Connection, length: WalLength, stopped: mpsc::Receiver<()>) {
    loop {
        let done = matches!(
            stopped.recv_timeout(CHECKPOINT_EVERY),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        if let Some(frames) = checkpoint(&conn) {
            length.0.store(frames, Ordering::Relaxed);
        }
        if done {
            return;
        }
    }
}

impl WalLength {
    /// Called by the writer after it answered a batch: copies the last frames
    /// itself when the WAL has grown past [`RESTART_FRAMES`], so that the next
    /// commit starts the WAL from the top. At most once per checkpoint pass.
    pub fn restart_if_long(&self, conn: &Connection) {
        if self.0.load(Ordering::Relaxed) > RESTART_FRAMES {
            self.0.store(0, Ordering::Relaxed);
            checkpoint(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::server::journal::{Delivery, Journal};

    /// With appends always in flight the checkpoint thread never copies the
    /// last frames; the writer's restarts keep the WAL far shorter than what
    /// was written (without them it holds every frame of the run).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_load_the_wal_restarts_instead_of_growing() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let pad = "x".repeat(16 * 1024);
        let (clients, each) = (32, 200);
        let written = (clients * each * pad.len()) as u64; // 105 MB
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (j, pad) = (j.clone(), pad.clone());
                tokio::spawn(async move {
                    for i in 0..each {
                        let mut d = Delivery::for_test(&format!("w-{c}-{i}"), "k");
                        d.payload = pad.clone();
                        j.append(d).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("journal.sqlite3-wal"))
            .unwrap()
            .len();
        // Restarted, the WAL file keeps the length it reached before a restart:
        // ~16 MB and what came in until the writer acted (36 MB seen in a debug build).
        assert!(
            wal < written * 6 / 10,
            "the WAL is {wal} bytes after {written} bytes of deliveries: it never restarted"
        );
    }
}
