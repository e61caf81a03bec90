//! Who is calling: the App (RS256 JWT), an installation (`ghs_…` token) or a
//! person (`ghp_…` token) — checked on every request, like GitHub.

use super::state::{unix_now, State, Token};
use anyhow::{Context, Result};
use rand::Rng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The App's RSA key pair.
pub struct AppKey {
    pub pem: String,
    decoding: jsonwebtoken::DecodingKey,
}

impl AppKey {
    /// Reads `path` if it exists, otherwise generates an RSA 2048 key and writes it there
    /// (PKCS#1 PEM, the format GitHub hands out).
    pub fn load_or_generate(path: &Path) -> Result<AppKey> {
        let key = if path.exists() {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the App key {}", path.display()))?;
            rsa::RsaPrivateKey::from_pkcs1_pem(&pem).with_context(|| {
                format!(
                    "{} is not a PKCS#1 RSA private key (delete it and the simulator makes a new one)",
                    path.display()
                )
            })?
        } else {
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                .context("generating the App's RSA key")?;
            let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
            std::fs::write(path, pem.as_bytes())
                .with_context(|| format!("writing the App key to {}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
            key
        };
        let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?.to_string();
        let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(
            &key.n().to_bytes_be(),
            &key.e().to_bytes_be(),
        );
        Ok(AppKey { pem, decoding })
    }

    /// Verifies an App JWT the way GitHub does: RS256 signed by this key, `iss` the
    /// App id (number or string), `exp` in the future and at most 10 minutes after
    /// `iat`, and `iat` not more than 60 s in the future.
    pub fn verify_jwt(&self, jwt: &str, app_id: u64) -> std::result::Result<(), String> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &self.decoding, &v)
            .map_err(|e| format!("A JSON web token could not be decoded ({e})"))?;
        let c = data.claims;
        let iss_ok = match &c["iss"] {
            serde_json::Value::Number(n) => n.as_u64() == Some(app_id),
            serde_json::Value::String(s) => s == &app_id.to_string(),
            _ => false,
        };
        if !iss_ok {
            return Err("Integration not found ('iss' is not this App's id)".into());
        }
        let (iat, exp) = (
            c["iat"].as_i64().unwrap_or(0),
            c["exp"].as_i64().unwrap_or(0),
        );
        let now = unix_now();
        if iat > now + 60 {
            return Err(
                "'Issued at' claim ('iat') must be an Integer representing a time in the past."
                    .into(),
            );
        }
        if exp - iat > 600 {
            return Err("'Expiration time' claim ('exp') is too far in the future (at most 10 minutes after 'iat').".into());
        }
        Ok(())
    }
}

/// A random token with GitHub's prefix (`ghp_`, `ghs_`).
pub fn new_token(prefix: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::thread_rng();
    let tail: String = (0..36)
        .map(|_| ALPHA[r.gen_range(0..ALPHA.len())] as char)
        .collect();
    format!("{prefix}_{tail}")
}

/// A GUID for `X-GitHub-Delivery`.
pub fn new_guid() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The caller of one request.
#[derive(Clone, Debug)]
pub enum Actor {
    /// The App itself (JWT): only `/app/...` and `GET /repos/{o}/{r}/installation`.
    App,
    Person(String),
    Installation {
        repos: Option<BTreeSet<String>>,
        permissions: BTreeMap<String, String>,
    },
}

/// Why a request is refused before a handler runs.
pub enum AuthError {
    Missing,
    Bad(String),
}

/// Reads the `Authorization` header (`Bearer X`, `token X`, or Basic with the token as password).
pub fn token_from_header(h: &str) -> Option<String> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => Some(rest.trim().to_string()),
        "basic" => {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let s = String::from_utf8(raw).ok()?;
            let (_, pw) = s.split_once(':')?;
            Some(pw.to_string())
        }
        _ => None,
    }
}

/// Resolves a token (or JWT) to an actor.
pub fn resolve(st: &State, key: &AppKey, token: &str) -> std::result::Result<Actor, AuthError> {
    if token.starts_with("eyJ") && token.matches('.').count() == 2 {
        key.verify_jwt(token, st.app_id).map_err(AuthError::Bad)?;
        return Ok(Actor::App);
    }
    match st.tokens.get(token) {
        Some(Token::User { login }) => Ok(Actor::Person(login.clone())),
        Some(Token::Installation {
            repos,
            permissions,
            expires_at,
        }) => {
            if *expires_at <= unix_now() {
                return Err(AuthError::Bad("Bad credentials".into()));
            }
            Ok(Actor::Installation {
                repos: repos.clone(),
                permissions: permissions.clone(),
            })
        }
        None => Err(AuthError::Bad("Bad credentials".into())),
    }
}

/// The permissions an installation has (and the default of every token it mints).
pub fn installation_permissions() -> BTreeMap<String, String> {
    [
        ("actions", "write"),
        ("checks", "write"),
        ("contents", "write"),
        ("issues", "write"),
        ("metadata", "read"),
        ("pull_requests", "write"),
        ("statuses", "write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// GitHub's repository roles, strongest first (`write` is the REST `push`).
pub const ROLES: [&str; 5] = ["admin", "maintain", "write", "triage", "read"];

/// `login`'s role on `full`: the owner is admin; a collaborator entry of the
/// repository (`PUT …/collaborators/{user}`) wins over the person's default role.
pub fn role(st: &State, full: &str, login: &str) -> String {
    let Some(r) = st.repos.get(full) else {
        return "none".into();
    };
    if r.owner == login {
        return "admin".into();
    }
    r.collaborators
        .get(login)
        .cloned()
        .unwrap_or_else(|| st.account(login).permission)
}

/// The `permissions` object of a repository as `role` sees it.
pub fn role_permissions(role: &str) -> serde_json::Value {
    let lv = ROLES.iter().position(|r| *r == role).unwrap_or(ROLES.len());
    serde_json::json!({"admin": lv < 1, "maintain": lv < 2, "push": lv < 3, "triage": lv < 4, "pull": lv < 5})
}

/// The `permissions` object an installation token sees on a repository.
pub fn token_permissions(permissions: &BTreeMap<String, String>) -> serde_json::Value {
    let has = |k: &str, w: u8| level(permissions.get(k).map(String::as_str).unwrap_or("none")) >= w;
    serde_json::json!({
        "admin": has("administration", 2), "maintain": false, "push": has("contents", 2),
        "triage": has("issues", 2) || has("pull_requests", 2), "pull": true,
    })
}

/// `admin` > `write` (`maintain`) > `read` (`triage`) > `none`.
pub fn level(p: &str) -> u8 {
    match p {
        "admin" => 3,
        "write" | "maintain" => 2,
        "read" | "triage" => 1,
        _ => 0,
    }
}
