//! Reading a checkpoint's reviews back: the facts the rules need are gathered from
//! the API and git here, and [`crate::engine::checkpoint::decide`] decides.

use super::publish::required_gates_failing;
use super::session::Session;
use crate::agents::{Feedback, InlineComment};
use crate::engine::checkpoint::{self, Decision, Facts, Verdict};
use crate::engine::state::{self, RunState};
use crate::engine::LoadedRun;
use crate::github::{Pull, ReviewState};
use crate::gitops::Repo;
use anyhow::Result;
use git2::Oid;
use std::collections::HashSet;

/// Reads the PR's reviews, gathers what the checkpoint rules need and applies them;
/// for a change request, also the feedback (body and inline comments) a revision needs.
pub async fn decide(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    index: usize,
    pr: &Pull,
) -> Result<(Decision, Option<Feedback>)> {
    let p = &st.phases[index - 1];
    let client = s.client.with_phase(&format!("phase-{index}"));
    let raw = if p.checkpoint.is_some() {
        client.list_reviews(pr.number).await?
    } else {
        Vec::new()
    };
    let reviews: Vec<checkpoint::Review> = raw
        .iter()
        .map(|r| checkpoint::Review {
            id: r.id,
            user: r.user.clone(),
            verdict: match r.state {
                ReviewState::Approved => Verdict::Approved,
                ReviewState::ChangesRequested => Verdict::ChangesRequested,
                ReviewState::Dismissed => Verdict::Dismissed,
                _ => Verdict::Other,
            },
            commit: r.commit_id.clone(),
        })
        .collect();
    let required_failing = if reviews.is_empty() {
        Vec::new()
    } else {
        required_gates_failing(&client, run, &pr.head_sha).await?
    };
    let repo = s.repo()?;
    let tasks = &run.plan.phases[index - 1].tasks;
    let mut answered = HashSet::new();
    for r in reviews
        .iter()
        .filter(|r| r.verdict == Verdict::ChangesRequested)
    {
        let done = state::revised_tasks(&repo, &run.meta.run_id, p, r.id)?;
        if tasks.iter().all(|t| done.contains(t)) {
            answered.insert(r.id);
        }
    }
    let no_writers = HashSet::new();
    let mut facts = Facts {
        has_checkpoint: p.checkpoint.is_some(),
        merged: pr.merged,
        head: &pr.head_sha,
        starter: run.meta.starter.as_deref(),
        allow_self_approval: s
            .fc
            .options
            .allow_self_approval
            .unwrap_or(run.workflow.allow_self_approval),
        required_failing: &required_failing,
        writers: &no_writers,
        answered: &answered,
    };
    let mut writers = HashSet::new();
    for user in checkpoint::permission_needed(&reviews, &facts) {
        if client.permission(&user).await?.can_write() {
            writers.insert(user);
        }
    }
    facts.writers = &writers;
    let decision = checkpoint::decide(&reviews, &facts);
    let feedback = match &decision {
        Decision::ChangesRequested {
            review_id,
            reviewer,
            ..
        } => {
            let body = raw
                .iter()
                .find(|r| r.id == *review_id)
                .map(|r| r.body.clone())
                .unwrap_or_default();
            let comments = client.review_comments(pr.number, *review_id).await?;
            Some(Feedback {
                reviewer: Some(reviewer.clone()),
                body,
                comments: comments
                    .into_iter()
                    .map(|c| InlineComment {
                        path: c.path,
                        line: c.line.or(c.original_line),
                        body: c.body,
                    })
                    .collect(),
            })
        }
        _ => None,
    };
    Ok((decision, feedback))
}

/// Text files that differ between the reviewed commit and the new head.
pub fn interdiff(repo: &Repo, from: &str, to: &str) -> Result<Vec<(String, String, String)>> {
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
