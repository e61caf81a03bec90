//! The delivery journal: every accepted webhook is written here, durably,
//! before GitHub gets its 2xx, so nothing acknowledged is lost to a crash.
//!
//! SQLite (bundled) in WAL mode with `synchronous=FULL`: a commit is on disk
//! when it returns. One writer thread owns the connection and does *group
//! commit*: it takes every request waiting in its channel, writes them all
//! in one transaction (one fsync for the batch), then answers each request.
//! Under load a batch holds dozens of deliveries, so the cost of the fsync is
//! shared; with one request at a time it is a plain commit.
//!
//! The delivery id (`X-GitHub-Delivery`) is the primary key: a redelivery is
//! recognised and not processed twice. Rows are `pending` until their work
//! finishes (`done`) or fails (`failed`); on start every `pending` row is
//! handed back to the queue.
//!
//! A delivery whose work failed for a transient reason stays `pending`:
//! [`Journal::retry`] counts the attempt (`attempts`), keeps the error and
//! records when to try again (`retry_at`), so a restarted process resumes
//! the back-off where the previous one stopped instead of retrying at once.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::wal;
use tokio::sync::oneshot;

/// A journalled delivery, as the queue and the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `X-GitHub-Delivery`.
    pub id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The parsed domain event as JSON ([`crate::github::WebhookEvent`]).
    pub payload: String,
    /// Serialization key: work with the same key never runs concurrently.
    pub run_key: String,
    /// False when the trigger comes from a fork (never trusted).
    pub trusted: bool,
    /// Attempts that already failed transiently (0 for a new delivery).
    pub attempts: u32,
    /// When the next attempt is due (unix time, milliseconds); `None` = now.
    pub retry_at: Option<i64>,
}

impl Delivery {
    /// A trusted `ping` delivery with an empty payload, new (no attempts),
    /// under `run_key`: the fixture of the server's unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(id: &str, run_key: &str) -> Delivery {
        Delivery {
            id: id.into(),
            event: "ping".into(),
            payload: "{}".into(),
            run_key: run_key.into(),
            trusted: true,
            attempts: 0,
            retry_at: None,
        }
    }
}

/// One row of the journal as an operator sees it ([`Journal::status_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Attempts that failed transiently and were retried.
    pub attempts: u32,
    /// When a pending retry is due (unix ms).
    pub retry_at: Option<i64>,
    /// The last error, kept for retried and failed deliveries.
    pub error: Option<String>,
}

/// What appending did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// New and durable: queue it.
    New,
    /// Seen before (a redelivery): acknowledge, do not queue.
    Duplicate,
}

/// Final state of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
}

enum Op {
    Append(Delivery, oneshot::Sender<Result<Appended, String>>),
    Finish(String, Outcome, Option<String>),
    /// id, when the next attempt is due (unix ms), the error of this attempt.
    Retry(String, i64, String),
    Flush(oneshot::Sender<()>),
}

/// Handle to the journal; cheap to clone. Dropping every handle stops the writer.
#[derive(Clone)]
pub struct Journal {
    tx: std_mpsc::Sender<Op>,
    path: PathBuf,
}

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit (one commit per
    /// batch of concurrent deliveries). Survives a power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is written at every commit and fsynced at
    /// checkpoints. Survives a crash or kill of the process, not a power loss.
    Normal,
}

/// Most requests written in one transaction.
const MAX_BATCH: usize = 512;

