//! Keeping the stack of phase PRs true to what people do on GitHub, on every trigger
//! before anything else runs:
//!
//! - a phase PR a person **merged** (merge commit, squash or rebase) is recorded as
//!   landed (see [`naming::landed_ref`]); the PRs above it are retargeted to what it
//!   was merged into, and that branch is merged into them, so each PR shows its own
//!   phase's changes again;
//! - new commits on a lower phase branch (a person's push, a revision) are merged
//!   forward into every later phase branch;
//! - `/prflow update` merges the base branch into phase 1 and forward the same way;
//! - a phase PR **closed without merging** pauses the run: prflow never reopens it by
//!   itself (`/prflow retry` does, `/prflow abort` ends the run).
//!
//! Every update is a merge commit authored by prflow on top of the branch as it is on
//! GitHub (a person's commits included), pushed as a fast-forward: never a force push.
//! A merge that conflicts stops with the paths and both sides named.

use super::session::Session;
use crate::engine::naming;
use crate::engine::state::RunState;
use crate::engine::LoadedRun;
use crate::github::Pull;
use crate::gitops::{prflow_signature, trailers, Repo};
use anyhow::{Context, Result};
use git2::Oid;

/// What restacking found.
pub enum Restack {
    /// The stack is in place. `changed`: phases whose branch got a merge commit;
    /// `notes`: what happened, one sentence each, for the status comment.
    Settled {
        changed: Vec<usize>,
        notes: Vec<String>,
    },
    /// A person closed phase `index`'s PR without merging it.
    Paused { index: usize, pr: Pull },
    /// Merging `theirs` into phase `index` conflicts on `paths`.
    Conflict {
        index: usize,
        paths: Vec<String>,
        /// The phase branch and its head.
        ours: (String, Oid),
        /// What was merged in (a branch name) and its commit.
        theirs: (String, Oid),
    },
}

/// Each phase's newest PR (by number), `None` for a phase without a PR. A phase
/// with no branch is looked up too when a later phase has one: GitHub deletes a
/// merged PR's branch when the repository says so, and a fresh clone (the Action's)
/// then knows phase 1 only from phase 2 standing on it.
pub async fn read_prs(s: &Session<'_>, st: &RunState) -> Result<Vec<Option<Pull>>> {
    let mut out = Vec::new();
    for (i, p) in st.phases.iter().enumerate() {
        let later_exists = st.phases[i + 1..].iter().any(|q| q.head.is_some());
        if p.head.is_none() && !later_exists {
            out.push(None);
            continue;
        }
        let pulls = s.client.list_pulls("all", Some(&p.branch)).await?;
        out.push(pulls.into_iter().max_by_key(|p| p.number));
    }
    Ok(out)
}

/// Did a person close `pr` (not merged) on the phase as it is now? A PR prflow closed
/// itself (rollback) does not count.
pub fn closed_on_tip(repo: &Repo, run: &str, index: usize, pr: &Pull, tip: Option<Oid>) -> bool {
    if pr.is_open() || pr.merged {
        return false;
    }
    let ours = repo
        .read_tree_ref(&naming::closed_ref(run, index), "pull")
        .is_some_and(|n| n == pr.number.to_string().as_bytes());
    if ours {
        return false;
    }
    let (Ok(head), Some(tip)) = (Oid::from_str(&pr.head_sha), tip) else {
        return false;
    };
    head == tip || repo.is_ancestor(head, tip)
}

/// The branch phase `index`'s PR targets: the nearest phase below that has not
/// landed, or the run's base branch when every phase below has.
pub fn pr_base(run: &LoadedRun, st: &RunState, index: usize) -> String {
    st.phases[..index - 1]
        .iter()
        .rev()
        .find(|p| !p.landed)
        .map(|p| p.branch.clone())
        .unwrap_or_else(|| run.meta.base_ref.clone())
}

