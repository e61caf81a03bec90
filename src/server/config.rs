//! `prflow serve` configuration: flags, or environment variables with
//! Probot's names where Probot has one, so an existing `.env` keeps working.
//!
//! Secrets (the webhook secrets, the App private key) live in
//! [`crate::github::auth::Secret`]-like wrappers whose `Debug` prints `***`,
//! so logging the configuration never leaks them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use globset::{GlobSet, GlobSetBuilder};

/// Largest delivery accepted (GitHub caps payloads at 25 MB).
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Log output format (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    #[default]
    Pretty,
}

/// Where agents run (`--executor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ExecutorKind {
    /// On this server.
    #[default]
    Local,
    /// On the repository's GitHub Actions runners (workflow_dispatch of the prflow Action).
    Actions,
}

/// Flags and environment of `prflow serve`.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// The GitHub App's numeric id (App settings page).
    #[arg(long, env = "APP_ID")]
    pub app_id: Option<u64>,
    /// The App's private key (PEM text; `\n` escapes allowed as in `.env` files).
    #[arg(long, env = "PRIVATE_KEY", hide_env_values = true, value_name = "PEM")]
    pub private_key: Option<String>,
    /// Path of the App's private key `.pem` file (used when PRIVATE_KEY is unset).
    #[arg(long, env = "PRIVATE_KEY_PATH", value_name = "FILE")]
    pub private_key_path: Option<PathBuf>,
    /// Webhook secret; several comma-separated during a rotation. Required.
    #[arg(
        long,
        env = "WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "S[,S2]"
    )]
    pub webhook_secret: Option<String>,
    /// GitHub API base: https://api.github.com, https://HOST/api/v3 (Enterprise Server), or the simulator.
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// Base of git clone URLs (`{base}/{owner}/{repo}.git`); derived from the API URL when unset.
    #[arg(long, env = "PRFLOW_GIT_URL")]
    pub git_url: Option<String>,
    /// With no App credentials: the service's public URL (webhooks go to URL/webhook).
    /// `serve` then first shows a page on its own address that registers the App
    /// (`prflow app register`), and starts once GitHub has created it.
    #[arg(long, env = "PRFLOW_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// GitHub's web address, for registering the App (GHES: https://ghe.example.com).
    #[arg(long, env = "GITHUB_URL", default_value = "https://github.com")]
    pub github_url: String,
    /// Register the App for this organisation instead of your account.
    #[arg(long, env = "PRFLOW_APP_ORG")]
    pub app_org: Option<String>,
    /// Where the delivery journal and work trees live.
    #[arg(long, env = "PRFLOW_DATA_DIR", default_value = "./prflow-data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the chosen address is printed).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Only these repositories (`owner/name` globs, comma-separated, e.g. `acme/*,me/tool`); empty = all.
    #[arg(long, env = "PRFLOW_REPO_ALLOWLIST", value_delimiter = ',')]
    pub repo_allowlist: Vec<String>,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// How many runs proceed at the same time (work on one run is always serialized).
    #[arg(long, env = "PRFLOW_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// Where agents run: here, or on the repository's Actions runners.
    #[arg(long, env = "PRFLOW_EXECUTOR", value_enum, default_value_t = ExecutorKind::Local)]
    pub executor: ExecutorKind,
    /// With `--executor actions`: the repository's workflow file that runs the prflow Action.
    #[arg(long, env = "PRFLOW_ACTIONS_WORKFLOW", default_value = "prflow.yml")]
    pub actions_workflow: String,
    /// Show what would happen; write nothing on GitHub.
    #[arg(long)]
    pub dry_run: bool,
    /// PostgreSQL (`postgres://USER:PASSWORD@HOST:PORT/DB`): keep the journal, the run
    /// queue, run locks and installations there, so several replicas can share them.
    /// Unset: SQLite in the data directory (one process).
    #[arg(
        long,
        env = "PRFLOW_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// With a database URL: how long a replica's claim on a delivery lasts without a
    /// heartbeat (a dead replica's work is taken over after this), in milliseconds.
    #[arg(long, env = "PRFLOW_CLAIM_LEASE_MS", default_value_t = 30_000)]
    pub claim_lease_ms: u64,
    /// With a database URL: how often an idle replica looks for work, in milliseconds.
    #[arg(long, env = "PRFLOW_CLAIM_POLL_MS", default_value_t = 200)]
    pub claim_poll_ms: u64,
    /// Journal durability: `full` fsyncs every commit (survives power loss), `normal`
    /// only at checkpoints (survives a crash of the process, not of the machine).
    #[arg(long, env = "PRFLOW_JOURNAL_SYNC", value_enum, default_value_t = crate::server::journal::Durability::Full)]
    pub journal_sync: crate::server::journal::Durability,
    /// Seconds to finish in-flight work after SIGTERM before leaving it journalled.
    #[arg(long, env = "PRFLOW_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace: u64,
    /// Wait before retrying a delivery whose work failed for a transient reason (GitHub 5xx,
    /// network error, rate limit), in milliseconds; tripled after each further failure
    /// (10 s, 30 s, 90 s, 270 s by default). Other failures are not retried.
    #[arg(
        long,
        env = "PRFLOW_RETRY_BASE_MS",
        default_value_t = 10_000,
        value_name = "MS"
    )]
    pub retry_base_ms: u64,
    /// Attempts at a delivery in total, the first included, before it is marked failed
    /// (1 = never retry).
    #[arg(
        long,
        env = "PRFLOW_MAX_ATTEMPTS",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max_attempts: u32,
    /// Seconds between two redelivery sweeps (the first runs at start): webhooks GitHub
    /// failed to deliver while the App was down, and that the journal lacks, are sent
    /// again through GitHub's API. 0 turns sweeps off. Needs the App's credentials.
    #[arg(
        long,
        env = "PRFLOW_REDELIVER_EVERY",
        default_value_t = 300,
        value_name = "SECS"
    )]
    pub redeliver_every: u64,
    /// How far back the first sweep after a start looks, in seconds (GitHub keeps
    /// deliveries for 3 days).
    #[arg(
        long,
        env = "PRFLOW_REDELIVER_LOOKBACK",
        default_value_t = 3 * 24 * 3600,
        value_name = "SECS"
    )]
    pub redeliver_lookback: u64,
    /// Milliseconds a client has to send a request's headers; a connection idle that
    /// long (new, or kept alive between requests) is closed too.
    #[arg(
        long,
        env = "PRFLOW_HEADER_TIMEOUT_MS",
        default_value_t = 10_000,
        value_name = "MS"
    )]
    pub header_timeout_ms: u64,
    /// Milliseconds a client has to send a webhook's body once its headers are in
    /// (408 after that).
    #[arg(
        long,
        env = "PRFLOW_BODY_TIMEOUT_MS",
        default_value_t = 30_000,
        value_name = "MS"
    )]
    pub body_timeout_ms: u64,
    /// Connections open at once; further ones wait (in the listen backlog) until one
    /// closes.
    #[arg(
        long,
        env = "PRFLOW_MAX_CONNECTIONS",
        default_value_t = 256,
        value_name = "N"
    )]
    pub max_connections: usize,
    /// What processes deliveries: `flow` (the run on GitHub) or `none` (journal only, marks
    /// done; for benchmarks). Builds with the `test-handlers` feature take the handlers
    /// of `server::test_handlers` too.
    #[arg(long, env = "PRFLOW_HANDLER", default_value = "flow", hide = true)]
    pub handler: String,
    /// The runner of tasks nothing else serves: a command line such as 'claude -p'
    /// (the task's prompt is added as its last argument), llm:PROVIDER:MODEL, or
    /// template:PACK.
    #[arg(long, env = "PRFLOW_DEFAULT_RUNNER", value_name = "RUNNER")]
    pub default_runner: Option<String>,
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("app_id", &self.app_id)
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("private_key_path", &self.private_key_path)
            .field(
                "webhook_secret",
                &format_args!("{} secret(s)", self.secrets().len()),
            )
            .field("github_api_url", &self.github_api_url)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(crate::server::store::redact_url),
            )
            .field("host", &self.host)
            .field("port", &self.port)
            .field("repo_allowlist", &self.repo_allowlist)
            .field("workers", &self.workers)
            .field("executor", &self.executor)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("max_attempts", &self.max_attempts)
            .field("redeliver_every", &self.redeliver_every)
            .field("default_runner", &self.default_runner)
            .finish()
    }
}

