//! `POST /webhook`: verify, parse into a domain event, journal, queue, answer.
//!
//! The order matters. The signature is checked over the raw bytes first, so
//! an unsigned request learns nothing and queues nothing (401). Then the
//! headers (400), then the body (400 when it is not JSON, 202 "ignored" for
//! events prflow does not act on or repositories outside the allowlist).
//! A delivery that will be acted on is committed to the journal *before*
//! the 2xx; the work happens afterwards, in the queue.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::github::webhook::{DeliveryHeaders, EVENT_HEADER, SIGNATURE_HEADER};
use crate::github::{parse_event, verify_signature};

use super::journal::{Appended, Delivery};
use super::key::run_key;
use super::AppState;

fn reply(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// The webhook endpoint (`/webhook` and Probot's `/api/github/webhooks`).
pub async fn webhook(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let event_name = headers
        .get(EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    if !s.accepting.load(Ordering::SeqCst) {
        s.metrics.delivery(&event_name, "unavailable");
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down; GitHub will show this delivery as failed and it can be redelivered\n",
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = e.status();
            let outcome = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            };
            s.metrics.delivery(&event_name, outcome);
            tracing::warn!(event = %event_name, status = status.as_u16(), "webhook body refused: {}", e.body_text());
            return (status, e.body_text()).into_response();
        }
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = verify_signature(&s.secrets, &body, signature) {
        s.metrics.delivery(&event_name, "unauthorized");
        tracing::warn!(event = %event_name, "webhook refused (401): {e}");
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
    match s.journal.append(d.clone()).await {
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
