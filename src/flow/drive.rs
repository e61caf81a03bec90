//! The run loop on GitHub: run what is due, publish it, read the checkpoint decisions.
//!
//! [`drive`] first brings the stack up to date with what people did on GitHub
//! ([`Driver::restack`], see [`stack`]), then loops over named steps
//! ([`Driver::run_due_phase`], [`Driver::publish`], [`Driver::record_approval`],
//! [`Driver::revise`], [`Driver::wait`]), each of which
//! either lets the loop go on or stops it with the report of this invocation. Accepted
//! approvals are recorded as approval refs (see [`naming`]) and pushed, so the run's
//! state stays in git: later invocations see the phase as done without re-judging old
//! reviews. Every write is an ensure; replaying a trigger is harmless.

use super::body;
use super::publish::{self, status_comment};
use super::review;
use super::session::Session;
use super::stack::{self, Restack};
use super::{FlowContext, FlowReport, FlowState};
use crate::engine::checkpoint::Decision;
use crate::engine::naming;
use crate::engine::progress::{self, Progress};
use crate::engine::runners::Runners;
use crate::engine::state::{self, PhaseStatus, RunMeta, RunState};
use crate::engine::{self, LoadedRun, Revision};
use crate::github::Pull;
use crate::gitops::Repo;
use crate::workflow::{self, RunnerSpec};
use anyhow::{anyhow, bail, Context, Result};
use git2::Oid;
use std::path::Path;

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
    let found = naming::find_unfinished(&repo, workflow_path, true)?;
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
                default_runner: s.fc.options.default_runner.clone(),
                skip_hooks: false,
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
        let runners = engine::runners_for(&repo.root(), &run.meta, default_runner(s.fc))?;
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
            state: FlowState::DryRun,
            summary_markdown: text,
            would_refuse: check_runnable(s.fc, &repo, &run).err().map(|e| {
                let why = format!("{e:#}");
                why.trim_start_matches("the run did not start, nothing was written:")
                    .to_string()
            }),
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
    let runners = engine::runners_for(&repo.root(), &run.meta, default_runner(fc))?;
    if !fc.options.trusted {
        let commands: Vec<&str> = run
            .workflow
            .tasks
            .iter()
            .filter(|t| {
                let t = runners.assign(&run.workflow, t);
                matches!(run.workflow.runner_for(&t), RunnerSpec::Command { .. })
            })
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
    let bad = runners.check_all(&run.workflow, None);
    if !bad.is_empty() {
        bail!("{}", naming::did_not_start(&bad, &runners.pack_names()));
    }
    Ok(())
}

/// The default runner this invocation was given, if any (else the run's own is used).
fn default_runner(fc: &FlowContext) -> Option<&str> {
    fc.options.default_runner.as_deref()
}

/// Continues a known run (after a review, a command, a dispatch).
pub async fn continue_run(s: &Session<'_>, run_id: &str) -> Result<FlowReport> {
    let repo = s.repo()?;
    if naming::is_aborted(&repo, run_id) {
        return Ok(ignored(run_id, "the run was aborted"));
    }
    let run = engine::load_run(&repo, run_id)?;
    check_runnable(s.fc, &repo, &run)?;
    drive(s, &run).await
}

fn ignored(run: &str, why: &str) -> FlowReport {
    FlowReport {
        run_id: Some(run.to_string()),
        state: FlowState::Ignored,
        ignored_because: Some(why.to_string()),
        ..Default::default()
    }
}

/// What a step tells the loop.
enum Step {
    /// The run moved; look again.
    Continue,
    /// This invocation is done; the report says where the run stands.
    Stop(FlowReport),
}

/// One invocation's run loop over one run.
struct Driver<'s, 'a> {
    s: &'s Session<'a>,
    run: &'s LoadedRun,
    runners: Runners,
    view: Box<dyn Progress>,
    /// The PRs published during this invocation, for the status comment.
    prs: Vec<(usize, u64)>,
    /// What restacking did, said first in the status comment.
    notes: Vec<String>,
}

