//! What a person does from a page: pick who they are, comment, review (with
//! inline comments on diff lines), merge. Each action is the REST call GitHub's
//! own page would make, sent through the simulator's REST router in-process
//! with the chosen person's token, so it is authorized, validated, recorded and
//! announced by webhook exactly as the same call from `curl` or prflow would be.

use super::session::{same_origin, COOKIE};
use super::{render, see_other, Web};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::Response;
use axum::Form;
use serde_json::{json, Value};
use tower::ServiceExt;

type Fields = Form<Vec<(String, String)>>;

pub(super) fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Where to go after the form: its `back` field when that is a path of this
/// site (never another host), else `default`.
fn back_to(f: &[(String, String)], default: String) -> String {
    field(f, "back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .map(str::to_string)
        .unwrap_or(default)
}

/// An error page with a way back (status 403 or 422).
fn refused(
    web: &Web,
    h: &HeaderMap,
    status: StatusCode,
    what: &str,
    why: &str,
    back: &str,
) -> Response {
    let mut r = render(
        web,
        h,
        back,
        "simple.html",
        json!({"title": what, "heading": what, "text": why, "back": back}),
    );
    *r.status_mut() = status;
    r
}

/// The session of a form POST that came from this simulator's page with its CSRF token.
fn guard(
    web: &Web,
    h: &HeaderMap,
    f: &[(String, String)],
    back: &str,
) -> Result<super::session::Session, Box<Response>> {
    if !same_origin(h, &web.inner.base) {
        return Err(Box::new(refused(web, h, StatusCode::FORBIDDEN, "Refused",
            "This form must be sent from the simulator's own page (its Origin header did not match).", back)));
    }
    let Some(s) = web.sessions.get(h) else {
        return Err(Box::new(refused(
            web,
            h,
            StatusCode::FORBIDDEN,
            "Pick a user first",
            "Choose who you act as in the bar at the top of the page, then send the form again.",
            back,
        )));
    };
    if field(f, "csrf") != Some(s.csrf.as_str()) {
        return Err(Box::new(refused(
            web,
            h,
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's token does not belong to your session; reload the page and try again.",
            back,
        )));
    }
    Ok(s)
}

/// Sends one REST call through the simulator's router as `token`; the JSON
/// answer, or GitHub's error message (with its `errors`) as text.
async fn api(
    web: &Web,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("token {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "prflow-sim-web")
        .body(Body::from(body.to_string()))
        .map_err(|e| e.to_string())?;
    let resp = super::super::routes::router(web.inner.clone())
        .oneshot(req)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let mut msg = format!(
        "{status}: {}",
        v["message"].as_str().unwrap_or("no message")
    );
    for e in v["errors"].as_array().into_iter().flatten() {
        let part = e
            .as_str()
            .map(str::to_string)
            .or_else(|| e["message"].as_str().map(str::to_string));
        if let Some(p) = part {
            msg.push_str(&format!(" — {p}"));
        }
    }
    Err(msg)
}

/// Sends one REST call for the session's person: on success a redirect to
/// `to(answer)`, else the page saying `what` failed and GitHub's reason.
async fn submit(
    web: &Web,
    h: &HeaderMap,
    s: &super::session::Session,
    (method, path): (Method, &str),
    body: Value,
    (what, back): (&str, &str),
    to: impl FnOnce(&Value) -> String,
) -> Response {
    match api(web, &s.token, method, path, body).await {
        Ok(v) => see_other(&to(&v)),
        Err(e) => refused(web, h, StatusCode::UNPROCESSABLE_ENTITY, what, &e, back),
    }
}

/// `POST /_sim/web/session`: act as `login` from now on; back to the page.
pub async fn pick_user(State(web): State<Web>, h: HeaderMap, Form(f): Fields) -> Response {
    let back = back_to(&f, "/".to_string());
    if !same_origin(&h, &web.inner.base) {
        return refused(&web, &h, StatusCode::FORBIDDEN, "Refused",
            "This form must be sent from the simulator's own page (its Origin header did not match).", &back);
    }
    let login = field(&f, "login").unwrap_or("");
    match web.sessions.start(&web.inner, login) {
        Ok(id) => {
            let mut r = see_other(&back);
            let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
            if let Ok(v) = cookie.parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => refused(
            &web,
            &h,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown user",
            &e,
            &back,
        ),
    }
}

/// `POST /{o}/{r}/issues/{n}/comments`: a comment on an issue or pull request.
pub async fn comment(
    State(web): State<Web>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
    Form(f): Fields,
) -> Response {
    let back = back_to(&f, format!("/{o}/{r}/issues/{n}"));
    let s = match guard(&web, &h, &f, &back) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let body = field(&f, "body").unwrap_or("");
    submit(
        &web,
        &h,
        &s,
        (Method::POST, &format!("/repos/{o}/{r}/issues/{n}/comments")),
        json!({"body": body}),
        ("Comment not posted", &back),
        |c| format!("{back}#issuecomment-{}", c["id"]),
    )
    .await
}

/// `POST /{o}/{r}/pull/{n}/reviews`: a review (approve, request changes or
/// comment), with the inline comments the files page collected. Each inline
/// comment is a `inline` field (`path`, side and line separated by U+001F)
/// followed by its `inline_body`.
pub async fn review(
    State(web): State<Web>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
    Form(f): Fields,
) -> Response {
    let back = back_to(&f, format!("/{o}/{r}/pull/{n}"));
    let s = match guard(&web, &h, &f, &back) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut comments: Vec<Value> = vec![];
    for (k, v) in &f {
        match k.as_str() {
            "inline" => {
                let mut it = v.split('\u{1f}');
                let (Some(path), Some(side), Some(line)) = (
                    it.next(),
                    it.next(),
                    it.next().and_then(|l| l.parse::<u64>().ok()),
                ) else {
                    return refused(
                        &web,
                        &h,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Review not submitted",
                        &format!("an inline comment's place {v:?} is not PATH, SIDE and LINE"),
                        &back,
                    );
                };
                comments.push(json!({"path": path, "side": side, "line": line, "body": ""}));
            }
            "inline_body" => {
                if let Some(c) = comments.last_mut() {
                    c["body"] = json!(v);
                }
            }
            _ => {}
        }
    }
    comments.retain(|c| !c["body"].as_str().unwrap_or("").trim().is_empty());
    let event = field(&f, "event").unwrap_or("COMMENT");
    let mut body =
        json!({"event": event, "body": field(&f, "body").unwrap_or(""), "comments": comments});
    if let Some(sha) = field(&f, "commit_id").filter(|s| !s.is_empty()) {
        body["commit_id"] = json!(sha);
    }
    submit(
        &web,
        &h,
        &s,
        (Method::POST, &format!("/repos/{o}/{r}/pulls/{n}/reviews")),
        body,
        ("Review not submitted", &back),
        |rv| format!("/{o}/{r}/pull/{n}#pullrequestreview-{}", rv["id"]),
    )
    .await
}

/// `POST /{o}/{r}/pull/{n}/merge`: merge (or squash, or rebase) the pull request at the head the page showed.
pub async fn merge(
    State(web): State<Web>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
    Form(f): Fields,
) -> Response {
    let back = format!("/{o}/{r}/pull/{n}");
    let s = match guard(&web, &h, &f, &back) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let method = field(&f, "merge_method").unwrap_or("merge");
    let mut body = json!({"merge_method": method});
    if let Some(sha) = field(&f, "sha").filter(|s| !s.is_empty()) {
        body["sha"] = json!(sha);
    }
    submit(
        &web,
        &h,
        &s,
        (Method::PUT, &format!("/repos/{o}/{r}/pulls/{n}/merge")),
        body,
        ("Pull request not merged", &back),
        |_| back.clone(),
    )
    .await
}
