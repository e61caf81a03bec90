//! Writing git data over REST, as bots do without a clone: `PUT …/contents/{path}`
//! (one commit that adds or replaces a file on a branch) and `POST …/git/blobs`.
//! A commit made here moves the branch like a push does (webhooks, PR heads).

use super::super::git;
use super::super::http::{created, json_status, ApiError, ApiResult, JsonBody};
use super::super::shapes;
use super::super::Inner;
use super::access::{RepoAccess, WriteContents};
use super::repos::{commit_json, is_protected, open};
use super::S;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use git2::{FileMode, Oid};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new().route("/repos/{owner}/{repo}/git/blobs", post(create_blob))
}

fn b64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// `POST …/git/blobs` `{"content", "encoding": "utf-8" | "base64"}` → 201 `{url, sha}`.
async fn create_blob(
    State(inner): S,
    RepoAccess { full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let content = b["content"].as_str().ok_or_else(|| {
        ApiError::unprocessable("Invalid request.\n\n\"content\" wasn't supplied.")
    })?;
    let bytes = match b["encoding"].as_str().unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            b64(content).ok_or_else(|| ApiError::unprocessable("content is not valid Base64"))?
        }
        other => {
            return Err(ApiError::unprocessable(&format!(
                "encoding {other:?} is not supported: use utf-8 or base64"
            )))
        }
    };
    let repo = open(&inner, &f)?;
    let sha = repo
        .blob(&bytes)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    created(
        json!({"url": format!("{}/repos/{f}/git/blobs/{sha}", inner.base), "sha": sha.to_string()}),
    )
}

/// `PUT …/contents/{path}` `{"message", "content" (Base64), "sha" (to replace),
/// "branch", "committer", "author"}`: 201 for a new file, 200 for a replaced one;
/// 422 without `sha` for an existing file, 409 when `sha` is not the file's.
pub async fn put_contents(
    State(inner): S,
    Path((_, _, path)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let path = path.trim_matches('/').to_string();
    let missing =
        |k: &str| ApiError::unprocessable(&format!("Invalid request.\n\n\"{k}\" wasn't supplied."));
    let message = b["message"].as_str().ok_or_else(|| missing("message"))?;
    let content = b["content"].as_str().ok_or_else(|| missing("content"))?;
    let bytes =
        b64(content).ok_or_else(|| ApiError::unprocessable("content is not valid Base64"))?;
    let branch = b["branch"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| git::default_branch(&inner.bare(&f)));
    let login = inner.login_of(&actor);
    let refname = format!("refs/heads/{branch}");
    if is_protected(&inner, &f, &branch) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            &format!("Protected branch update failed for {refname}."),
        ));
    }
    let (tip, new, existed) = {
        let repo = open(&inner, &f)?;
        let tip = repo.refname_to_id(&refname).map_err(|_| {
            ApiError::new(StatusCode::NOT_FOUND, &format!("Branch {branch} not found"))
        })?;
        let tree = repo
            .find_commit(tip)
            .and_then(|c| c.tree())
            .map_err(|_| ApiError::not_found())?;
        let existing = tree.get_path(std::path::Path::new(&path)).ok();
        if existing
            .as_ref()
            .is_some_and(|e| e.kind() != Some(git2::ObjectType::Blob))
        {
            return Err(ApiError::unprocessable(&format!(
                "{path} is a directory, not a file"
            )));
        }
        match (&existing, b["sha"].as_str()) {
            (Some(_), None) => return Err(missing("sha")),
            (Some(e), Some(s)) if e.id().to_string() != s => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    &format!("{path} does not match {s}"),
                ))
            }
            _ => {}
        }
        let blob = repo
            .blob(&bytes)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        let mode = existing
            .as_ref()
            .map(|e| match e.filemode() {
                0o100755 => FileMode::BlobExecutable,
                0o120000 => FileMode::Link,
                _ => FileMode::Blob,
            })
            .unwrap_or(FileMode::Blob);
        let new_tree = git2::build::TreeUpdateBuilder::new()
            .upsert(&path, blob, mode)
            .create_updated(&repo, &tree)
            .map_err(|e| ApiError::unprocessable(&format!("{path}: {e}")))?;
        let person = |v: &Value| -> Option<git2::Signature<'static>> {
            git2::Signature::now(v["name"].as_str()?, v["email"].as_str()?).ok()
        };
        let default = git2::Signature::now(&login, &format!("{login}@users.noreply.sim"))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        let committer = person(&b["committer"]).unwrap_or(default);
        let author = person(&b["author"]).unwrap_or_else(|| committer.clone());
        let parent = repo.find_commit(tip).map_err(|_| ApiError::not_found())?;
        let tree = repo
            .find_tree(new_tree)
            .map_err(|_| ApiError::not_found())?;
        let new = repo
            .commit(None, &author, &committer, message, &tree, &[&parent])
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        // Moves the branch only if nobody moved it meanwhile (GitHub answers 409 then).
        repo.reference_matching(&refname, new, true, tip, "prflow sim: contents API")
            .map_err(|_| {
                ApiError::new(StatusCode::CONFLICT, &format!("{refname} moved; try again"))
            })?;
        (tip, new, existing.is_some())
    };
    let change = vec![(refname, Some(tip.to_string()), Some(new.to_string()))];
    inner.refs_moved(&f, &login, change).await;
    let repo = open(&inner, &f)?;
    let commit = commit_json(&inner, &f, &repo, new);
    let blob_sha = repo
        .find_commit(new)
        .and_then(|c| c.tree())
        .and_then(|t| t.get_path(std::path::Path::new(&path)).map(|e| e.id()))
        .unwrap_or(Oid::zero())
        .to_string();
    let base = &inner.base;
    let name = path.rsplit('/').next().unwrap_or(&path);
    let url = format!("{base}/repos/{f}/contents/{path}?ref={branch}");
    let git_url = format!("{base}/repos/{f}/git/blobs/{blob_sha}");
    let html = format!("{base}/{f}/blob/{branch}/{path}");
    let content = json!({
        "name": name, "path": path, "sha": blob_sha, "size": bytes.len(), "url": url,
        "html_url": html, "git_url": git_url, "download_url": format!("{base}/{f}/raw/{branch}/{path}"),
        "type": "file", "_links": {"self": url, "git": git_url, "html": html},
    });
    let c = &commit["commit"];
    let file_commit = json!({
        "sha": new.to_string(), "node_id": shapes::node_id("Commit", new.as_bytes()[0] as u64),
        "url": format!("{base}/repos/{f}/git/commits/{new}"), "html_url": format!("{base}/{f}/commit/{new}"),
        "author": c["author"], "committer": c["committer"], "message": message,
        "tree": c["tree"], "parents": commit["parents"],
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    });
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_status(
        status,
        json!({"content": content, "commit": file_commit}),
    ))
}