/// The run loop: bring the stack up to date, run what is due, publish it, read the
/// checkpoint decisions.
pub async fn drive(s: &Session<'_>, run: &LoadedRun) -> Result<FlowReport> {
    drive_with(s, run, false).await
}

/// [`drive`], merging the base branch's tip into the stack first when `update_base`
/// (`/prflow update`).
pub async fn drive_with(s: &Session<'_>, run: &LoadedRun, update_base: bool) -> Result<FlowReport> {
    let mut d = Driver {
        s,
        run,
        runners: engine::runners_for(&s.fc.workdir, &run.meta, default_runner(s.fc))?,
        view: progress::for_terminal(s.fc.options.quiet),
        prs: Vec::new(),
        notes: Vec::new(),
    };
    if !s.fc.options.dry_run {
        if let Step::Stop(report) = d.restack(update_base).await? {
            return Ok(report);
        }
    }
    // Every pass that does not stop moves one phase forward: a due phase runs (and then
    // waits for its review or is done), or a waiting phase's approval is recorded. A run
    // of N phases therefore stops within 2N passes plus the one that reports it; running
    // out means a step claimed progress it did not make, which is a bug, not a loop.
    let passes = 2 * run.plan.phases.len() + 1;
    for _ in 0..passes {
        let st = d.read()?;
        let step = match st.current() {
            None => d.finished(&st).await?,
            Some(p) if p.status == PhaseStatus::WaitingForReview => {
                d.review_checkpoint(&st, p.index).await?
            }
            Some(p) => d.run_due_phase(&st, p.index).await?,
        };
        if let Step::Stop(report) = step {
            return Ok(report);
        }
    }
    bail!(
        "run {} did not settle; this is a bug in prflow",
        run.meta.run_id
    )
}

impl Driver<'_, '_> {
    fn read(&self) -> Result<RunState> {
        read(&self.s.repo()?, self.run)
    }

    fn stop(&self, st: &RunState, state: FlowState, phase: usize, pr: Option<&Pull>) -> Step {
        Step::Stop(report(self.s, self.run, st, state, Some(phase), pr))
    }

    /// Rewrites the run's status comment with `headline` (after what restacking did)
    /// over the current state.
    async fn say(&self, st: &RunState, headline: &str) -> Result<()> {
        let mut text = String::new();
        for n in &self.notes {
            text.push_str(n);
            text.push_str("\n\n");
        }
        text.push_str(headline);
        let summary = body::status_comment(&self.run.workflow, st, &self.prs, &text);
        status_comment(self.s, self.run, &summary).await
    }

    /// The one place the engine runs a phase for GitHub: a due phase, or a revision.
    fn run_engine_phase(
        &self,
        index: usize,
        revision: Option<&Revision>,
    ) -> Result<Result<(), String>> {
        let result = self.s.blocking(|dir, _| {
            let repo = Repo::open(dir)?;
            engine::run_phase(
                &repo,
                self.run,
                &self.runners,
                self.view.as_ref(),
                index,
                revision,
            )
        })?;
        self.s.push_run(&self.run.meta.run_id)?;
        Ok(result)
    }

    /// Every phase is done.
    async fn finished(&self, st: &RunState) -> Result<Step> {
        self.say(
            st,
            "✅ The run is done: every phase is approved. Comment `/prflow land` to merge the stack.",
        )
        .await?;
        Ok(Step::Stop(report(
            self.s,
            self.run,
            st,
            FlowState::Finished,
            None,
            None,
        )))
    }

