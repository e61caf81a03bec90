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

/// `/{owner}/{name}.git/{rest}` → (`owner/name`, `/rest`). Like GitHub, the
/// URL without `.git` works too (`/{owner}/{name}/info/refs`, `…/git-upload-pack`).
pub fn split(path: &str) -> Option<(String, String)> {
    let p = path.trim_start_matches('/');
    if let Some(idx) = p
        .find(".git/")
        .or_else(|| p.strip_suffix(".git").map(|s| s.len()))
    {
        let full = &p[..idx];
        let rest = p.get(idx + 4..).unwrap_or("");
        if full.matches('/').count() != 1 {
            return None;
        }
        return Some((full.to_string(), rest.to_string()));
    }
    let mut parts = p.splitn(3, '/');
    let (o, r, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let git_path = ["info/refs", "git-upload-pack", "git-receive-pack", "HEAD"].contains(&rest)
        || rest.starts_with("objects/");
    (git_path && !o.is_empty() && !r.is_empty()).then(|| (format!("{o}/{r}"), format!("/{rest}")))
}

/// Serves one git request (the router's fallback sends every `*.git/…` path here).
pub async fn serve(
    inner: Arc<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
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
                let lv = auth::level(&auth::role(&st, &full, l));
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
    // Fetch answers (packs) are streamed; push answers are tiny and read whole so
    // the ref changes are applied before the client hears back.
    let stream = !push;
    let resp = match cgi(
        &inner, &full, &rest, &method, &uri, &headers, &login, body, stream,
    )
    .await
    {
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
            // Before answering, so the pusher sees the REST view already updated.
            let _ = tokio::task::spawn_blocking(move || {
                inner.after_ref_changes(&full, &login, &changes)
            })
            .await;
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
    body: Body,
    stream: bool,
) -> anyhow::Result<Response> {
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
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
        .env("REMOTE_USER", login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &inner.git_root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if !h("content-length").is_empty() {
        cmd.env("CONTENT_LENGTH", h("content-length"));
    }
    if !h("content-encoding").is_empty() {
        cmd.env("HTTP_CONTENT_ENCODING", h("content-encoding"));
    }
    if !h("git-protocol").is_empty() {
        cmd.env("GIT_PROTOCOL", h("git-protocol"));
        cmd.env("HTTP_GIT_PROTOCOL", h("git-protocol"));
    }
    let mut child = cmd.spawn()?;
    // The request body goes to the CGI's stdin as it arrives.
    let mut stdin = child.stdin.take().expect("piped stdin");
    tokio::spawn(async move {
        let mut chunks = body.into_data_stream();
        while let Some(Ok(chunk)) = chunks.next().await {
            if stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    // CGI: headers, a blank line, the body.
    let mut raw = Vec::new();
    let (end, sep) = loop {
        let mut buf = [0u8; 8192];
        let n = stdout.read(&mut buf).await?;
        if n == 0 {
            anyhow::bail!("git http-backend answered without CGI headers");
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break (i, 4);
        }
        if let Some(i) = raw.windows(2).position(|w| w == b"\n\n") {
            break (i, 2);
        }
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let first = raw[end + sep..].to_vec();
    let body = if stream {
        let chunks = futures::stream::unfold(
            (stdout, Some(first), child),
            |(mut out, first, child)| async move {
                if let Some(f) = first.filter(|f| !f.is_empty()) {
                    return Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from(f)),
                        (out, None, child),
                    ));
                }
                let mut buf = vec![0u8; 64 * 1024];
                match out.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(bytes::Bytes::from(buf)), (out, None, child)))
                    }
                    Err(e) => Some((Err(e), (out, None, child))),
                }
            },
        );
        Body::from_stream(chunks)
    } else {
        let mut all = first;
        stdout.read_to_end(&mut all).await?;
        child.wait().await?;
        Body::from(all)
    };
    let mut resp = Response::new(body);
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
