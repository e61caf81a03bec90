//! Conditional requests: the last answer to each GET (its `ETag`, headers and
//! body), by identity and path. The next GET of the same path sends
//! `If-None-Match`; GitHub answers 304 without counting it against the rate
//! limit, and the remembered answer is used. So re-reading a PR, its reviews,
//! check runs or comments when nothing changed costs no rate-limit points.
//!
//! Bounded: at most [`MAX_ENTRIES`] answers of at most [`MAX_BODY`] bytes
//! each; past that the oldest go. With a file (see
//! [`super::GitHubConfig::etag_file`]) the answers survive the process, so a
//! `prflow run` that finds nothing new is nearly free too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::super::auth::Auth;

/// How many answers are kept.
pub const MAX_ENTRIES: usize = 512;
/// Larger answers are not kept (a big file read is not worth the memory).
pub const MAX_BODY: usize = 512 * 1024;

/// Headers of a remembered answer that matter to the code reading it.
const KEPT_HEADERS: [&str; 2] = ["link", "content-type"];

/// One remembered answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    etag: String,
    headers: Vec<(String, String)>,
    body: String,
    /// Insertion order, to drop the oldest first.
    seq: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct Store {
    seq: u64,
    entries: HashMap<String, Entry>,
}

/// The ETag cache of one connection and every connection derived from it.
pub(crate) struct Etags {
    store: Mutex<Store>,
    file: Option<PathBuf>,
}

/// A remembered answer, ready to stand in for a 304.
pub(crate) struct Cached {
    pub etag: HeaderValue,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Etags {
    /// An empty cache, or the one saved in `file` (a missing or unreadable
    /// file starts empty: the cache is only an optimisation).
    pub fn new(file: Option<PathBuf>) -> Etags {
        let store = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice::<Store>(&b).ok())
            .unwrap_or_default();
        Etags {
            store: Mutex::new(store),
            file,
        }
    }

    /// What a GET of `path` as `auth` last got, if it had an ETag.
    pub fn get(&self, auth: &Auth, path: &str) -> Option<Cached> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let e = store.entries.get(&key(auth, path))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &e.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                headers.insert(k, v);
            }
        }
        Some(Cached {
            etag: HeaderValue::from_str(&e.etag).ok()?,
            headers,
            body: Bytes::from(e.body.clone()),
        })
    }

    /// Remember a 200 answer to a GET when it carries an ETag.
    pub fn put(&self, auth: &Auth, path: &str, headers: &HeaderMap, body: &Bytes) {
        let Some(etag) = headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        if body.len() > MAX_BODY {
            return;
        }
        let kept = KEPT_HEADERS
            .iter()
            .filter_map(|k| {
                let v = headers.get(*k)?.to_str().ok()?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.seq += 1;
        let seq = store.seq;
        store.entries.insert(
            key(auth, path),
            Entry {
                etag: etag.to_string(),
                headers: kept,
                body: text.to_string(),
                seq,
            },
        );
        while store.entries.len() > MAX_ENTRIES {
            let Some(oldest) = store
                .entries
                .iter()
                .min_by_key(|(_, e)| e.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            store.entries.remove(&oldest);
        }
        if let Some(file) = &self.file {
            save(file, &store);
        }
    }
}

/// Writes the cache atomically; a failure only costs the next run its
/// savings, so it is logged, not returned.
fn save(file: &Path, store: &Store) {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(store)?)?;
        std::fs::rename(&tmp, file)
    };
    if let Err(e) = write() {
        tracing::debug!(file = %file.display(), error = %e, "could not save the ETag cache");
    }
}

/// The cache key: who asks (answers differ by identity) and what. A token is
/// hashed so the cache file never holds it.
fn key(auth: &Auth, path: &str) -> String {
    let who = match auth {
        Auth::None => "anonymous".to_string(),
        Auth::Token(t) => format!(
            "token:{}",
            &hex::encode(sha2::Sha256::digest(t.expose().as_bytes()))[..16]
        ),
        Auth::App(_) => "app".to_string(),
        Auth::Installation {
            installation_id,
            repositories,
            permissions,
            ..
        } => format!("installation:{installation_id}:{repositories:?}:{permissions:?}"),
    };
    format!("{who} {path}")
}