    /// Runs a phase that is due (pending, half done, or failed and retried), or hands
    /// it to GitHub Actions when that is where agents run.
    async fn run_due_phase(&mut self, st: &RunState, index: usize) -> Result<Step> {
        if let super::Executor::Actions { workflow_file } = &self.s.fc.options.executor {
            let payload = serde_json::json!({"run_id": self.run.meta.run_id, "phase": index});
            self.s
                .client
                .repository_dispatch("prflow-continue", &payload)
                .await
                .with_context(|| {
                    format!("cannot dispatch phase {index} to GitHub Actions ({workflow_file})")
                })?;
            return Ok(self.stop(st, FlowState::Dispatched, index, None));
        }
        if self.s.fc.options.dry_run {
            return Ok(self.stop(st, FlowState::DryRun, index, None));
        }
        if let Err(message) = self.run_engine_phase(index, None)? {
            let st = self.read()?;
            let pr = self.publish(&st, index, 0).await?;
            self.say(
                &st,
                &format!(
                    "❌ Phase {index} failed:\n\n```\n{message}\n```\n\nFix the cause, then comment `/prflow retry`."
                ),
            )
            .await?;
            return Ok(self.stop(&st, FlowState::Failed, index, Some(&pr)));
        }
        // A phase without a checkpoint is published at once and the run goes on.
        let st = self.read()?;
        if st.phases[index - 1].status == PhaseStatus::Done {
            self.publish(&st, index, 0).await?;
        }
        Ok(Step::Continue)
    }

    /// Brings the stack up to date (see [`stack`]): merged PRs are recorded and the PRs
    /// above them retargeted, what moved below a phase is merged into it, phases done
    /// but never published get their PR. Stops on a PR closed without merging (the run
    /// pauses) and on a merge conflict.
    async fn restack(&mut self, update_base: bool) -> Result<Step> {
        let st = self.read()?;
        let prs = stack::read_prs(self.s, &st).await?;
        let found = self
            .s
            .blocking(|_, _| stack::restack(self.s, self.run, &st, &prs, update_base))?;
        let st = self.read()?;
        match found {
            Restack::Paused { index, pr } => {
                self.prs.push((index, pr.number));
                self.say(
                    &st,
                    &format!(
                        "⏸️ The run is paused: #{} (phase {index}) was closed without merging. \
                         Comment `/prflow retry` to reopen it and go on, or `/prflow abort` to end the run.",
                        pr.number
                    ),
                )
                .await?;
                Ok(self.stop(&st, FlowState::Paused, index, Some(&pr)))
            }
            Restack::Conflict {
                index,
                paths,
                ours,
                theirs,
            } => {
                let text = stack::conflict_text(index, &paths, &ours, &theirs);
                let pr = prs[index - 1].clone().filter(|p| p.is_open());
                if let Some(pr) = &pr {
                    self.s
                        .client
                        .ensure_status_comment(
                            pr.number,
                            &stack::conflict_marker(&self.run.meta.run_id, index),
                            &text,
                        )
                        .await?;
                }
                self.say(&st, &text).await?;
                Ok(self.stop(&st, FlowState::Conflict, index, pr.as_ref()))
            }
            Restack::Settled { changed, notes } => {
                self.notes = notes;
                for p in &st.phases {
                    let pr = &prs[p.index - 1];
                    let moved = changed.contains(&p.index)
                        || pr.as_ref().is_some_and(|pr| {
                            pr.is_open() && pr.base_ref != stack::pr_base(self.run, &st, p.index)
                        });
                    let unpublished = p.status == PhaseStatus::Done && pr.is_none();
                    if !p.landed && p.head.is_some() && (moved || unpublished) {
                        let repo = self.s.repo()?;
                        let revision = state::revision_count(&repo, &self.run.meta.run_id, p)?;
                        self.publish(&st, p.index, revision).await?;
                    }
                }
                Ok(Step::Continue)
            }
        }
    }

    /// Publishes phase `index` (see [`publish::publish`]) and remembers its PR.
    async fn publish(&mut self, st: &RunState, index: usize, revision: u32) -> Result<Pull> {
        let pr = publish::publish(self.s, self.run, st, index, revision).await?;
        if !self.prs.iter().any(|(i, _)| *i == index) {
            self.prs.push((index, pr.number));
        }
        Ok(pr)
    }

