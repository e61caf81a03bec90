//! Who we are to GitHub: a plain token, the App itself (a JWT), or an App
//! installation (a short-lived token minted from the JWT, cached and renewed).
//!
//! Installation tokens are cached per (installation, repository, permissions)
//! and renewed five minutes before `expires_at`, so a long run never sends an
//! expired token and a burst of webhooks mints one token, not one each.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::error::GithubError;

/// Permissions asked for an installation token, e.g. `{"contents": "write",
/// "pull_requests": "write", "checks": "write"}`. Empty = all the
/// installation has.
pub type Permissions = BTreeMap<String, String>;

/// The least an installation token needs for prflow to carry a run:
/// push phase branches, open and update pull requests, comment, report
/// gates. `with_actions` adds `actions: write`, needed only to hand phases
/// to Actions runners (`serve --executor actions`, `workflow_dispatch`).
/// The App manifest and scoped tokens both use this, so they cannot drift.
pub fn needed_permissions(with_actions: bool) -> Permissions {
    let mut p = Permissions::new();
    for (k, v) in [
        ("contents", "write"),
        ("pull_requests", "write"),
        ("issues", "write"),
        ("checks", "write"),
        ("statuses", "write"),
        ("metadata", "read"),
    ] {
        p.insert(k.to_string(), v.to_string());
    }
    if with_actions {
        p.insert("actions".into(), "write".into());
    }
    p
}

/// Renew a cached installation token this long before GitHub expires it.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for the `Authorization` header and git URLs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a [`crate::github::GitHub`] connection authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No `Authorization` header (public reads, tests).
    None,
    /// A personal, fine-grained, `GITHUB_TOKEN` or installation token.
    Token(Secret),
    /// The App itself (JWT): only for `/app/...` and
    /// `/repos/{o}/{r}/installation`.
    App(Arc<AppAuth>),
    /// An App installation; tokens minted and renewed on demand.
    Installation {
        app: Arc<AppAuth>,
        installation_id: u64,
        /// Repository names (without owner) the token is limited to; empty = all.
        repositories: Vec<String>,
        permissions: Permissions,
    },
}

impl Auth {
    /// Token mode: read the token from the environment variable `name`
    /// (`GITHUB_TOKEN` by default on the CLI).
    pub fn token_from_env(name: &str) -> Result<Auth, GithubError> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(Auth::Token(Secret::new(v.trim()))),
            _ => Err(GithubError::Config(format!(
                "the environment variable {name} holds no GitHub token. Set it (e.g. `export {name}=$(gh auth token)`, or the token printed by `prflow sim`) or name another variable with --token-env."
            ))),
        }
    }
}

/// An installation access token and when it stops working.
#[derive(Clone, Debug)]
pub struct InstallationToken {
    pub token: Secret,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    /// Permissions GitHub granted (may be fewer than asked).
    pub permissions: Permissions,
}

impl InstallationToken {
    /// True when the token should be renewed now.
    pub fn needs_renewal(&self, now_epoch_secs: u64) -> bool {
        now_epoch_secs + RENEW_BEFORE.as_secs() >= self.expires_at
    }
}

/// Cache key: installation, repository scope, permissions.
type CacheKey = (u64, Vec<String>, Vec<(String, String)>);

/// A GitHub App's identity: its id and private key, plus the cache of
/// installation tokens minted with it.
pub struct AppAuth {
    app_id: u64,
    key: EncodingKey,
    tokens: Mutex<HashMap<CacheKey, InstallationToken>>,
    /// Held while minting, so concurrent callers wait for one new token
    /// instead of each minting their own.
    pub(crate) mint_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppAuth")
            .field("app_id", &self.app_id)
            .field("key", &"***")
            .finish()
    }
}

#[derive(Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

