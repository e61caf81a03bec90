//! Webhook deliveries: payloads get `repository`, `sender` and `installation`
//! like GitHub's, are recorded in the delivery log, and are sent in order per
//! repository, signed with `X-Hub-Signature-256` (and the legacy sha1 header).
//! A receiver that takes longer than 10 s is recorded as failed, like GitHub.
//! A delivery that fails before the receiver answers (a kept-alive connection
//! it had closed, a refused connection) is tried once more on a new
//! connection, so a listening receiver never misses one; every try is logged.

use super::state::{now, Attempt, Delivery};
use super::Inner;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// GitHub's per-delivery time budget.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The hook id in `X-GitHub-Hook-ID` (the App's one webhook).
pub const HOOK_ID: u64 = 1;

/// `sha256=` + hex HMAC of `body` with `secret`.
pub fn sign256(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn sign1(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(body);
    format!("sha1={}", hex::encode(m.finalize().into_bytes()))
}

/// Starts the delivery worker; deliveries are queued by their id in the log.
pub fn spawn(
    inner: Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<u64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = Clients {
            pooled: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("building the webhook HTTP client"),
            fresh: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .pool_max_idle_per_host(0)
                .build()
                .expect("building the webhook HTTP client"),
        };
        // One queue per repository: in order within a repository, and a slow
        // answer about one repository does not hold up the others.
        let mut queues: HashMap<Option<String>, mpsc::UnboundedSender<u64>> = HashMap::new();
        while let Some(id) = rx.recv().await {
            let Some(strong) = inner.upgrade() else { break };
            let repo = strong
                .st
                .lock()
                .unwrap()
                .deliveries
                .iter()
                .find(|d| d.id == id)
                .and_then(|d| d.repo.clone());
            drop(strong);
            let tx = queues.entry(repo).or_insert_with(|| {
                let (tx, mut q) = mpsc::unbounded_channel::<u64>();
                let (inner, client) = (inner.clone(), client.clone());
                tokio::spawn(async move {
                    while let Some(id) = q.recv().await {
                        let Some(inner) = inner.upgrade() else { break };
                        deliver(&inner, &client, id).await;
                    }
                });
                tx
            });
            let _ = tx.send(id);
        }
    })
}

/// Kept-alive connections for speed, and a client that always opens a new one for retries.
#[derive(Clone)]
struct Clients {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
}

/// One POST of `body`: (status code, log status, whether a retry may help).
async fn attempt(
    client: &reqwest::Client,
    url: &str,
    d: &Delivery,
    secret: &str,
    app_id: u64,
    body: &[u8],
) -> (Option<u16>, String, bool) {
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/prflow-sim")
        .header("x-github-event", &d.event)
        .header("x-github-delivery", &d.guid)
        .header("x-github-hook-id", HOOK_ID.to_string())
        .header("x-github-hook-installation-target-id", app_id.to_string())
        .header("x-github-hook-installation-target-type", "integration")
        .header("x-hub-signature", sign1(secret, body))
        .header("x-hub-signature-256", sign256(secret, body))
        .body(body.to_vec())
        .send()
        .await;
    match res {
        Ok(r) => {
            let c = r.status().as_u16();
            if r.status().is_success() {
                (Some(c), "OK".to_string(), false)
            } else {
                (Some(c), format!("Invalid HTTP Response: {c}"), false)
            }
        }
        Err(e) if e.is_timeout() => (None, "timed out (10 s)".to_string(), false),
        Err(e) if e.is_connect() => (None, "failed to connect to host".to_string(), true),
        Err(_) => (
            None,
            "connection closed before a response".to_string(),
            true,
        ),
    }
}

