//! Drives a run on GitHub: the local engine runs phases in a clone, and this module
//! publishes them (push, stacked PR, gates as check runs, reviewers, status comment)
//! and reads reviews back as checkpoint decisions.
//!
//! Accepted approvals are recorded as `refs/prflow/approvals/<run>/<NN>` and pushed,
//! so the run's state stays in git: later invocations see the phase as done without
//! re-judging old reviews. Every write is an ensure; replaying a trigger is harmless.

use super::body::{self, GateLine, TaskStat};
use super::remote::Remote;
use super::{FlowContext, FlowReport};
use crate::agents::{Feedback, InlineComment};
use crate::engine::progress::{self, Progress};
use crate::engine::runners::Runners;
use crate::engine::state::{self, PhaseStatus, RunMeta, RunState};
use crate::engine::{self, LoadedRun, Revision};
use crate::github::auth::Secret;
use crate::github::{
    CheckOutput, CheckRunSpec, CheckStatus, CommitStatus, Conclusion, Pull, RepoClient,
    ReviewState, StatusState,
};
use crate::gitops::Repo;
use crate::workflow::{self, RunnerSpec};
use anyhow::{anyhow, bail, Context, Result};
use git2::Oid;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A prepared connection: client, token for git, a fresh fetch.
pub struct Session<'a> {
    pub fc: &'a FlowContext,
    pub client: RepoClient,
    token: Option<Secret>,
    pub default_branch: String,
}

impl<'a> Session<'a> {
    /// Authenticates, makes sure the clone exists and fetches.
    pub async fn open(fc: &'a FlowContext) -> Result<Session<'a>> {
        let client = fc.github.repo(&fc.owner, &fc.repo);
        let token = fc.github.token().await?;
        let default_branch = client.default_branch().await?;
        let s = Session {
            fc,
            client,
            token,
            default_branch,
        };
        s.blocking(|dir, remote| {
            remote.ensure_clone(dir)?;
            remote.fetch(dir)?;
            sync_branches(&Repo::open(dir)?)
        })?;
        Ok(s)
    }

    fn remote(&self) -> Remote<'_> {
        Remote {
            url: &self.fc.git_url,
            token: self.token.as_ref(),
        }
    }

    /// Runs blocking git work (the engine, fetch, push) off the async runtime's
    /// reactor when there is one to spare; plain call otherwise.
    fn blocking<T>(&self, f: impl FnOnce(&Path, &Remote<'_>) -> Result<T>) -> Result<T> {
        let dir = self.fc.workdir.clone();
        let remote = self.remote();
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| f(&dir, &remote))
            }
            _ => f(&dir, &remote),
        }
    }

    pub fn repo(&self) -> Result<Repo> {
        Repo::open(&self.fc.workdir)
    }

    /// Pushes exact `local:remote` refspecs (an empty local deletes the remote ref).
    pub fn push_refspecs(&self, specs: &[(String, String)]) -> Result<()> {
        self.blocking(|dir, remote| remote.push(dir, specs))
    }

    /// Pushes the run's refs that differ from the remote's.
    pub fn push_run(&self, run: &str) -> Result<()> {
        self.blocking(|dir, remote| {
            let repo = Repo::open(dir)?;
            let mut specs = Vec::new();
            for name in repo.ref_names(&format!("refs/heads/prflow/{run}/*"))? {
                let branch = name.trim_start_matches("refs/heads/");
                let remote_ref = format!("refs/remotes/origin/{branch}");
                if repo.ref_target(&name) != repo.ref_target(&remote_ref) {
                    specs.push((name.clone(), name.clone()));
                }
            }
            for name in [state::meta_ref(run)]
                .into_iter()
                .chain(repo.ref_names(&format!("refs/prflow/approvals/{run}/*"))?)
                .chain(repo.ref_names(&format!("refs/prflow/aborted/{run}"))?)
            {
                if repo.ref_target(&name).is_some()
                    && repo.ref_target(&tracking(&name)) != repo.ref_target(&name)
                {
                    specs.push((name.clone(), name.clone()));
                }
            }
            remote.push(dir, &specs)?;
            // Remember what the remote has now, so the next push skips it.
            for (local, _) in &specs {
                if let Some(t) = repo.ref_target(local) {
                    repo.git
                        .reference(&tracking(local), t, true, "prflow: pushed")?;
                }
            }
            Ok(())
        })
    }
}