    /// A phase waits at its checkpoint: publish it and act on what its reviews decide.
    async fn review_checkpoint(&mut self, st: &RunState, index: usize) -> Result<Step> {
        let repo = self.s.repo()?;
        let revision = state::revision_count(&repo, &self.run.meta.run_id, &st.phases[index - 1])?;
        let pr = self.publish(st, index, revision).await?;
        let (decision, feedback) = review::decide(self.s, self.run, st, index, &pr).await?;
        match decision {
            Decision::Approved { reviewer } => self.record_approval(index, &pr, &reviewer),
            Decision::ChangesRequested {
                review_id,
                reviewer,
                commit,
            } => {
                let rev = Revision {
                    number: revision + 1,
                    review_id,
                    feedback: feedback.unwrap_or_default(),
                };
                self.revise(index, rev, &reviewer, &commit).await
            }
            Decision::Wait { reasons } => self.wait(st, index, &pr, &reasons).await,
        }
    }

    /// An approval passed the rules: the approved head is recorded and pushed.
    fn record_approval(&self, index: usize, pr: &Pull, reviewer: &str) -> Result<Step> {
        let repo = self.s.repo()?;
        repo.git.reference(
            &naming::approval_ref(&self.run.meta.run_id, index),
            Oid::from_str(&pr.head_sha)?,
            true,
            &format!("prflow: approved by {reviewer}"),
        )?;
        self.s.push_run(&self.run.meta.run_id)?;
        Ok(Step::Continue)
    }

    /// Changes were requested: the agents revise the phase with the review as feedback,
    /// the reviewer is asked again and shown what changed since the commit they saw.
    async fn revise(
        &mut self,
        index: usize,
        rev: Revision,
        reviewer: &str,
        reviewed: &str,
    ) -> Result<Step> {
        let run_id = &self.run.meta.run_id;
        let number = rev.number;
        let result = self.run_engine_phase(index, Some(&rev))?;
        let st = self.read()?;
        let pr = self.publish(&st, index, number).await?;
        self.s
            .client
            .request_reviewers(pr.number, &[reviewer.to_string()])
            .await?;
        let headline = match &result {
            Ok(()) => format!(
                "✏️ Phase {index} revised (revision {number}) after review by @{reviewer}; waiting for a new review on #{}.",
                pr.number
            ),
            Err(m) => format!("❌ The revision of phase {index} failed:\n\n```\n{m}\n```"),
        };
        if result.is_ok() {
            let diff = review::interdiff(&self.s.repo()?, reviewed, &pr.head_sha)?;
            self.s
                .client
                .ensure_status_comment(
                    pr.number,
                    &format!(
                        "<!-- prflow:interdiff run={run_id} phase={index} review={} -->",
                        rev.review_id
                    ),
                    &body::interdiff(reviewer, &diff, number),
                )
                .await?;
        }
        self.say(&st, &headline).await?;
        let state = if result.is_ok() {
            FlowState::WaitingForReview
        } else {
            FlowState::Failed
        };
        Ok(self.stop(&st, state, index, Some(&pr)))
    }

    /// Nothing counts yet: the status comment says why, and the run waits.
    async fn wait(
        &self,
        st: &RunState,
        index: usize,
        pr: &Pull,
        reasons: &[String],
    ) -> Result<Step> {
        let mut headline = format!(
            "⏳ Phase {index} waits for an approving review on #{}.",
            pr.number
        );
        for r in reasons {
            headline.push_str(&format!("\n- {r}"));
        }
        self.say(st, &headline).await?;
        Ok(self.stop(st, FlowState::WaitingForReview, index, Some(pr)))
    }
}

fn read(repo: &Repo, run: &LoadedRun) -> Result<RunState> {
    state::read_state(
        repo,
        &run.meta,
        &run.plan,
        &state::local_approvals(repo, &run.meta.run_id),
    )
}

fn report(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    state: FlowState,
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
        state,
        pull_request_number: pr.map(|p| p.number),
        pull_request_url: pr.map(|p| p.html_url.clone()),
        summary_markdown: summary,
        ignored_because: None,
        api_calls,
        would_refuse: None,
    }
}
