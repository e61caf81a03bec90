//! Every name a run leaves in git and on GitHub, and how a run is found again from
//! them. These names are the contract between invocations (and between the CLI, the
//! App and the Action): change one here and every reader changes with it. The list,
//! for people, is in docs/architecture.md ("Contracts").
//!
//! - `prflow/<run>/<NN>-<slug>`: the phase branches;
//! - `refs/prflow/runs/<run>`: the run's metadata (`run.json`) and workflow text;
//! - `refs/prflow/approvals/<run>/<NN>`: the phase head a person approved;
//! - `refs/prflow/failures/<run>/<NN>`: why a phase stopped, until it runs again;
//! - `refs/prflow/aborted/<run>`: the run was aborted (it never continues);
//! - `refs/prflow/control/<run>/<NN>`: what control flow decided in the phase
//!   (`control.json`: skipped tasks and why, handled failures, finished loops);
//! - `refs/prflow/closed/<run>/<NN>`: the phase PR prflow closed itself (rollback);
//! - `refs/prflow/landed/<run>/<NN>`: the phase head a person merged (its PR is merged,
//!   its branch may be gone); the phase is done and is never pushed again;
//! - `prflow/<gate>`: the check run (or commit status) of a gate; `prflow/stack`
//!   the commit status that keeps a stacked PR from being merged out of order.

use super::runners::Unservable;
use super::{load_run, state, LoadedRun};
use crate::gitops::Repo;
use crate::workflow::plan::PlannedPhase;
use anyhow::Result;

/// What every phase branch starts with.
pub const BRANCH_PREFIX: &str = "prflow/";
/// What every check run and commit status prflow reports starts with.
pub const CHECK_PREFIX: &str = "prflow/";
/// The commit status context that marks a PR as stacked on an unmerged one.
pub const STACK_STATUS: &str = "prflow/stack";

/// `prflow/<run>/<NN>-<slug>`.
pub fn branch_name(run: &str, phase: &PlannedPhase) -> String {
    format!("{BRANCH_PREFIX}{run}/{:02}-{}", phase.index, phase.slug)
}

/// `refs/heads/<branch>`.
pub fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

/// The ref holding the run's metadata and workflow text.
pub fn meta_ref(run: &str) -> String {
    format!("refs/prflow/runs/{run}")
}

/// Glob over every run's metadata ref.
pub const META_GLOB: &str = "refs/prflow/runs/*";

/// The ref pointing at the head a person approved for phase `phase`.
pub fn approval_ref(run: &str, phase: usize) -> String {
    format!("refs/prflow/approvals/{run}/{phase:02}")
}

/// Glob over the run's approval refs.
pub fn approvals_glob(run: &str) -> String {
    format!("refs/prflow/approvals/{run}/*")
}

/// The ref whose tree holds why phase `phase` stopped.
pub fn failure_ref(run: &str, phase: usize) -> String {
    format!("refs/prflow/failures/{run}/{phase:02}")
}

/// The ref whose tree's `control.json` holds what control flow decided in a phase.
pub fn control_ref(run: &str, phase: usize) -> String {
    format!("refs/prflow/control/{run}/{phase:02}")
}

/// Glob over the run's control refs.
pub fn control_glob(run: &str) -> String {
    format!("refs/prflow/control/{run}/*")
}

/// The ref pointing at the phase head whose PR a person merged.
pub fn landed_ref(run: &str, phase: usize) -> String {
    format!("refs/prflow/landed/{run}/{phase:02}")
}

/// Glob over the run's landed refs.
pub fn landed_glob(run: &str) -> String {
    format!("refs/prflow/landed/{run}/*")
}

/// The ref whose tree's `pull` file names the PR of phase `phase` prflow closed
/// itself (`/prflow rollback`): that closing does not pause the run.
pub fn closed_ref(run: &str, phase: usize) -> String {
    format!("refs/prflow/closed/{run}/{phase:02}")
}

/// Glob over the run's closed refs.
pub fn closed_glob(run: &str) -> String {
    format!("refs/prflow/closed/{run}/*")
}

/// The ref that marks the run as aborted.
pub fn aborted_ref(run: &str) -> String {
    format!("refs/prflow/aborted/{run}")
}

