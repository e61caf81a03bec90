//! What processes a journalled delivery.
//!
//! [`FlowHandler`] is production: it builds a [`FlowContext`] for the
//! event's repository (an installation token limited to that repository and
//! to the permissions prflow needs) and calls [`crate::flow::handle`], which
//! decides everything. [`RecordHandler`] and [`JournalOnly`] exist so the
//! service pipeline (journal, dedupe, restart, serialization) can be tested
//! and benchmarked as a separate process independently of the core.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::flow::{self, FlowContext, FlowOptions, Trigger};
use crate::github::events::InstallationAction;
use crate::github::{GitHub, Permissions, WebhookEvent};

use super::journal::Delivery;
use super::metrics::Metrics;
use super::queue::{BoxFuture, Handled, Handler};

/// The least permissions prflow's installation tokens ask for.
pub fn token_permissions(actions: bool) -> Permissions {
    let mut p = Permissions::new();
    for (k, v) in [
        ("contents", "write"),
        ("pull_requests", "write"),
        ("checks", "write"),
        ("statuses", "write"),
        ("issues", "write"),
        ("metadata", "read"),
    ] {
        p.insert(k.into(), v.into());
    }
    if actions {
        p.insert("actions".into(), "write".into());
    }
    p
}

/// Production handler: the run on GitHub.
pub struct FlowHandler {
    /// Authenticated as the App (JWT); installation connections derive from it.
    pub app: GitHub,
    /// `https://github.com`, the Enterprise host, or the simulator.
    pub git_base: String,
    /// Work trees live under `data_dir/work/`.
    pub data_dir: PathBuf,
    /// Options passed through to the core (`trusted` is set per delivery).
    pub options: FlowOptions,
    pub metrics: Arc<Metrics>,
}

impl FlowHandler {
    async fn run(&self, d: &Delivery) -> Result<Handled> {
        let event: WebhookEvent = serde_json::from_str(&d.payload).with_context(|| {
            format!(
                "journalled delivery {} could not be read back as an event",
                d.id
            )
        })?;
        let repo = match &event {
            WebhookEvent::Ping { zen, app_id, .. } => {
                tracing::info!(delivery = %d.id, app_id = ?app_id, "ping: {zen}");
                return Ok(Handled::default());
            }
            WebhookEvent::Installation(i) => {
                let verb = match i.action {
                    InstallationAction::Deleted | InstallationAction::Suspended => "forgets",
                    _ => "serves",
                };
                tracing::info!(
                    installation = i.installation_id,
                    account = %i.account,
                    added = ?i.repositories_added,
                    removed = ?i.repositories_removed,
                    "installation {:?}: prflow {verb} these repositories",
                    i.action
                );
                return Ok(Handled::default());
            }
            other => other
                .repo()
                .cloned()
                .context("the event names no repository")?,
        };
        let installation_id = match event.installation_id() {
            Some(id) => id,
            None => self
                .app
                .installation_for_repo(&repo.owner, &repo.name)
                .await
                .with_context(|| format!("finding the App installation of {}", repo.full_name()))?,
        };
        let actions = matches!(self.options.executor, flow::Executor::Actions { .. });
        let github = self.app.installation(
            installation_id,
            Some(&repo.name),
            token_permissions(actions),
        )?;
        let workdir = self
            .data_dir
            .join("work")
            .join(safe(&repo.owner))
            .join(safe(&repo.name))
            .join(safe(&d.run_key));
        let ctx = FlowContext {
            github,
            owner: repo.owner.clone(),
            repo: repo.name.clone(),
            git_url: format!("{}/{}/{}.git", self.git_base, repo.owner, repo.name),
            workdir,
            options: FlowOptions {
                trusted: d.trusted,
                ..self.options.clone()
            },
        };
        let result = flow::handle(&ctx, Trigger::Webhook(Box::new(event))).await;
        let calls = self.app.calls();
        self.metrics
            .github_reads
            .store(calls.reads(), Ordering::Relaxed);
        self.metrics
            .github_writes
            .store(calls.writes(), Ordering::Relaxed);
        if let Some(r) = self.app.rate_limit_remaining() {
            self.metrics
                .github_rate_remaining
                .store(r as i64, Ordering::Relaxed);
        }
        let report = result?;
        tracing::info!(delivery = %d.id, run = ?report.run_id, phase = ?report.phase, state = %report.state, "run moved");
        Ok(Handled {
            run_state: Some(report.state).filter(|s| !s.is_empty()),
        })
    }
}

impl Handler for FlowHandler {
    fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(self.run(d))
    }
}

/// A file-name-safe form of a key or name.
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Journal only: marks every delivery done without acting (benchmarks).
pub struct JournalOnly;

impl Handler for JournalOnly {
    fn handle<'a>(&'a self, _d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(async { Ok(Handled::default()) })
    }
}

/// Appends one JSON line per handled delivery to a file (tests): id, event,
/// run key, trust, start and end times in ms, and the process id. Sleeps
/// `delay` first, so tests can kill the process mid-work or watch serialization.
pub struct RecordHandler {
    pub path: PathBuf,
    pub delay: Duration,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
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
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .with_context(|| format!("opening the record file {}", self.path.display()))?;
            f.write_all(format!("{line}\n").as_bytes())?;
            Ok(Handled {
                run_state: Some("recorded".into()),
            })
        })
    }
}
