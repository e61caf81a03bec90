//! Publishing a phase: its branch pushed, its gates run once per head and reported as
//! check runs, its pull request ensured (stacked on the phase before), its reviewers
//! requested; and the run's one living status comment. Every write is an ensure, so
//! publishing the same state twice writes nothing.

use super::body::{self, GateLine, TaskStat};
use super::session::Session;
use super::stack::pr_base;
use crate::engine::naming;
use crate::engine::state::{self, RunState};
use crate::engine::LoadedRun;
use crate::github::{
    CheckOutput, CheckRunSpec, CheckStatus, CommitStatus, Conclusion, Pull, RepoClient, StatusState,
};
use crate::gitops::Repo;
use anyhow::{anyhow, Result};
use git2::Oid;
use std::collections::HashMap;

/// Pushes the phase, runs its gates, ensures its PR and its review requests.
pub async fn publish(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    index: usize,
    revision: u32,
) -> Result<Pull> {
    let p = &st.phases[index - 1];
    let head = p
        .head
        .clone()
        .ok_or_else(|| anyhow!("phase {index} has no branch"))?;
    let client = s.client.with_phase(&format!("phase-{index}"));
    s.push_run(&run.meta.run_id)?;
    let gates = ensure_gates(s, &client, run, st, index, &head).await?;
    let stats = task_stats(&s.repo()?, p)?;
    let title = body::pr_title(&run.workflow, st, index);
    let base = pr_base(run, st, index);
    let text = body::pr_body(&run.workflow, st, index, &stats, &gates, revision, &base);
    let (pr, _) = client
        .ensure_pull(&p.branch, &base, &title, &text)
        .await
        .map_err(explain_pr_error)?;
    if index > 1 {
        // Pending while a phase below is unmerged, so the PR is not merged out of order.
        let (state, description) = if base == run.meta.base_ref {
            (
                StatusState::Success,
                "the phases below are merged".to_string(),
            )
        } else {
            (
                StatusState::Pending,
                format!(
                    "stacked on phase {}: land the stack with /prflow land",
                    index - 1
                ),
            )
        };
        client
            .ensure_status(
                &head,
                &CommitStatus {
                    context: naming::STACK_STATUS.into(),
                    state,
                    description: Some(description),
                    target_url: None,
                },
            )
            .await?;
    }
    if p.checkpoint.is_some() {
        let mut reviewers = run.workflow.reviewers.clone();
        reviewers.extend(s.fc.options.reviewers.iter().cloned());
        if !reviewers.is_empty() {
            client.request_reviewers(pr.number, &reviewers).await?;
        }
    }
    Ok(pr)
}

/// GitHub's refusal to let Actions open PRs, said so a person can fix it.
fn explain_pr_error(e: crate::github::GithubError) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("not permitted to create or approve pull requests") {
        anyhow!(
            "GitHub refused to let this workflow's GITHUB_TOKEN open pull requests. Enable \
             Settings → Actions → General → Workflow permissions → \"Allow GitHub Actions to \
             create and approve pull requests\", or give the action an App token \
             (actions/create-github-app-token). GitHub said: {text}"
        )
    } else {
        anyhow!(e)
    }
}

/// Files and line counts per task (its latest commit on the phase).
fn task_stats(repo: &Repo, p: &state::PhaseState) -> Result<HashMap<String, TaskStat>> {
    let mut out = HashMap::new();
    for (task, commit) in &p.tasks {
        let Some(c) = commit else { continue };
        let commit = repo.git.find_commit(Oid::from_str(c)?)?;
        let parent = commit.parent(0)?;
        let diff =
            repo.git
                .diff_tree_to_tree(Some(&parent.tree()?), Some(&commit.tree()?), None)?;
        let stats = diff.stats()?;
        out.insert(
            task.clone(),
            TaskStat {
                files: stats.files_changed(),
                added: stats.insertions(),
                removed: stats.deletions(),
            },
        );
    }
    Ok(out)
}

