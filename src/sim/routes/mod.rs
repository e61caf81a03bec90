//! The HTTP surface: GitHub's REST routes (one module per resource), the
//! simulator's own `/_sim/…` controls, and git smart HTTP as the fallback.
//! One middleware does what GitHub does before any handler: injected faults,
//! authentication, rate-limit accounting and headers; and saves state after writes.

pub mod access;
pub mod admin;
pub mod app_hooks;
pub mod apps;
pub mod checks;
pub mod collaborators;
pub mod contents;
pub mod dispatches;
pub mod issues;
pub mod labels;
pub mod lookup;
pub mod pulls;
pub mod repos;
pub mod review_comments;
pub mod reviews;
pub mod statuses;

use super::auth::{self, Actor, AuthError};
use super::conditional::{self, Conditional};
use super::http::{ApiError, ApiResult};
use super::Inner;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;

pub type S = State<Arc<Inner>>;

/// Primary rate limit per token, like GitHub's for Apps and people.
pub const RATE_LIMIT: u64 = 5000;

pub fn router(inner: Arc<Inner>) -> Router {
    let api = Router::new()
        .merge(apps::routes())
        .merge(app_hooks::routes())
        .merge(repos::routes())
        .merge(collaborators::routes())
        .merge(contents::routes())
        .merge(issues::routes())
        .merge(labels::routes())
        .merge(pulls::routes())
        .merge(reviews::routes())
        .merge(statuses::routes())
        .merge(review_comments::routes())
        .merge(checks::routes())
        .merge(dispatches::routes())
        .layer(axum::middleware::from_fn_with_state(
            inner.clone(),
            api_layer,
        ));
    Router::new()
        .merge(admin::routes())
        .merge(api)
        .merge(super::web::routes(inner.clone()))
        .fallback(fallback)
        .method_not_allowed_fallback(unknown_route)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            256 * 1024 * 1024,
        ))
        .layer(axum::middleware::map_response(conditional::every_response))
        .with_state(inner)
}

/// A known path with a method it does not take: GitHub answers 404 JSON, not 405.
async fn unknown_route() -> Response {
    ApiError::not_found().into_response()
}

/// Anything that is not an API route: git smart HTTP, or GitHub's 404.
async fn fallback(
    State(inner): S,
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    if super::githttp::split(uri.path()).is_some() {
        // Faults apply to git too (e.g. a 502 on `git-receive-pack` to test push retries).
        if let Some(resp) = admin::take_fault(&inner, &method, uri.path()).await {
            return resp;
        }
        return super::githttp::serve(inner, method, uri, headers, body).await;
    }
    ApiError::not_found().into_response()
}

/// Faults, authentication, rate limits and persistence for every API request.
async fn api_layer(State(inner): S, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if let Some(resp) = admin::take_fault(&inner, &method, &path).await {
        return resp;
    }
    let header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let Some(token) = header.as_deref().and_then(auth::token_from_header) else {
        if path == "/rate_limit" || path == "/zen" || path == "/" {
            return next.run(req).await;
        }
        return ApiError::new(StatusCode::UNAUTHORIZED, "Requires authentication").into_response();
    };
    let (actor, bucket, used) = {
        let mut st = inner.st.lock().unwrap();
        let actor = match auth::resolve(&st, &inner.key, &token) {
            Ok(a) => a,
            Err(AuthError::Bad(m)) => {
                return ApiError::new(StatusCode::UNAUTHORIZED, &m).into_response()
            }
            Err(AuthError::Missing) => return ApiError::bad_credentials().into_response(),
        };
        let bucket = bucket(&actor, st.installation_id);
        let used = if path == "/rate_limit" {
            st.calls.get(&bucket).copied().unwrap_or(0)
        } else {
            let window = format!("@{}", reset_at());
            st.calls.retain(|k, _| k.ends_with(&window));
            let c = st.calls.entry(bucket.clone()).or_insert(0);
            *c += 1;
            *c
        };
        (actor, bucket, used)
    };
    if used > RATE_LIMIT {
        let mut r = ApiError::forbidden("API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.").into_response();
        rate_headers(&mut r, used);
        return r;
    }
    req.extensions_mut().insert(actor);
    let request_headers = req.headers().clone();
    let resp = next.run(req).await;
    let (mut resp, used) = match conditional::etag(&method, &request_headers, resp).await {
        Conditional::Full(r) => (r, used),
        Conditional::NotModified(r) => {
            // GitHub does not count a 304 against the rate limit.
            if path == "/rate_limit" {
                (r, used)
            } else {
                if let Some(c) = inner.st.lock().unwrap().calls.get_mut(&bucket) {
                    *c = c.saturating_sub(1);
                }
                (r, used.saturating_sub(1))
            }
        }
    };
    rate_headers(&mut resp, used);
    resp.headers_mut().insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    if !resp.headers().contains_key("x-github-media-type") {
        resp.headers_mut().insert(
            "x-github-media-type",
            HeaderValue::from_static("github.v3; format=json"),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let inner = inner.clone();
        // A write may have opened, retargeted or closed a pull request.
        let repo = repo_of(&path);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(full) = repo {
                super::pullrefs::sync(&inner, &full);
            }
            inner.persist()
        })
        .await;
    }
    resp
}