/// The remote-tracking name of a local ref: `refs/heads/x` → `refs/remotes/origin/x`,
/// `refs/prflow/x` → `refs/remotes/origin-prflow/x`.
fn tracking(name: &str) -> String {
    if let Some(b) = name.strip_prefix("refs/heads/") {
        format!("refs/remotes/origin/{b}")
    } else {
        format!(
            "refs/remotes/origin-prflow/{}",
            name.trim_start_matches("refs/prflow/")
        )
    }
}

/// Makes local `prflow/*` branches agree with the remote: the remote wins unless the
/// local branch only has commits on top of it (work not pushed yet).
fn sync_branches(repo: &Repo) -> Result<()> {
    for name in repo.ref_names("refs/remotes/origin/prflow/*")? {
        let Some(remote_tip) = repo.ref_target(&name) else {
            continue;
        };
        let local = format!(
            "refs/heads/{}",
            name.trim_start_matches("refs/remotes/origin/")
        );
        match repo.ref_target(&local) {
            Some(l) if l == remote_tip || repo.is_ancestor(remote_tip, l) => {}
            _ => {
                repo.git
                    .reference(&local, remote_tip, true, "prflow: sync with remote")?;
            }
        }
    }
    // The remote's metadata, approvals and aborts are the truth.
    for name in repo.ref_names("refs/remotes/origin-prflow/*")? {
        if let Some(t) = repo.ref_target(&name) {
            let local = format!(
                "refs/prflow/{}",
                name.trim_start_matches("refs/remotes/origin-prflow/")
            );
            if repo.ref_target(&local) != Some(t) {
                repo.git
                    .reference(&local, t, true, "prflow: sync with remote")?;
            }
        }
    }
    Ok(())
}

/// Starts the run of `workflow_path` at `base`, or continues its unfinished run.
pub async fn start_or_continue(
    s: &Session<'_>,
    workflow_path: &str,
    base: Option<&str>,
    starter: &str,
    origin_issue: Option<u64>,
) -> Result<FlowReport> {
    let base_name = base.unwrap_or(&s.default_branch).to_string();
    let repo = s.repo()?;
    let base_commit = repo
        .resolve_commit(&format!("refs/remotes/origin/{base_name}"))
        .or_else(|_| repo.resolve_commit(&base_name))
        .with_context(|| {
            format!(
                "the base `{base_name}` is not a branch or commit of {}/{}",
                s.fc.owner, s.fc.repo
            )
        })?;
    let text = repo
        .read(repo.tree_of(base_commit)?, workflow_path)
        .ok_or_else(|| anyhow!("there is no workflow file `{workflow_path}` on `{base_name}`"))?;
    let text = String::from_utf8(text).context("the workflow file is not UTF-8")?;
    let loaded = workflow::parse(Path::new(workflow_path), &text)
        .map_err(|d| anyhow!("the workflow file is invalid:\n{d}"))?;
    let blob = Repo::hash_blob(text.as_bytes())?.to_string();

    // An unfinished run of the same file continues, whatever the base does now.
    let mut found = None;
    for id in state::run_ids(&repo)? {
        let Some((meta, _)) = state::read_meta(&repo, &id) else {
            continue;
        };
        if meta.workflow_path != workflow_path {
            continue;
        }
        let r = engine::load_run(&repo, &id)?;
        let st = state::read_state(&repo, &r.meta, &r.plan, &state::local_approvals(&repo, &id))?;
        if !st.finished() && !is_aborted(&repo, &id) {
            found = Some(r);
            break;
        }
    }
    let run = match found {
        Some(r) => r,
        None => {
            let run_id = state::run_id(workflow_path, &blob, &base_commit.to_string());
            let meta = RunMeta {
                run_id: run_id.clone(),
                workflow_path: workflow_path.to_string(),
                workflow_blob: blob,
                base: base_commit.to_string(),
                base_ref: base_name,
                starter: Some(starter.to_string()),
                origin_issue,
            };
            let plan = workflow::plan::plan(&loaded.workflow);
            LoadedRun {
                meta,
                workflow: loaded.workflow,
                plan,
            }
        }
    };
    if s.fc.options.dry_run {
        let runners = Runners::new(&repo.root())?;
        let text = crate::engine::preview::preview(
            &repo,
            &run.meta.run_id,
            Oid::from_str(&run.meta.base)?,
            &run.meta.base_ref,
            &run.workflow,
            &run.plan,
            &runners,
        )?;
        return Ok(FlowReport {
            run_id: Some(run.meta.run_id.clone()),
            state: "dry-run".into(),
            summary_markdown: text,
            ..Default::default()
        });
    }
    check_runnable(s.fc, &repo, &run)?;
    state::write_meta(&repo, &run.meta, &text)?;
    s.push_run(&run.meta.run_id)?;
    drive(s, &run).await
}