/// Records merged PRs, finds closed ones, merges what moved into the phases above it.
/// `update_base`: merge the base branch's tip into phase 1 too (`/prflow update`).
pub fn restack(
    s: &Session<'_>,
    run: &LoadedRun,
    st: &RunState,
    prs: &[Option<Pull>],
    update_base: bool,
) -> Result<Restack> {
    let repo = s.repo()?;
    let run_id = &run.meta.run_id;
    let mut notes = Vec::new();
    let mut landed: Vec<bool> = st.phases.iter().map(|p| p.landed).collect();
    for (i, p) in st.phases.iter().enumerate() {
        let Some(pr) = prs[i].as_ref().filter(|pr| pr.merged && !p.landed) else {
            continue;
        };
        // What landed is the PR's head; the local tip stands in when GitHub's head
        // commit is not in the clone (a squash of a deleted branch).
        let head = Oid::from_str(&pr.head_sha)
            .ok()
            .filter(|h| repo.git.find_commit(*h).is_ok())
            .or(p.tip);
        let Some(head) = head else { continue };
        repo.git.reference(
            &naming::landed_ref(run_id, p.index),
            head,
            true,
            &format!("prflow: #{} merged", pr.number),
        )?;
        landed[i] = true;
        notes.push(format!(
            "🔀 #{} (phase {}) was merged into `{}`.",
            pr.number, p.index, pr.base_ref
        ));
    }
    for (i, p) in st.phases.iter().enumerate() {
        if let Some(pr) = prs[i].as_ref().filter(|_| !landed[i]) {
            if closed_on_tip(&repo, run_id, p.index, pr, p.tip) {
                return Ok(Restack::Paused {
                    index: p.index,
                    pr: pr.clone(),
                });
            }
        }
    }
    let base_tip = |repo: &Repo| -> Result<Oid> {
        let name = &run.meta.base_ref;
        repo.resolve_commit(&format!("refs/remotes/origin/{name}"))
            .or_else(|_| repo.resolve_commit(name))
            .with_context(|| format!("the base branch `{name}` is gone"))
    };
    let mut tips: Vec<Option<Oid>> = st.phases.iter().map(|p| p.tip).collect();
    let mut changed = Vec::new();
    for (i, p) in st.phases.iter().enumerate() {
        let Some(tip) = tips[i].filter(|_| !landed[i]) else {
            continue;
        };
        // What this phase stands on now.
        let below = (0..i).rev().find(|j| !landed[*j]);
        let (name, target) = match below {
            Some(j) => match tips[j] {
                Some(t) => (format!("`{}`", st.phases[j].branch), t),
                None => continue,
            },
            None if i > 0 || update_base => (format!("`{}`", run.meta.base_ref), base_tip(&repo)?),
            None => continue,
        };
        if target == tip || repo.is_ancestor(target, tip) {
            continue;
        }
        let mut index = repo.git.merge_commits(
            &repo.git.find_commit(tip)?,
            &repo.git.find_commit(target)?,
            None,
        )?;
        if index.has_conflicts() {
            let mut paths: Vec<String> = index
                .conflicts()?
                .filter_map(|c| c.ok())
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .collect();
            paths.dedup();
            return Ok(Restack::Conflict {
                index: p.index,
                paths,
                ours: (p.branch.clone(), tip),
                theirs: (name.trim_matches('`').to_string(), target),
            });
        }
        let tree = repo.git.find_tree(index.write_tree_to(&repo.git)?)?;
        let sig = prflow_signature()?;
        let message = format!(
            "prflow: merge {name} into phase {} (keep the stack up to date)\n\n{}: {run_id}\n{}: {target}\n",
            p.index,
            trailers::RUN,
            trailers::RESTACK
        );
        let merged = repo.git.commit(
            None,
            &sig,
            &sig,
            &message,
            &tree,
            &[&repo.git.find_commit(tip)?, &repo.git.find_commit(target)?],
        )?;
        repo.cas_ref(
            &naming::branch_ref(&p.branch),
            merged,
            Some(tip),
            "prflow: restack",
        )?;
        tips[i] = Some(merged);
        changed.push(p.index);
        notes.push(format!(
            "🔁 Merged {name} into phase {} (`{}`, merge commit {}); its gates run again.",
            p.index,
            p.branch,
            &merged.to_string()[..7]
        ));
    }
    s.push_run(run_id)?;
    Ok(Restack::Settled { changed, notes })
}

/// The marker of phase `index`'s conflict comment on its PR: one comment per phase
/// and run, written when restacking stops there and rewritten once it is resolved.
pub fn conflict_marker(run_id: &str, index: usize) -> String {
    format!("<!-- prflow:conflict run={run_id} phase={index} -->")
}

/// What the conflict comment says once `/prflow retry` went past the conflict, so
/// nobody reading the PR later is told to resolve what was resolved.
pub fn conflict_resolved_text(index: usize) -> String {
    format!(
        "✅ Phase {index}'s merge conflict was resolved on the branch, and `/prflow retry` \
         restacked it; the run went on."
    )
}

/// The status comment's words for a conflict, naming the paths and both sides.
pub fn conflict_text(
    index: usize,
    paths: &[String],
    ours: &(String, Oid),
    theirs: &(String, Oid),
) -> String {
    let list: Vec<String> = paths.iter().map(|p| format!("`{p}`")).collect();
    format!(
        "⚠️ Phase {index} stopped: merging `{t}` ({ts}) into `{o}` ({os}) conflicts in {}.\n\n\
         Both changed these files: `{o}` (this phase) and `{t}`. Resolve it on the branch — \
         `git fetch origin && git checkout {o} && git merge origin/{t}`, fix the files, commit, \
         push — then comment `/prflow retry`.",
        list.join(", "),
        o = ours.0,
        os = &ours.1.to_string()[..7],
        t = theirs.0,
        ts = &theirs.1.to_string()[..7],
    )
}
