//! Acting as the App: its JWT, finding an installation, minting and caching
//! installation tokens, and the `Authorization` header of every request.

use std::sync::Arc;

use http::{HeaderValue, Method};
use serde::Deserialize;
use serde_json::Value;

use super::super::auth::{
    now_epoch_secs, parse_expiry, AppAuth, Auth, InstallationToken, Permissions, Secret,
};
use super::super::error::{GithubError, RequestLine};
use super::{enc, GitHub};

impl GitHub {
    // ---- App ------------------------------------------------------------

    fn app_auth(&self) -> Result<Arc<AppAuth>, GithubError> {
        match &self.auth {
            Auth::App(app) | Auth::Installation { app, .. } => Ok(app.clone()),
            _ => Err(GithubError::Config(
                "this needs GitHub App credentials (APP_ID and PRIVATE_KEY), not a token".into(),
            )),
        }
    }

    pub(super) fn as_app(&self) -> Result<GitHub, GithubError> {
        let app = self.app_auth()?;
        Ok(GitHub {
            shared: self.shared.clone(),
            auth: Auth::App(app),
            label: Arc::from("auth"),
        })
    }

    /// `GET /app`: the App's id, slug and name. A cheap proof that
    /// `APP_ID` and the private key work (for readiness probes).
    pub async fn app_info(&self) -> Result<super::super::types::AppInfo, GithubError> {
        self.as_app()?.get_json("/app").await
    }

    /// The installation id of the App on `owner/repo` (`GET /repos/{o}/{r}/installation`).
    pub async fn installation_for_repo(&self, owner: &str, repo: &str) -> Result<u64, GithubError> {
        #[derive(Deserialize)]
        struct Inst {
            id: u64,
        }
        let app = self.as_app()?;
        let path = format!("/repos/{}/{}/installation", enc(owner), enc(repo));
        let inst: Inst = app.get_json(&path).await.map_err(|e| match e {
            GithubError::NotFound { request } => GithubError::NotFound {
                request: format!("{request} (the App is not installed on {owner}/{repo})"),
            },
            other => other,
        })?;
        Ok(inst.id)
    }

    /// Mint an installation token (`POST /app/installations/{id}/access_tokens`),
    /// limited to `repo` (a name without owner) and `permissions` when given.
    /// Always a new token; [`GitHub::installation`] caches them.
    pub async fn installation_token(
        &self,
        installation_id: u64,
        repo: Option<&str>,
        permissions: &Permissions,
    ) -> Result<InstallationToken, GithubError> {
        let repos: Vec<String> = repo.map(|r| vec![r.to_string()]).unwrap_or_default();
        self.mint(installation_id, &repos, permissions).await
    }

    async fn mint(
        &self,
        installation_id: u64,
        repositories: &[String],
        permissions: &Permissions,
    ) -> Result<InstallationToken, GithubError> {
        #[derive(Deserialize)]
        struct Raw {
            token: String,
            expires_at: Option<String>,
            #[serde(default)]
            permissions: Permissions,
        }
        let app = self.as_app()?;
        let mut body = serde_json::Map::new();
        if !repositories.is_empty() {
            body.insert("repositories".into(), serde_json::json!(repositories));
        }
        if !permissions.is_empty() {
            body.insert("permissions".into(), serde_json::json!(permissions));
        }
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let resp = app
            .request(Method::POST, &path, Some(&Value::Object(body)))
            .await?;
        let raw: Raw = resp.json(&RequestLine("POST", &path).to_string())?;
        let expires_at = raw
            .expires_at
            .as_deref()
            .and_then(parse_expiry)
            // No expiry given: assume GitHub's documented one hour.
            .unwrap_or_else(|| now_epoch_secs() + 3600);
        Ok(InstallationToken {
            token: Secret::new(raw.token),
            expires_at,
            permissions: raw.permissions,
        })
    }

    /// Drop the cached tokens of an installation, so the next call mints a
    /// token with what the installation grants now. No-op for a token client.
    pub fn forget_installation_tokens(&self, installation_id: u64) {
        if let Ok(app) = self.app_auth() {
            app.forget_installation(installation_id);
        }
    }

    /// A connection acting as installation `installation_id`, limited to
    /// repository `repo` (a name without owner) and `permissions` when
    /// given. Tokens are minted on first use, cached and renewed 5 minutes
    /// before they expire. Shares counters with `self`.
    pub fn installation(
        &self,
        installation_id: u64,
        repo: Option<&str>,
        permissions: Permissions,
    ) -> Result<GitHub, GithubError> {
        let app = self.app_auth()?;
        Ok(GitHub {
            shared: self.shared.clone(),
            auth: Auth::Installation {
                app,
                installation_id,
                repositories: repo.map(|r| vec![r.to_string()]).unwrap_or_default(),
                permissions,
            },
            label: self.label.clone(),
        })
    }

    /// The App's connection to `owner/repo`: finds the installation, then
    /// acts as it with a token limited to that repository and `permissions`.
    pub async fn for_repo(
        &self,
        owner: &str,
        repo: &str,
        permissions: Permissions,
    ) -> Result<GitHub, GithubError> {
        let id = self.installation_for_repo(owner, repo).await?;
        self.installation(id, Some(repo), permissions)
    }

    pub(super) async fn cached_installation_token(
        &self,
        app: &Arc<AppAuth>,
        installation_id: u64,
        repositories: &[String],
        permissions: &Permissions,
    ) -> Result<InstallationToken, GithubError> {
        let key = AppAuth::cache_key(installation_id, repositories, permissions);
        if let Some(t) = app.cached(&key) {
            return Ok(t);
        }
        let _guard = app.mint_lock.lock().await;
        if let Some(t) = app.cached(&key) {
            return Ok(t);
        }
        let token = self
            .mint(installation_id, repositories, permissions)
            .await?;
        app.store(key, token.clone());
        Ok(token)
    }

    pub(super) async fn authorization(&self) -> Result<Option<HeaderValue>, GithubError> {
        let secret = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Token(t) => t.clone(),
            Auth::App(app) => app.jwt()?,
            Auth::Installation {
                app,
                installation_id,
                repositories,
                permissions,
            } => {
                self.cached_installation_token(app, *installation_id, repositories, permissions)
                    .await?
                    .token
            }
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
            .map_err(|_| GithubError::Config("the GitHub token holds characters that cannot go in an HTTP header (a stray newline?)".into()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    pub(super) fn forget_installation_token(&self) {
        if let Auth::Installation {
            app,
            installation_id,
            repositories,
            permissions,
        } = &self.auth
        {
            app.forget(&AppAuth::cache_key(
                *installation_id,
                repositories,
                permissions,
            ));
        }
    }
}
