//! `GET /health/live` (the process answers) and `GET /health/ready` (the
//! store answers — the SQLite journal is open, or PostgreSQL is reachable with
//! its migrations applied — and the App key works: a JWT signed with it is accepted
//! by `GET /app`). Readiness is cached briefly so probes do not spend the
//! App's rate limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::github::{AppAuth, Auth, GitHub, GitHubConfig, RetryPolicy};

use super::AppState;

/// How long a readiness answer is reused.
const OK_TTL: Duration = Duration::from_secs(60);
const FAIL_TTL: Duration = Duration::from_secs(3);

/// The App check behind `/health/ready`.
pub struct Readiness {
    /// The App's own connection (its JWT), or why there is none.
    app: Result<GitHub, String>,
    cache: Mutex<Option<(Instant, Result<String, String>)>>,
}

impl Readiness {
    /// `app`: the API base URL and the App; `None` when no App is configured (never ready).
    pub fn new(app: Option<(String, Arc<AppAuth>)>) -> Readiness {
        let app = match app {
            None => Err(
                "no GitHub App configured: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH)".into(),
            ),
            Some((api, app)) => {
                // A probe answers at once: one attempt, a short timeout; the cache
                // below keeps probes from spending the App's rate limit.
                let mut config = GitHubConfig::new(api);
                config.retry = RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                };
                config.read_timeout = Duration::from_secs(10);
                GitHub::new(config, Auth::App(app)).map_err(|e| e.to_string())
            }
        };
        Readiness {
            app,
            cache: Mutex::new(None),
        }
    }

    /// `Ok(app slug or name)` when GitHub accepts the App JWT.
    pub async fn check(&self) -> Result<String, String> {
        if let Some((at, res)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner()) {
            let ttl = if res.is_ok() { OK_TTL } else { FAIL_TTL };
            if at.elapsed() < ttl {
                return res.clone();
            }
        }
        let res = self.probe().await;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), res.clone()));
        res
    }

    async fn probe(&self) -> Result<String, String> {
        let gh = self.app.as_ref().map_err(String::clone)?;
        let info = gh
            .app_info()
            .await
            .map_err(|e| format!("{e} (check APP_ID and that PRIVATE_KEY belongs to this App)"))?;
        Ok([info.slug, info.name]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "app".into()))
    }
}

/// `GET /health/live`.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `GET /health/ready`: 200 with the App's name, or 503 with the reason.
pub async fn ready(State(s): State<Arc<AppState>>) -> Response {
    let store = match s.store.check().await {
        Ok(store) => store,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response()
        }
    };
    match s.readiness.check().await {
        Ok(app) => (
            StatusCode::OK,
            format!("ready: {store}, App `{app}` authenticated\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}
