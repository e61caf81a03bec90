//! Commit statuses: the stand-in for check runs, and reading every gate's
//! outcome back from checks and statuses alike.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::super::client::{enc_path, RepoClient};
use super::super::error::GithubError;
use super::super::types::*;
use super::Change;

impl RepoClient {
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
}

/// The commit status standing in for a check run. A gate that did not
/// measure anything (`neutral`, `skipped`) is not reported as plain
/// success: its description starts with the conclusion and the reason.
pub(super) fn status_for(spec: &CheckRunSpec) -> (StatusState, String) {
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
    use super::super::checks::tests::spec;
    use super::*;

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
