//! Branches: read a tip, move it only forward (never forced), delete.

use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::client::{enc_path, RepoClient};
use super::super::error::GithubError;
use super::super::types::*;

#[derive(Deserialize)]
struct RawRef {
    object: RawRefObject,
}
#[derive(Deserialize)]
struct RawRefObject {
    sha: String,
}

impl RepoClient {
    /// The sha `branch` points at, or `None` when it does not exist.
    pub async fn get_branch_sha(&self, branch: &str) -> Result<Option<String>, GithubError> {
        let path = self.path(&format!("/git/ref/heads/{}", enc_path(branch)));
        match self.gh.get_opt::<Value>(&path).await? {
            // A prefix match answers with an array of refs: not this branch.
            Some(v) if v.is_array() => Ok(None),
            Some(v) => {
                let r: RawRef = serde_json::from_value(v).map_err(|e| GithubError::Decode {
                    request: format!("GET {path}"),
                    message: e.to_string(),
                })?;
                Ok(Some(r.object.sha))
            }
            None => Ok(None),
        }
    }

    /// Make `branch` point at `sha`: create it, or fast-forward it. Never
    /// forces: when the branch holds a commit that `sha` does not contain,
    /// this fails with [`GithubError::NotFastForward`].
    pub async fn ensure_branch(&self, branch: &str, sha: &str) -> Result<RefUpdate, GithubError> {
        let current = self.get_branch_sha(branch).await?;
        match current {
            Some(cur) if cur == sha => Ok(RefUpdate::Unchanged),
            None => {
                let path = self.path("/git/refs");
                let body = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
                match self.gh.request(Method::POST, &path, Some(&body)).await {
                    Ok(_) => Ok(RefUpdate::Created),
                    // Created meanwhile (a concurrent run, or our own earlier
                    // attempt whose answer was lost): treat as an update.
                    Err(GithubError::Validation { message, .. })
                        if message.to_ascii_lowercase().contains("already exists") =>
                    {
                        Box::pin(self.ensure_branch(branch, sha)).await
                    }
                    Err(e) => Err(e),
                }
            }
            Some(cur) => {
                let path = self.path(&format!("/git/refs/heads/{}", enc_path(branch)));
                let body = json!({"sha": sha, "force": false});
                match self.gh.request(Method::PATCH, &path, Some(&body)).await {
                    Ok(_) => Ok(RefUpdate::FastForwarded),
                    Err(GithubError::Validation { message, .. })
                    | Err(GithubError::Conflict { message, .. })
                        if is_not_fast_forward(&message) =>
                    {
                        Err(GithubError::NotFastForward {
                            branch: branch.to_string(),
                            current: cur,
                            wanted: sha.to_string(),
                        })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Delete `branch`. `false` when it did not exist.
    pub async fn delete_branch(&self, branch: &str) -> Result<bool, GithubError> {
        let path = self.path(&format!("/git/refs/heads/{}", enc_path(branch)));
        match self.gh.request(Method::DELETE, &path, None).await {
            Ok(_) => Ok(true),
            Err(GithubError::NotFound { .. }) => Ok(false),
            Err(GithubError::Validation { message, .. })
                if message.to_ascii_lowercase().contains("does not exist") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

fn is_not_fast_forward(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("fast forward") || m.contains("fast-forward")
}
