//! What GitHub adds to every answer, and conditional requests:
//! `x-github-request-id` on every response, `application/json; charset=utf-8`,
//! `Location` on a 201 (the new resource's `url`), and `ETag` on every
//! successful GET with a 304 (empty body) for a matching `If-None-Match`.
//! The API layer does not count a 304 against the rate limit, as GitHub.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use sha2::Digest;

/// Bodies larger than this are not hashed for an `ETag` (nothing the
/// simulator answers comes near it; it bounds memory on a huge file read).
const MAX_ETAG_BODY: usize = 16 * 1024 * 1024;

/// A request id shaped like GitHub's (`C0DE:1F2E:3A4B5C:6D7E8F:65A1B2C3`).
pub fn request_id() -> String {
    let mut r = rand::thread_rng();
    format!(
        "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
        r.gen::<u16>(),
        r.gen::<u16>(),
        r.gen::<u32>() & 0xFF_FFFF,
        r.gen::<u32>() & 0xFF_FFFF,
        r.gen::<u32>()
    )
}

/// Headers every answer carries (API, git, `/_sim`, unknown routes).
pub async fn every_response(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-github-request-id", v);
    }
    if h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) == Some("application/json") {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if resp.status() == StatusCode::CREATED && !resp.headers().contains_key(header::LOCATION) {
        return with_location(resp).await;
    }
    resp
}

/// A 201's `Location`: the `url` of the JSON it holds.
async fn with_location(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ETAG_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "answer too large").into_response();
    };
    let url = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["url"].as_str().map(str::to_string));
    if let Some(v) = url.and_then(|u| HeaderValue::from_str(&u).ok()) {
        parts.headers.insert(header::LOCATION, v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The outcome of [`etag`].
pub enum Conditional {
    /// The answer, now with an `ETag` (or unchanged when not a 200 GET).
    Full(Response),
    /// A 304 for a matching `If-None-Match`: not counted against the rate limit.
    NotModified(Response),
}

/// Adds a weak `ETag` (a hash of the body) to a 200 answer to a GET, and
/// turns it into a 304 when the request's `If-None-Match` names that tag.
pub async fn etag(method: &Method, request: &HeaderMap, resp: Response) -> Conditional {
    if (method != Method::GET && method != Method::HEAD) || resp.status() != StatusCode::OK {
        return Conditional::Full(resp);
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ETAG_BODY).await else {
        return Conditional::Full(
            (StatusCode::INTERNAL_SERVER_ERROR, "answer too large").into_response(),
        );
    };
    let tag = format!("W/\"{}\"", hex::encode(sha2::Sha256::digest(&bytes)));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    parts.headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization, Cookie, X-GitHub-OTP"),
    );
    if matches_tag(request, &tag) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove("link");
        return Conditional::NotModified(Response::from_parts(parts, Body::empty()));
    }
    Conditional::Full(Response::from_parts(parts, Body::from(bytes)))
}

/// Whether `If-None-Match` lists `tag` (weak comparison, as GitHub) or is `*`.
fn matches_tag(request: &HeaderMap, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == bare(tag))
}
