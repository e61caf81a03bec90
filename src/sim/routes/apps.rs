//! The App: `GET /app`, installations, installation access tokens (scoped by
//! repositories and permissions, one hour), and `GET /rate_limit`.

use super::super::auth::{self, Actor};
use super::super::http::{created, ok, parse_body, ApiError, ApiResult};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::{unix_now, Token};
use super::super::Inner;
use super::{full, S};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/app", get(app))
        .route("/app/installations", get(installations))
        .route("/app/installations/{id}", get(installation))
        .route("/app/installations/{id}/access_tokens", post(access_token))
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route("/installation/repositories", get(installation_repos))
        .route("/rate_limit", get(rate_limit))
}

fn need_app(a: &Option<Extension<Actor>>) -> ApiResult<()> {
    match a {
        Some(Extension(Actor::App)) => Ok(()),
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded (this endpoint needs the App's JWT, not a token)",
        )),
    }
}

async fn app(State(inner): S, a: Option<Extension<Actor>>) -> ApiResult {
    need_app(&a)?;
    ok(shapes::app(&inner.base, &inner.st.lock().unwrap()))
}

async fn installations(State(inner): S, a: Option<Extension<Actor>>, paging: Paging) -> ApiResult {
    need_app(&a)?;
    paging.array(vec![shapes::installation(
        &inner.base,
        &inner.st.lock().unwrap(),
    )])
}

/// `GET /installation/repositories` (installation tokens only): the repositories
/// the token may use, `repository_selection` `selected` for a scoped token.
async fn installation_repos(
    State(inner): S,
    a: Option<Extension<Actor>>,
    paging: Paging,
) -> ApiResult {
    let Some(Extension(Actor::Installation { repos, permissions })) = a else {
        return Err(ApiError::forbidden(
            "This endpoint can only be accessed with an installation access token.",
        ));
    };
    let st = inner.st.lock().unwrap();
    let all: Vec<Value> = st
        .repos
        .values()
        .filter(|r| repos.as_ref().is_none_or(|s| s.contains(&r.full_name())))
        .map(|r| {
            let db = super::super::git::default_branch(&inner.bare(&r.full_name()));
            let perms = super::super::auth::token_permissions(&permissions);
            shapes::repo(&inner.base, &st, r, &db, Some(perms))
        })
        .collect();
    let total = all.len();
    let body = json!({
        "total_count": total,
        "repository_selection": if repos.is_some() { "selected" } else { "all" },
        "repositories": paging.slice(all),
    });
    Ok(paging.respond(total, body))
}

async fn installation(
    State(inner): S,
    a: Option<Extension<Actor>>,
    Path(id): Path<u64>,
) -> ApiResult {
    need_app(&a)?;
    let st = inner.st.lock().unwrap();
    if id != st.installation_id {
        return Err(ApiError::not_found());
    }
    ok(shapes::installation(&inner.base, &st))
}

async fn repo_installation(
    State(inner): S,
    a: Option<Extension<Actor>>,
    Path((o, r)): Path<(String, String)>,
) -> ApiResult {
    need_app(&a)?;
    let st = inner.st.lock().unwrap();
    if !st.repos.contains_key(&full(&o, &r)) {
        return Err(ApiError::not_found());
    }
    ok(shapes::installation(&inner.base, &st))
}

/// `POST /app/installations/{id}/access_tokens` with optional `repositories`
/// (names), `repository_ids` and `permissions` (each at most what the installation has).
async fn access_token(
    State(inner): S,
    a: Option<Extension<Actor>>,
    Path(id): Path<u64>,
    body: bytes::Bytes,
) -> ApiResult {
    need_app(&a)?;
    let b = parse_body(&body)?;
    let mut st = inner.st.lock().unwrap();
    if id != st.installation_id {
        return Err(ApiError::not_found());
    }
    let mut scope: Option<BTreeSet<String>> = None;
    if let Some(names) = b["repositories"].as_array() {
        let set = scope.get_or_insert_with(BTreeSet::new);
        for n in names {
            let n = n.as_str().unwrap_or("");
            let found = st
                .repos
                .values()
                .find(|r| r.name == n || r.full_name() == n);
            match found {
                Some(r) => set.insert(r.full_name()),
                None => return Err(ApiError::unprocessable(&format!("There is at least one repository that does not exist or is not accessible to the parent installation ({n})."))),
            };
        }
    }
    if let Some(ids) = b["repository_ids"].as_array() {
        let set = scope.get_or_insert_with(BTreeSet::new);
        for i in ids {
            let i = i.as_u64().unwrap_or(0);
            match st.repos.values().find(|r| r.id == i) {
                Some(r) => set.insert(r.full_name()),
                None => return Err(ApiError::unprocessable("There is at least one repository that does not exist or is not accessible to the parent installation.")),
            };
        }
    }
    let granted = auth::installation_permissions();
    let permissions = match b["permissions"].as_object() {
        None => granted.clone(),
        Some(req) => {
            let mut p = std::collections::BTreeMap::new();
            for (k, v) in req {
                let v = v.as_str().unwrap_or("");
                let have = granted.get(k).map(String::as_str).unwrap_or("none");
                if auth::level(v) == 0 || auth::level(v) > auth::level(have) {
                    return Err(ApiError::unprocessable(
                        "The permissions requested are not granted to this installation.",
                    ));
                }
                p.insert(k.clone(), v.to_string());
            }
            p
        }
    };
    let token = auth::new_token("ghs");
    let expires = unix_now() + 3600;
    let expires_at = time::OffsetDateTime::from_unix_timestamp(expires)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    st.tokens.insert(
        token.clone(),
        Token::Installation {
            repos: scope.clone(),
            permissions: permissions.clone(),
            expires_at: expires,
        },
    );
    let mut v = json!({
        "token": token, "expires_at": expires_at, "permissions": permissions,
        "repository_selection": if scope.is_some() { "selected" } else { "all" },
    });
    if let Some(s) = &scope {
        let repos: Vec<Value> = s
            .iter()
            .filter_map(|n| st.repos.get(n))
            .map(|r| {
                shapes::repo(
                    &inner.base,
                    &st,
                    r,
                    &super::super::git::default_branch(&inner.bare(&r.full_name())),
                    None,
                )
            })
            .collect();
        v["repositories"] = Value::Array(repos);
    }
    created(v)
}

async fn rate_limit(State(inner): S, a: Option<Extension<Actor>>) -> ApiResult {
    let used = match &a {
        Some(Extension(actor)) => {
            let st = inner.st.lock().unwrap();
            let key = super::bucket(actor, st.installation_id);
            st.calls.get(&key).copied().unwrap_or(0)
        }
        None => 0,
    };
    let limit = super::RATE_LIMIT;
    let reset = super::reset_at();
    let core = json!({"limit": limit, "used": used, "remaining": limit.saturating_sub(used), "reset": reset});
    let other = |l: u64| json!({"limit": l, "used": 0, "remaining": l, "reset": reset});
    ok(json!({
        "resources": {"core": core, "search": other(30), "graphql": other(5000), "integration_manifest": other(5000),
                      "code_search": other(10)},
        "rate": core,
    }))
}
