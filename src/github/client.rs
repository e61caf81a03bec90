//! The GitHub connection: one octocrab client, our own retries, typed
//! errors, authentication and call counting.
//!
//! Every request goes through [`GitHub::request`]. It adds the headers
//! GitHub wants, authenticates (minting an installation token when needed),
//! counts the call under the connection's phase label, retries what can
//! succeed by retrying (see [`super::retry`]) and turns everything else
//! into a [`GithubError`]. Other modules never see octocrab.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{
    now_epoch_secs, parse_expiry, AppAuth, Auth, InstallationToken, Permissions, Secret,
};
use super::error::{GithubError, RequestLine};
use super::retry::{self, Failure, RetryPolicy};
use super::types::{CheckRun, Comment, Permission, RepoName};

/// The REST API version prflow is written against.
pub const API_VERSION: &str = "2022-11-28";

/// github.com's API.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, `https://HOST/api/v3` (Enterprise Server)
    /// or the simulator's `http://127.0.0.1:PORT`.
    pub api_url: String,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// How long a collaborator permission answer is trusted.
    pub permission_ttl: Duration,
}

impl GitHubConfig {
    pub fn new(api_url: impl Into<String>) -> Self {
        GitHubConfig {
            api_url: api_url.into(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            permission_ttl: Duration::from_secs(60),
        }
    }
}

/// Calls made under one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// GET requests.
    pub reads: u64,
    /// Every other method.
    pub writes: u64,
    /// How many of the above were retries of an earlier attempt.
    pub retries: u64,
}

impl LabelCounts {
    pub fn total(&self) -> u64 {
        self.reads + self.writes
    }
}

/// API calls by phase label, as counted by one connection and every
/// connection derived from it (`with_phase`, `installation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    pub by_label: BTreeMap<String, LabelCounts>,
}

impl CallCounts {
    pub fn label(&self, label: &str) -> LabelCounts {
        self.by_label.get(label).copied().unwrap_or_default()
    }
    pub fn reads(&self) -> u64 {
        self.by_label.values().map(|c| c.reads).sum()
    }
    pub fn writes(&self) -> u64 {
        self.by_label.values().map(|c| c.writes).sum()
    }
    pub fn total(&self) -> u64 {
        self.reads() + self.writes()
    }
    /// What was counted after `earlier` was taken.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let mut by_label = BTreeMap::new();
        for (label, now) in &self.by_label {
            let before = earlier.label(label);
            let diff = LabelCounts {
                reads: now.reads - before.reads.min(now.reads),
                writes: now.writes - before.writes.min(now.writes),
                retries: now.retries - before.retries.min(now.retries),
            };
            if diff != LabelCounts::default() {
                by_label.insert(label.clone(), diff);
            }
        }
        CallCounts { by_label }
    }
}

impl fmt::Display for CallCounts {
    /// One line per label: `phase-1: 7 calls (3 reads, 4 writes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, c) in &self.by_label {
            write!(
                f,
                "{label}: {} calls ({} reads, {} writes",
                c.total(),
                c.reads,
                c.writes
            )?;
            if c.retries > 0 {
                write!(f, ", {} retries", c.retries)?;
            }
            writeln!(f, ")")?;
        }
        write!(
            f,
            "total: {} calls ({} reads, {} writes)",
            self.total(),
            self.reads(),
            self.writes()
        )
    }
}

struct Shared {
    octo: Octocrab,
    api_url: String,
    policy: RetryPolicy,
    permission_ttl: Duration,
    counts: Mutex<BTreeMap<String, LabelCounts>>,
    /// Last `x-ratelimit-remaining` seen; `u64::MAX` = never seen.
    rate_remaining: AtomicU64,
    /// Repositories (`owner/name`) where creating a check run got a 403:
    /// gates go to commit statuses there from then on.
    pub(crate) checks_forbidden: Mutex<HashSet<String>>,
    permissions: Mutex<HashMap<(String, String), (Permission, Instant)>>,
    /// What we last wrote or read of our own check runs, by (repo, sha,
    /// name), and of our status comments, by (repo, issue, marker): the
    /// next ensure starts from it instead of listing again. Evicted when a
    /// write based on it fails.
    known_checks: Mutex<HashMap<(String, String), HashMap<String, CheckRun>>>,
    known_comments: Mutex<HashMap<(String, u64, String), Comment>>,
}

