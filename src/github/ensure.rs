//! Repository operations. Every write is an *ensure*: read the current
//! state first, write only what differs, and report what changed. Replaying
//! any step (a retried webhook, a re-run after a crash) is therefore
//! harmless and, when nothing changed, costs no write call at all.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::client::{enc, enc_path, enc_query, CheckMemo, RepoClient};
use super::error::GithubError;
use super::types::*;

/// Annotations GitHub accepts per check-run request.
pub const ANNOTATION_BATCH: usize = 50;

/// What an ensure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Already as wanted: no write was made.
    Unchanged,
    Created,
    Updated,
}

#[derive(Deserialize)]
struct RawRef {
    object: RawRefObject,
}
#[derive(Deserialize)]
struct RawRefObject {
    sha: String,
}

impl RepoClient {
    // ---- repository ------------------------------------------------------

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

    // ---- refs ------------------------------------------------------------

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

    // ---- pull requests ---------------------------------------------------

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
    /// one read and no write.
    pub async fn ensure_pull(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(Pull, Change), GithubError> {
        let open = self.list_pulls("open", Some(head)).await?;
        if let Some(existing) = open.into_iter().next() {
            return self
                .update_pull_if_changed(existing, base, title, body)
                .await;
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current: MergedPull = self.gh.get_json(&path).await?;
            if current.merged {
                return Ok(current.merge_commit_sha.unwrap_or_default());
            }
            match self
                .merge_once(&path, expected_head_sha, method, commit_title)
                .await
            {
                // The merge may have happened: the next read tells.
                Err(e) if is_ambiguous(&e) && attempt < self.gh.max_attempts() => {
                    self.gh.ambiguous_backoff(attempt).await;
                }
                other => return other,
            }
        }
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

    /// Submitted reviews of a pull, oldest first.
    pub async fn list_reviews(&self, number: u64) -> Result<Vec<Review>, GithubError> {
        let raw: Vec<RawReview> = self
            .gh
            .get_all(&self.path(&format!("/pulls/{number}/reviews")), None)
            .await?;
        Ok(raw.into_iter().filter_map(RawReview::into_review).collect())
    }

    /// Inline comments of one review (path, line, text): the feedback a
    /// revision gets.
    pub async fn review_comments(
        &self,
        number: u64,
        review_id: u64,
    ) -> Result<Vec<ReviewComment>, GithubError> {
        let raw: Vec<RawReviewComment> = self
            .gh
            .get_all(&self.path(&format!("/pulls/{number}/comments")), None)
            .await?;
        Ok(raw
            .into_iter()
            .map(ReviewComment::from)
            .filter(|c| c.review_id == Some(review_id))
            .collect())
    }

    // ---- comments --------------------------------------------------------

    /// Conversation comments on an issue or pull request, oldest first.
    pub async fn list_comments(&self, issue: u64) -> Result<Vec<Comment>, GithubError> {
        let raw: Vec<RawComment> = self
            .gh
            .get_all(&self.path(&format!("/issues/{issue}/comments")), None)
            .await?;
        Ok(raw.into_iter().map(Comment::from).collect())
    }

    /// Post a new comment (replies such as `help`; for the living status
    /// comment use [`RepoClient::ensure_status_comment`]).
    pub async fn create_comment(&self, issue: u64, body: &str) -> Result<Comment, GithubError> {
        let raw: RawComment = self
            .gh
            .send_json(
                Method::POST,
                &self.path(&format!("/issues/{issue}/comments")),
                &json!({"body": body}),
            )
            .await?;
        Ok(raw.into())
    }

    /// The one comment holding `marker` on `issue`, with `body` (the marker
    /// is appended when `body` lacks it): created once, then edited in place
    /// only when the text changed. Never a second comment.
    pub async fn ensure_status_comment(
        &self,
        issue: u64,
        marker: &str,
        body: &str,
    ) -> Result<(Comment, Change), GithubError> {
        let wanted = super::body::with_marker(body, marker);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .ensure_status_comment_once(issue, marker, &wanted)
                .await
            {
                Err(e) if is_ambiguous(&e) && attempt < self.gh.max_attempts() => {
                    // The create may have landed: look again before resending.
                    self.gh.ambiguous_backoff(attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn ensure_status_comment_once(
        &self,
        issue: u64,
        marker: &str,
        wanted: &str,
    ) -> Result<(Comment, Change), GithubError> {
        loop {
            let cached = self.gh.known_comment(&self.repo, issue, marker);
            let from_cache = cached.is_some();
            let existing = match cached {
                Some(c) => Some(c),
                None => self
                    .list_comments(issue)
                    .await?
                    .into_iter()
                    .find(|c| c.body.contains(marker)),
            };
            let result = self.write_status_comment(issue, existing, wanted).await;
            match &result {
                Ok((c, _)) => self.gh.remember_comment(&self.repo, issue, marker, Some(c)),
                Err(_) => self.gh.remember_comment(&self.repo, issue, marker, None),
            }
            // Our comment was deleted since we last saw it: look again.
            if from_cache && matches!(result, Err(GithubError::NotFound { .. })) {
                continue;
            }
            return result;
        }
    }

    async fn write_status_comment(
        &self,
        issue: u64,
        existing: Option<Comment>,
        wanted: &str,
    ) -> Result<(Comment, Change), GithubError> {
        if let Some(existing) = existing {
            if normalize_newlines(&existing.body) == normalize_newlines(wanted) {
                return Ok((existing, Change::Unchanged));
            }
            let raw: RawComment = self
                .gh
                .send_json(
                    Method::PATCH,
                    &self.path(&format!("/issues/comments/{}", existing.id)),
                    &json!({"body": wanted}),
                )
                .await?;
            return Ok((raw.into(), Change::Updated));
        }
        let raw: RawComment = self
            .gh
            .send_json_once(
                Method::POST,
                &self.path(&format!("/issues/{issue}/comments")),
                &json!({"body": wanted}),
            )
            .await?;
        Ok((raw.into(), Change::Created))
    }

    /// React to an issue or pull-request comment (acknowledges a command).
    /// GitHub answers 200 for a reaction that already exists, so this is
    /// idempotent without a read.
    pub async fn add_reaction(
        &self,
        comment_id: u64,
        reaction: Reaction,
    ) -> Result<(), GithubError> {
        self.gh
            .request(
                Method::POST,
                &self.path(&format!("/issues/comments/{comment_id}/reactions")),
                Some(&json!({"content": reaction.as_str()})),
            )
            .await?;
        Ok(())
    }

    // ---- people ----------------------------------------------------------

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

    // ---- checks and statuses ----------------------------------------------

    /// Check runs on `sha`, optionally only those named `name`.
    pub async fn list_check_runs(
        &self,
        sha: &str,
        name: Option<&str>,
    ) -> Result<Vec<CheckRun>, GithubError> {
        let mut path = self.path(&format!("/commits/{}/check-runs", enc_path(sha)));
        if let Some(n) = name {
            path.push_str(&format!("?check_name={}", enc_query(n)));
        }
        let raw: Vec<RawCheckRun> = self.gh.get_all(&path, Some("check_runs")).await?;
        let runs: Vec<CheckRun> = raw
            .into_iter()
            .map(CheckRun::from)
            .filter(|c| name.is_none_or(|n| c.name == n))
            .collect();
        if name.is_none() {
            // A full listing also serves the ensure_check_run calls that follow.
            self.gh
                .remember_checks(&self.repo, sha, CheckMemo::Listed(&runs));
        }
        Ok(runs)
    }

    /// Make the check run `spec.name` on `spec.head_sha` show `spec`.
    ///
    /// Reads the latest run of that name first and writes nothing when it
    /// already matches. Annotations go 50 per request (create, then PATCH
    /// with the rest). When the token cannot write checks (403), the result
    /// becomes a commit status with the same context name, and the
    /// repository is remembered so later gates go there directly.
    pub async fn ensure_check_run(
        &self,
        spec: &CheckRunSpec,
    ) -> Result<(GateReport, Change), GithubError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ensure_check_run_once(spec).await {
                // A create or an annotation batch may have landed: read
                // again (a half-annotated run is then replaced, never
                // annotated twice).
                Err(e) if is_ambiguous(&e) && attempt < self.gh.max_attempts() => {
                    self.gh.ambiguous_backoff(attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn ensure_check_run_once(
        &self,
        spec: &CheckRunSpec,
    ) -> Result<(GateReport, Change), GithubError> {
        if self.gh.checks_forbidden(&self.repo) {
            return self.status_fallback(spec).await;
        }
        loop {
            let known = self.gh.known_checks(&self.repo, &spec.head_sha);
            let from_cache = known.is_some();
            let known = match known {
                Some(k) => k,
                None => {
                    // One listing serves every gate of this commit.
                    match self.list_check_runs(&spec.head_sha, None).await {
                        Ok(runs) => {
                            self.gh.remember_checks(
                                &self.repo,
                                &spec.head_sha,
                                CheckMemo::Listed(&runs),
                            );
                            self.gh
                                .known_checks(&self.repo, &spec.head_sha)
                                .unwrap_or_default()
                        }
                        Err(GithubError::Forbidden { .. }) => {
                            self.gh.set_checks_forbidden(&self.repo);
                            return self.status_fallback(spec).await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let existing = known.get(&spec.name).cloned();
            let result = self.write_check_run(spec, existing).await;
            match &result {
                Ok((GateReport::CheckRun(run), _)) => {
                    self.gh
                        .remember_checks(&self.repo, &spec.head_sha, CheckMemo::Wrote(run))
                }
                Ok(_) => {}
                Err(_) => self
                    .gh
                    .remember_checks(&self.repo, &spec.head_sha, CheckMemo::Forget),
            }
            // A run we remembered is gone: look again.
            if from_cache && matches!(result, Err(GithubError::NotFound { .. })) {
                continue;
            }
            return result;
        }
    }

    async fn write_check_run(
        &self,
        spec: &CheckRunSpec,
        existing: Option<CheckRun>,
    ) -> Result<(GateReport, Change), GithubError> {
        if let Some(run) = &existing {
            if check_matches(run, spec) {
                return Ok((GateReport::CheckRun(run.clone()), Change::Unchanged));
            }
        }
        let batches: Vec<&[Annotation]> =
            spec.output.annotations.chunks(ANNOTATION_BATCH).collect();
        let first = batches.first().copied().unwrap_or(&[]);
        let reuse = existing.filter(|run| {
            // A completed run going back to queued is a re-run: a new run
            // keeps the history. Annotations only ever append, so new ones
            // on a run that has some need a new run too.
            let rerun =
                run.status == CheckStatus::Completed && spec.status != CheckStatus::Completed;
            let more_annotations = run.annotations_count > 0 && !spec.output.annotations.is_empty();
            !rerun && !more_annotations
        });
        let (mut run, change) = match reuse {
            Some(run) => {
                let body = check_body(spec, first, false);
                let path = self.path(&format!("/check-runs/{}", run.id));
                // Annotations append: a PATCH carrying some is sent once.
                let raw: RawCheckRun = if first.is_empty() {
                    self.gh.send_json(Method::PATCH, &path, &body).await?
                } else {
                    self.gh.send_json_once(Method::PATCH, &path, &body).await?
                };
                (CheckRun::from(raw), Change::Updated)
            }
            None => {
                let body = check_body(spec, first, true);
                match self
                    .gh
                    .send_json_once::<RawCheckRun>(Method::POST, &self.path("/check-runs"), &body)
                    .await
                {
                    Ok(raw) => (CheckRun::from(raw), Change::Created),
                    Err(GithubError::Forbidden { .. }) => {
                        self.gh.set_checks_forbidden(&self.repo);
                        return self.status_fallback(spec).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        for batch in batches.iter().skip(1) {
            let body = json!({"output": output_json(&spec.output, batch)});
            let raw: RawCheckRun = self
                .gh
                .send_json_once(
                    Method::PATCH,
                    &self.path(&format!("/check-runs/{}", run.id)),
                    &body,
                )
                .await?;
            run = raw.into();
        }
        Ok((GateReport::CheckRun(run), change))
    }

    async fn status_fallback(
        &self,
        spec: &CheckRunSpec,
    ) -> Result<(GateReport, Change), GithubError> {
        let (state, description) = status_for(spec);
        let status = CommitStatus {
            context: spec.name.clone(),
            state,
            description: Some(description),
            target_url: spec.details_url.clone(),
        };
        let change = self.ensure_status(&spec.head_sha, &status).await?;
        Ok((GateReport::Status(status), change))
    }

    /// Make the latest status of `status.context` on `sha` be `status`.
    pub async fn ensure_status(
        &self,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<Change, GithubError> {
        let current = match self.combined_status(sha).await {
            Ok(c) => c.statuses,
            // No statuses yet can answer 404 on some servers.
            Err(GithubError::NotFound { .. }) => vec![],
            Err(e) => return Err(e),
        };
        let description = status.description.as_deref().map(truncate_description);
        if let Some(cur) = current.iter().find(|s| s.context == status.context) {
            if cur.state == status.state
                && cur.description.as_deref().unwrap_or("") == description.as_deref().unwrap_or("")
                && (status.target_url.is_none() || cur.target_url == status.target_url)
            {
                return Ok(Change::Unchanged);
            }
        }
        let mut body = Map::new();
        body.insert("state".into(), json!(status.state.as_str()));
        body.insert("context".into(), json!(status.context));
        if let Some(d) = description {
            body.insert("description".into(), json!(d));
        }
        if let Some(u) = &status.target_url {
            body.insert("target_url".into(), json!(u));
        }
        let change = if current.iter().any(|s| s.context == status.context) {
            Change::Updated
        } else {
            Change::Created
        };
        self.gh
            .request(
                Method::POST,
                &self.path(&format!("/statuses/{}", enc_path(sha))),
                Some(&Value::Object(body)),
            )
            .await?;
        Ok(change)
    }

    /// The combined status of `git_ref`: overall state and the latest
    /// status of each context.
    pub async fn combined_status(&self, git_ref: &str) -> Result<CombinedStatus, GithubError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            state: String,
            #[serde(default)]
            sha: String,
            #[serde(default)]
            statuses: Vec<RawStatus>,
        }
        let raw: Raw = self
            .gh
            .get_json(&self.path(&format!("/commits/{}/status", enc_path(git_ref))))
            .await?;
        Ok(CombinedStatus {
            state: StatusState::parse(&raw.state).unwrap_or(StatusState::Pending),
            sha: raw.sha,
            statuses: raw.statuses.into_iter().map(CommitStatus::from).collect(),
        })
    }

    /// The latest result of every gate (check runs, and commit statuses
    /// written as a fallback) on `sha` whose name starts with `prefix`
    /// (`"prflow/"`). When both exist for a name, the check run wins.
    pub async fn gate_results(
        &self,
        sha: &str,
        prefix: &str,
    ) -> Result<BTreeMap<String, GateOutcome>, GithubError> {
        let mut out = BTreeMap::new();
        if !self.gh.checks_forbidden(&self.repo) {
            match self.list_check_runs(sha, None).await {
                Ok(runs) => {
                    // Latest run per name: ids grow with time.
                    let mut latest: BTreeMap<String, CheckRun> = BTreeMap::new();
                    for run in runs.into_iter().filter(|r| r.name.starts_with(prefix)) {
                        if latest.get(&run.name).is_none_or(|l| l.id < run.id) {
                            latest.insert(run.name.clone(), run);
                        }
                    }
                    for (name, run) in latest {
                        out.insert(
                            name,
                            GateOutcome {
                                status: run.status,
                                conclusion: run.conclusion,
                                summary: run.title.unwrap_or_default(),
                            },
                        );
                    }
                }
                Err(GithubError::Forbidden { .. }) => self.gh.set_checks_forbidden(&self.repo),
                Err(e) => return Err(e),
            }
        }
        let statuses = match self.combined_status(sha).await {
            Ok(c) => c.statuses,
            Err(GithubError::NotFound { .. }) => vec![],
            Err(e) => return Err(e),
        };
        for s in statuses
            .into_iter()
            .filter(|s| s.context.starts_with(prefix))
        {
            out.entry(s.context.clone())
                .or_insert_with(|| outcome_of_status(&s));
        }
        Ok(out)
    }

    /// True once a check-run create was refused here and gates go to statuses.
    pub fn uses_status_fallback(&self) -> bool {
        self.gh.checks_forbidden(&self.repo)
    }

    // ---- dispatch ----------------------------------------------------------

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

/// A failure after which a write may or may not have been applied.
fn is_ambiguous(e: &GithubError) -> bool {
    matches!(
        e,
        GithubError::Server { .. } | GithubError::Transport { .. }
    )
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

fn is_not_fast_forward(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("fast forward") || m.contains("fast-forward")
}

fn mentions_existing_pull(message: &str, errors: &[String]) -> bool {
    std::iter::once(message)
        .chain(errors.iter().map(String::as_str))
        .any(|m| m.to_ascii_lowercase().contains("already exists"))
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

fn check_matches(run: &CheckRun, spec: &CheckRunSpec) -> bool {
    let title_wanted = (!spec.output.title.is_empty()).then_some(spec.output.title.as_str());
    let summary_wanted = (!spec.output.title.is_empty()).then_some(spec.output.summary.as_str());
    run.status == spec.status
        && (spec.status != CheckStatus::Completed || run.conclusion == spec.conclusion)
        && run.title.as_deref().filter(|s| !s.is_empty()) == title_wanted
        && (summary_wanted.is_none()
            || run.summary.as_deref().map(normalize_newlines)
                == summary_wanted.map(normalize_newlines))
        && run
            .text
            .as_deref()
            .map(normalize_newlines)
            .filter(|t| !t.is_empty())
            == spec
                .output
                .text
                .as_deref()
                .map(normalize_newlines)
                .filter(|t| !t.is_empty())
        && run.annotations_count == spec.output.annotations.len() as u64
}

fn output_json(out: &CheckOutput, annotations: &[Annotation]) -> Value {
    let mut o = Map::new();
    o.insert("title".into(), json!(out.title));
    o.insert("summary".into(), json!(out.summary));
    if let Some(t) = &out.text {
        o.insert("text".into(), json!(t));
    }
    if !annotations.is_empty() {
        o.insert("annotations".into(), json!(annotations));
    }
    Value::Object(o)
}

fn check_body(spec: &CheckRunSpec, annotations: &[Annotation], create: bool) -> Value {
    let mut b = Map::new();
    if create {
        b.insert("name".into(), json!(spec.name));
        b.insert("head_sha".into(), json!(spec.head_sha));
    }
    b.insert("status".into(), json!(spec.status.as_str()));
    if spec.status == CheckStatus::Completed {
        let conclusion = spec.conclusion.unwrap_or(Conclusion::Neutral);
        b.insert("conclusion".into(), json!(conclusion.as_str()));
    }
    if let Some(u) = &spec.details_url {
        b.insert("details_url".into(), json!(u));
    }
    if let Some(x) = &spec.external_id {
        b.insert("external_id".into(), json!(x));
    }
    if !spec.output.title.is_empty() {
        b.insert("output".into(), output_json(&spec.output, annotations));
    }
    Value::Object(b)
}

/// The commit status standing in for a check run. A gate that did not
/// measure anything (`neutral`, `skipped`) is not reported as plain
/// success: its description starts with the conclusion and the reason.
fn status_for(spec: &CheckRunSpec) -> (StatusState, String) {
    let title = spec.output.title.trim();
    match spec.status {
        CheckStatus::Queued => (StatusState::Pending, "queued".into()),
        CheckStatus::InProgress => (
            StatusState::Pending,
            if title.is_empty() {
                "in progress".into()
            } else {
                format!("in progress: {title}")
            },
        ),
        CheckStatus::Completed => {
            let c = spec.conclusion.unwrap_or(Conclusion::Neutral);
            let state = match c {
                Conclusion::Success | Conclusion::Neutral | Conclusion::Skipped => {
                    StatusState::Success
                }
                Conclusion::Failure | Conclusion::TimedOut | Conclusion::ActionRequired => {
                    StatusState::Failure
                }
                Conclusion::Cancelled => StatusState::Error,
            };
            let description = if title.is_empty() {
                c.as_str().to_string()
            } else {
                format!("{}: {title}", c.as_str())
            };
            (state, description)
        }
    }
}

/// Read back what [`status_for`] wrote.
fn outcome_of_status(s: &CommitStatus) -> GateOutcome {
    let d = s.description.clone().unwrap_or_default();
    let (status, conclusion) = match s.state {
        StatusState::Pending => (
            if d.starts_with("queued") {
                CheckStatus::Queued
            } else {
                CheckStatus::InProgress
            },
            None,
        ),
        StatusState::Success => {
            let c = if d.starts_with("neutral") {
                Conclusion::Neutral
            } else if d.starts_with("skipped") {
                Conclusion::Skipped
            } else {
                Conclusion::Success
            };
            (CheckStatus::Completed, Some(c))
        }
        StatusState::Failure => (
            CheckStatus::Completed,
            Some(if d.starts_with("timed_out") {
                Conclusion::TimedOut
            } else {
                Conclusion::Failure
            }),
        ),
        StatusState::Error => (CheckStatus::Completed, Some(Conclusion::Cancelled)),
    };
    GateOutcome {
        status,
        conclusion,
        summary: d,
    }
}

/// GitHub keeps at most 140 characters of a status description.
fn truncate_description(s: &str) -> String {
    if s.chars().count() <= 140 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(139).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(status: CheckStatus, conclusion: Option<Conclusion>, n: usize) -> CheckRunSpec {
        CheckRunSpec {
            name: "prflow/unit-tests".into(),
            head_sha: "abc".into(),
            status,
            conclusion,
            output: CheckOutput {
                title: "3 failures".into(),
                summary: "sum".into(),
                text: None,
                annotations: (0..n)
                    .map(|i| Annotation {
                        path: "src/a.rs".into(),
                        start_line: i as u64 + 1,
                        end_line: i as u64 + 1,
                        annotation_level: AnnotationLevel::Warning,
                        message: format!("m{i}"),
                        title: None,
                    })
                    .collect(),
            },
            details_url: None,
            external_id: None,
        }
    }

    #[test]
    fn status_fallback_never_hides_a_skip() {
        let (state, d) = status_for(&spec(CheckStatus::Completed, Some(Conclusion::Skipped), 0));
        assert_eq!(state, StatusState::Success);
        assert!(d.starts_with("skipped: "), "{d}");
        let (state, _) = status_for(&spec(CheckStatus::Completed, Some(Conclusion::Failure), 0));
        assert_eq!(state, StatusState::Failure);
        let (state, _) = status_for(&spec(CheckStatus::Queued, None, 0));
        assert_eq!(state, StatusState::Pending);
    }

    #[test]
    fn check_body_batches_are_at_most_fifty() {
        let s = spec(CheckStatus::Completed, Some(Conclusion::Failure), 120);
        let batches: Vec<_> = s.output.annotations.chunks(ANNOTATION_BATCH).collect();
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![50, 50, 20]
        );
        let body = check_body(&s, batches[0], true);
        assert_eq!(body["output"]["annotations"].as_array().unwrap().len(), 50);
        assert_eq!(body["conclusion"], "failure");
        assert_eq!(body["name"], "prflow/unit-tests");
    }

    #[test]
    fn matching_compares_what_github_returns() {
        let s = spec(CheckStatus::Completed, Some(Conclusion::Success), 2);
        let mut run = CheckRun {
            id: 1,
            name: s.name.clone(),
            head_sha: "abc".into(),
            status: CheckStatus::Completed,
            conclusion: Some(Conclusion::Success),
            title: Some("3 failures".into()),
            summary: Some("sum\n".into()),
            text: None,
            annotations_count: 2,
            html_url: None,
            external_id: None,
        };
        assert!(check_matches(&run, &s));
        run.annotations_count = 1;
        assert!(!check_matches(&run, &s));
        run.annotations_count = 2;
        run.conclusion = Some(Conclusion::Failure);
        assert!(!check_matches(&run, &s));
    }

    #[test]
    fn fallback_statuses_read_back_as_the_same_conclusion() {
        for c in [
            Conclusion::Success,
            Conclusion::Failure,
            Conclusion::Neutral,
            Conclusion::Skipped,
            Conclusion::TimedOut,
            Conclusion::Cancelled,
        ] {
            let s = spec(CheckStatus::Completed, Some(c), 0);
            let (state, description) = status_for(&s);
            let back = outcome_of_status(&CommitStatus {
                context: s.name.clone(),
                state,
                description: Some(description),
                target_url: None,
            });
            assert_eq!(back.conclusion, Some(c));
            assert_eq!(back.status, CheckStatus::Completed);
        }
        let (state, description) = status_for(&spec(CheckStatus::Queued, None, 0));
        let back = outcome_of_status(&CommitStatus {
            context: "x".into(),
            state,
            description: Some(description),
            target_url: None,
        });
        assert_eq!((back.status, back.conclusion), (CheckStatus::Queued, None));
    }

    #[test]
    fn descriptions_are_cut_to_140() {
        let long = "x".repeat(300);
        assert_eq!(truncate_description(&long).chars().count(), 140);
        assert_eq!(truncate_description("short"), "short");
    }
}
