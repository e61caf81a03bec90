//! `POST /webhook`: verify, parse into a domain event, journal, queue, answer.
//!
//! The order matters. The signature is checked over the raw bytes first, so
//! an unsigned request learns nothing and queues nothing (401). Then the
//! headers (400), then the body (400 when it is not JSON, 202 "ignored" for
//! events prflow does not act on or repositories outside the allowlist).
//! A delivery that will be acted on is committed to the journal *before*
//! the 2xx; the work happens afterwards, in the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::github::webhook::{DeliveryHeaders, EVENT_HEADER, SIGNATURE_HEADER};
use crate::github::{parse_event, verify_signature};

use super::journal::{Appended, Delivery};
use super::key::run_key;
use super::{AppState, MAX_BODY_BYTES};

fn reply(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// A refusal that also closes the connection (the rest of the request is unread).
fn refuse_and_close(status: StatusCode, text: String) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// Log lines about refused requests, at most one per [`RefusalLog::INTERVAL`]: anyone
/// can send requests, and 20,000 unsigned ones must not become 20,000 lines.
#[derive(Default)]
pub struct RefusalLog {
    last: Mutex<Option<Instant>>,
    /// Refusals not logged since the last line.
    unlogged: AtomicU64,
}

impl RefusalLog {
    pub const INTERVAL: Duration = Duration::from_secs(10);

    fn warn(&self, status: StatusCode, reason: &dyn std::fmt::Display) {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| now.duration_since(t) < Self::INTERVAL) {
                self.unlogged.fetch_add(1, Ordering::Relaxed);
                return;
            }
            *last = Some(now);
        }
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
        tracing::warn!(
            status = status.as_u16(),
            refused_before_unlogged = unlogged,
            "webhook refused ({}): {reason} (one line per {} s at most)",
            status.as_u16(),
            Self::INTERVAL.as_secs()
        );
    }
}

/// The request's `Content-Length`, when it sends one that parses.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How long, at most, a body refused unread is drained after the answer.
const LINGER: Duration = Duration::from_secs(2);

/// Discards what arrives of a body refused unread, for `within` and at most 64 MB,
/// while the answer goes out: a client still sending when the connection closes
/// would get a reset instead of the `413` (closing a socket that holds unread data
/// resets it). Memory stays flat: every chunk is dropped as it comes.
async fn linger(body: Body, within: Duration) {
    use futures::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let _ = tokio::time::timeout(within, async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = chunks.next().await {
            seen += chunk.len();
            if seen > 64 * 1024 * 1024 {
                break;
            }
        }
    })
    .await;
}

/// Was the body refused for its size (rather than cut off or malformed)?
fn over_the_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Reads the body within the door's body timeout and [`MAX_BODY_BYTES`]; the
/// refusal (413 at once when `Content-Length` is over the limit, 408, 400) otherwise.
async fn read_body(s: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let too_large = || {
        format!(
            "the body is larger than {} MB, the most GitHub sends\n",
            MAX_BODY_BYTES / (1024 * 1024)
        )
    };
    if content_length(headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        s.metrics.refused("too_large");
        s.refusals.warn(
            StatusCode::PAYLOAD_TOO_LARGE,
            &"Content-Length over the limit",
        );
        tokio::spawn(linger(body, s.door.body_timeout.min(LINGER)));
        return Err(refuse_and_close(StatusCode::PAYLOAD_TOO_LARGE, too_large()));
    }
    let limit = s.door.body_timeout;
    match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if over_the_limit(&e) => {
            s.metrics.refused("too_large");
            s.refusals
                .warn(StatusCode::PAYLOAD_TOO_LARGE, &"body over the limit");
            Err(refuse_and_close(StatusCode::PAYLOAD_TOO_LARGE, too_large()))
        }
        Ok(Err(e)) => {
            s.metrics.refused("bad_request");
            s.refusals
                .warn(StatusCode::BAD_REQUEST, &format!("reading the body: {e}"));
            Err(refuse_and_close(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}\n"),
            ))
        }
        Err(_) => {
            s.metrics.refused("timeout");
            s.refusals.warn(
                StatusCode::REQUEST_TIMEOUT,
                &"the body did not arrive in time",
            );
            Err(refuse_and_close(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} ms\n", limit.as_millis()),
            ))
        }
    }
}

/// The webhook endpoint (`/webhook` and Probot's `/api/github/webhooks`).
pub async fn webhook(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    if !s.accepting.load(Ordering::SeqCst) {
        s.metrics.refused("unavailable");
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down; GitHub will show this delivery as failed and it can be redelivered\n",
        );
    }
    let body = match read_body(&s, &headers, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let event_name = headers
        .get(EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = verify_signature(&s.secrets, &body, signature) {
        // No event label and a throttled log: the headers are anyone's.
        s.metrics.refused("unauthorized");
        s.refusals.warn(StatusCode::UNAUTHORIZED, &e);
        return (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response();
    }
    let h = match DeliveryHeaders::from_headers(&headers) {
        Ok(h) => h,
        Err(e) => {
            s.metrics.delivery(&event_name, "bad_request");
            tracing::warn!("webhook refused (400): {e}");
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    let event = match parse_event(&h.event, &h.delivery_id, &body) {
        Ok(Some(ev)) => ev,
        Ok(None) => {
            s.metrics.delivery(&h.event, "ignored");
            tracing::debug!(delivery = %h.delivery_id, event = %h.event, "ignored: not an event prflow acts on");
            return reply(StatusCode::ACCEPTED, "ignored\n");
        }
        Err(e) => {
            s.metrics.delivery(&h.event, "bad_request");
            tracing::warn!("webhook refused (400): {e}");
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    if let Some(repo) = event.repo() {
        let full = repo.full_name();
        if !s.allowlist.allows(&full) {
            s.metrics.delivery(&h.event, "not_allowed");
            tracing::info!(delivery = %h.delivery_id, event = %h.event, repo = %full, "ignored: {full} is not in PRFLOW_REPO_ALLOWLIST");
            return reply(
                StatusCode::ACCEPTED,
                "ignored: repository not in the allowlist\n",
            );
        }
    }
    let payload = match serde_json::to_string(&event) {
        Ok(p) => p,
        Err(e) => {
            s.metrics.delivery(&h.event, "bad_request");
            return (
                StatusCode::BAD_REQUEST,
                format!("cannot store the event: {e}\n"),
            )
                .into_response();
        }
    };
    let d = Delivery {
        id: h.delivery_id.clone(),
        event: h.event.clone(),
        payload,
        run_key: run_key(&event),
        trusted: event.untrusted_because().is_none(),
        attempts: 0,
        retry_at: None,
    };
    match s.store.append(d.clone()).await {
        Ok(Appended::New) => {
            s.queue.push(d);
            s.metrics.delivery(&h.event, "queued");
            s.metrics.ack_seconds.observe(started.elapsed());
            tracing::debug!(delivery = %h.delivery_id, event = %h.event, "journalled and queued");
            reply(StatusCode::ACCEPTED, "queued\n")
        }
        Ok(Appended::Duplicate) => {
            s.metrics.delivery(&h.event, "duplicate");
            tracing::info!(delivery = %h.delivery_id, event = %h.event, "redelivery of a journalled delivery: not processed again");
            reply(StatusCode::OK, "duplicate: already received\n")
        }
        Err(e) => {
            s.metrics.delivery(&h.event, "unavailable");
            tracing::error!(delivery = %h.delivery_id, "{e:#}");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "the delivery journal is unavailable; redeliver later\n",
            )
        }
    }
}