impl ServeArgs {
    /// The configured webhook secrets, trimmed, empty ones dropped.
    pub fn secrets(&self) -> Vec<String> {
        self.webhook_secret
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Check what would make the service useless or unsafe; the message says the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.secrets().is_empty() {
            return Err("no webhook secret: set WEBHOOK_SECRET (or --webhook-secret) to the secret in the App's settings; prflow serve refuses unsigned webhooks".into());
        }
        if self.workers == 0 {
            return Err("PRFLOW_WORKERS must be at least 1".into());
        }
        if self.claim_lease_ms < 300 || self.claim_poll_ms == 0 {
            return Err(
                "PRFLOW_CLAIM_LEASE_MS must be at least 300 and PRFLOW_CLAIM_POLL_MS at least 1"
                    .into(),
            );
        }
        if self.max_attempts == 0 {
            return Err(
                "PRFLOW_MAX_ATTEMPTS (--max-attempts) must be at least 1 (1 = never retry)".into(),
            );
        }
        if self.header_timeout_ms == 0 || self.body_timeout_ms == 0 || self.max_connections == 0 {
            return Err("PRFLOW_HEADER_TIMEOUT_MS, PRFLOW_BODY_TIMEOUT_MS and PRFLOW_MAX_CONNECTIONS must be at least 1".into());
        }
        Allowlist::new(&self.repo_allowlist)?;
        if let Some(r) = &self.default_runner {
            crate::workflow::runner::parse_default(r)
                .map_err(|e| format!("PRFLOW_DEFAULT_RUNNER (--default-runner): {e}"))?;
        }
        self.listen_addr()?;
        Ok(())
    }

