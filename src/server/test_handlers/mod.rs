//! Handlers for tests, compiled only with the `test-handlers` feature (which the
//! integration tests turn on through prflow's dev-dependency on itself), so the
//! release binary cannot be told to write deliveries to a file or fail on purpose.
//!
//! `--handler record:FILE` appends each delivery as a JSON line and sleeps
//! `PRFLOW_RECORD_DELAY_MS` first; `--handler flaky:FILE:N` ([`flaky`]) also fails
//! the first N attempts at each delivery.

pub mod flaky;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::journal::Delivery;
use super::queue::{BoxFuture, Handled, Handler};

/// The test handler `spec` names, or `None` when it names none.
pub fn from_spec(spec: &str) -> Option<Result<Arc<dyn Handler>>> {
    if let Some(path) = spec.strip_prefix("record:") {
        let delay_ms: u64 = std::env::var("PRFLOW_RECORD_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        return Some(Ok(Arc::new(RecordHandler {
            path: path.into(),
            delay: Duration::from_millis(delay_ms),
        })));
    }
    let rest = spec.strip_prefix("flaky:")?;
    Some(flaky::FlakyHandler::parse(rest).map(|h| Arc::new(h) as Arc<dyn Handler>))
}

/// Appends one JSON line per handled delivery to a file (tests): id, event,
/// run key, trust, start and end times in ms, and the process id. Sleeps
/// `delay` first, so tests can kill the process mid-work or watch serialization.
pub struct RecordHandler {
    pub path: PathBuf,
    pub delay: Duration,
}

/// Unix time in milliseconds (0 if the clock is before 1970), for the test
/// handlers' `start_ms`/`end_ms`.
pub(crate) fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Append `line` and a newline to the test handlers' record file at `path`,
/// creating it if needed.
pub(crate) fn append_record(path: &Path, line: &serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the record file {}", path.display()))?;
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

impl Handler for RecordHandler {
    fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(async move {
            let start = now_ms();
            tokio::time::sleep(self.delay).await;
            let line = serde_json::json!({
                "id": d.id, "event": d.event, "run_key": d.run_key, "trusted": d.trusted,
                "start_ms": start as u64, "end_ms": now_ms() as u64, "pid": std::process::id(),
            });
            append_record(&self.path, &line)?;
            Ok(Handled {
                run_state: Some("recorded".into()),
            })
        })
    }
}
