//! What people and prflow say on a pull request: reviews and their inline
//! comments, conversation comments, the one status comment per run, reactions.

use http::Method;
use serde_json::json;

use super::super::body;
use super::super::client::RepoClient;
use super::super::error::GithubError;
use super::super::types::*;
use super::{normalize_newlines, Change};

impl RepoClient {
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
        let wanted = body::with_marker(body, marker);
        // The create may have landed: look again before resending.
        self.again_if_ambiguous(|| self.ensure_status_comment_once(issue, marker, &wanted))
            .await
    }

    /// The comment holding `marker` on `issue` rewritten to `body`, when there is
    /// one; `None` (and nothing written) when there is none. For a comment that
    /// only some runs have, such as a phase's conflict comment.
    pub async fn rewrite_status_comment(
        &self,
        issue: u64,
        marker: &str,
        body: &str,
    ) -> Result<Option<Comment>, GithubError> {
        let wanted = body::with_marker(body, marker);
        let existing = self
            .list_comments(issue)
            .await?
            .into_iter()
            .find(|c| c.body.contains(marker));
        let Some(existing) = existing else {
            return Ok(None);
        };
        let (c, _) = self
            .write_status_comment(issue, Some(existing), &wanted)
            .await?;
        self.gh
            .remember_comment(&self.repo, issue, marker, Some(&c));
        Ok(Some(c))
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
}