/// Refuses what this trigger may not run: unservable tasks, and `command` runners
/// (which execute code with the token in reach) for untrusted triggers such as forks.
fn check_runnable(fc: &FlowContext, repo: &Repo, run: &LoadedRun) -> Result<()> {
    if !fc.options.trusted {
        let commands: Vec<&str> = run
            .workflow
            .tasks
            .iter()
            .filter(|t| matches!(run.workflow.runner_for(t), RunnerSpec::Command { .. }))
            .map(|t| t.id.as_str())
            .collect();
        if !commands.is_empty() {
            bail!(
                "this trigger is not trusted (it comes from a fork, or from someone without write \
                 access), so prflow will not run `command` runners ({}) with this repository's \
                 token in reach. A maintainer can start the run with `/prflow run`.",
                commands.join(", ")
            );
        }
    }
    let runners = Runners::new(&repo.root())?;
    let bad = runners.check_all(&run.workflow, None);
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(|b| b.to_string()).collect();
        bail!(
            "the run did not start, nothing was written:\n  {}\ntemplate packs available: {}",
            list.join("\n  "),
            runners.pack_names().join(", ")
        );
    }
    Ok(())
}

pub fn aborted_ref(run: &str) -> String {
    format!("refs/prflow/aborted/{run}")
}

pub fn is_aborted(repo: &Repo, run: &str) -> bool {
    repo.ref_target(&aborted_ref(run)).is_some()
}

/// Continues a known run (after a review, a command, a dispatch).
pub async fn continue_run(s: &Session<'_>, run_id: &str) -> Result<FlowReport> {
    let repo = s.repo()?;
    if is_aborted(&repo, run_id) {
        return Ok(ignored(run_id, "the run was aborted"));
    }
    let run = engine::load_run(&repo, run_id)?;
    check_runnable(s.fc, &repo, &run)?;
    drive(s, &run).await
}

fn ignored(run: &str, why: &str) -> FlowReport {
    FlowReport {
        run_id: Some(run.to_string()),
        state: "ignored".into(),
        ignored_because: Some(why.to_string()),
        ..Default::default()
    }
}

/// What the reviews on a waiting phase's PR decide.
enum Decision {
    Approved {
        reviewer: String,
    },
    ChangesRequested {
        review_id: u64,
        reviewer: String,
        commit: String,
        feedback: Feedback,
    },
    Wait {
        reasons: Vec<String>,
    },
}

