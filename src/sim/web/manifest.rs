//! GitHub's App manifest flow, simulated: a page at `/settings/apps/new` (or
//! `/organizations/{org}/settings/apps/new`) receives the manifest a form
//! posts, shows what will be created, and on "Create GitHub App" redirects to
//! the manifest's `redirect_url` with a one-time `code` (and the `state` it
//! was given). `POST /app-manifests/{code}/conversions` (no token, like GitHub)
//! trades the code, once and within an hour, for the App's id, private key and
//! webhook secret.
//!
//! The simulator has one App: "creating" it from a manifest points its webhooks
//! at the manifest's `hook_attributes.url` and hands out its credentials.

use super::actions::field;
use super::session::same_origin;
use super::{render, see_other, Web};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// How long a code can be converted, as on GitHub.
const CODE_LIFETIME_SECS: i64 = 3600;

/// What is wrong with a manifest, in GitHub's words where it has them.
fn check(m: &Value) -> Result<(), String> {
    for key in ["name", "url"] {
        if m[key].as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(format!("the manifest has no \"{key}\""));
        }
    }
    if m["redirect_url"].as_str().is_none() {
        return Err(
            "the manifest has no \"redirect_url\": GitHub would not know where to send the code"
                .into(),
        );
    }
    if m["hook_attributes"]["url"].as_str().is_none()
        && m["hook_attributes"]["active"] != json!(false)
    {
        return Err("\"hook_attributes.url\" is required while webhooks are active".into());
    }
    Ok(())
}

fn refused(web: &Web, h: &HeaderMap, path: &str, why: &str) -> Response {
    let mut r = render(
        web,
        h,
        path,
        "simple.html",
        json!({"title": "Invalid GitHub App manifest", "heading": "Invalid GitHub App manifest", "text": why}),
    );
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

/// `POST /settings/apps/new?state=…` (and the organisation's): the creation page.
pub async fn new_app(
    State(web): State<Web>,
    h: HeaderMap,
    uri: Uri,
    q: Query<HashMap<String, String>>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    new_app_for(web, h, uri, q.0, f, None).await
}

pub async fn new_org_app(
    State(web): State<Web>,
    Path(org): Path<String>,
    h: HeaderMap,
    uri: Uri,
    q: Query<HashMap<String, String>>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    new_app_for(web, h, uri, q.0, f, Some(org)).await
}

async fn new_app_for(
    web: Web,
    h: HeaderMap,
    uri: Uri,
    q: HashMap<String, String>,
    f: Vec<(String, String)>,
    org: Option<String>,
) -> Response {
    let path = uri.path().to_string();
    let text = field(&f, "manifest").unwrap_or("");
    let m: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return refused(
                &web,
                &h,
                &path,
                &format!("the form's \"manifest\" field is not JSON: {e}"),
            )
        }
    };
    if let Err(e) = check(&m) {
        return refused(&web, &h, &path, &e);
    }
    let owner = org
        .clone()
        .or_else(|| web.sessions.get(&h).map(|s| s.login))
        .unwrap_or_else(|| "you".into());
    let perms = m["default_permissions"].as_object().map(|o| {
        o.iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let events = m["default_events"].as_array().map(|a| {
        a.iter()
            .filter_map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    });
    let ctx = json!({"title": "Create GitHub App", "manifest_page": {
        "name": m["name"], "url": m["url"], "hook": m["hook_attributes"]["url"], "redirect": m["redirect_url"],
        "permissions": perms, "events": events, "owner": owner, "manifest": text,
        "state": q.get("state"), "action": format!("{path}/create"),
    }});
    render(&web, &h, &path, "simple.html", ctx)
}

/// `POST …/settings/apps/new/create`: "Create GitHub App" was pressed.
pub async fn create(
    State(web): State<Web>,
    h: HeaderMap,
    uri: Uri,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let path = uri.path().to_string();
    if !same_origin(&h, &web.inner.base) {
        return refused(
            &web,
            &h,
            &path,
            "this form must be sent from the simulator's own page",
        );
    }
    let m: Value = serde_json::from_str(field(&f, "manifest").unwrap_or("")).unwrap_or(Value::Null);
    if let Err(e) = check(&m) {
        return refused(&web, &h, &path, &e);
    }
    let code = super::super::auth::new_token("code").replace("code_", "");
    let redirect = m["redirect_url"].as_str().unwrap_or_default().to_string();
    web.manifests
        .lock()
        .unwrap()
        .insert(code.clone(), (m, super::super::state::unix_now()));
    let mut to = url::Url::parse(&redirect).map_err(|e| e.to_string());
    match to.as_mut() {
        Ok(u) => {
            u.query_pairs_mut().append_pair("code", &code);
            if let Some(s) = field(&f, "state").filter(|s| !s.is_empty()) {
                u.query_pairs_mut().append_pair("state", s);
            }
            see_other(u.as_str())
        }
        Err(e) => refused(
            &web,
            &h,
            &path,
            &format!("\"redirect_url\" {redirect:?} is not a URL: {e}"),
        ),
    }
}

/// `POST /app-manifests/{code}/conversions`: the App's configuration and
/// credentials, once per code.
pub async fn conversion(State(web): State<Web>, Path(code): Path<String>) -> Response {
    let found = web.manifests.lock().unwrap().remove(&code);
    let Some((m, at)) =
        found.filter(|(_, at)| super::super::state::unix_now() - at < CODE_LIFETIME_SECS)
    else {
        return super::super::http::ApiError::not_found().into_response();
    };
    let _ = at;
    let hook = m["hook_attributes"]["url"].as_str().map(str::to_string);
    let active = m["hook_attributes"]["active"] != json!(false);
    let (app, secret, pem) = {
        let mut st = web.inner.st.lock().unwrap();
        if active {
            st.webhook_url = hook.clone();
        }
        let app = super::super::shapes::app(&web.inner.base, &st);
        (app, st.webhook_secret.clone(), web.inner.key.pem.clone())
    };
    web.inner.persist();
    let mut v = app;
    v["name"] = m["name"].clone();
    v["external_url"] = m["url"].clone();
    if let Some(d) = m["description"].as_str() {
        v["description"] = json!(d);
    }
    v["client_secret"] = json!(super::super::auth::new_token("cs"));
    v["webhook_secret"] = json!(secret);
    v["pem"] = json!(pem);
    (StatusCode::CREATED, Json(v)).into_response()
}
