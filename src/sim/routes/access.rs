//! The preamble of every repository route, once: who is calling (the actor the API
//! middleware authenticated), which repository the path names (`{owner}/{repo}`), and
//! whether the caller may do what the handler does there — GitHub's 404 for a
//! repository the caller cannot see, 403 for a permission it lacks.
//!
//! A handler states what it needs in its signature, `RepoAccess<WriteIssues>`, and
//! starts with the check done.

use super::super::auth::Actor;
use super::super::http::{ApiError, ApiResult};
use super::super::Inner;
use super::{authorize, full};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// What a handler needs of the caller on the repository: one of GitHub's App
/// permissions (`contents`, `pull_requests`, `issues`, `checks`, `statuses`,
/// `actions`, `metadata`, `administration`; a person's role stands for them) and
/// whether it writes.
pub trait Need {
    const PERMISSION: &'static str;
    const WRITE: bool;
    /// Taking part: a person needs only read access (see [`participate`]).
    const TAKE_PART: bool = false;
}

macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident = $permission:literal, $write:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Need for $name {
            const PERMISSION: &'static str = $permission;
            const WRITE: bool = $write;
        }
    )*};
}

needs! {
    /// `metadata: read`: anyone who can see the repository.
    ReadMetadata = "metadata", false;
    ReadContents = "contents", false;
    WriteContents = "contents", true;
    ReadPulls = "pull_requests", false;
    WritePulls = "pull_requests", true;
    ReadIssues = "issues", false;
    WriteIssues = "issues", true;
    ReadChecks = "checks", false;
    WriteChecks = "checks", true;
    ReadStatuses = "statuses", false;
    WriteStatuses = "statuses", true;
    WriteActions = "actions", true;
    WriteAdministration = "administration", true;
}

/// Opening issues, commenting and reviewing: `issues` / `pull_requests`, read
/// access for people, write for installations ([`participate`]).
pub struct TakePartIssues;
impl Need for TakePartIssues {
    const PERMISSION: &'static str = "issues";
    const WRITE: bool = true;
    const TAKE_PART: bool = true;
}
pub struct TakePartPulls;
impl Need for TakePartPulls {
    const PERMISSION: &'static str = "pull_requests";
    const WRITE: bool = true;
    const TAKE_PART: bool = true;
}

/// Read access for people (on GitHub anyone who can see a repository may open
/// issues, comment and review), write for installations.
pub fn participate(inner: &Inner, a: &Actor, f: &str, perm: &str) -> ApiResult<()> {
    authorize(inner, a, f, perm, !matches!(a, Actor::Person(_)))
}

/// The authenticated caller, allowed `N` on the repository of the request's path.
pub struct RepoAccess<N> {
    pub actor: Actor,
    /// `owner/name`.
    pub full: String,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<Arc<Inner>> for RepoAccess<N> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        inner: &Arc<Inner>,
    ) -> Result<Self, Self::Rejection> {
        let actor =
            parts.extensions.get::<Actor>().cloned().ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "Requires authentication")
            })?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, inner)
            .await
            .map_err(|_| ApiError::not_found())?;
        let (Some(owner), Some(repo)) = (params.get("owner"), params.get("repo")) else {
            return Err(ApiError::not_found());
        };
        let full = full(owner, repo);
        if N::TAKE_PART {
            participate(inner, &actor, &full, N::PERMISSION)?;
        } else {
            authorize(inner, &actor, &full, N::PERMISSION, N::WRITE)?;
        }
        Ok(RepoAccess {
            actor,
            full,
            need: PhantomData,
        })
    }
}