/// `owner/name` of a `/repos/{owner}/{name}/…` path.
fn repo_of(path: &str) -> Option<String> {
    let mut parts = path.strip_prefix("/repos/")?.splitn(3, '/');
    let (o, r) = (parts.next()?, parts.next()?);
    (!o.is_empty() && !r.is_empty()).then(|| format!("{o}/{r}"))
}

/// The rate-limit counter of an actor in the current hour (GitHub's window).
pub fn bucket(actor: &Actor, installation_id: u64) -> String {
    let who = match actor {
        Actor::Person(l) => format!("user:{l}"),
        Actor::Installation { .. } => format!("installation:{installation_id}"),
        Actor::App => "app".to_string(),
    };
    format!("{who}@{}", reset_at())
}

/// The reset time of the current rate-limit window (the next full hour).
pub fn reset_at() -> i64 {
    let now = super::state::unix_now();
    now - now % 3600 + 3600
}

fn rate_headers(r: &mut Response, used: u64) {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(h, "x-ratelimit-limit", RATE_LIMIT.to_string());
    set(
        h,
        "x-ratelimit-remaining",
        RATE_LIMIT.saturating_sub(used).to_string(),
    );
    set(h, "x-ratelimit-used", used.to_string());
    set(h, "x-ratelimit-reset", reset_at().to_string());
    set(h, "x-ratelimit-resource", "core".to_string());
}

/// What a handler needs from the caller on a repository: a permission
/// (`contents`, `pull_requests`, `issues`, `checks`, `statuses`, `actions`,
/// `metadata`) and whether it writes.
pub fn authorize(
    inner: &Inner,
    actor: &Actor,
    full: &str,
    perm: &str,
    write: bool,
) -> ApiResult<()> {
    let st = inner.st.lock().unwrap();
    if !st.repos.contains_key(full) {
        return Err(ApiError::not_found());
    }
    match actor {
        Actor::App => Err(ApiError::forbidden(
            "A JSON web token cannot be used here: exchange it for an installation access token (POST /app/installations/{id}/access_tokens).",
        )),
        Actor::Installation { repos, permissions } => {
            if repos.as_ref().is_some_and(|r| !r.contains(full)) {
                return Err(ApiError::not_found());
            }
            let have = auth::level(permissions.get(perm).map(String::as_str).unwrap_or(if perm == "metadata" { "read" } else { "none" }));
            if have < if write { 2 } else { 1 } {
                return Err(ApiError::forbidden("Resource not accessible by integration"));
            }
            Ok(())
        }
        Actor::Person(login) => {
            let lv = auth::level(&auth::role(&st, full, login));
            if lv == 0 {
                return Err(ApiError::not_found());
            }
            if write && lv < 2 {
                return Err(ApiError::forbidden(&format!(
                    "Must have push access to repository ({login} has read access to {full})"
                )));
            }
            Ok(())
        }
    }
}

/// `owner` and `repo` path parts → `owner/repo`.
pub fn full(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}")
}
