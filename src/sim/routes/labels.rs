//! A repository's labels: `GET …/labels` and `POST …/labels` (adding labels to an
//! issue is in `issues.rs`; an unknown name there creates the label, as on GitHub).

use super::super::http::{created, req_str, ApiError, ApiResult, JsonBody};
use super::super::paging::Paging;
use super::super::shapes;
use super::super::state::Label;
use super::super::Inner;
use super::access::{ReadIssues, RepoAccess, WriteIssues};
use super::S;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new().route("/repos/{owner}/{repo}/labels", get(list).post(create))
}

async fn list(
    State(inner): S,
    RepoAccess { full: f, .. }: RepoAccess<ReadIssues>,
    paging: Paging,
) -> ApiResult {
    let st = inner.st.lock().unwrap();
    let rp = st.repos.get(&f).ok_or_else(ApiError::not_found)?;
    let v: Vec<Value> = rp
        .labels
        .keys()
        .map(|n| shapes::label(&inner.base, rp, n))
        .collect();
    paging.array(v)
}

/// `{"name", "color" (6 hex digits, no `#`), "description"}` → 201; a name that
/// exists (case-insensitively) is GitHub's 422 `already_exists`.
async fn create(
    State(inner): S,
    RepoAccess { full: f, .. }: RepoAccess<WriteIssues>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let name = req_str(&b, "name")?.to_string();
    let color = b["color"]
        .as_str()
        .unwrap_or("ededed")
        .trim_start_matches('#')
        .to_lowercase();
    let refuse = |field: &str, code: &str| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({"message": "Validation Failed", "errors": [{"resource": "Label", "code": code, "field": field}],
                     "documentation_url": "https://docs.github.com/rest/issues/labels#create-a-label", "status": "422"}),
    };
    if name.trim().is_empty() || name.chars().count() > 50 {
        return Err(refuse("name", "invalid"));
    }
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(refuse("color", "invalid"));
    }
    let mut st = inner.st.lock().unwrap();
    let rp = st.repos.get_mut(&f).ok_or_else(ApiError::not_found)?;
    if rp.labels.keys().any(|k| k.eq_ignore_ascii_case(&name)) {
        return Err(refuse("name", "already_exists"));
    }
    rp.labels.insert(
        name.clone(),
        Label {
            color,
            description: b["description"].as_str().map(str::to_string),
        },
    );
    created(shapes::label(&inner.base, rp, &name))
}
