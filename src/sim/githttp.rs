//! Git smart HTTP at `{git_url}/{owner}/{name}.git/…` through `git http-backend`
//! (CGI). Basic auth carries a token (`x-access-token:TOKEN` or `login:TOKEN`);
//! fetching needs read access, pushing needs write. Refs moved by a push are
//! diffed before/after and fed to the REST view and webhooks.

use super::auth::{self, Actor};
use super::Inner;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

fn challenge(msg: &str) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"GitHub\""),
    );
    r
}

/// `/{owner}/{name}.git/{rest}` → (`owner/name`, `/rest`).
pub fn split(path: &str) -> Option<(String, String)> {
    let p = path.trim_start_matches('/');
    let idx = p
        .find(".git/")
        .or_else(|| p.strip_suffix(".git").map(|s| s.len()))?;
    let full = &p[..idx];
    let rest = p.get(idx + 4..).unwrap_or("");
    if full.matches('/').count() != 1 {
        return None;
    }
    Some((full.to_string(), rest.to_string()))
}

/// Serves one git request (the router's fallback sends every `*.git/…` path here).
pub async fn serve(
    inner: Arc<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let Some((full, rest)) = split(uri.path()) else {
        return super::http::ApiError::not_found().into_response();
    };
    let push = rest.ends_with("git-receive-pack")
        || uri
            .query()
            .unwrap_or("")
            .contains("service=git-receive-pack");
    // Who is it?
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(auth::token_from_header);
    let Some(token) = token else {
        return challenge("Authentication required: use x-access-token:TOKEN as the password");
    };
    let actor = {
        let st = inner.st.lock().unwrap();
        if !st.repos.contains_key(&full) {
            return (StatusCode::NOT_FOUND, "Repository not found.\n").into_response();
        }
        match auth::resolve(&st, &inner.key, &token) {
            Ok(a) => a,
            Err(_) => {
                drop(st);
                return challenge("Invalid username or token. Password authentication is not supported for Git operations.");
            }
        }
    };
    let (login, allowed) = {
        let st = inner.st.lock().unwrap();
        match &actor {
            Actor::Person(l) => {
                let lv = auth::level(&st.account(l).permission);
                (l.clone(), if push { lv >= 2 } else { lv >= 1 })
            }
            Actor::Installation { repos, permissions } => {
                let in_scope = repos.as_ref().is_none_or(|r| r.contains(&full));
                let lv = auth::level(
                    permissions
                        .get("contents")
                        .map(String::as_str)
                        .unwrap_or("none"),
                );
                (
                    super::BOT_LOGIN.to_string(),
                    in_scope && if push { lv >= 2 } else { lv >= 1 },
                )
            }
            Actor::App => (String::new(), false),
        }
    };
    if !allowed {
        let msg = format!("remote: Permission to {full}.git denied to {login}.");
        return (StatusCode::FORBIDDEN, format!("{msg}\n")).into_response();
    }
    let bare = inner.bare(&full);
    let before = if push {
        Some(super::git::refs(&bare))
    } else {
        None
    };
    let resp = match cgi(&inner, &full, &rest, &method, &uri, &headers, &login, body).await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("git http-backend failed: {e:#}\n"),
            )
                .into_response()
        }
    };
    if let Some(before) = before.filter(|_| method == Method::POST) {
        let after = super::git::refs(&bare);
        let mut changes = vec![];
        for (name, sha) in &after {
            if before.get(name) != Some(sha) {
                changes.push((name.clone(), before.get(name).cloned(), Some(sha.clone())));
            }
        }
        for (name, sha) in &before {
            if !after.contains_key(name) {
                changes.push((name.clone(), Some(sha.clone()), None));
            }
        }
        if !changes.is_empty() {
            let inner = inner.clone();
            tokio::task::spawn_blocking(move || inner.after_ref_changes(&full, &login, &changes));
        }
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn cgi(
    inner: &Inner,
    full: &str,
    rest: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    login: &str,
    body: bytes::Bytes,
) -> anyhow::Result<Response> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &inner.git_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", format!("/{full}.git{rest}"))
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", h("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &inner.git_root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !h("content-encoding").is_empty() {
        cmd.env("HTTP_CONTENT_ENCODING", h("content-encoding"));
    }
    if !h("git-protocol").is_empty() {
        cmd.env("GIT_PROTOCOL", h("git-protocol"));
        cmd.env("HTTP_GIT_PROTOCOL", h("git-protocol"));
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await?;
    let _ = writer.await;
    if !out.status.success() && out.stdout.is_empty() {
        anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    // CGI: headers, a blank line, the body.
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        anyhow::bail!("git http-backend answered without CGI headers");
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut resp = Response::new(Body::from(raw[end + sep..].to_vec()));
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            let code = v
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(200);
            *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
        } else if let (Ok(name), Ok(val)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(name, val);
        }
    }
    Ok(resp)
}