/// The run loop: run what is due, publish it, read the checkpoint decisions.
pub async fn drive(s: &Session<'_>, run: &LoadedRun) -> Result<FlowReport> {
    let run_id = run.meta.run_id.clone();
    let quiet = s.fc.options.quiet;
    let view: Box<dyn Progress> = progress::for_terminal(quiet);
    let runners = Runners::new(&s.fc.workdir)?;
    let mut prs: Vec<(usize, u64)> = Vec::new();
    for _round in 0..(run.plan.phases.len() * 4 + 4) {
        let repo = s.repo()?;
        let st = read(&repo, run)?;
        let Some(current) = st.current().cloned() else {
            let summary = body::status_comment(&run.workflow, &st, &prs, "✅ The run is done: every phase is approved. Comment `/prflow land` to merge the stack.");
            status_comment(s, run, &summary).await?;
            return Ok(report(s, run, &st, "finished", None, None));
        };
        let index = current.index;
        match current.status {
            PhaseStatus::Pending | PhaseStatus::Running | PhaseStatus::Failed => {
                if let super::Executor::Actions { workflow_file } = &s.fc.options.executor {
                    let payload = serde_json::json!({"run_id": run_id, "phase": index});
                    s.client
                        .repository_dispatch("prflow-continue", &payload)
                        .await
                        .with_context(|| {
                            format!(
                                "cannot dispatch phase {index} to GitHub Actions ({workflow_file})"
                            )
                        })?;
                    return Ok(report(s, run, &st, "dispatched", Some(index), None));
                }
                if s.fc.options.dry_run {
                    return Ok(report(s, run, &st, "dry-run", Some(index), None));
                }
                let result = s.blocking(|_, _| {
                    let repo = Repo::open(&s.fc.workdir)?;
                    let approved = state::local_approvals(&repo, &run.meta.run_id);
                    engine::run_phase(
                        &repo,
                        &run.meta,
                        &run.workflow,
                        &run.plan,
                        &runners,
                        view.as_ref(),
                        index,
                        None,
                        &approved,
                    )
                })?;
                s.push_run(&run_id)?;
                if let Err(message) = result {
                    let st = read(&s.repo()?, run)?;
                    let pr = publish(s, run, &st, index, 0).await?;
                    prs.push((index, pr.number));
                    let summary = body::status_comment(
                        &run.workflow,
                        &st,
                        &prs,
                        &format!("❌ Phase {index} failed:\n\n```\n{message}\n```\n\nFix the cause, then comment `/prflow retry`."),
                    );
                    status_comment(s, run, &summary).await?;
                    return Ok(report(s, run, &st, "failed", Some(index), Some(&pr)));
                }
            }
            PhaseStatus::WaitingForReview | PhaseStatus::Done => {
                let revision = state::revision_count(&repo, &run_id, &current)?;
                let pr = publish(s, run, &st, index, revision).await?;
                if !prs.iter().any(|(i, _)| *i == index) {
                    prs.push((index, pr.number));
                }
                match decide(s, run, &st, index, &pr).await? {
                    Decision::Approved { reviewer } => {
                        let head = Oid::from_str(&pr.head_sha)?;
                        repo.git.reference(
                            &state::approval_ref(&run_id, index),
                            head,
                            true,
                            &format!("prflow: approved by {reviewer}"),
                        )?;
                        s.push_run(&run_id)?;
                    }
                    Decision::ChangesRequested {
                        review_id,
                        reviewer,
                        commit,
                        feedback,
                    } => {
                        let number = revision + 1;
                        let rev = Revision {
                            number,
                            review_id,
                            feedback,
                        };
                        let result = s.blocking(|_, _| {
                            let repo = Repo::open(&s.fc.workdir)?;
                            let approved = state::local_approvals(&repo, &run.meta.run_id);
                            engine::run_phase(
                                &repo,
                                &run.meta,
                                &run.workflow,
                                &run.plan,
                                &runners,
                                view.as_ref(),
                                index,
                                Some(&rev),
                                &approved,
                            )
                        })?;
                        s.push_run(&run_id)?;
                        let st = read(&s.repo()?, run)?;
                        let pr = publish(s, run, &st, index, number).await?;
                        s.client
                            .request_reviewers(pr.number, std::slice::from_ref(&reviewer))
                            .await?;
                        let headline = match &result {
                            Ok(()) => format!("✏️ Phase {index} revised (revision {number}) after review by @{reviewer}; waiting for a new review on #{}.", pr.number),
                            Err(m) => format!("❌ The revision of phase {index} failed:\n\n```\n{m}\n```"),
                        };
                        if result.is_ok() {
                            let diff = interdiff(&s.repo()?, &commit, &pr.head_sha)?;
                            s.client
                                .ensure_status_comment(
                                    pr.number,
                                    &format!("<!-- prflow:interdiff run={run_id} phase={index} review={review_id} -->"),
                                    &body::interdiff(&reviewer, &diff, number),
                                )
                                .await?;
                        }
                        let summary = body::status_comment(&run.workflow, &st, &prs, &headline);
                        status_comment(s, run, &summary).await?;
                        let state = if result.is_ok() {
                            "waiting-for-review"
                        } else {
                            "failed"
                        };
                        return Ok(report(s, run, &st, state, Some(index), Some(&pr)));
                    }
                    Decision::Wait { reasons } => {
                        let mut headline = format!(
                            "⏳ Phase {index} waits for an approving review on #{}.",
                            pr.number
                        );
                        for r in &reasons {
                            headline.push_str(&format!("\n- {r}"));
                        }
                        let summary = body::status_comment(&run.workflow, &st, &prs, &headline);
                        status_comment(s, run, &summary).await?;
                        return Ok(report(
                            s,
                            run,
                            &st,
                            "waiting-for-review",
                            Some(index),
                            Some(&pr),
                        ));
                    }
                }
            }
        }
    }
    bail!("run {run_id} did not settle; this is a bug in prflow")
}

