//! Who may do what on a repository: a collaborator's role
//! (`PUT …/collaborators/{user}`) and `GET …/collaborators/{user}/permission`.
//! The roles feed `authorize`, git pushes and the `permissions` of repository objects.

use super::super::auth::{self, Actor};
use super::super::http::{no_content, ok, parse_body, ApiError, ApiResult};
use super::super::shapes;
use super::super::Inner;
use super::access::{ReadMetadata, RepoAccess, WriteAdministration};
use super::S;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/collaborators/{user}",
            put(set_collaborator),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{user}/permission",
            get(permission),
        )
}

/// REST's names (`pull`, `push`) → role names.
fn role_of(permission: &str) -> Option<&'static str> {
    match permission {
        "pull" | "read" => Some("read"),
        "triage" => Some("triage"),
        "push" | "write" => Some("write"),
        "maintain" => Some("maintain"),
        "admin" => Some("admin"),
        _ => None,
    }
}

/// `PUT …/collaborators/{user}` `{"permission": "pull|triage|push|maintain|admin"}`
/// (default `push`), admin only. The person gets the role at once (204): the
/// simulator has no invitations to accept.
async fn set_collaborator(
    State(inner): S,
    Path((_, _, user)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteAdministration>,
    body: bytes::Bytes,
) -> ApiResult {
    if let Actor::Person(l) = &actor {
        if auth::role(&inner.st.lock().unwrap(), &f, l) != "admin" {
            return Err(ApiError::forbidden("Must have admin rights to Repository."));
        }
    }
    let b = parse_body(&body)?;
    let asked = b["permission"].as_str().unwrap_or("push");
    let role = role_of(asked).ok_or_else(|| {
        ApiError::invalid(&format!(
            "permission {asked:?} is not one of pull, triage, push, maintain, admin"
        ))
    })?;
    let mut st = inner.st.lock().unwrap();
    if st.accounts.get(&user).is_none_or(|x| x.kind != "User") {
        return Err(ApiError::not_found());
    }
    if let Some(rp) = st.repos.get_mut(&f) {
        rp.collaborators.insert(user, role.to_string());
    }
    no_content()
}

/// GitHub's answer: `permission` in the old four words (maintain → write,
/// triage → read), `role_name` the role itself.
async fn permission(
    State(inner): S,
    Path((_, _, user)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadMetadata>,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let acct = st
        .accounts
        .get(&user)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let role = auth::role(&st, &f, &user);
    let old = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    let mut u = shapes::user(&inner.base, &acct);
    u["permissions"] = auth::role_permissions(&role);
    u["role_name"] = json!(role);
    ok(json!({"permission": old, "role_name": role, "user": u}))
}
