//! The lenient shapes of webhook payloads: only the fields prflow reads, each
//! optional unless the event means nothing without it.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct Payload {
    pub(super) action: Option<String>,
    pub(super) installation: Option<PInstallation>,
    pub(super) sender: Option<PUser>,
    pub(super) repository: Option<PRepo>,
    pub(super) zen: Option<String>,
    pub(super) hook_id: Option<u64>,
    pub(super) hook: Option<PHook>,
    pub(super) review: Option<PReview>,
    pub(super) pull_request: Option<PPull>,
    pub(super) comment: Option<PComment>,
    pub(super) issue: Option<PIssue>,
    pub(super) check_run: Option<PCheckRun>,
    #[serde(rename = "ref")]
    pub(super) git_ref: Option<String>,
    pub(super) before: Option<String>,
    pub(super) after: Option<String>,
    pub(super) created: Option<bool>,
    pub(super) deleted: Option<bool>,
    pub(super) forced: Option<bool>,
    #[serde(default)]
    pub(super) commits: Vec<PCommit>,
    pub(super) head_commit: Option<PCommit>,
    pub(super) pusher: Option<PPusher>,
    #[serde(default)]
    pub(super) repositories: Vec<MiniRepo>,
    #[serde(default)]
    pub(super) repositories_added: Vec<MiniRepo>,
    #[serde(default)]
    pub(super) repositories_removed: Vec<MiniRepo>,
    pub(super) branch: Option<String>,
    pub(super) workflow: Option<String>,
    pub(super) client_payload: Option<Value>,
    pub(super) inputs: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct PInstallation {
    pub(super) id: u64,
    pub(super) account: Option<PUser>,
}

#[derive(Deserialize, Default)]
pub(super) struct PUser {
    #[serde(default)]
    pub(super) login: String,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PRepo {
    #[serde(default)]
    pub(super) name: String,
    pub(super) full_name: Option<String>,
    pub(super) owner: Option<PUser>,
    pub(super) default_branch: Option<String>,
    pub(super) master_branch: Option<String>,
    pub(super) private: Option<bool>,
    pub(super) fork: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct PHook {
    pub(super) app_id: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct PReview {
    pub(super) id: u64,
    #[serde(default)]
    pub(super) state: String,
    pub(super) user: Option<PUser>,
    pub(super) commit_id: Option<String>,
    pub(super) body: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PPull {
    pub(super) number: u64,
    pub(super) head: PBranch,
    pub(super) base: PBranch,
    pub(super) merged: Option<bool>,
    pub(super) merged_at: Option<String>,
    pub(super) body: Option<String>,
}

#[derive(Default)]
pub(super) struct PBranch {
    pub(super) git_ref: String,
    pub(super) sha: String,
    pub(super) repo: Option<MiniRepoOpt>,
    pub(super) repo_is_null: bool,
}

impl<'de> Deserialize<'de> for PBranch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "ref", default)]
            git_ref: String,
            #[serde(default)]
            sha: String,
            /// Absent = `None`, `null` = `Some(None)`.
            #[serde(default, deserialize_with = "present")]
            repo: Option<Option<MiniRepoOpt>>,
        }
        let raw = Raw::deserialize(d)?;
        Ok(PBranch {
            git_ref: raw.git_ref,
            sha: raw.sha,
            repo_is_null: matches!(raw.repo, Some(None)),
            repo: raw.repo.flatten(),
        })
    }
}

/// Tell a field that is `null` from one that is absent (with `default`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
pub(super) struct MiniRepoOpt {
    pub(super) full_name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MiniRepo {
    #[serde(default)]
    pub(super) full_name: String,
}

#[derive(Deserialize)]
pub(super) struct PComment {
    pub(super) id: u64,
    pub(super) body: Option<String>,
    pub(super) user: Option<PUser>,
    pub(super) author_association: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PIssue {
    pub(super) number: u64,
    pub(super) pull_request: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct PCheckRun {
    pub(super) id: u64,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) head_sha: String,
    pub(super) external_id: Option<String>,
    pub(super) check_suite: Option<PCheckSuite>,
}

#[derive(Deserialize)]
pub(super) struct PCheckSuite {
    pub(super) head_branch: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PCommit {
    #[serde(default)]
    pub(super) added: Vec<String>,
    #[serde(default)]
    pub(super) modified: Vec<String>,
    #[serde(default)]
    pub(super) removed: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct PPusher {
    pub(super) name: Option<String>,
}
