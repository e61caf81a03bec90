//! Pull requests: find, open or update one per phase, close, reopen, merge,
//! request reviewers, label.

use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::super::client::{enc_query, RepoClient};
use super::super::error::GithubError;
use super::super::types::*;
use super::{normalize_newlines, Change};

impl RepoClient {
    /// One pull request.
    pub async fn get_pull(&self, number: u64) -> Result<Pull, GithubError> {
        let raw: RawPull = self
            .gh
            .get_json(&self.path(&format!("/pulls/{number}")))
            .await?;
        Ok(raw.into())
    }

    /// Pull requests in `state` (`open`, `closed`, `all`), optionally only
    /// those from branch `head` of this repository.
    pub async fn list_pulls(
        &self,
        state: &str,
        head: Option<&str>,
    ) -> Result<Vec<Pull>, GithubError> {
        let mut path = self.path(&format!("/pulls?state={}", enc_query(state)));
        if let Some(h) = head {
            path.push_str(&format!(
                "&head={}",
                enc_query(&format!("{}:{h}", self.repo.owner))
            ));
        }
        let raw: Vec<RawPull> = self.gh.get_all(&path, None).await?;
        let own = self.repo.to_string();
        Ok(raw
            .into_iter()
            .map(Pull::from)
            // Filter again: a server may ignore `head`, and a fork can use
            // the same branch name.
            .filter(|p| {
                head.is_none_or(|h| {
                    p.head_ref == h
                        && p.head_repo
                            .as_deref()
                            .is_none_or(|r| r.eq_ignore_ascii_case(&own))
                })
            })
            .filter(|p| state == "all" || p.state == state)
            .collect())
    }