impl Journal {
    /// Open (or create) `dir/journal.sqlite3` and start the writer thread.
    /// Returns the journal and the deliveries left unfinished by an earlier process.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<Delivery>)> {
        Journal::open_with(dir, Durability::Full)
    }

    /// [`Journal::open`] with a chosen [`Durability`].
    pub fn open_with(dir: &Path, durability: Durability) -> Result<(Journal, Vec<Delivery>)> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "creating the data directory {} (set PRFLOW_DATA_DIR to a writable directory)",
                dir.display()
            )
        })?;
        let path = dir.join("journal.sqlite3");
        let conn = Connection::open(&path)
            .with_context(|| format!("opening the delivery journal {}", path.display()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .with_context(|| format!("switching {} to WAL mode", path.display()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(anyhow!(
                "{}: SQLite refused WAL mode (got `{mode}`); put PRFLOW_DATA_DIR on a local file system",
                path.display()
            ));
        }
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL;",
            Durability::Normal => "PRAGMA synchronous=NORMAL;",
        })?;
        // No checkpoint on the commit path (see `wal`): SQLite's own would
        // copy the WAL into the database inside a commit.
        conn.execute_batch(&format!(
            "PRAGMA busy_timeout=5000;
             PRAGMA wal_autocheckpoint=0;
             PRAGMA journal_size_limit={};
             -- `seq` is the rowid: new rows get max+1, so pending rows replay in arrival order.
             CREATE TABLE IF NOT EXISTS deliveries (
                 seq INTEGER PRIMARY KEY,
                 id TEXT NOT NULL UNIQUE,
                 event TEXT NOT NULL,
                 payload TEXT NOT NULL,
                 run_key TEXT NOT NULL,
                 trusted INTEGER NOT NULL,
                 state TEXT NOT NULL DEFAULT 'pending',
                 error TEXT,
                 received_at INTEGER NOT NULL,
                 finished_at INTEGER,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 retry_at INTEGER,
                 guid TEXT
             );
             -- No index on `state`: finishing a delivery would then write two
             -- index pages per row on the hot path; the only reader of
             -- `state` is the scan for pending rows at start-up.
             DROP INDEX IF EXISTS deliveries_pending;",
            wal::WAL_KEEP_BYTES
        ))
        .with_context(|| format!("creating the tables of {}", path.display()))?;
        migrate(&conn)
            .with_context(|| format!("bringing {} up to this version of prflow", path.display()))?;
        // Finished rows are kept a week so that redeliveries are still recognised.
        conn.execute(
            "DELETE FROM deliveries WHERE state != 'pending' AND finished_at < ?1",
            params![now_secs().saturating_sub(7 * 24 * 3600)],
        )?;
        let pending = {
            let mut st = conn.prepare(
                "SELECT COALESCE(guid, id), event, payload, run_key, trusted, attempts, retry_at FROM deliveries WHERE state = 'pending' ORDER BY seq",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Delivery {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    payload: r.get(2)?,
                    run_key: r.get(3)?,
                    trusted: r.get::<_, i64>(4)? != 0,
                    attempts: r.get::<_, i64>(5)?.clamp(0, u32::MAX as i64) as u32,
                    retry_at: r.get(6)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let checkpointer = Connection::open(&path)
            .with_context(|| format!("opening {} for checkpoints", path.display()))?;
        let (alive, stopped) = std_mpsc::channel::<()>();
        let wal_length = wal::WalLength::default();
        let published = wal_length.clone();
        std::thread::Builder::new()
            .name("prflow-checkpoint".into())
            .spawn(move || wal::checkpoints(checkpointer, published, stopped))
            .context("starting the journal checkpoint thread")?;
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("prflow-journal".into())
            .spawn(move || {
                writer(conn, rx, wal_length);
                drop(alive); // stops the checkpoint thread
            })
            .context("starting the journal writer thread")?;
        Ok((Journal { tx, path }, pending))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `d` durably; returns once its batch is committed.
    pub async fn append(&self, d: Delivery) -> Result<Appended> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Append(d, tx))
            .map_err(|_| anyhow!("the journal writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow!("the journal writer has stopped"))?
            .map_err(|e| anyhow!("writing the delivery journal: {e}"))
    }

    /// Record the end of a delivery's work (written with the next batch).
    pub fn finish(&self, id: &str, outcome: Outcome, error: Option<String>) {
        let _ = self.tx.send(Op::Finish(id.to_string(), outcome, error));
    }

    /// Keep `id` pending for another attempt: one more failed attempt, the
    /// next one due at `retry_at` (unix ms), `error` kept for operators.
    /// Written with the next batch, like [`Journal::finish`].
    pub fn retry(&self, id: &str, retry_at: i64, error: String) {
        let _ = self.tx.send(Op::Retry(id.to_string(), retry_at, error));
    }

    /// Wait until everything sent so far is committed; false when the writer is gone.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Op::Flush(tx)).is_ok() && rx.await.is_ok()
    }

    /// Which of `guids` (`X-GitHub-Delivery` values) the journal holds, in any
    /// state, read through a separate connection (the redelivery sweep asks).
    pub fn known(&self, guids: &[String]) -> Result<std::collections::HashSet<String>> {
        let conn = Connection::open(&self.path)
            .with_context(|| format!("opening {} to look deliveries up", self.path.display()))?;
        let mut st = conn.prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")?;
        let mut out = std::collections::HashSet::new();
        for g in guids {
            if st.exists([journal_key(g)])? {
                out.insert(g.clone());
            }
        }
        Ok(out)
    }

    /// State of one delivery (`pending`, `done`, `failed`), read through a separate connection.
    pub fn state_of(dir: &Path, id: &str) -> Result<Option<String>> {
        let conn = Connection::open(dir.join("journal.sqlite3"))?;
        Ok(conn
            .query_row(
                "SELECT state FROM deliveries WHERE id = ?1",
                [journal_key(id)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// State, attempts, due retry and last error of one delivery, read
    /// through a separate connection (tests, operators' tooling).
    pub fn status_of(dir: &Path, id: &str) -> Result<Option<DeliveryStatus>> {
        let conn = Connection::open(dir.join("journal.sqlite3"))?;
        Ok(conn
            .query_row(
                "SELECT state, attempts, retry_at, error FROM deliveries WHERE id = ?1",
                [journal_key(id)],
                |r| {
                    Ok(DeliveryStatus {
                        state: r.get(0)?,
                        attempts: r.get::<_, i64>(1)?.clamp(0, u32::MAX as i64) as u32,
                        retry_at: r.get(2)?,
                        error: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}

/// The journal's key for a delivery id. GitHub's delivery GUIDs are version-1
/// (time-based) UUIDs whose *lowest* time bits come first, so as written they
/// land at random places in the unique index: every delivery dirtied a
/// different index page, and the commit and the checkpoint wrote it out (at
/// 10,000 deliveries/s, about 40 MB/s of extra writes and a p99 three times
/// higher). Reordered with the highest time bits first (`time_hi`,
/// `time_mid`, `time_low`, then clock and node), they grow with time and
/// every insert lands at the end of the index. Anything else is kept as it is.
pub fn journal_key(id: &str) -> std::borrow::Cow<'_, str> {
    let parts: Vec<&str> = id.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    match parts[..] {
        [low, mid, hi, clock, node]
            if hex(low, 8)
                && hex(mid, 4)
                && hex(hi, 4)
                && hi.starts_with('1')
                && hex(clock, 4)
                && hex(node, 12) =>
        {
            format!("{hi}{mid}{low}-{clock}-{node}")
                .to_ascii_lowercase()
                .into()
        }
        _ => id.into(),
    }
}

/// Bring a journal written by an earlier version up to date, in place, reading
/// its columns once. Before retries it lacked `attempts` and `retry_at`
/// (existing rows get 0 attempts, no retry due). Before [`journal_key`] it kept
/// the GUID itself in `id` and had no `guid`: then every row moves its GUID to
/// `guid` and is keyed by time. Rows written since always carry `guid`, so
/// nothing is scanned at a start that has nothing to migrate.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let cols = conn
        .prepare("SELECT name FROM pragma_table_info('deliveries')")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let has = |c: &str| cols.iter().any(|x| x == c);
    if !has("attempts") {
        conn.execute_batch(
            "ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
        )?;
    }
    if !has("retry_at") {
        conn.execute_batch("ALTER TABLE deliveries ADD COLUMN retry_at INTEGER;")?;
    }
    if has("guid") {
        return Ok(());
    }
    conn.execute_batch("BEGIN; ALTER TABLE deliveries ADD COLUMN guid TEXT;")?;
    let old: Vec<(i64, String)> = conn
        .prepare("SELECT seq, id FROM deliveries")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    {
        let mut up =
            conn.prepare("UPDATE OR IGNORE deliveries SET guid = id, id = ?2 WHERE seq = ?1")?;
        for (seq, id) in &old {
            up.execute(params![seq, journal_key(id)])?;
        }
    }
    conn.execute_batch("COMMIT")
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The writer loop: block for one op, drain what else is waiting, commit once, answer.
fn writer(mut conn: Connection, rx: std_mpsc::Receiver<Op>, wal_length: wal::WalLength) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let results = write_batch(&mut conn, &batch);
        for (op, res) in batch.drain(..).zip(results) {
            match op {
                Op::Append(_, reply) => {
                    let _ = reply.send(res);
                }
                Op::Flush(reply) => {
                    let _ = reply.send(());
                }
                Op::Finish(..) | Op::Retry(..) => {}
            }
        }
        wal_length.restart_if_long(&conn);
    }
}

/// One transaction for the whole batch; per-op results (all errors if the commit fails).
fn write_batch(conn: &mut Connection, batch: &[Op]) -> Vec<Result<Appended, String>> {
    let run = |conn: &mut Connection| -> rusqlite::Result<Vec<Result<Appended, String>>> {
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(batch.len());
        {
            let now = now_secs();
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO deliveries (id, event, payload, run_key, trusted, received_at, guid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut fin = tx.prepare_cached(
                "UPDATE deliveries SET state = ?2, error = ?3, finished_at = ?4, retry_at = NULL WHERE id = ?1",
            )?;
            // Only a pending row is rescheduled: a retry never revives a finished one.
            let mut retry = tx.prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, retry_at = ?2, error = ?3 WHERE id = ?1 AND state = 'pending'",
            )?;
            for op in batch {
                match op {
                    Op::Append(d, _) => {
                        let n = ins.execute(params![
                            journal_key(&d.id),
                            d.event,
                            d.payload,
                            d.run_key,
                            d.trusted as i64,
                            now,
                            d.id
                        ])?;
                        out.push(Ok(if n == 1 {
                            Appended::New
                        } else {
                            Appended::Duplicate
                        }));
                    }
                    Op::Finish(id, outcome, error) => {
                        let state = match outcome {
                            Outcome::Done => "done",
                            Outcome::Failed => "failed",
                        };
                        fin.execute(params![journal_key(id), state, error, now])?;
                        out.push(Ok(Appended::Duplicate));
                    }
                    Op::Retry(id, at, error) => {
                        retry.execute(params![journal_key(id), at, error])?;
                        out.push(Ok(Appended::Duplicate));
                    }
                    Op::Flush(_) => out.push(Ok(Appended::Duplicate)),
                }
            }
        }
        tx.commit()?;
        Ok(out)
    };
    match run(conn) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "the delivery journal could not commit a batch");
            batch.iter().map(|_| Err(e.to_string())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str) -> Delivery {
        Delivery::for_test(id, "k")
    }

    #[tokio::test]
    async fn append_dedupe_finish_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (j, pending) = Journal::open(dir.path()).unwrap();
        assert!(pending.is_empty());
        assert_eq!(j.append(d("a")).await.unwrap(), Appended::New);
        assert_eq!(j.append(d("a")).await.unwrap(), Appended::Duplicate);
        assert_eq!(j.append(d("b")).await.unwrap(), Appended::New);
        j.finish("a", Outcome::Done, None);
        j.flush().await;
        assert_eq!(
            Journal::state_of(dir.path(), "a").unwrap().as_deref(),
            Some("done")
        );
        drop(j);
        let (_j, pending) = Journal::open(dir.path()).unwrap();
        assert_eq!(pending, vec![d("b")]);
    }

    #[tokio::test]
    async fn concurrent_appends_share_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let mut tasks = vec![];
        for i in 0..200 {
            let j = j.clone();
            tasks.push(tokio::spawn(
                async move { j.append(d(&format!("x{i}"))).await },
            ));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Appended::New);
        }
        drop(j);
        let (_j, pending) = Journal::open(dir.path()).unwrap();
        assert_eq!(pending.len(), 200);
    }

    #[tokio::test]
    async fn a_scheduled_retry_stays_pending_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        j.append(d("r")).await.unwrap();
        j.retry(
            "r",
            1_700_000_000_123,
            "GET /x: GitHub server error 502".into(),
        );
        j.retry(
            "r",
            1_700_000_000_456,
            "GET /x: GitHub server error 503".into(),
        );
        j.flush().await;
        let st = Journal::status_of(dir.path(), "r").unwrap().unwrap();
        assert_eq!(st.state, "pending");
        assert_eq!(st.attempts, 2);
        assert_eq!(st.retry_at, Some(1_700_000_000_456));
        assert_eq!(st.error.as_deref(), Some("GET /x: GitHub server error 503"));
        drop(j);
        let (j, pending) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            pending,
            vec![Delivery {
                attempts: 2,
                retry_at: Some(1_700_000_000_456),
                ..d("r")
            }]
        );
        // Finishing keeps the count and the error, clears the due time;
        // a late retry does not revive a finished row.
        j.finish("r", Outcome::Failed, Some("gave up".into()));
        j.retry("r", 1, "late".into());
        j.flush().await;
        let st = Journal::status_of(dir.path(), "r").unwrap().unwrap();
        assert_eq!(
            (
                st.state.as_str(),
                st.attempts,
                st.retry_at,
                st.error.as_deref()
            ),
            ("failed", 2, None, Some("gave up"))
        );
    }

    #[tokio::test]
    async fn a_journal_from_before_retries_opens_and_gains_the_columns() {
        // GitHub-shaped GUIDs: the old journal kept them as the key itself.
        const OLD: &str = "58474f00-b361-11eb-836d-0e4f3503ccbe";
        const OLDER: &str = "0b989ba4-242f-11e5-81e1-c7b6966d2516";
        let dir = tempfile::tempdir().unwrap();
        {
            // The schema of the previous version, with one pending and one done row.
            let conn = Connection::open(dir.path().join("journal.sqlite3")).unwrap();
            conn.execute_batch(&format!(
                "CREATE TABLE deliveries (
                     seq INTEGER PRIMARY KEY,
                     id TEXT NOT NULL UNIQUE,
                     event TEXT NOT NULL,
                     payload TEXT NOT NULL,
                     run_key TEXT NOT NULL,
                     trusted INTEGER NOT NULL,
                     state TEXT NOT NULL DEFAULT 'pending',
                     error TEXT,
                     received_at INTEGER NOT NULL,
                     finished_at INTEGER
                 );
                 INSERT INTO deliveries (id, event, payload, run_key, trusted, received_at)
                     VALUES ('{OLD}', 'ping', '{{}}', 'k', 1, 1);
                 INSERT INTO deliveries (id, event, payload, run_key, trusted, state, received_at, finished_at)
                     VALUES ('{OLDER}', 'ping', '{{}}', 'k', 1, 'done', 1, 9999999999);"
            ))
            .unwrap();
        }
        let (j, pending) = Journal::open(dir.path()).unwrap();
        // Re-keyed by time, still handed back under the GUID GitHub sent.
        assert_eq!(pending, vec![d(OLD)]);
        j.retry(OLD, 42, "transient".into());
        j.flush().await;
        let st = Journal::status_of(dir.path(), OLD).unwrap().unwrap();
        assert_eq!((st.attempts, st.retry_at), (1, Some(42)));
        assert_eq!(
            Journal::state_of(dir.path(), OLDER).unwrap().as_deref(),
            Some("done")
        );
        // A redelivery of a row written by the old version is still recognised.
        assert_eq!(j.append(d(OLDER)).await.unwrap(), Appended::Duplicate);
        drop(j);
        // Opening again does not try to add the columns twice.
        let (_j, pending) = Journal::open(dir.path()).unwrap();
        assert_eq!(pending[0].attempts, 1);
        assert_eq!(pending[0].id, OLD);
    }

    #[test]
    fn github_guids_are_keyed_in_time_order() {
        // Two real GUIDs from GitHub's docs, 2015 and 2021: as sent, the 2021 one
        // sorts first; keyed, time decides.
        let (y2015, y2021) = (
            "0b989ba4-242f-11e5-81e1-c7b6966d2516",
            "58474f00-b361-11eb-836d-0e4f3503ccbe",
        );
        assert!(y2015 < y2021);
        assert_eq!(journal_key(y2021), "11ebb36158474f00-836d-0e4f3503ccbe");
        assert!(journal_key(y2015) < journal_key(y2021));
        // The time_low counter ticking over still sorts later.
        assert!(
            journal_key("ffffffff-b361-11eb-836d-0e4f3503ccbe")
                < journal_key("00000000-b362-11eb-836d-0e4f3503ccbe")
        );
        // Not a version-1 UUID, or not a UUID: the id itself.
        let v4 = "7732a7f3-f022-4ab8-a5b0-40ce3f208567";
        assert_eq!(journal_key(v4), v4);
        assert_eq!(journal_key("d-1"), "d-1");
        assert_eq!(journal_key("guid-1-1"), "guid-1-1");
    }

    #[tokio::test]
    async fn the_wal_is_copied_into_the_database_off_the_commit_path() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        // Far fewer frames than make the writer checkpoint by itself.
        let appends = (0..300).map(|i| {
            let mut d = d(&format!("d-{i}"));
            d.payload = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
            j.append(d)
        });
        for r in futures::future::join_all(appends).await {
            r.unwrap();
        }
        // Nothing but a checkpoint writes to the database file itself (commits
        // go to the WAL), and the writer checkpoints only past 4096 frames:
        // the file growing past its first pages is the checkpoint thread's work.
        let db = dir.path().join("journal.sqlite3");
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let size = std::fs::metadata(&db).unwrap().len();
            if size > 200 * 1024 {
                break;
            }
            assert!(
                std::time::Instant::now() < end,
                "the database file is {size} bytes 5 s after 300 appends: nothing checkpointed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
