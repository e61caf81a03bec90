//! `prflow serve`: the GitHub App front end.
//!
//! A webhook is verified over its raw bytes, parsed into a domain event,
//! committed to the journal and queued; only then does GitHub get its 2xx
//! ([`extract`]). The queue ([`queue`]) hands each delivery to a
//! [`Handler`] — in production [`handler::FlowHandler`], which calls
//! [`crate::flow::handle`] with an installation token limited to the
//! repository — one at a time per run, in parallel across runs. On start,
//! every delivery the journal holds unfinished is queued again.

pub mod app_manifest;
pub mod config;
pub mod dispatch;
pub mod door;
pub mod extract;
pub mod handler;
pub mod health;
pub mod installations;
pub mod journal;
pub mod key;
pub mod metrics;
pub mod queue;
pub mod redeliver;
pub mod store;
#[cfg(feature = "test-handlers")]
pub mod test_handlers;
pub mod wal;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::flow::{Executor, FlowOptions};
use crate::github::{AppAuth, Auth, GitHub, GitHubConfig, RetryPolicy};

pub use config::{Allowlist, ServeArgs, MAX_BODY_BYTES};
pub use journal::{Appended, Delivery, Journal, Outcome};
pub use metrics::Metrics;
pub use queue::{BoxFuture, Handled, Handler, Queue};
pub use store::Store;

/// Shared by every request.
pub struct AppState {
    pub secrets: Vec<String>,
    pub allowlist: Allowlist,
    /// The journal, claims, run locks and installation registry (SQLite or PostgreSQL).
    pub store: Arc<dyn Store>,
    pub queue: Queue,
    pub metrics: Arc<Metrics>,
    /// False once shutdown began: new deliveries get 503.
    pub accepting: AtomicBool,
    pub readiness: health::Readiness,
    /// The door's limits (the webhook handler applies the body timeout).
    pub door: door::Door,
    /// Refused requests are logged at most once per interval.
    pub refusals: extract::RefusalLog,
}

/// The routes: `POST /webhook` (and Probot's `/api/github/webhooks`),
/// `GET /health/live`, `GET /health/ready`, `GET /metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhook", post(extract::webhook))
        .route("/api/github/webhooks", post(extract::webhook))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn metrics_text(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
        s.metrics.render(),
    )
}

/// Which handler `--handler` names.
fn build_handler(
    args: &ServeArgs,
    app: Option<Arc<AppAuth>>,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
) -> Result<Arc<dyn Handler>> {
    let spec = args.handler.trim();
    if spec == "none" {
        return Ok(Arc::new(handler::JournalOnly));
    }
    #[cfg(feature = "test-handlers")]
    if let Some(h) = test_handlers::from_spec(spec) {
        return h;
    }
    if spec != "flow" {
        return Err(anyhow!("--handler `{spec}`: use `flow` or `none`"));
    }
    let app = app.ok_or_else(|| {
        anyhow!("no GitHub App configured: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) from the App's settings page")
    })?;
    let mut config = GitHubConfig::new(args.github_api_url.clone());
    config.retry =
        RetryPolicy::from_env(&|name| std::env::var(name).ok()).map_err(|e| anyhow!(e))?;
    let gh = GitHub::new(config, Auth::App(app))?;
    let executor = match args.executor {
        config::ExecutorKind::Local => Executor::Local,
        config::ExecutorKind::Actions => Executor::Actions {
            workflow_file: args.actions_workflow.clone(),
        },
    };
    Ok(Arc::new(handler::FlowHandler::new(
        gh,
        args.git_base(),
        args.data_dir.clone(),
        FlowOptions {
            dry_run: args.dry_run,
            executor,
            trusted: false,
            reviewers: vec![],
            allow_self_approval: None,
            quiet: true,
            workflow: None,
            default_runner: args.default_runner.clone(),
        },
        metrics,
        store,
    )))
}

/// The App from the arguments, if APP_ID is set.
fn app_auth(args: &ServeArgs) -> Result<Option<Arc<AppAuth>>> {
    let Some(app_id) = args.app_id else {
        return Ok(None);
    };
    let pem = args.private_key_pem().map_err(|e| anyhow!(e))?.ok_or_else(|| {
        anyhow!("APP_ID is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH is: point PRIVATE_KEY_PATH at the App's .pem file")
    })?;
    Ok(Some(Arc::new(AppAuth::new(app_id, &pem)?)))
}