    /// The open pull request from `head`, creating it with `base`, `title`
    /// and `body` when there is none; an existing one gets only the fields
    /// that differ patched. The second call with the same arguments makes
    /// one read and no write. A merged PR from `head` with none open is returned as
    /// it is: prflow never opens a second PR for a branch a person landed.
    pub async fn ensure_pull(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(Pull, Change), GithubError> {
        let all = self.list_pulls("all", Some(head)).await?;
        if let Some(existing) = all.iter().find(|p| p.is_open()) {
            return self
                .update_pull_if_changed(existing.clone(), base, title, body)
                .await;
        }
        // A person landed the branch (perhaps between the caller's read and this
        // call): the merged PR is the answer; a second PR would repeat its changes.
        if let Some(merged) = all
            .into_iter()
            .max_by_key(|p| p.number)
            .filter(|p| p.merged)
        {
            return Ok((merged, Change::Unchanged));
        }
        let path = self.path("/pulls");
        let payload = json!({"title": title, "head": head, "base": base, "body": body});
        match self
            .gh
            .send_json::<RawPull>(Method::POST, &path, &payload)
            .await
        {
            Ok(raw) => Ok((raw.into(), Change::Created)),
            Err(GithubError::Validation {
                message, errors, ..
            }) if mentions_existing_pull(&message, &errors) => {
                // Created by an earlier attempt whose answer was lost.
                let open = self.list_pulls("open", Some(head)).await?;
                match open.into_iter().next() {
                    Some(existing) => {
                        self.update_pull_if_changed(existing, base, title, body)
                            .await
                    }
                    None => Err(GithubError::Validation {
                        request: format!("POST {path}"),
                        message,
                        errors,
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update_pull_if_changed(
        &self,
        existing: Pull,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(Pull, Change), GithubError> {
        let mut patch = Map::new();
        if existing.base_ref != base {
            patch.insert("base".into(), json!(base));
        }
        if existing.title != title {
            patch.insert("title".into(), json!(title));
        }
        if normalize_newlines(&existing.body) != normalize_newlines(body) {
            patch.insert("body".into(), json!(body));
        }
        if patch.is_empty() {
            return Ok((existing, Change::Unchanged));
        }
        let path = self.path(&format!("/pulls/{}", existing.number));
        let raw: RawPull = self
            .gh
            .send_json(Method::PATCH, &path, &Value::Object(patch))
            .await?;
        Ok((raw.into(), Change::Updated))
    }

    /// Close a pull request without merging. `Unchanged` if already closed.
    pub async fn close_pull(&self, number: u64) -> Result<Change, GithubError> {
        let pull = self.get_pull(number).await?;
        if !pull.is_open() {
            return Ok(Change::Unchanged);
        }
        let path = self.path(&format!("/pulls/{number}"));
        self.gh
            .request(Method::PATCH, &path, Some(&json!({"state": "closed"})))
            .await?;
        Ok(Change::Updated)
    }

    /// Reopen a closed, unmerged pull request. `Unchanged` if it is open.
    pub async fn reopen_pull(&self, number: u64) -> Result<Change, GithubError> {
        let pull = self.get_pull(number).await?;
        if pull.is_open() {
            return Ok(Change::Unchanged);
        }
        let path = self.path(&format!("/pulls/{number}"));
        self.gh
            .request(Method::PATCH, &path, Some(&json!({"state": "open"})))
            .await?;
        Ok(Change::Updated)
    }

    /// Merge a pull request, only if its head is still `expected_head_sha`
    /// (when given). Returns the merge commit sha; an already merged pull
    /// returns its merge sha without a write.
    pub async fn merge_pull(
        &self,
        number: u64,
        expected_head_sha: Option<&str>,
        method: MergeMethod,
        commit_title: Option<&str>,
    ) -> Result<String, GithubError> {
        #[derive(Deserialize)]
        struct MergedPull {
            #[serde(default)]
            merged: bool,
            #[serde(default)]
            merge_commit_sha: Option<String>,
        }
        let path = self.path(&format!("/pulls/{number}"));
        // The merge may have happened: the next read tells.
        self.again_if_ambiguous(|| async {
            let current: MergedPull = self.gh.get_json(&path).await?;
            if current.merged {
                return Ok(current.merge_commit_sha.unwrap_or_default());
            }
            self.merge_once(&path, expected_head_sha, method, commit_title)
                .await
        })
        .await
    }

    async fn merge_once(
        &self,
        path: &str,
        expected_head_sha: Option<&str>,
        method: MergeMethod,
        commit_title: Option<&str>,
    ) -> Result<String, GithubError> {
        #[derive(Deserialize)]
        struct MergeResult {
            #[serde(default)]
            sha: String,
        }
        let mut body = Map::new();
        body.insert("merge_method".into(), json!(method.as_str()));
        if let Some(sha) = expected_head_sha {
            body.insert("sha".into(), json!(sha));
        }
        if let Some(t) = commit_title {
            body.insert("commit_title".into(), json!(t));
        }
        let r: MergeResult = self
            .gh
            .send_json_once(Method::PUT, &format!("{path}/merge"), &Value::Object(body))
            .await?;
        Ok(r.sha)
    }

    /// Request reviews from `reviewers` (`login` or `org/team`) that are not
    /// requested yet and have not reviewed the pull's current head. The
    /// pull's author is skipped (GitHub refuses it). Returns who was newly
    /// requested; empty = no write.
    pub async fn request_reviewers(
        &self,
        number: u64,
        reviewers: &[String],
    ) -> Result<Vec<String>, GithubError> {
        let pull = self.get_pull(number).await?;
        self.request_reviewers_on(&pull, reviewers, None).await
    }

    /// [`RepoClient::request_reviewers`] from a pull you already hold (such
    /// as `ensure_pull`'s answer) and, when you know them, its reviews
    /// (`Some(&[])` for a pull created just now): each saves a read.
    pub async fn request_reviewers_on(
        &self,
        pull: &Pull,
        reviewers: &[String],
        reviews: Option<&[Review]>,
    ) -> Result<Vec<String>, GithubError> {
        let number = pull.number;
        let mut users: Vec<String> = Vec::new();
        let mut teams: Vec<String> = Vec::new();
        let mut requested: Vec<String> = Vec::new();
        for r in reviewers {
            let missing = match r.split_once('/') {
                Some((_org, team)) => {
                    let new = !pull
                        .requested_teams
                        .iter()
                        .chain(&teams)
                        .any(|t| t.eq_ignore_ascii_case(team));
                    if new {
                        teams.push(team.to_string());
                    }
                    new
                }
                None => {
                    let new = !r.eq_ignore_ascii_case(&pull.user)
                        && !pull
                            .requested_reviewers
                            .iter()
                            .chain(&users)
                            .any(|u| u.eq_ignore_ascii_case(r));
                    if new {
                        users.push(r.clone());
                    }
                    new
                }
            };
            if missing {
                requested.push(r.clone());
            }
        }
        if !users.is_empty() {
            // GitHub drops a reviewer from the requested list once they
            // review. Someone who already reviewed the current head needs
            // no new request; after new commits they get one again.
            let fetched;
            let reviews = match reviews {
                Some(r) => r,
                None => {
                    fetched = self.list_reviews(number).await?;
                    &fetched[..]
                }
            };
            let done = |u: &String| {
                reviews.iter().any(|r| {
                    r.user.eq_ignore_ascii_case(u)
                        && r.commit_id == pull.head_sha
                        && r.state != ReviewState::Pending
                })
            };
            users.retain(|u| !done(u));
            requested.retain(|r| r.contains('/') || users.contains(r));
        }
        if requested.is_empty() {
            return Ok(vec![]);
        }
        let path = self.path(&format!("/pulls/{number}/requested_reviewers"));
        let mut body = Map::new();
        if !users.is_empty() {
            body.insert("reviewers".into(), json!(users));
        }
        if !teams.is_empty() {
            body.insert("team_reviewers".into(), json!(teams));
        }
        self.gh
            .request(Method::POST, &path, Some(&Value::Object(body)))
            .await?;
        Ok(requested)
    }

    /// Add the labels the pull does not carry yet (creating them on the
    /// repository as GitHub does). Empty result = no write.
    pub async fn ensure_labels(
        &self,
        number: u64,
        labels: &[String],
    ) -> Result<Vec<String>, GithubError> {
        let pull = self.get_pull(number).await?;
        let missing: Vec<String> = labels
            .iter()
            .filter(|l| !pull.labels.iter().any(|have| have.eq_ignore_ascii_case(l)))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(missing);
        }
        self.gh
            .request(
                Method::POST,
                &self.path(&format!("/issues/{number}/labels")),
                Some(&json!({"labels": missing})),
            )
            .await?;
        Ok(missing)
    }
}

fn mentions_existing_pull(message: &str, errors: &[String]) -> bool {
    std::iter::once(message)
        .chain(errors.iter().map(String::as_str))
        .any(|m| m.to_ascii_lowercase().contains("already exists"))
}