    /// The limits of the service's door.
    pub fn door(&self) -> crate::server::door::Door {
        crate::server::door::Door {
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
        }
    }

    /// How transient failures of a delivery's work are retried.
    pub fn retries(&self) -> crate::server::queue::Retries {
        crate::server::queue::Retries {
            base: std::time::Duration::from_millis(self.retry_base_ms),
            max_attempts: self.max_attempts,
        }
    }

    /// How this replica claims work from a shared store.
    pub fn claim_settings(&self) -> crate::server::dispatch::ClaimSettings {
        crate::server::dispatch::ClaimSettings {
            lease: std::time::Duration::from_millis(self.claim_lease_ms),
            poll: std::time::Duration::from_millis(self.claim_poll_ms),
            ..Default::default()
        }
    }

    /// `HOST:PORT` as a socket address.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port).parse().map_err(|_| {
            format!(
                "HOST `{}` is not an IP address (use 0.0.0.0, 127.0.0.1 or ::)",
                self.host
            )
        })
    }

    /// The App private key PEM, from PRIVATE_KEY or PRIVATE_KEY_PATH; `None` when neither is set.
    pub fn private_key_pem(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(k) = self.private_key.as_deref().filter(|k| !k.trim().is_empty()) {
            return Ok(Some(k.replace("\\n", "\n").into_bytes()));
        }
        match &self.private_key_path {
            Some(p) => std::fs::read(p)
                .map(Some)
                .map_err(|e| format!("PRIVATE_KEY_PATH {}: {e}", p.display())),
            None => Ok(None),
        }
    }

    /// Base URL for `{base}/{owner}/{repo}.git`: `--git-url`, or [`crate::github::host::git_base`].
    pub fn git_base(&self) -> String {
        match &self.git_url {
            Some(g) => g.trim_end_matches('/').to_string(),
            None => crate::github::host::git_base(&self.github_api_url),
        }
    }
}

/// `PRFLOW_REPO_ALLOWLIST`: which repositories the service acts for.
#[derive(Clone, Debug)]
pub struct Allowlist {
    set: Option<GlobSet>,
}

impl Allowlist {
    /// Globs over `owner/name`, case-insensitive; an empty list allows everything.
    pub fn new(globs: &[String]) -> Result<Allowlist, String> {
        let globs: Vec<&str> = globs
            .iter()
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
            .collect();
        if globs.is_empty() {
            return Ok(Allowlist { set: None });
        }
        let mut b = GlobSetBuilder::new();
        for g in globs {
            let glob = globset::GlobBuilder::new(g)
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("PRFLOW_REPO_ALLOWLIST entry `{g}` is not a glob: {e}"))?;
            b.add(glob);
        }
        Ok(Allowlist {
            set: Some(
                b.build()
                    .map_err(|e| format!("PRFLOW_REPO_ALLOWLIST: {e}"))?,
            ),
        })
    }

    /// True when `full_name` (`owner/name`) may be served.
    pub fn allows(&self, full_name: &str) -> bool {
        self.set.as_ref().is_none_or(|s| s.is_match(full_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_globs() {
        let a = Allowlist::new(&["acme/*".into(), "me/tool".into()]).unwrap();
        assert!(a.allows("acme/shop"));
        assert!(a.allows("ACME/Shop"));
        assert!(a.allows("me/tool"));
        assert!(!a.allows("me/other"));
        assert!(!a.allows("evil/acme"));
        assert!(Allowlist::new(&[]).unwrap().allows("any/thing"));
        assert!(Allowlist::new(&["a/[".into()]).is_err());
    }
}