/// A connection to one GitHub API (github.com, Enterprise Server, or the
/// simulator) with one identity. Cheap to clone; clones share counters and
/// caches.
#[derive(Clone)]
pub struct GitHub {
    shared: Arc<Shared>,
    auth: Auth,
    label: Arc<str>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.shared.api_url)
            .field("auth", &self.auth)
            .field("label", &self.label)
            .finish()
    }
}

/// A successful response.
pub(crate) struct Resp {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json<T: DeserializeOwned>(&self, request: &str) -> Result<T, GithubError> {
        serde_json::from_slice(&self.body).map_err(|e| GithubError::Decode {
            request: request.to_string(),
            message: e.to_string(),
        })
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl GitHub {
    /// Connect to `config.api_url` as `auth`. No request is made yet.
    pub fn new(config: GitHubConfig, auth: Auth) -> Result<GitHub, GithubError> {
        let api_url = config.api_url.trim_end_matches('/').to_string();
        let uri: http::Uri = api_url.parse().map_err(|e| {
            GithubError::Config(format!(
                "the GitHub API URL `{api_url}` is not a URL ({e}). Use https://api.github.com, https://HOST/api/v3 for Enterprise Server, or the URL `prflow sim` prints."
            ))
        })?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(GithubError::Config(format!(
                "the GitHub API URL `{api_url}` needs a scheme and a host, e.g. https://api.github.com"
            )));
        }
        let octo = Octocrab::builder()
            .base_uri(uri)
            .map_err(|e| GithubError::Config(format!("bad GitHub API URL `{api_url}`: {e}")))?
            .set_connect_timeout(Some(config.connect_timeout))
            .set_read_timeout(Some(config.read_timeout))
            .add_header(
                http::header::USER_AGENT,
                format!("prflow/{}", env!("CARGO_PKG_VERSION")),
            )
            .build()
            .map_err(|e| GithubError::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(GitHub {
            shared: Arc::new(Shared {
                octo,
                api_url,
                policy: config.retry,
                permission_ttl: config.permission_ttl,
                counts: Mutex::new(BTreeMap::new()),
                rate_remaining: AtomicU64::new(u64::MAX),
                checks_forbidden: Mutex::new(HashSet::new()),
                permissions: Mutex::new(HashMap::new()),
                known_checks: Mutex::new(HashMap::new()),
                known_comments: Mutex::new(HashMap::new()),
            }),
            auth,
            label: Arc::from("default"),
        })
    }

    /// Token mode in one line: `GitHub::with_token(url, token)`.
    pub fn with_token(api_url: &str, token: &str) -> Result<GitHub, GithubError> {
        GitHub::new(GitHubConfig::new(api_url), Auth::Token(Secret::new(token)))
    }

    /// The same connection, counting its calls under `label` (e.g. `phase-2`).
    pub fn with_phase(&self, label: &str) -> GitHub {
        GitHub {
            shared: self.shared.clone(),
            auth: self.auth.clone(),
            label: Arc::from(label),
        }
    }

    /// The label calls are counted under.
    pub fn phase(&self) -> &str {
        &self.label
    }

    /// Calls made so far through this connection and every one derived from it.
    pub fn calls(&self) -> CallCounts {
        let counts = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        CallCounts {
            by_label: counts.clone(),
        }
    }

    /// The API base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.shared.api_url
    }

    /// `x-ratelimit-remaining` from the latest response that carried it.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        match self.shared.rate_remaining.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    /// Operations on one repository.
    pub fn repo(&self, owner: &str, name: &str) -> RepoClient {
        RepoClient {
            gh: self.clone(),
            repo: RepoName::new(owner, name),
        }
    }