async fn deliver(inner: &Arc<Inner>, client: &Clients, id: u64) {
    let (url, secret, d, app_id) = {
        let st = inner.st.lock().unwrap();
        let Some(d) = st.deliveries.iter().find(|d| d.id == id).cloned() else {
            return;
        };
        (
            st.webhook_url.clone(),
            st.webhook_secret.clone(),
            d,
            st.app_id,
        )
    };
    let started = Instant::now();
    let mut attempts = vec![];
    let (code, status) = match url {
        None => (None, "not sent: no webhook URL configured".to_string()),
        Some(url) => {
            let body = serde_json::to_vec(&d.payload).unwrap_or_default();
            let mut last = (None, String::new());
            for fresh in [false, true] {
                let t = Instant::now();
                let c = if fresh { &client.fresh } else { &client.pooled };
                if fresh {
                    // A refused connection gets a moment before the one retry.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let (code, status, retry) = attempt(c, &url, &d, &secret, app_id, &body).await;
                attempts.push(Attempt {
                    at: now(),
                    status_code: code,
                    status: status.clone(),
                    duration_ms: t.elapsed().as_millis() as u64,
                    fresh_connection: fresh,
                });
                last = (code, status);
                if !retry {
                    break;
                }
            }
            last
        }
    };
    let ms = started.elapsed().as_millis() as u64;
    let mut st = inner.st.lock().unwrap();
    if let Some(rec) = st.deliveries.iter_mut().find(|x| x.id == id) {
        rec.status_code = code;
        rec.status = status;
        rec.duration_ms = Some(ms);
        rec.delivered_at = Some(now());
        rec.attempts = attempts;
    }
    drop(st);
    inner.persist();
}

impl Inner {
    /// Sends `event` on repository `full`: `action` first, then `parts` in
    /// order (`("issue", …)`, `("comment", …)`), as GitHub lays out a payload.
    pub fn emit_action<'k>(
        &self,
        event: &str,
        full: &str,
        action: &str,
        sender: &str,
        parts: impl IntoIterator<Item = (&'k str, Value)>,
    ) {
        let mut m = Map::new();
        m.insert("action".into(), json!(action));
        m.extend(parts.into_iter().map(|(k, v)| (k.to_string(), v)));
        self.emit(event, Some(full), sender, m);
    }

    /// Records a delivery of `event` and queues it. `payload` gets `installation`
    /// (and `repository` and `sender` when given) added, as GitHub does for App webhooks.
    pub fn emit(
        &self,
        event: &str,
        repo: Option<&str>,
        sender: &str,
        mut payload: Map<String, Value>,
    ) {
        let mut st = self.st.lock().unwrap();
        if let Some(full) = repo {
            if let Some(r) = st.repos.get(full) {
                let db = super::git::default_branch(&self.bare(full));
                // A payload may bring its own repository shape (push does).
                payload
                    .entry("repository")
                    .or_insert_with(|| super::shapes::repo(&self.base, &st, r, &db, None));
                let owner = st.account(&r.owner);
                if owner.kind == "Organization" {
                    payload.insert(
                        "organization".into(),
                        super::shapes::organization(&self.base, &owner),
                    );
                }
            }
        }
        payload.insert(
            "sender".into(),
            super::shapes::user_by_login(&self.base, &st, sender),
        );
        let inst = st.installation_id;
        // The `installation` event carries the full object; every other event the short one.
        payload.entry("installation").or_insert_with(
            || json!({"id": inst, "node_id": super::shapes::node_id("Installation", inst)}),
        );
        let id = st.id();
        let action = payload
            .get("action")
            .and_then(|a| a.as_str())
            .map(str::to_string);
        st.deliveries.push(Delivery {
            id,
            guid: super::auth::new_guid(),
            event: event.to_string(),
            action,
            repo: repo.map(str::to_string),
            delivered_at: None,
            status_code: None,
            status: "pending".into(),
            duration_ms: None,
            redelivery: false,
            payload: Value::Object(payload),
            attempts: vec![],
        });
        drop(st);
        let _ = self.hooks.send(id);
    }

    /// Sends delivery `id` again with the same GUID; returns the new log entry's id.
    pub fn redeliver(&self, id: u64) -> Option<u64> {
        let mut st = self.st.lock().unwrap();
        let mut d = st.deliveries.iter().find(|d| d.id == id)?.clone();
        d.id = st.id();
        d.redelivery = true;
        d.status = "pending".into();
        d.status_code = None;
        d.duration_ms = None;
        d.delivered_at = None;
        d.attempts = vec![];
        let new = d.id;
        st.deliveries.push(d);
        drop(st);
        let _ = self.hooks.send(new);
        Some(new)
    }
}
