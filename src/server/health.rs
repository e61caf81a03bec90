//! `GET /health/live` (the process answers) and `GET /health/ready` (the
//! journal is open and the App key works: a JWT signed with it is accepted
//! by `GET /app`). Readiness is cached briefly so probes do not spend the
//! App's rate limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::github::AppAuth;

use super::AppState;

/// How long a readiness answer is reused.
const OK_TTL: Duration = Duration::from_secs(60);
const FAIL_TTL: Duration = Duration::from_secs(3);

/// The App check behind `/health/ready`.
pub struct Readiness {
    app: Option<(String, Arc<AppAuth>)>,
    client: reqwest::Client,
    cache: Mutex<Option<(Instant, Result<String, String>)>>,
}

impl Readiness {
    /// `app`: the API base URL and the App; `None` when no App is configured (never ready).
    pub fn new(app: Option<(String, Arc<AppAuth>)>) -> Readiness {
        Readiness {
            app,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
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
        let Some((api, app)) = &self.app else {
            return Err(
                "no GitHub App configured: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH)".into(),
            );
        };
        let jwt = app.jwt().map_err(|e| e.to_string())?;
        let url = format!("{api}/app");
        let resp = self
            .client
            .get(&url)
            .bearer_auth(jwt.expose())
            .header("accept", "application/vnd.github+json")
            .header("user-agent", concat!("prflow/", env!("CARGO_PKG_VERSION")))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "GET {url} answered {status}: check APP_ID and that PRIVATE_KEY belongs to this App"
            ));
        }
        let v: serde_json::Value = resp.json().await.map_err(|e| format!("GET {url}: {e}"))?;
        Ok(v["slug"]
            .as_str()
            .or(v["name"].as_str())
            .unwrap_or("app")
            .to_string())
    }
}

/// `GET /health/live`.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `GET /health/ready`: 200 with the App's name, or 503 with the reason.
pub async fn ready(State(s): State<Arc<AppState>>) -> Response {
    // The journal was opened before the router existed; a writer that no longer
    // answers a flush means it is gone.
    if !s.journal.flush().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the delivery journal is not open\n",
        )
            .into_response();
    }
    match s.readiness.check().await {
        Ok(app) => (
            StatusCode::OK,
            format!("ready: journal open, App `{app}` authenticated\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}
