//! GitHub's JSON, read leniently (every field the engine does not need is
//! optional), and its conversion into the types the rest of prflow sees.

use serde::Deserialize;

use super::*;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawUser {
    #[serde(default)]
    pub login: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawTeam {
    #[serde(default)]
    pub slug: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRepoRef {
    #[serde(default)]
    pub full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawBranch {
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub repo: Option<RawRepoRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawPull {
    pub number: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub head: RawBranch,
    #[serde(default)]
    pub base: RawBranch,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub requested_reviewers: Vec<RawUser>,
    #[serde(default)]
    pub requested_teams: Vec<RawTeam>,
    #[serde(default)]
    pub labels: Vec<RawLabel>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLabel {
    #[serde(default)]
    pub name: String,
}

impl From<RawPull> for Pull {
    fn from(r: RawPull) -> Self {
        Pull {
            number: r.number,
            title: r.title.unwrap_or_default(),
            head_ref: r.head.git_ref,
            head_sha: r.head.sha,
            head_repo: r.head.repo.and_then(|x| x.full_name),
            base_ref: r.base.git_ref,
            state: r.state.unwrap_or_else(|| "open".into()),
            merged: r.merged.unwrap_or(false) || r.merged_at.is_some(),
            draft: r.draft.unwrap_or(false),
            html_url: r.html_url.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            user: r.user.map(|u| u.login).unwrap_or_default(),
            requested_reviewers: r.requested_reviewers.into_iter().map(|u| u.login).collect(),
            requested_teams: r.requested_teams.into_iter().map(|t| t.slug).collect(),
            labels: r.labels.into_iter().map(|l| l.name).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawReview {
    pub id: u64,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<serde_json::Value>,
}

impl RawReview {
    pub fn into_review(self) -> Option<Review> {
        Some(Review {
            id: self.id,
            user: self.user.map(|u| u.login).unwrap_or_default(),
            state: ReviewState::parse(&self.state)?,
            commit_id: self.commit_id.unwrap_or_default(),
            body: self.body.unwrap_or_default(),
            submitted_at: self.submitted_at.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawReviewComment {
    pub id: u64,
    #[serde(default)]
    pub pull_request_review_id: Option<u64>,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub original_line: Option<u64>,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub diff_hunk: Option<String>,
}

impl From<RawReviewComment> for ReviewComment {
    fn from(r: RawReviewComment) -> Self {
        ReviewComment {
            id: r.id,
            review_id: r.pull_request_review_id,
            user: r.user.map(|u| u.login).unwrap_or_default(),
            path: r.path,
            line: r.line,
            original_line: r.original_line,
            commit_id: r.commit_id.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            diff_hunk: r.diff_hunk.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawComment {
    pub id: u64,
    #[serde(default)]
    pub user: Option<RawUser>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl From<RawComment> for Comment {
    fn from(r: RawComment) -> Self {
        Comment {
            id: r.id,
            user: r.user.map(|u| u.login).unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            html_url: r.html_url.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCheckOutput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub annotations_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawCheckRun {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub output: Option<RawCheckOutput>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

impl From<RawCheckRun> for CheckRun {
    fn from(r: RawCheckRun) -> Self {
        let out = r.output.unwrap_or_default();
        CheckRun {
            id: r.id,
            name: r.name,
            head_sha: r.head_sha,
            status: CheckStatus::parse(&r.status).unwrap_or(CheckStatus::Queued),
            conclusion: r.conclusion.as_deref().and_then(Conclusion::parse),
            title: out.title,
            summary: out.summary,
            text: out.text,
            annotations_count: out.annotations_count.unwrap_or(0),
            html_url: r.html_url,
            external_id: r.external_id.filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawStatus {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

impl From<RawStatus> for CommitStatus {
    fn from(r: RawStatus) -> Self {
        CommitStatus {
            context: r.context,
            state: StatusState::parse(&r.state).unwrap_or(StatusState::Error),
            description: r.description,
            target_url: r.target_url,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRepo {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub clone_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl From<RawRepo> for RepoInfo {
    fn from(r: RawRepo) -> Self {
        RepoInfo {
            full_name: r.full_name,
            default_branch: r.default_branch.unwrap_or_else(|| "main".into()),
            private: r.private,
            fork: r.fork,
            clone_url: r.clone_url,
            html_url: r.html_url,
        }
    }
}
