//! Webhook deliveries: signature verification over the raw body and
//! parsing into [`WebhookEvent`]s.
//!
//! Verification is HMAC-SHA256 of the exact bytes received, compared in
//! constant time against every configured secret (several during a secret
//! rotation). Parsing is lenient (GitHub's real payloads are older than its
//! schemas): only the fields prflow uses are read, each optional unless
//! the event is meaningless without it ([`parse`], over the shapes in [`payload`]).

mod parse;
mod payload;

pub use parse::{parse_event, ParseError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::events::*;

/// `X-Hub-Signature-256`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// `X-GitHub-Event`.
pub const EVENT_HEADER: &str = "x-github-event";
/// `X-GitHub-Delivery`.
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// Why a delivery's signature was refused. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header: the delivery is unsigned (set the webhook secret in the App or repository settings)")]
    Missing,
    #[error("X-Hub-Signature-256 is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match any configured webhook secret (WEBHOOK_SECRET)")]
    Mismatch,
    #[error("no webhook secret is configured; refusing every delivery")]
    NoSecret,
}

/// Check `header` (`sha256=<hex>`) against HMAC-SHA256(secret, body) for
/// each secret. Every secret is tried (no early exit), so timing does not
/// reveal which one matched or how many there are.
pub fn verify_signature(
    secrets: &[String],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    // `verify_slice` compares in constant time; `|` (not `||`) tries every secret.
    let mut matched = false;
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        matched |= mac.verify_slice(&given).is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` for `body` under `secret`: what GitHub sends, and what
/// the simulator and tests sign with.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    )
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The three headers every delivery carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeaders {
    /// `X-GitHub-Event`: `pull_request_review`, `issue_comment`, …
    pub event: String,
    /// `X-GitHub-Delivery`: a GUID, the same on redelivery.
    pub delivery_id: String,
    /// `X-Hub-Signature-256`, if sent.
    pub signature: Option<String>,
}

impl DeliveryHeaders {
    /// Read the headers; a missing event or delivery id is a 400.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Self, Rejection> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(DeliveryHeaders {
            event: get(EVENT_HEADER).ok_or(Rejection::MissingHeader("X-GitHub-Event"))?,
            delivery_id: get(DELIVERY_HEADER)
                .ok_or(Rejection::MissingHeader("X-GitHub-Delivery"))?,
            signature: get(SIGNATURE_HEADER),
        })
    }
}

/// Why a delivery is refused, with the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("{0}")]
    Parse(#[from] ParseError),
}

impl Rejection {
    /// 401 for signatures (nothing may be queued), 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Signature(_) => 401,
            Rejection::MissingHeader(_) | Rejection::Parse(_) => 400,
        }
    }
}

/// What a webhook endpoint does with one request, in order: read the
/// headers, verify the signature over the raw body, parse. `Ok((headers,
/// None))` = a valid delivery prflow ignores.
pub fn verify_and_parse(
    secrets: &[String],
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(DeliveryHeaders, Option<WebhookEvent>), Rejection> {
    // Signature first: an unsigned request learns nothing, not even
    // which header it forgot.
    verify_signature(
        secrets,
        body,
        headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()),
    )?;
    let h = DeliveryHeaders::from_headers(headers)?;
    let event = parse_event(&h.event, &h.delivery_id, body)?;
    Ok((h, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_accepts_any_configured_secret() {
        let body = br#"{"zen":"hi"}"#;
        let secrets = vec!["old".to_string(), "new".to_string()];
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("new", body))),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("old", body))),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("other", body))),
            Err(SignatureError::Mismatch)
        );
        // One byte changed in the body.
        assert_eq!(
            verify_signature(&secrets, br#"{"zen":"ho"}"#, Some(&sign("new", body))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signature_header_shapes() {
        let s = vec!["k".to_string()];
        assert_eq!(
            verify_signature(&s, b"x", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha1=abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha256=abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&[], b"x", Some(&sign("k", b"x"))),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(
            verify_signature(&[String::new()], b"x", Some(&sign("", b"x"))),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn github_documented_example() {
        // From GitHub's "Validating webhook deliveries" page.
        let sig = sign("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            sig,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn endpoint_rejections_carry_their_status() {
        let secrets = vec!["s".to_string()];
        let body = br#"{"zen":"z","hook_id":1}"#;
        let mut h = http::HeaderMap::new();
        assert_eq!(
            verify_and_parse(&secrets, &h, body).unwrap_err().status(),
            401
        );
        h.insert(SIGNATURE_HEADER, sign("s", body).parse().unwrap());
        let e = verify_and_parse(&secrets, &h, body).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string().as_str()),
            (400, "missing X-GitHub-Event header")
        );
        h.insert(EVENT_HEADER, "ping".parse().unwrap());
        h.insert(DELIVERY_HEADER, "guid-1".parse().unwrap());
        let (d, ev) = verify_and_parse(&secrets, &h, body).unwrap();
        assert_eq!(d.delivery_id, "guid-1");
        assert!(matches!(ev, Some(WebhookEvent::Ping { .. })));
        let bad = b"{oops";
        h.insert(SIGNATURE_HEADER, sign("s", bad).parse().unwrap());
        assert_eq!(
            verify_and_parse(&secrets, &h, bad).unwrap_err().status(),
            400
        );
    }
}
