//! Everything the simulator remembers that is not in a git repository: people,
//! tokens, issues and pulls, reviews, checks, statuses, comments, deliveries.
//!
//! One plain struct behind one mutex: the simulator is small and a single lock
//! keeps every response consistent with every webhook. With `--data DIR` the
//! struct is written to `DIR/state.json` after every change (see `persist`).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// GitHub's timestamp format (`2019-05-15T15:20:38Z`).
pub fn now() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An account: a person created with `POST /_sim/users`, a repository owner, or the App's bot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: u64,
    pub login: String,
    /// `User`, `Organization` or `Bot`.
    pub kind: String,
    /// `admin`, `maintain`, `write`, `triage`, `read` or `none`: the role on every
    /// repository where the person is not listed as a collaborator.
    pub permission: String,
}

/// What a bearer token stands for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Token {
    /// A person's personal access token.
    User { login: String },
    /// An installation access token (`ghs_…`), scoped and expiring.
    Installation {
        /// `None`: every repository of the installation.
        repos: Option<BTreeSet<String>>,
        permissions: BTreeMap<String, String>,
        /// Unix seconds.
        expires_at: i64,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pull {
    pub id: u64,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<String>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub requested_reviewers: Vec<String>,
}

/// An issue; a pull request is an issue with `pull` set (they share numbers, like on GitHub).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: String,
    pub labels: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub pull: Option<Pull>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub user: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
    /// content → logins who reacted.
    pub reactions: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    pub pull: u64,
    pub user: String,
    pub body: Option<String>,
    /// REST spelling: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub commit_id: String,
    pub submitted_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReviewComment {
    pub id: u64,
    pub review_id: u64,
    pub pull: u64,
    pub user: String,
    pub path: String,
    /// `None` for a comment on the whole file (`subject_type: file`).
    pub line: Option<u64>,
    pub side: String,
    pub body: String,
    pub commit_id: String,
    pub created_at: String,
    /// Where the comment sits in the file's diff (see `sim::diffmap`).
    #[serde(default)]
    pub position: Option<u64>,
    #[serde(default)]
    pub start_line: Option<u64>,
    #[serde(default)]
    pub start_side: Option<String>,
    #[serde(default)]
    pub diff_hunk: String,
    /// The thread's first comment, for replies.
    #[serde(default)]
    pub in_reply_to: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub suite_id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub annotations: Vec<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckSuite {
    pub id: u64,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Label {
    pub color: String,
    pub description: Option<String>,
}

/// One repository's records; its commits and refs live in the bare repository.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub created_at: String,
    pub pushed_at: String,
    pub next_number: u64,
    pub protected: BTreeSet<String>,
    /// GitHub's "Automatically delete head branches": a merge deletes the PR's head
    /// branch and retargets the open PRs based on it (`PATCH /repos/{o}/{r}`).
    #[serde(default)]
    pub delete_branch_on_merge: bool,
    /// The repository's labels by name (`POST …/labels`; adding an unknown
    /// label to an issue creates it, as GitHub does).
    #[serde(default)]
    pub labels: BTreeMap<String, Label>,
    /// login → role on this repository (`admin`, `maintain`, `write`, `triage`, `read`).
    #[serde(default)]
    pub collaborators: BTreeMap<String, String>,
    pub issues: BTreeMap<u64, Issue>,
    pub comments: Vec<Comment>,
    pub reviews: Vec<Review>,
    pub review_comments: Vec<ReviewComment>,
    pub check_runs: Vec<CheckRun>,
    pub check_suites: Vec<CheckSuite>,
    pub statuses: Vec<Status>,
    /// `repository_dispatch` and `workflow_dispatch` calls, as received.
    pub dispatches: Vec<Value>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// One webhook delivery, as `GET /_sim/deliveries` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub repo: Option<String>,
    pub delivered_at: Option<String>,
    /// HTTP status of the receiver's answer; `None` until sent or when it never answered.
    pub status_code: Option<u16>,
    /// `OK`, `pending`, or why it failed.
    pub status: String,
    pub duration_ms: Option<u64>,
    pub redelivery: bool,
    pub payload: Value,
    /// Every try of this delivery, first to last: a kept-alive connection the
    /// receiver had closed, or a refused connection, is tried once more.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

/// One try of a webhook delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    pub at: String,
    pub status_code: Option<u16>,
    /// `OK`, `Invalid HTTP Response: 500`, `failed to connect to host`,
    /// `connection closed before a response`, `timed out (10 s)`.
    pub status: String,
    pub duration_ms: u64,
    /// Whether it went over a new connection (every retry does).
    pub fresh_connection: bool,
}

/// A fault to inject (see `POST /_sim/faults`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fault {
    pub method: Option<String>,
    pub path: String,
    pub status: u16,
    pub times: u32,
    pub retry_after: Option<u64>,
    pub delay_ms: u64,
}

/// The whole simulator state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub next_id: u64,
    pub app_id: u64,
    pub installation_id: u64,
    pub webhook_secret: String,
    pub webhook_url: Option<String>,
    pub accounts: BTreeMap<String, Account>,
    pub tokens: BTreeMap<String, Token>,
    pub repos: BTreeMap<String, Repo>,
    pub deliveries: Vec<Delivery>,
    #[serde(skip)]
    pub faults: Vec<Fault>,
    /// API calls per rate-limit bucket (token identity), for `x-ratelimit-*`.
    pub calls: BTreeMap<String, u64>,
}

impl State {
    /// A fresh id, shared by every kind of object (ids are unique across kinds, which GitHub does not promise but never hurts).
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The account for `login`, created as an owner/organization-like user if new.
    pub fn ensure_account(&mut self, login: &str, kind: &str, permission: &str) -> Account {
        if let Some(a) = self.accounts.get(login) {
            return a.clone();
        }
        let id = self.id();
        let a = Account {
            id,
            login: login.to_string(),
            kind: kind.to_string(),
            permission: permission.to_string(),
        };
        self.accounts.insert(login.to_string(), a.clone());
        a
    }

    pub fn account(&self, login: &str) -> Account {
        self.accounts.get(login).cloned().unwrap_or(Account {
            id: 0,
            login: login.to_string(),
            kind: "User".into(),
            permission: "none".into(),
        })
    }

    /// Loads `state.json` from a data directory, if it exists.
    pub fn load(dir: &Path) -> Result<Option<State>> {
        let path = dir.join("state.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading simulator state {}", path.display()))?;
        let st = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a prflow sim state file (delete it to start fresh)",
                path.display()
            )
        })?;
        Ok(Some(st))
    }

    /// Writes `state.json` atomically (temp file + rename) so a crash never leaves half a file.
    pub fn persist(&self, dir: &Path) -> Result<()> {
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}
