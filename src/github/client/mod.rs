//! The GitHub connection: one octocrab client, our own retries, typed
//! errors, authentication and call counting.
//!
//! Every request goes through [`GitHub::request`]. It adds the headers
//! GitHub wants, authenticates (minting an installation token when needed),
//! counts the call under the connection's phase label, retries what can
//! succeed by retrying (see [`super::retry`]) and turns everything else
//! into a [`GithubError`]. Other modules never see octocrab.

mod app_hooks;
mod app_tokens;
mod counts;
mod etags;
mod transport;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octocrab::Octocrab;

use super::auth::{Auth, Secret};
use super::error::GithubError;
use super::retry::RetryPolicy;
use super::types::{CheckRun, Comment, Permission, RepoName};

pub use counts::{CallCounts, LabelCounts};

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
    /// Where the ETag cache is kept between processes (`None`: in memory
    /// only). See [`etags`].
    pub etag_file: Option<std::path::PathBuf>,
}

impl GitHubConfig {
    pub fn new(api_url: impl Into<String>) -> Self {
        GitHubConfig {
            api_url: api_url.into(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            permission_ttl: Duration::from_secs(60),
            etag_file: None,
        }
    }
}

struct Shared {
    octo: Octocrab,
    api_url: String,
    policy: RetryPolicy,
    permission_ttl: Duration,
    counts: Mutex<BTreeMap<String, LabelCounts>>,
    /// The last answer to each GET, for `If-None-Match`.
    etags: etags::Etags,
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
                etags: etags::Etags::new(config.etag_file.clone()),
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