/// A started service: its address and what `shutdown` needs.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    /// Unfinished deliveries found in the journal at start (already queued again).
    pub recovered: usize,
    listener: tokio::net::TcpListener,
    grace: Duration,
    /// The redelivery sweep and its period; `None` without App credentials or with sweeps off.
    sweeper: Option<(redeliver::Sweeper, Duration)>,
}

/// Validate the configuration, open the journal, queue what an earlier
/// process left unfinished, and bind. `handler`: `None` = the one `--handler` names.
pub async fn start(args: &ServeArgs, handler: Option<Arc<dyn Handler>>) -> Result<Running> {
    args.validate().map_err(|e| anyhow!(e))?;
    let addr = args.listen_addr().map_err(|e| anyhow!(e))?;
    let metrics = Arc::new(Metrics::new());
    let app = app_auth(args)?;
    let store = store::open(
        args.database_url.as_deref(),
        &args.data_dir,
        args.journal_sync,
    )
    .await?;
    tracing::info!(store = %store.describe(), "deliveries, claims and installations kept in this store");
    let handler = match handler {
        Some(h) => h,
        None => build_handler(args, app.clone(), metrics.clone(), store.clone())?,
    };
    let pending = store.take_pending();
    let queue = Queue::start(
        handler,
        store.clone(),
        metrics.clone(),
        args.workers,
        args.retries(),
        args.claim_settings(),
    );
    let recovered = pending.len();
    if recovered > 0 {
        tracing::info!(
            count = recovered,
            "queueing deliveries an earlier process journalled but did not finish"
        );
    }
    for d in pending {
        queue.push(d);
    }
    let sweeper = sweeper(args, app.clone(), store.clone())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (set PORT/HOST, or free the port)"))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState {
        secrets: args.secrets(),
        allowlist: Allowlist::new(&args.repo_allowlist).map_err(|e| anyhow!(e))?,
        store,
        queue,
        metrics,
        accepting: AtomicBool::new(true),
        readiness: health::Readiness::new(
            app.map(|a| (args.github_api_url.trim_end_matches('/').to_string(), a)),
        ),
        door: args.door(),
        refusals: extract::RefusalLog::default(),
    });
    Ok(Running {
        addr,
        state,
        recovered,
        listener,
        grace: Duration::from_secs(args.shutdown_grace),
        sweeper,
    })
}

/// The redelivery sweep `serve` runs, when it has the App's credentials and sweeps are on.
fn sweeper(
    args: &ServeArgs,
    app: Option<Arc<AppAuth>>,
    store: Arc<dyn Store>,
) -> Result<Option<(redeliver::Sweeper, Duration)>> {
    let Some(app) = app.filter(|_| args.redeliver_every > 0) else {
        return Ok(None);
    };
    let mut config = GitHubConfig::new(args.github_api_url.clone());
    config.retry =
        RetryPolicy::from_env(&|name| std::env::var(name).ok()).map_err(|e| anyhow!(e))?;
    let gh = GitHub::new(config, Auth::App(app))?;
    let limits = redeliver::Limits {
        lookback: Duration::from_secs(args.redeliver_lookback),
        ..Default::default()
    };
    Ok(Some((
        redeliver::Sweeper::new(gh, store, limits),
        Duration::from_secs(args.redeliver_every),
    )))
}

impl Running {
    /// Serve until `signal` resolves, then: refuse new deliveries, let
    /// in-flight requests answer, give running work `grace` to finish, and
    /// leave the rest journalled for the next start.
    pub async fn serve(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let state = self.state.clone();
        // The listener is bound: redeliveries the first sweep asks for wait in its backlog.
        let sweeping = self
            .sweeper
            .map(|(sweeper, every)| tokio::spawn(sweeper.run(every)));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        tokio::spawn(async move {
            signal.await;
            st.accepting
                .store(false, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("shutdown requested: no new deliveries; finishing in-flight work");
            let _ = stop_tx.send(());
        });
        door::serve(
            self.listener,
            router(state.clone()),
            state.door,
            async move {
                let _ = stop_rx.await;
            },
        )
        .await;
        if let Some(sweeping) = sweeping {
            sweeping.abort();
        }
        let clean = state.queue.shutdown(self.grace).await;
        if clean {
            tracing::info!("stopped: all work finished or journalled");
        } else {
            tracing::warn!(grace_s = self.grace.as_secs(), "stopped with work still running; it stays pending in the journal and runs again on the next start");
        }
        Ok(())
    }
}