impl AppAuth {
    /// `private_key_pem` is the PEM GitHub generated for the App (PKCS#1
    /// `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`).
    pub fn new(app_id: u64, private_key_pem: &[u8]) -> Result<AppAuth, GithubError> {
        let key = EncodingKey::from_rsa_pem(private_key_pem).map_err(|e| {
            GithubError::Config(format!(
                "the App private key (PRIVATE_KEY / PRIVATE_KEY_PATH) is not an RSA key in PEM format ({e}). Download a new .pem from the App's settings page."
            ))
        })?;
        Ok(AppAuth {
            app_id,
            key,
            tokens: Mutex::new(HashMap::new()),
            mint_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// A fresh App JWT (RS256): issued 60 s in the past to absorb clock
    /// drift, valid 9 minutes (GitHub's limit is 10).
    pub fn jwt(&self) -> Result<Secret, GithubError> {
        self.jwt_at(now_epoch_secs())
    }

    pub(crate) fn jwt_at(&self, now: u64) -> Result<Secret, GithubError> {
        let claims = Claims {
            iat: now.saturating_sub(60),
            exp: now + 9 * 60,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| GithubError::Config(format!("could not sign the App JWT: {e}")))
    }

    pub(crate) fn cache_key(
        installation_id: u64,
        repositories: &[String],
        permissions: &Permissions,
    ) -> CacheKey {
        let mut repos = repositories.to_vec();
        repos.sort();
        (
            installation_id,
            repos,
            permissions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// A cached token that is not about to expire.
    pub(crate) fn cached(&self, key: &CacheKey) -> Option<InstallationToken> {
        let cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|t| !t.needs_renewal(now_epoch_secs()))
            .cloned()
    }

    pub(crate) fn store(&self, key: CacheKey, token: InstallationToken) {
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(key, token);
    }

    /// Drop every cached token of an installation (uninstalled, suspended,
    /// or its repositories changed).
    pub(crate) fn forget_installation(&self, installation_id: u64) {
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|key, _| key.0 != installation_id);
    }

    /// Forget a token GitHub refused (revoked, or clocks disagree).
    pub(crate) fn forget(&self, key: &CacheKey) {
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(key);
    }
}

pub(crate) fn now_epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parse GitHub's `expires_at` (RFC 3339) into epoch seconds.
pub(crate) fn parse_expiry(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit RSA key generated for these tests only.
    pub(crate) fn test_key_pem() -> String {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn jwt_has_github_claims_and_verifies() {
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
        let pem = test_key_pem();
        let app = AppAuth::new(42, pem.as_bytes()).unwrap();
        let jwt = app.jwt_at(1_000_000).unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs1_pem(&pem).unwrap();
        let public_pem = private
            .to_public_key()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        let data =
            jsonwebtoken::decode::<serde_json::Value>(jwt.expose(), &key, &validation).unwrap();
        assert_eq!(data.claims["iss"], "42");
        assert_eq!(data.claims["iat"], 1_000_000 - 60);
        assert_eq!(data.claims["exp"], 1_000_000 + 540);
        assert!(!format!("{jwt:?}").contains(jwt.expose()));
    }

    #[test]
    fn bad_key_is_a_readable_error() {
        let err = AppAuth::new(1, b"not a key").unwrap_err().to_string();
        assert!(err.contains("PRIVATE_KEY"), "{err}");
    }

    #[test]
    fn renewal_five_minutes_before_expiry() {
        let t = InstallationToken {
            token: Secret::new("x"),
            expires_at: 10_000,
            permissions: Permissions::new(),
        };
        assert!(!t.needs_renewal(10_000 - 301));
        assert!(t.needs_renewal(10_000 - 300));
        assert_eq!(parse_expiry("1970-01-01T01:00:00Z"), Some(3600));
    }

    #[test]
    fn cache_hands_out_only_tokens_far_from_expiry() {
        let app = AppAuth::new(1, test_key_pem().as_bytes()).unwrap();
        let key = AppAuth::cache_key(7, &["shop".into()], &Permissions::new());
        let soon = InstallationToken {
            token: Secret::new("old"),
            expires_at: now_epoch_secs() + 240,
            permissions: Permissions::new(),
        };
        app.store(key.clone(), soon);
        assert!(app.cached(&key).is_none(), "4 minutes left: renew");
        let fresh = InstallationToken {
            token: Secret::new("new"),
            expires_at: now_epoch_secs() + 3600,
            permissions: Permissions::new(),
        };
        app.store(key.clone(), fresh);
        assert_eq!(app.cached(&key).unwrap().token.expose(), "new");
        // Another repository scope is another token.
        let other = AppAuth::cache_key(7, &["web".into()], &Permissions::new());
        assert!(app.cached(&other).is_none());
        app.forget(&key);
        assert!(app.cached(&key).is_none());
    }

    #[test]
    fn token_from_env_names_the_variable() {
        let err = Auth::token_from_env("PRFLOW_TEST_SURELY_UNSET_VAR")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PRFLOW_TEST_SURELY_UNSET_VAR"));
    }
}
