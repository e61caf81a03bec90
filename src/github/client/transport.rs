//! Sending one request: headers, authentication, counting, retries, the
//! ETag cache, and turning GitHub's answers into [`GithubError`]s; plus
//! reading every page of a list.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::super::auth::{now_epoch_secs, Auth};
use super::super::error::{GithubError, RequestLine};
use super::super::retry::{self, Failure};
use super::{GitHub, API_VERSION};

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

    fn count_not_modified(&self) {
        let mut counts = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .entry(self.label.to_string())
            .or_default()
            .not_modified += 1;
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
        let cached = (method == Method::GET)
            .then(|| self.shared.etags.get(&self.auth, path))
            .flatten();
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
            if let Some(c) = &cached {
                builder = builder.header(http::header::IF_NONE_MATCH, c.etag.clone());
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
            if let (304, Some(c)) = (status, &cached) {
                self.count_not_modified();
                let mut headers = headers;
                headers.extend(c.headers.clone());
                return Ok(Resp {
                    headers,
                    body: c.body.clone(),
                });
            }
            if (200..300).contains(&status) || status == 304 {
                if method == Method::GET && status == 200 {
                    self.shared.etags.put(&self.auth, path, &headers, &bytes);
                }
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
            // A request that must not be repeated (`once`) is not retried on a 5xx.
            let wait = match failure {
                Failure::Server if once => None,
                _ => retry::next_wait(policy, failure, &headers, attempt, now_epoch_secs()),
            };
            if let Some(wait) = wait {
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
        self.send_decoded(method, path, body, false).await
    }

    /// [`GitHub::send_json`] through [`GitHub::request_once`].
    pub(crate) async fn send_json_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, GithubError> {
        self.send_decoded(method, path, body, true).await
    }

    async fn send_decoded<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        once: bool,
    ) -> Result<T, GithubError> {
        let line = RequestLine(method.as_str(), path).to_string();
        let resp = if once {
            self.request_once(method, path, Some(body)).await?
        } else {
            self.request(method, path, Some(body)).await?
        };
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