    /// The token this connection sends, minting an installation token if
    /// needed: for git over HTTPS (`x-access-token:<token>`).
    pub async fn token(&self) -> Result<Option<Secret>, GithubError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Token(t) => Ok(Some(t.clone())),
            Auth::App(app) => app.jwt().map(Some),
            Auth::Installation {
                app,
                installation_id,
                repositories,
                permissions,
            } => {
                let t = self
                    .cached_installation_token(app, *installation_id, repositories, permissions)
                    .await?;
                Ok(Some(t.token))
            }
        }
    }

    // ---- App ------------------------------------------------------------

    fn app_auth(&self) -> Result<Arc<AppAuth>, GithubError> {
        match &self.auth {
            Auth::App(app) | Auth::Installation { app, .. } => Ok(app.clone()),
            _ => Err(GithubError::Config(
                "this needs GitHub App credentials (APP_ID and PRIVATE_KEY), not a token".into(),
            )),
        }
    }

    fn as_app(&self) -> Result<GitHub, GithubError> {
        let app = self.app_auth()?;
        Ok(GitHub {
            shared: self.shared.clone(),
            auth: Auth::App(app),
            label: Arc::from("auth"),
        })
    }

    /// `GET /app`: the App's id, slug and name. A cheap proof that
    /// `APP_ID` and the private key work (for readiness probes).
    pub async fn app_info(&self) -> Result<super::types::AppInfo, GithubError> {
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

    async fn cached_installation_token(
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

    async fn authorization(&self) -> Result<Option<HeaderValue>, GithubError> {
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

    fn forget_installation_token(&self) {
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

    // ---- requests -------------------------------------------------------

    fn count(&self, write: bool, retry: bool) {
        let mut counts = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        let c = counts.entry(self.label.to_string()).or_default();
        if write {
            c.writes += 1;
        } else {
            c.reads += 1;
        }
        if retry {
            c.retries += 1;
        }
    }

    /// Send one API request (path relative to the API URL, query included)
    /// with retries. Ok only for 2xx and 304.
    ///
    /// Boxed because it can call itself (an installation token is minted
    /// through a request), and a recursive `async fn` has no finite type.
    pub(crate) fn request<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<Resp, GithubError>> {
        Box::pin(self.request_inner(method, path, body, false))
    }

    /// Like [`GitHub::request`], for a write that must not be sent twice
    /// (it creates something and GitHub has no duplicate check): a 5xx or a
    /// lost connection may mean the write was applied, so it is not resent
    /// here. The caller re-reads and decides (see `ensure`). Rate limits,
    /// which are never applied, are still waited out and retried.
    pub(crate) fn request_once<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<Resp, GithubError>> {
        Box::pin(self.request_inner(method, path, body, true))
    }

    async fn request_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        once: bool,
    ) -> Result<Resp, GithubError> {
        let request_line = RequestLine(method.as_str(), path).to_string();
        let write = method != Method::GET && method != Method::HEAD;
        let policy = &self.shared.policy;
        let body_text = match body {
            Some(v) => Some(serde_json::to_string(v).map_err(|e| GithubError::Decode {
                request: request_line.clone(),
                message: e.to_string(),
            })?),
            None => None,
        };
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let mut builder = http::Request::builder()
                .method(method.clone())
                .uri(path)
                .header(http::header::ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", API_VERSION);
            if let Some(auth) = self.authorization().await? {
                builder = builder.header(http::header::AUTHORIZATION, auth);
            }
            let req = match &body_text {
                Some(text) => builder
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(octocrab::OctoBody::from(text.clone())),
                None => builder
                    .header(http::header::CONTENT_LENGTH, "0")
                    .body(octocrab::OctoBody::empty()),
            }
            .map_err(|e| GithubError::Config(format!("{request_line}: bad request: {e}")))?;

            self.count(write, attempt > 1);
            tracing::debug!(request = %request_line, label = %self.label, attempt, "GitHub API call");
            let sent = self.shared.octo.execute(req).await;
            let (status, headers, bytes) = match sent {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    match body.collect().await {
                        Ok(b) => (parts.status.as_u16(), parts.headers, b.to_bytes()),
                        Err(e) => {
                            if let Some(wait) = self.transport_wait(attempt, once) {
                                tokio::time::sleep(wait).await;
                                continue;
                            }
                            return Err(GithubError::Transport {
                                request: request_line,
                                message: e.to_string(),
                            });
                        }
                    }
                }
                Err(e) => {
                    if let Some(wait) = self.transport_wait(attempt, once) {
                        tracing::debug!(request = %request_line, attempt, "transport error, retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(GithubError::Transport {
                        request: request_line,
                        message: transport_message(&e),
                    });
                }
            };
            if let Some(n) = headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                self.shared.rate_remaining.store(n, Ordering::Relaxed);
            }
            if (200..300).contains(&status) || status == 304 {
                return Ok(Resp {
                    headers,
                    body: bytes,
                });
            }
            let (message, errors) = error_message(&bytes);
            if status == 401 && !reauthenticated && matches!(self.auth, Auth::Installation { .. }) {
                // A cached installation token can be revoked before its
                // expiry: mint a new one once.
                reauthenticated = true;
                self.forget_installation_token();
                continue;
            }
            let failure = retry::classify(status, &headers, &message);
            if once && failure == Failure::Server {
                return Err(to_error(
                    status,
                    &headers,
                    message,
                    errors,
                    request_line,
                    attempt,
                    failure,
                ));
            }
            if let Some(wait) =
                retry::next_wait(policy, failure, &headers, attempt, now_epoch_secs())
            {
                tracing::debug!(request = %request_line, status, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(to_error(
                status,
                &headers,
                message,
                errors,
                request_line,
                attempt,
                failure,
            ));
        }
    }

    fn transport_wait(&self, attempt: u32, once: bool) -> Option<Duration> {
        (!once && attempt < self.shared.policy.max_attempts)
            .then(|| retry::backoff(&self.shared.policy, attempt))
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, GithubError> {
        let resp = self.request(Method::GET, path, None).await?;
        resp.json(&RequestLine("GET", path).to_string())
    }

    /// GET that maps 404 to `None`.
    pub(crate) async fn get_opt<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, GithubError> {
        match self.get_json(path).await {
            Ok(v) => Ok(Some(v)),
            Err(GithubError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, GithubError> {
        let line = RequestLine(method.as_str(), path).to_string();
        let resp = self.request(method, path, Some(body)).await?;
        resp.json(&line)
    }

    /// [`GitHub::send_json`] through [`GitHub::request_once`].
    pub(crate) async fn send_json_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, GithubError> {
        let line = RequestLine(method.as_str(), path).to_string();
        let resp = self.request_once(method, path, Some(body)).await?;
        resp.json(&line)
    }

    /// Attempts an ensure may make when a create's outcome is unknown.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.shared.policy.max_attempts
    }

    /// Back-off before re-running an ensure whose create failed ambiguously.
    pub(crate) async fn ambiguous_backoff(&self, attempt: u32) {
        tokio::time::sleep(retry::backoff(&self.shared.policy, attempt)).await;
    }

    /// Every page of a list endpoint. `key` names the array inside a
    /// wrapping object (`check_runs`, `statuses`); `None` = the body is the array.
    /// Follows `Link: rel="next"`; without one, asks for the next page only
    /// while pages come back full.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
    ) -> Result<Vec<T>, GithubError> {
        const PER_PAGE: usize = 100;
        const MAX_PAGES: usize = 50;
        let sep = if path.contains('?') { '&' } else { '?' };
        let first = format!("{path}{sep}per_page={PER_PAGE}");
        let mut next = Some(first);
        let mut page = 1;
        let mut out = Vec::new();
        while let Some(url) = next.take() {
            let resp = self.request(Method::GET, &url, None).await?;
            let line = RequestLine("GET", &url).to_string();
            let value: Value = resp.json(&line)?;
            let items = match key {
                Some(k) => value.get(k).cloned().unwrap_or(Value::Array(vec![])),
                None => value,
            };
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| GithubError::Decode {
                request: line.clone(),
                message: e.to_string(),
            })?;
            let n = items.len();
            out.extend(items);
            page += 1;
            if page > MAX_PAGES {
                break;
            }
            if let Some(link) = next_link(&resp.headers) {
                next = Some(link);
            } else if n >= PER_PAGE && !resp.headers.contains_key("link") {
                next = Some(format!("{path}{sep}per_page={PER_PAGE}&page={page}"));
            }
        }
        Ok(out)
    }

    // ---- shared caches used by RepoClient ---------------------------------

    pub(crate) fn checks_forbidden(&self, repo: &RepoName) -> bool {
        let set = self
            .shared
            .checks_forbidden
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        set.contains(&repo.to_string())
    }

    pub(crate) fn set_checks_forbidden(&self, repo: &RepoName) {
        let mut set = self
            .shared
            .checks_forbidden
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        set.insert(repo.to_string());
    }

    /// What we know of the check runs on `sha`: `None` = never listed;
    /// `Some(map)` = the latest run per name (a missing name has no run).
    pub(crate) fn known_checks(
        &self,
        repo: &RepoName,
        sha: &str,
    ) -> Option<HashMap<String, CheckRun>> {
        let m = self
            .shared
            .known_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.get(&(repo.to_string(), sha.to_string())).cloned()
    }

    /// Record a listing of `sha`, one run we wrote, or forget the sha
    /// after a failure.
    pub(crate) fn remember_checks(&self, repo: &RepoName, sha: &str, update: CheckMemo<'_>) {
        let mut m = self
            .shared
            .known_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        bound(&mut m);
        let key = (repo.to_string(), sha.to_string());
        match update {
            CheckMemo::Listed(runs) => {
                let mut latest: HashMap<String, CheckRun> = HashMap::new();
                for r in runs {
                    if latest.get(&r.name).is_none_or(|l| l.id < r.id) {
                        latest.insert(r.name.clone(), r.clone());
                    }
                }
                m.insert(key, latest);
            }
            CheckMemo::Wrote(run) => {
                if let Some(known) = m.get_mut(&key) {
                    known.insert(run.name.clone(), run.clone());
                }
            }
            CheckMemo::Forget => {
                m.remove(&key);
            }
        }
    }

    pub(crate) fn known_comment(
        &self,
        repo: &RepoName,
        issue: u64,
        marker: &str,
    ) -> Option<Comment> {
        let m = self
            .shared
            .known_comments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.get(&(repo.to_string(), issue, marker.to_string()))
            .cloned()
    }

    pub(crate) fn remember_comment(
        &self,
        repo: &RepoName,
        issue: u64,
        marker: &str,
        c: Option<&Comment>,
    ) {
        let mut m = self
            .shared
            .known_comments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        bound(&mut m);
        let key = (repo.to_string(), issue, marker.to_string());
        match c {
            Some(c) => m.insert(key, c.clone()),
            None => m.remove(&key),
        };
    }

    pub(crate) fn cached_permission(&self, repo: &RepoName, user: &str) -> Option<Permission> {
        let cache = self
            .shared
            .permissions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache
            .get(&(repo.to_string(), user.to_ascii_lowercase()))
            .filter(|(_, at)| at.elapsed() < self.shared.permission_ttl)
            .map(|(p, _)| *p)
    }

    pub(crate) fn store_permission(&self, repo: &RepoName, user: &str, p: Permission) {
        let mut cache = self
            .shared
            .permissions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        bound(&mut cache);
        cache.insert(
            (repo.to_string(), user.to_ascii_lowercase()),
            (p, Instant::now()),
        );
    }
}

/// An update to the remembered check runs of one sha.
pub(crate) enum CheckMemo<'a> {
    Listed(&'a [CheckRun]),
    Wrote(&'a CheckRun),
    Forget,
}

/// Operations on one repository through a [`GitHub`] connection. The
/// operations themselves live in [`super::ensure`].
#[derive(Clone, Debug)]
pub struct RepoClient {
    pub(crate) gh: GitHub,
    pub(crate) repo: RepoName,
}

impl RepoClient {
    pub fn name(&self) -> &RepoName {
        &self.repo
    }
    pub fn github(&self) -> &GitHub {
        &self.gh
    }
    /// The same repository, counting calls under `label`.
    pub fn with_phase(&self, label: &str) -> RepoClient {
        RepoClient {
            gh: self.gh.with_phase(label),
            repo: self.repo.clone(),
        }
    }
    /// `/repos/{owner}/{name}` with `rest` appended (`rest` starts with `/` or is empty).
    pub(crate) fn path(&self, rest: &str) -> String {
        format!(
            "/repos/{}/{}{rest}",
            enc(&self.repo.owner),
            enc(&self.repo.name)
        )
    }
}

/// A long-running server must not grow these memos forever: past a few
/// thousand entries they start over (they are only an optimisation).
fn bound<K, V>(m: &mut HashMap<K, V>) {
    if m.len() >= 4096 {
        m.clear();
    }
}

/// Percent-encode one path segment.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode a path that may hold `/` (a branch name, a file path).
pub(crate) fn enc_path(s: &str) -> String {
    s.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// Percent-encode a query value.
pub(crate) fn enc_query(s: &str) -> String {
    enc(s)
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let url = pieces
            .next()?
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        if pieces.any(|p| p.trim() == "rel=\"next\"") {
            let uri: http::Uri = url.parse().ok()?;
            return uri.path_and_query().map(|pq| pq.as_str().to_string());
        }
    }
    None
}

/// GitHub's `message` and `errors` from an error body.
fn error_message(body: &[u8]) -> (String, Vec<String>) {
    #[derive(Deserialize)]
    struct ErrBody {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Value>,
    }
    match serde_json::from_slice::<ErrBody>(body) {
        Ok(b) => {
            let errors = b
                .errors
                .into_iter()
                .map(|e| match e {
                    Value::String(s) => s,
                    Value::Object(o) => o
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            let field = o.get("field").and_then(Value::as_str).unwrap_or("");
                            let code = o.get("code").and_then(Value::as_str).unwrap_or("");
                            format!("{field} {code}").trim().to_string()
                        }),
                    other => other.to_string(),
                })
                .collect();
            (b.message.unwrap_or_default(), errors)
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let short: String = text.chars().take(200).collect();
            (short.trim().to_string(), vec![])
        }
    }
}

fn transport_message(e: &octocrab::Error) -> String {
    // octocrab's Display for service errors is terse; include the source chain.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn to_error(
    status: u16,
    headers: &HeaderMap,
    message: String,
    errors: Vec<String>,
    request: String,
    attempts: u32,
    failure: Failure,
) -> GithubError {
    if failure == Failure::RateLimit {
        return GithubError::RateLimited {
            request,
            retry_after_secs: retry::requested_wait(headers, now_epoch_secs()).map(|d| d.as_secs()),
        };
    }
    match status {
        401 => GithubError::Unauthorized { request, message },
        403 => GithubError::Forbidden { request, message },
        404 => GithubError::NotFound { request },
        409 => GithubError::Conflict { request, message },
        422 => GithubError::Validation {
            request,
            message,
            errors,
        },
        500..=599 => GithubError::Server {
            request,
            status,
            attempts,
            message,
        },
        _ => GithubError::Unexpected {
            request,
            status,
            message,
        },
    }
}
