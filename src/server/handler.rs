//! What processes a journalled delivery.
//!
//! [`FlowHandler`] is production: it builds a [`FlowContext`] for the
//! event's repository (an installation token limited to that repository and
//! to the permissions prflow needs) and calls [`crate::flow::handle`], which
//! decides everything. [`JournalOnly`] exists so the service pipeline (journal,
//! dedupe, restart, serialization) can be benchmarked without the core; the
//! handlers tests drive it with are in `test_handlers` (feature `test-handlers`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::flow::{self, FlowContext, FlowOptions, Trigger};
use crate::github::events::Installation;
use crate::github::{GitHub, Permissions, WebhookEvent};

use super::installations::{safe, work_dir, Change};
use super::journal::Delivery;
use super::key::key_of_run;
use super::metrics::Metrics;
use super::queue::{BoxFuture, Handled, Handler};
use super::store::Store;

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
    /// What the App is installed on, and one holder per run at a time
    /// (whatever key a delivery arrived with), across every replica sharing it.
    pub store: Arc<dyn Store>,
}

impl FlowHandler {
    /// A production handler. Work trees under `data_dir` are a cache: one
    /// missing (a new replica, a wiped disk) is cloned again from the remote.
    pub fn new(
        app: GitHub,
        git_base: String,
        data_dir: PathBuf,
        options: FlowOptions,
        metrics: Arc<Metrics>,
        store: Arc<dyn Store>,
    ) -> FlowHandler {
        FlowHandler {
            app,
            git_base,
            data_dir,
            options,
            metrics,
            store,
        }
    }

    /// Learn or forget repositories. Forgetting deletes their work trees and
    /// drops the installation's cached tokens: nothing of a repository the
    /// App lost stays on the server.
    async fn on_installation(&self, i: &Installation) -> Result<()> {
        let mut change = Change::default();
        let mut served = 0;
        self.store
            .update_installations(&mut |reg| {
                change = reg.apply(i);
                served = reg.len();
            })
            .await?;
        self.app.forget_installation_tokens(i.installation_id);
        for full in &change.forgotten {
            if let Some((owner, name)) = full.split_once('/') {
                let dir = work_dir(&self.data_dir, owner, name);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).with_context(|| {
                        format!("deleting the work trees of {full} in {}", dir.display())
                    })?;
                }
            }
        }
        tracing::info!(
            installation = i.installation_id,
            account = %i.account,
            learned = ?change.learned,
            forgotten = ?change.forgotten,
            "installation {:?}: prflow now serves {served} repositories",
            i.action,
        );
        Ok(())
    }

    /// The installation to act as: the event's, else the registry's, else
    /// asked of GitHub (and remembered).
    async fn installation_of(&self, event: &WebhookEvent, owner: &str, name: &str) -> Result<u64> {
        let full = format!("{owner}/{name}");
        let registry = self.store.installations().await?;
        let known = registry.installation_of(&full);
        let id = match (event.installation_id(), known) {
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => self
                .app
                .installation_for_repo(owner, name)
                .await
                .with_context(|| format!("finding the App installation of {full}"))?,
        };
        if known != Some(id) {
            self.store
                .update_installations(&mut |reg| {
                    reg.learn(&full, id);
                })
                .await?;
        }
        Ok(id)
    }

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
                self.on_installation(i).await?;
                return Ok(Handled::default());
            }
            other => other
                .repo()
                .cloned()
                .context("the event names no repository")?,
        };
        let installation_id = self
            .installation_of(&event, &repo.owner, &repo.name)
            .await?;
        if self
            .store
            .installations()
            .await?
            .is_suspended(installation_id)
        {
            anyhow::bail!(
                "the App's installation {installation_id} on {} is suspended; \
                 its owner can unsuspend it under Settings → GitHub Apps",
                repo.full_name()
            );
        }
        let actions = matches!(self.options.executor, flow::Executor::Actions { .. });
        let github = self.app.installation(
            installation_id,
            Some(&repo.name),
            token_permissions(actions),
        )?;
        // The run this delivery concerns, when only the API can tell (a
        // comment); its lock is held until the core is done with it.
        let lock_key = match &event {
            WebhookEvent::CommentCommand(c) => {
                flow::commands::run_of_comment(&github.repo(&repo.owner, &repo.name), c)
                    .await?
                    .map(|run| key_of_run(&repo.full_name(), &run))
            }
            _ => None,
        }
        .unwrap_or_else(|| d.run_key.clone());
        let _run_lock = self.store.lock_run(&lock_key).await?;
        let workdir = work_dir(&self.data_dir, &repo.owner, &repo.name).join(safe(&lock_key));
        let ctx = FlowContext {
            github,
            owner: repo.owner.clone(),
            repo: repo.name.clone(),
            git_url: crate::github::host::git_url(&self.git_base, &repo.owner, &repo.name),
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
            .inner()
            .store(calls.reads(), Ordering::Relaxed);
        self.metrics
            .github_writes
            .inner()
            .store(calls.writes(), Ordering::Relaxed);
        if let Some(r) = self.app.rate_limit_remaining() {
            self.metrics
                .github_rate_remaining
                .inner()
                .store(r as i64, Ordering::Relaxed);
        }
        let report = result?;
        tracing::info!(delivery = %d.id, run = ?report.run_id, phase = ?report.phase, state = %report.state, "run moved");
        Ok(Handled {
            run_state: Some(report.state.as_str().to_string()),
        })
    }
}

impl Handler for FlowHandler {
    fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(self.run(d))
    }
}

/// Journal only: marks every delivery done without acting (benchmarks).
pub struct JournalOnly;

impl Handler for JournalOnly {
    fn handle<'a>(&'a self, _d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(async { Ok(Handled::default()) })
    }
}
