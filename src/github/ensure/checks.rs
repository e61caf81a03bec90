//! Gates as check runs: list, ensure (in batches of annotations), and fall back
//! to a commit status where the token cannot write checks.

use http::Method;
use serde_json::{json, Map, Value};

use super::super::client::{enc_path, enc_query, CheckMemo, RepoClient};
use super::super::error::GithubError;
use super::super::types::*;
use super::statuses::status_for;
use super::{normalize_newlines, Change, ANNOTATION_BATCH};

impl RepoClient {
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
        // A create or an annotation batch may have landed: read again (a
        // half-annotated run is then replaced, never annotated twice).
        self.again_if_ambiguous(|| self.ensure_check_run_once(spec))
            .await
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::github::ensure) fn spec(
        status: CheckStatus,
        conclusion: Option<Conclusion>,
        n: usize,
    ) -> CheckRunSpec {
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
}