/// Runs the phase's gates on its head once per head sha and reports them as check runs.
async fn ensure_gates(
    s: &Session<'_>,
    client: &RepoClient,
    run: &LoadedRun,
    st: &RunState,
    index: usize,
    head: &str,
) -> Result<Vec<GateLine>> {
    let specs = crate::gates::gates_for(&run.workflow);
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    // Check runs, and the commit statuses a token without checks permission
    // reported through (two reads, whatever was written before).
    let known: std::collections::BTreeMap<String, (String, String)> = client
        .gate_results(head, naming::CHECK_PREFIX)
        .await?
        .into_iter()
        .filter(|(_, o)| o.status == CheckStatus::Completed)
        .map(|(name, o)| {
            let conclusion = o
                .conclusion
                .map(|c| c.as_str())
                .unwrap_or("neutral")
                .to_string();
            (name, (conclusion, o.summary))
        })
        .collect();
    let mut lines = Vec::new();
    let mut to_run = Vec::new();
    for spec in &specs {
        match known.get(&naming::check_name(&spec.name)) {
            Some((conclusion, title)) => lines.push(GateLine {
                name: spec.name.clone(),
                conclusion: conclusion.clone(),
                title: title.clone(),
                required: spec.required,
            }),
            None => to_run.push(spec.clone()),
        }
    }
    if to_run.is_empty() || s.fc.options.dry_run {
        return Ok(lines);
    }
    let p = &st.phases[index - 1];
    let changed = changed_files(&s.repo()?, p)?;
    let workflow = run.workflow.clone();
    let results = s.blocking(|dir, _| {
        let repo = Repo::open(dir)?;
        let checkout = tempfile::Builder::new().prefix("prflow-gates-").tempdir()?;
        repo.checkout_into(repo.tree_of(Oid::from_str(head)?)?, checkout.path())?;
        let input = crate::gates::GateInput {
            workflow: &workflow,
            checkout: checkout.path(),
            changed_files: &changed,
            phase: index,
        };
        Ok(to_run
            .iter()
            .map(|spec| crate::gates::run_gate(spec, &input))
            .collect::<Vec<_>>())
    })?;
    for r in results {
        let conclusion = report_gate(client, &r, head, &run.meta.run_id, index).await?;
        lines.push(GateLine {
            name: r.name.clone(),
            conclusion: conclusion.as_str().to_string(),
            title: r.title.clone(),
            required: r.required,
        });
    }
    if client.uses_status_fallback() {
        // Statuses carry a shortened description: show what a later read will see,
        // so the PR body does not change (and get re-written) on the next run.
        let reported = client.gate_results(head, naming::CHECK_PREFIX).await?;
        for line in &mut lines {
            if let Some(o) = reported.get(&naming::check_name(&line.name)) {
                line.title = o.summary.clone();
            }
        }
    }
    Ok(lines)
}

/// Reports one gate result on `head` as the check run `prflow/<gate>` (or the commit
/// status fallback), annotations included.
pub async fn report_gate(
    client: &RepoClient,
    r: &crate::gates::GateResult,
    head: &str,
    run_id: &str,
    index: usize,
) -> Result<Conclusion> {
    let conclusion = match r.conclusion {
        crate::gates::Conclusion::Success => Conclusion::Success,
        crate::gates::Conclusion::Failure => Conclusion::Failure,
        crate::gates::Conclusion::Neutral => Conclusion::Neutral,
        crate::gates::Conclusion::Skipped => Conclusion::Skipped,
    };
    let annotations = r
        .annotations
        .iter()
        .map(|a| crate::github::Annotation {
            path: a.path.clone(),
            start_line: a.start_line as u64,
            end_line: a.end_line as u64,
            annotation_level: match a.level {
                crate::gates::AnnotationLevel::Notice => crate::github::AnnotationLevel::Notice,
                crate::gates::AnnotationLevel::Warning => crate::github::AnnotationLevel::Warning,
                crate::gates::AnnotationLevel::Failure => crate::github::AnnotationLevel::Failure,
            },
            message: a.message.clone(),
            title: a.title.clone(),
        })
        .collect();
    client
        .ensure_check_run(&CheckRunSpec {
            name: naming::check_name(&r.name),
            head_sha: head.to_string(),
            status: CheckStatus::Completed,
            conclusion: Some(conclusion),
            output: CheckOutput {
                title: r.title.clone(),
                summary: r.summary.clone(),
                text: (!r.text.is_empty()).then(|| r.text.clone()),
                annotations,
            },
            details_url: None,
            external_id: Some(format!("{run_id}:{index}")),
        })
        .await?;
    Ok(conclusion)
}

/// The paths phase `index` changed, for gates.
pub fn phase_changed_files(repo: &Repo, st: &RunState, index: usize) -> Result<Vec<String>> {
    changed_files(repo, &st.phases[index - 1])
}

/// Paths a phase changed (its base to its tip).
fn changed_files(repo: &Repo, p: &state::PhaseState) -> Result<Vec<String>> {
    let (Some(base), Some(tip)) = (p.base, p.tip) else {
        return Ok(Vec::new());
    };
    let diff = repo.git.diff_tree_to_tree(
        Some(&repo.git.find_commit(base)?.tree()?),
        Some(&repo.git.find_commit(tip)?.tree()?),
        None,
    )?;
    Ok(diff
        .deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect())
}

/// Names of required gates whose check run on `head` is not a success.
pub async fn required_gates_failing(
    client: &RepoClient,
    run: &LoadedRun,
    head: &str,
) -> Result<Vec<String>> {
    let required: Vec<_> = crate::gates::gates_for(&run.workflow)
        .into_iter()
        .filter(|g| g.required)
        .collect();
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let results = client.gate_results(head, naming::CHECK_PREFIX).await?;
    Ok(required
        .iter()
        .map(|g| naming::check_name(&g.name))
        .filter(|name| !results.get(name).is_some_and(|o| o.passed()))
        .collect())
}

/// The run's one living status comment, on the issue or PR that started it.
pub async fn status_comment(s: &Session<'_>, run: &LoadedRun, text: &str) -> Result<()> {
    if s.fc.options.dry_run {
        return Ok(());
    }
    if let Some(issue) = run.meta.origin_issue {
        s.client
            .ensure_status_comment(
                issue,
                &crate::github::body::status_marker(&run.meta.run_id),
                text,
            )
            .await?;
    }
    Ok(())
}
