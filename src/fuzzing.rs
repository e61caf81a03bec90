//! The entry points the `fuzz/` targets drive (cargo-fuzz, docs/security.md).
//!
//! Each function takes the bytes an attacker controls and runs them through the same
//! code a user's input takes, so a crash found here is a crash in prflow. Hidden from
//! the docs: not an API, only a door for the fuzzer that keeps internals private.

use crate::agents::template::pack::{self, Origin, Source};
use std::collections::BTreeMap;
use std::path::Path;

/// A workflow file, as `prflow validate` reads it: parsed and validated as JSON and
/// as YAML, then summarized and planned when valid.
pub fn workflow(text: &str) {
    for name in ["wf.json", "wf.yaml"] {
        if let Ok(loaded) = crate::workflow::parse(Path::new(name), text) {
            let _ = crate::cli::validate::summary(&loaded);
            let _ = crate::workflow::plan::plan(&loaded.workflow);
        }
    }
}

/// A webhook delivery: the first line is `X-GitHub-Event`, the second
/// `X-GitHub-Delivery`, the rest the body; signed with the service's secret so the
/// parse runs, then once more unsigned (which must be refused).
pub fn webhook(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let event = parts.next().unwrap_or_default();
    let delivery = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let secret = "fuzz-secret".to_string();
    let mut headers = http::HeaderMap::new();
    for (name, value) in [("x-github-event", event), ("x-github-delivery", delivery)] {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    let unsigned =
        crate::github::webhook::verify_and_parse(std::slice::from_ref(&secret), &headers, body);
    assert!(unsigned.is_err(), "an unsigned delivery was accepted");
    let signature = crate::github::webhook::sign(&secret, body);
    headers.insert(
        "x-hub-signature-256",
        http::HeaderValue::from_str(&signature).expect("hex is a header value"),
    );
    let _ = crate::github::webhook::verify_and_parse(&[secret], &headers, body);
}

/// A comment's body, read for `/prflow` commands.
pub fn comment_commands(body: &str) {
    let _ = crate::github::commands::parse_commands(body);
}

/// A commit message, read for its `Prflow-*` trailers.
pub fn trailers(message: &str) {
    let _ = crate::gitops::trailers::parse(message);
}

/// A repository pack's `pack.yaml` (the folder is named as the manifest says, so a
/// valid manifest gets past the name check), with one template file beside it.
pub fn pack_manifest(text: &[u8]) {
    let folder = String::from_utf8_lossy(text)
        .lines()
        .find_map(|l| l.strip_prefix("name:").map(|n| n.trim().to_string()))
        .unwrap_or_else(|| "fuzz".into());
    let mut sources = BTreeMap::new();
    for (name, bytes) in [
        ("pack.yaml", text),
        ("file.j2", b"{{ task.id }}".as_slice()),
    ] {
        sources.insert(
            name.to_string(),
            Source {
                bytes: bytes.to_vec(),
                executable: false,
            },
        );
    }
    let _ = pack::load_pack(
        &folder,
        Origin::Repo("/fuzz/.prflow/templates".into()),
        sources,
    );
}
