//! The repository itself: its facts, a file at a ref, who may do what in it, and
//! the dispatches that hand work to GitHub Actions.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::client::{enc, enc_path, enc_query, RepoClient};
use super::super::error::GithubError;
use super::super::types::*;

impl RepoClient {
    /// `GET /repos/{o}/{r}`.
    pub async fn info(&self) -> Result<RepoInfo, GithubError> {
        let raw: RawRepo = self.gh.get_json(&self.path("")).await?;
        Ok(raw.into())
    }

    /// The default branch name.
    pub async fn default_branch(&self) -> Result<String, GithubError> {
        Ok(self.info().await?.default_branch)
    }

    /// A file's bytes at `git_ref` (branch, tag or sha); `None` when absent.
    pub async fn get_file(
        &self,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<FileContent>, GithubError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            path: String,
            #[serde(default)]
            sha: String,
            #[serde(default)]
            content: Option<String>,
            #[serde(default)]
            encoding: Option<String>,
            #[serde(default, rename = "type")]
            kind: Option<String>,
        }
        let mut url = self.path(&format!("/contents/{}", enc_path(path)));
        if let Some(r) = git_ref {
            url.push_str(&format!("?ref={}", enc_query(r)));
        }
        // A directory answers with an array: that is "no such file" to us.
        let Some(value) = self.gh.get_opt::<Value>(&url).await? else {
            return Ok(None);
        };
        if value.is_array() {
            return Ok(None);
        }
        let raw: Raw = serde_json::from_value(value).map_err(|e| GithubError::Decode {
            request: format!("GET {url}"),
            message: e.to_string(),
        })?;
        if raw.kind.as_deref().is_some_and(|k| k != "file") {
            return Ok(None);
        }
        let text = raw.content.unwrap_or_default();
        let content = match raw.encoding.as_deref() {
            Some("base64") | None => {
                use base64::Engine;
                let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map_err(|e| GithubError::Decode {
                        request: format!("GET {url}"),
                        message: format!("file content is not base64: {e}"),
                    })?
            }
            _ => text.into_bytes(),
        };
        Ok(Some(FileContent {
            path: raw.path,
            sha: raw.sha,
            content,
        }))
    }

    /// `user`'s permission on this repository, cached for a minute so a
    /// burst of commands costs one call. 404 (not a collaborator) = `None`.
    pub async fn permission(&self, user: &str) -> Result<Permission, GithubError> {
        if let Some(p) = self.gh.cached_permission(&self.repo, user) {
            return Ok(p);
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            permission: String,
            #[serde(default)]
            role_name: Option<String>,
        }
        let path = self.path(&format!("/collaborators/{}/permission", enc(user)));
        let p = match self.gh.get_opt::<Raw>(&path).await? {
            None => Permission::None,
            Some(raw) => {
                let by_role = raw.role_name.as_deref().map(Permission::parse);
                let by_perm = Permission::parse(&raw.permission);
                // role_name knows maintain/triage; permission is the
                // legacy coarse level. Trust the higher of the two.
                match by_role {
                    Some(r) if rank(r) > rank(by_perm) => r,
                    _ => by_perm,
                }
            }
        };
        self.gh.store_permission(&self.repo, user, p);
        Ok(p)
    }

    /// `repository_dispatch` with `event_type` (at most 100 characters) and a
    /// `client_payload` (at most 10 top-level keys).
    pub async fn repository_dispatch(
        &self,
        event_type: &str,
        client_payload: &Value,
    ) -> Result<(), GithubError> {
        if event_type.chars().count() > 100 {
            return Err(GithubError::Config(format!(
                "repository_dispatch event_type `{event_type}` is longer than GitHub's 100 characters"
            )));
        }
        if client_payload.as_object().is_some_and(|o| o.len() > 10) {
            return Err(GithubError::Config(
                "repository_dispatch client_payload has more than GitHub's 10 top-level keys"
                    .into(),
            ));
        }
        self.gh
            .request(
                Method::POST,
                &self.path("/dispatches"),
                Some(&json!({"event_type": event_type, "client_payload": client_payload})),
            )
            .await?;
        Ok(())
    }

    /// `workflow_dispatch` of `workflow` (file name or id) on `git_ref`.
    pub async fn workflow_dispatch(
        &self,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
    ) -> Result<(), GithubError> {
        self.gh
            .request(
                Method::POST,
                &self.path(&format!("/actions/workflows/{}/dispatches", enc(workflow))),
                Some(&json!({"ref": git_ref, "inputs": inputs})),
            )
            .await?;
        Ok(())
    }
}

fn rank(p: Permission) -> u8 {
    match p {
        Permission::None => 0,
        Permission::Read => 1,
        Permission::Triage => 2,
        Permission::Write => 3,
        Permission::Maintain => 4,
        Permission::Admin => 5,
    }
}