/// Was the run aborted (`/prflow abort`)? An aborted run never continues.
pub fn is_aborted(repo: &Repo, run: &str) -> bool {
    repo.ref_target(&aborted_ref(run)).is_some()
}

/// The run and the 1-based phase index of a phase branch (`prflow/<run>/<NN>-<slug>`,
/// with or without `refs/heads/`); `None` for any other branch.
pub fn run_of_branch(branch: &str) -> Option<(&str, usize)> {
    let b = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    let rest = b.strip_prefix(BRANCH_PREFIX)?;
    let (run, phase) = rest.split_once('/')?;
    let index = phase.split('-').next()?.parse().ok()?;
    (!run.is_empty()).then_some((run, index))
}

/// The check run name of a gate: `prflow/<gate>`.
pub fn check_name(gate: &str) -> String {
    format!("{CHECK_PREFIX}{gate}")
}

/// The gate a check run reports (`prflow/lint` → `lint`).
pub fn gate_of_check(check: &str) -> &str {
    check.strip_prefix(CHECK_PREFIX).unwrap_or(check)
}

/// Every run id recorded in this repository.
pub fn run_ids(repo: &Repo) -> Result<Vec<String>> {
    Ok(repo
        .ref_names(META_GLOB)?
        .into_iter()
        .filter_map(|n| n.rsplit('/').next().map(str::to_string))
        .collect())
}

/// The unfinished, not aborted run of the workflow at `workflow_path`: the one a new
/// trigger for that file continues, whatever its base does now. With `until_landed`
/// (runs on GitHub) a finished run whose phases have not all landed is unfinished too:
/// its stack is still kept up to date as people merge it.
pub fn find_unfinished(
    repo: &Repo,
    workflow_path: &str,
    until_landed: bool,
) -> Result<Option<LoadedRun>> {
    for id in run_ids(repo)? {
        let Some((meta, _)) = state::read_meta(repo, &id) else {
            continue;
        };
        if meta.workflow_path != workflow_path || is_aborted(repo, &id) {
            continue;
        }
        let r = load_run(repo, &id)?;
        let st = state::read_state(repo, &r.meta, &r.plan, &state::local_approvals(repo, &id))?;
        let live = until_landed && !st.phases.iter().all(|p| p.landed);
        if !st.finished() || live {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The newest run started from issue or PR `issue` (its status comment lives there).
pub fn run_of_issue(repo: &Repo, issue: u64) -> Result<Option<String>> {
    let mut newest = None;
    for id in run_ids(repo)? {
        if let Some((meta, _)) = state::read_meta(repo, &id) {
            if meta.origin_issue == Some(issue) {
                newest = Some(id);
            }
        }
    }
    Ok(newest)
}

/// The message for a run whose tasks no runner can serve: nothing was written.
pub fn did_not_start(tasks: &[Unservable], packs: &[String]) -> String {
    let mut s = String::from("the run did not start, nothing was written:\n");
    for t in tasks {
        s.push_str(&format!("  {t}\n"));
    }
    s.push_str(&format!("template packs available: {}\n", packs.join(", ")));
    s.push_str(NO_RUNNER_FIX);
    s
}

/// How to give tasks that nothing serves a runner; said wherever they are reported.
pub const NO_RUNNER_FIX: &str = "give them a runner (`runner` on the task or its agent, or \"settings\": {\"runner\": …}), or a default one without editing the workflow: `prflow run --runner 'claude -p'` (or llm:openai:gpt-4o-mini), the Action's `runner` input, the App's PRFLOW_DEFAULT_RUNNER";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_branches_name_their_run_and_phase() {
        assert_eq!(
            run_of_branch("prflow/ab12cd/02-services"),
            Some(("ab12cd", 2))
        );
        assert_eq!(
            run_of_branch("refs/heads/prflow/ab12cd/01-design"),
            Some(("ab12cd", 1))
        );
        assert_eq!(run_of_branch("feature/x"), None);
        assert_eq!(run_of_branch("prflow/"), None);
        assert_eq!(run_of_branch("prflow//01-x"), None);
        assert_eq!(run_of_branch("prflow/ab12cd/design"), None);
    }

    #[test]
    fn checks_and_gates_map_both_ways() {
        assert_eq!(check_name("lint"), "prflow/lint");
        assert_eq!(gate_of_check("prflow/lint"), "lint");
        assert_eq!(gate_of_check("lint"), "lint");
    }
}
