//! The simulator's web pages, served at the `html_url` of every object the REST
//! API hands out: a repository, its pull requests and issues, a pull request's
//! conversation, files changed and checks, a check run, a commit, a comparison,
//! a file, a person and the App. Pages are rendered on the server from the
//! simulator's state with minijinja, styled after GitHub, and need nothing from
//! the network: the stylesheet, a small script and Mermaid are in the binary.
//!
//! Acting from a page (comment, review with inline comments, merge) goes
//! through the REST router itself with the chosen person's token (see
//! `actions.rs`), so authorization, validation and webhooks are the API's.

mod actions;
mod assets;
pub mod diff;
mod manifest;
pub mod markdown;
mod pages;
pub mod session;

use super::Inner;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

/// What every page handler gets.
#[derive(Clone)]
pub struct Web {
    pub inner: Arc<Inner>,
    pub sessions: Arc<session::Sessions>,
    /// App manifests waiting for their code's conversion: code → (manifest, Unix time).
    pub manifests: Arc<std::sync::Mutex<std::collections::HashMap<String, (Value, i64)>>>,
}

/// The pages and form actions, to merge into the simulator's router.
pub fn routes(inner: Arc<Inner>) -> Router<Arc<Inner>> {
    let web = Web {
        inner,
        sessions: Arc::new(session::Sessions::default()),
        manifests: Arc::default(),
    };
    Router::new()
        .route("/_sim/assets/{name}", get(assets::serve))
        .route("/_sim/web/session", post(actions::pick_user))
        .route("/avatars/{login}", get(assets::avatar))
        .route("/settings/apps/new", post(manifest::new_app))
        .route("/settings/apps/new/create", post(manifest::create))
        .route(
            "/organizations/{org}/settings/apps/new",
            post(manifest::new_org_app),
        )
        .route(
            "/organizations/{org}/settings/apps/new/create",
            post(manifest::create),
        )
        .route(
            "/app-manifests/{code}/conversions",
            post(manifest::conversion),
        )
        .route("/apps/{slug}", get(pages::app))
        .route("/settings/installations/{id}", get(pages::installation))
        .route("/{owner}", get(pages::user))
        .route("/{owner}/{repo}", get(pages::repo))
        .route("/{owner}/{repo}/branches", get(pages::branches))
        .route("/{owner}/{repo}/pulls", get(pages::pulls))
        .route("/{owner}/{repo}/issues", get(pages::issues))
        .route("/{owner}/{repo}/issues/{n}", get(pages::issue))
        .route(
            "/{owner}/{repo}/issues/{n}/comments",
            post(actions::comment),
        )
        .route("/{owner}/{repo}/pull/{n}", get(pages::pull))
        .route("/{owner}/{repo}/pull/{n}/files", get(pages::files))
        .route("/{owner}/{repo}/pull/{n}/checks", get(pages::checks))
        .route("/{owner}/{repo}/pull/{n}/reviews", post(actions::review))
        .route("/{owner}/{repo}/pull/{n}/merge", post(actions::merge))
        .route("/{owner}/{repo}/runs/{id}", get(pages::run))
        .route("/{owner}/{repo}/commit/{sha}", get(pages::commit))
        .route("/{owner}/{repo}/compare/{*spec}", get(pages::compare))
        .route("/{owner}/{repo}/blob/{rev}/{*path}", get(pages::blob))
        .route("/{owner}/{repo}/raw/{rev}/{*path}", get(pages::raw))
        .with_state(web)
}

/// The templates, compiled once.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // minijinja's HTML escaping also writes `/` as `&#x2f;`; GitHub's pages
        // (and people reading the source) have plain slashes in paths and URLs.
        e.set_formatter(|out, state, value| {
            if state.auto_escape() != minijinja::AutoEscape::None && !value.is_safe() {
                if let Some(s) = value.as_str() {
                    out.write_str(&markdown::escape(s))?;
                    return Ok(());
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        for (name, src) in [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("repo.html", include_str!("templates/repo.html")),
            ("list.html", include_str!("templates/list.html")),
            ("pull.html", include_str!("templates/pull.html")),
            ("files.html", include_str!("templates/files.html")),
            ("checks.html", include_str!("templates/checks.html")),
            ("issue.html", include_str!("templates/issue.html")),
            ("diff.html", include_str!("templates/diff.html")),
            ("simple.html", include_str!("templates/simple.html")),
        ] {
            e.add_template(name, src)
                .unwrap_or_else(|err| panic!("template {name}: {err:#}"));
        }
        e
    })
}

/// Renders `template` with `ctx` plus what the layout needs (who acts, the people to pick from).
pub fn render(
    web: &Web,
    headers: &HeaderMap,
    path: &str,
    template: &str,
    mut ctx: Value,
) -> Response {
    let me = web.sessions.get(headers);
    let users: Vec<String> = {
        let st = web.inner.st.lock().unwrap();
        st.accounts
            .values()
            .filter(|a| a.kind == "User")
            .map(|a| a.login.clone())
            .collect()
    };
    ctx["me"] = json!(me.as_ref().map(|s| s.login.clone()));
    ctx["csrf"] = json!(me.as_ref().map(|s| s.csrf.clone()));
    ctx["users"] = json!(users);
    ctx["path"] = json!(path);
    let out = env()
        .get_template(template)
        .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
    match out {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("prflow sim: page {template} failed to render: {e:#}"),
        )
            .into_response(),
    }
}

/// GitHub's plain 404 page.
pub fn not_found(web: &Web, headers: &HeaderMap, path: &str) -> Response {
    let mut r = render(
        web,
        headers,
        path,
        "simple.html",
        json!({"title": "Page not found", "heading": "404", "text": format!("There is nothing at {path} in this simulator.")}),
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// A `303 See Other` to a page of this simulator.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}