fn read(repo: &Repo, run: &LoadedRun) -> Result<RunState> {
    state::read_state(
        repo,
        &run.meta,
        &run.plan,
        &state::local_approvals(repo, &run.meta.run_id),
    )
}

/// The base branch of phase `index`'s PR.
fn pr_base(run: &LoadedRun, st: &RunState, index: usize) -> String {
    if index == 1 {
        run.meta.base_ref.clone()
    } else {
        st.phases[index - 2].branch.clone()
    }
}

/// Pushes the phase, runs its gates, ensures its PR and its review requests.
async fn publish(
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
    let text = body::pr_body(&run.workflow, st, index, &stats, &gates, revision);
    let (pr, _) = client
        .ensure_pull(&p.branch, &pr_base(run, st, index), &title, &text)
        .await
        .map_err(explain_pr_error)?;
    if index > 1 {
        client
            .ensure_status(
                &head,
                &CommitStatus {
                    context: "prflow/stack".into(),
                    state: StatusState::Pending,
                    description: Some(format!(
                        "stacked on phase {}: land the stack with /prflow land",
                        index - 1
                    )),
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
        .gate_results(head, "prflow/")
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
        match known.get(&crate::gates::check_name(&spec.name)) {
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
        let reported = client.gate_results(head, "prflow/").await?;
        for line in &mut lines {
            if let Some(o) = reported.get(&crate::gates::check_name(&line.name)) {
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
            name: crate::gates::check_name(&r.name),
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

/// Reads the PR's reviews and applies the checkpoint rules (DESIGN.md).
async fn decide(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    index: usize,
    pr: &Pull,
) -> Result<Decision> {
    let p = &st.phases[index - 1];
    if p.checkpoint.is_none() {
        return Ok(Decision::Approved {
            reviewer: "(no checkpoint)".into(),
        });
    }
    let client = s.client.with_phase(&format!("phase-{index}"));
    let reviews = client.list_reviews(pr.number).await?;
    // GitHub's rule: each reviewer's latest approving / requesting review counts.
    let mut latest: Vec<&crate::github::Review> = Vec::new();
    for r in reviews.iter().filter(|r| {
        matches!(
            r.state,
            ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed
        )
    }) {
        latest.retain(|l| l.user != r.user);
        latest.push(r);
    }
    latest.sort_by_key(|r| std::cmp::Reverse(r.id));
    let allow_self =
        s.fc.options
            .allow_self_approval
            .unwrap_or(run.workflow.allow_self_approval);
    let mut reasons = Vec::new();
    let required_failing = required_gates_failing(&client, run, &pr.head_sha).await?;
    for r in &latest {
        let on_head = r.commit_id == pr.head_sha;
        match r.state {
            ReviewState::Approved => {
                if !on_head {
                    reasons.push(format!(
                        "@{}'s approval is on an older commit; approve the current head",
                        r.user
                    ));
                    continue;
                }
                if !allow_self && run.meta.starter.as_deref() == Some(r.user.as_str()) {
                    reasons.push(format!(
                        "@{} started this run and may not approve it (set `allowSelfApproval`)",
                        r.user
                    ));
                    continue;
                }
                if !client.permission(&r.user).await?.can_write() {
                    reasons.push(format!(
                        "@{} has no write access, so the approval does not count",
                        r.user
                    ));
                    continue;
                }
                if !required_failing.is_empty() {
                    reasons.push(format!(
                        "required gates did not pass: {}",
                        required_failing.join(", ")
                    ));
                    continue;
                }
                return Ok(Decision::Approved {
                    reviewer: r.user.clone(),
                });
            }
            ReviewState::ChangesRequested if on_head => {
                if !client.permission(&r.user).await?.can_write() {
                    reasons.push(format!(
                        "@{} has no write access; the change request is not acted on",
                        r.user
                    ));
                    continue;
                }
                let repo = s.repo()?;
                let done = state::revised_tasks(&repo, &run.meta.run_id, p, r.id)?;
                if run.plan.phases[index - 1]
                    .tasks
                    .iter()
                    .all(|t| done.contains(t))
                {
                    continue; // Already answered.
                }
                let comments = client.review_comments(pr.number, r.id).await?;
                let feedback = Feedback {
                    reviewer: Some(r.user.clone()),
                    body: r.body.clone(),
                    comments: comments
                        .into_iter()
                        .map(|c| InlineComment {
                            path: c.path,
                            line: c.line.or(c.original_line),
                            body: c.body,
                        })
                        .collect(),
                };
                return Ok(Decision::ChangesRequested {
                    review_id: r.id,
                    reviewer: r.user.clone(),
                    commit: r.commit_id.clone(),
                    feedback,
                });
            }
            _ => {}
        }
    }
    if latest.is_empty() {
        reasons.push("no review yet".into());
    }
    Ok(Decision::Wait { reasons })
}

/// Names of required gates whose check run on `head` is not a success.
async fn required_gates_failing(
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
    let results = client.gate_results(head, "prflow/").await?;
    Ok(required
        .iter()
        .map(|g| crate::gates::check_name(&g.name))
        .filter(|name| !results.get(name).is_some_and(|o| o.passed()))
        .collect())
}

/// Text files that differ between the reviewed commit and the new head.
fn interdiff(repo: &Repo, from: &str, to: &str) -> Result<Vec<(String, String, String)>> {
    let (Ok(a), Ok(b)) = (Oid::from_str(from), Oid::from_str(to)) else {
        return Ok(Vec::new());
    };
    let (ta, tb) = (repo.tree_of(a)?, repo.tree_of(b)?);
    let diff = repo.git.diff_tree_to_tree(
        Some(&repo.git.find_tree(ta)?),
        Some(&repo.git.find_tree(tb)?),
        None,
    )?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        let Some(path) = d.new_file().path().or(d.old_file().path()) else {
            continue;
        };
        let path = path.to_string_lossy().into_owned();
        let old = repo.read(ta, &path).unwrap_or_default();
        let new = repo.read(tb, &path).unwrap_or_default();
        if old.contains(&0) || new.contains(&0) {
            continue;
        }
        out.push((
            path,
            String::from_utf8_lossy(&old).into_owned(),
            String::from_utf8_lossy(&new).into_owned(),
        ));
    }
    Ok(out)
}

/// The run's one living status comment, on the issue or PR that started it.
async fn status_comment(s: &Session<'_>, run: &LoadedRun, text: &str) -> Result<()> {
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

fn report(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    state: &str,
    phase: Option<usize>,
    pr: Option<&Pull>,
) -> FlowReport {
    let calls = s.fc.github.calls();
    let mut api_calls: Vec<(String, u64, u64)> = calls
        .by_label
        .iter()
        .map(|(label, c)| (label.clone(), c.reads, c.writes))
        .collect();
    api_calls.sort();
    let mut summary = format!(
        "## prflow · {} · run `{}`\n\n**{state}**{}\n\n| phase | state | branch |\n|---|---|---|\n",
        run.workflow.name,
        run.meta.run_id,
        pr.map(|p| format!(" — [#{}]({})", p.number, p.html_url))
            .unwrap_or_default()
    );
    for p in &st.phases {
        summary.push_str(&format!(
            "| {}. {} | {} | `{}` |\n",
            p.index,
            p.name,
            p.status.as_str(),
            p.branch
        ));
    }
    summary.push('\n');
    summary.push_str(&body::mermaid(&run.workflow, st));
    FlowReport {
        run_id: Some(run.meta.run_id.clone()),
        phase: phase
            .or_else(|| st.current().map(|p| p.index))
            .or(Some(st.phases.len())),
        state: state.to_string(),
        pull_request_number: pr.map(|p| p.number),
        pull_request_url: pr.map(|p| p.html_url.clone()),
        summary_markdown: summary,
        ignored_because: None,
        api_calls,
    }
}

/// Where the clone for `owner/repo` lives when the front end names none.
pub fn default_workdir(owner: &str, repo: &str) -> PathBuf {
    let base = std::env::var_os("PRFLOW_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|p| PathBuf::from(p).join("prflow")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/prflow")))
        .unwrap_or_else(|| std::env::temp_dir().join("prflow"));
    base.join("repos").join(owner).join(repo)
}
