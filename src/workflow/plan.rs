//! Phases: how a workflow is cut into branches (docs/architecture.md, "Phases").
//!
//! 1. Explicit `phases` are the phases.
//! 2. Otherwise checkpoints cut the run: phase k holds checkpoint k and every
//!    not-yet-placed task it depends on (transitively); tasks that precede no
//!    checkpoint form a last phase, named `final`.
//! 3. No checkpoints: one phase, named after the workflow.
//!
//! Inside a phase, tasks are listed in a run order: dependencies first, ties broken
//! by priority (higher first), then by file order. Everything is linear in tasks
//! plus dependencies (a 1,000-task plan takes well under a millisecond).

use super::Workflow;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The run order of a workflow: `{"workflow", "concurrency", "phases": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub workflow: String,
    pub concurrency: usize,
    pub phases: Vec<PlannedPhase>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedPhase {
    /// 1-based.
    pub index: usize,
    pub name: String,
    /// Branch-safe name: lowercase ASCII letters, digits and `-`.
    #[serde(skip)]
    pub slug: String,
    /// Task ids in a valid run order (dependencies first; ties by priority, then file order).
    pub tasks: Vec<String>,
    /// The checkpoint task that ends this phase, if any.
    pub checkpoint: Option<String>,
}

/// Name of the phase that holds the tasks after the last checkpoint.
pub const FINAL_PHASE: &str = "final";

/// A branch-safe form of a phase name: lowercase ASCII letters, digits and single
/// dashes, at most 48 characters, never empty (`"phase"`).
pub fn phase_slug(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    if s.len() > 48 {
        s.truncate(48);
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "phase".to_string()
    } else {
        s
    }
}

/// The result of cutting tasks by checkpoints.
pub(crate) struct Cut {
    /// Phase (0-based) of each task.
    pub phase_of: Vec<usize>,
    /// How many phases there are (including a trailing phase without checkpoint).
    pub count: usize,
    /// For each checkpoint that phases already held when its turn came: its position
    /// in the list and the position of the checkpoint that pulled it in earlier.
    pub conflicts: Vec<(usize, usize)>,
    /// For each phase that ends at a checkpoint, that checkpoint's task index.
    pub ends: Vec<usize>,
}

/// Rule 2 of docs/architecture.md "Phases" on an acyclic graph given as dependency lists.
pub(crate) fn cut_by_checkpoints(deps: &[Vec<usize>], checkpoints: &[usize]) -> Cut {
    const NONE: usize = usize::MAX;
    let mut phase_of = vec![NONE; deps.len()];
    // Which checkpoint position placed each phase (to explain conflicts).
    let mut placed_by: Vec<usize> = Vec::new();
    let mut conflicts = Vec::new();
    let mut ends = Vec::new();
    let mut stack = Vec::new();
    for (k, &c) in checkpoints.iter().enumerate() {
        if phase_of[c] != NONE {
            conflicts.push((k, placed_by[phase_of[c]]));
            continue;
        }
        let phase = ends.len();
        ends.push(c);
        placed_by.push(k);
        phase_of[c] = phase;
        stack.push(c);
        while let Some(u) = stack.pop() {
            for &d in &deps[u] {
                if phase_of[d] == NONE {
                    phase_of[d] = phase;
                    stack.push(d);
                }
            }
        }
    }
    let mut count = ends.len();
    if phase_of.contains(&NONE) {
        for p in phase_of.iter_mut().filter(|p| **p == NONE) {
            *p = count;
        }
        count += 1;
    }
    Cut {
        phase_of,
        count,
        conflicts,
        ends,
    }
}

/// Orders `members` so dependencies come first; among ready tasks the higher
/// priority, then the earlier one in the file, goes first. Dependencies outside
/// `members` count as done (they ran in an earlier phase).
pub(crate) fn run_order(
    members: &[usize],
    deps: &[Vec<usize>],
    dependents: &[Vec<usize>],
    priority: &[i64],
    in_set: &mut [bool],
) -> Vec<usize> {
    for &m in members {
        in_set[m] = true;
    }
    let mut waiting: HashMap<usize, usize> = HashMap::with_capacity(members.len());
    let mut ready = BinaryHeap::new();
    for &m in members {
        let n = deps[m].iter().filter(|d| in_set[**d]).count();
        if n == 0 {
            ready.push((priority[m], Reverse(m)));
        } else {
            waiting.insert(m, n);
        }
    }
    let mut out = Vec::with_capacity(members.len());
    while let Some((_, Reverse(u))) = ready.pop() {
        out.push(u);
        for &v in &dependents[u] {
            if let Some(n) = waiting.get_mut(&v) {
                *n -= 1;
                if *n == 0 {
                    waiting.remove(&v);
                    ready.push((priority[v], Reverse(v)));
                }
            }
        }
    }
    for &m in members {
        in_set[m] = false;
    }
    // A cycle (impossible after validation) leaves tasks waiting: keep them, in file order.
    if out.len() < members.len() {
        let mut rest: Vec<usize> = waiting.into_keys().collect();
        rest.sort_unstable();
        out.extend(rest);
    }
    out
}

/// Cuts a validated workflow into phases.
pub fn plan(workflow: &Workflow) -> Plan {
    let tasks = &workflow.tasks;
    let n = tasks.len();
    let ix: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = tasks
        .iter()
        .map(|t| {
            t.dependencies
                .iter()
                .filter_map(|d| ix.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let priority: Vec<i64> = tasks.iter().map(|t| t.priority).collect();
    let checkpoints: Vec<usize> = workflow
        .checkpoints
        .iter()
        .filter_map(|c| ix.get(c.as_str()).copied())
        .collect();
    let mut in_set = vec![false; n];
    let mut order =
        |members: &[usize]| run_order(members, &deps, &dependents, &priority, &mut in_set);

    // (name, members in run order, checkpoint)
    let mut cut: Vec<(String, Vec<usize>, Option<usize>)> = Vec::new();
    if let Some(specs) = &workflow.phases {
        let is_cp: Vec<bool> = {
            let mut v = vec![false; n];
            for &c in &checkpoints {
                v[c] = true;
            }
            v
        };
        for spec in specs {
            let members: Vec<usize> = spec
                .tasks
                .iter()
                .filter_map(|t| ix.get(t.as_str()).copied())
                .collect();
            let ordered = order(&members);
            let listed = ordered.iter().rev().find(|&&t| is_cp[t]).copied();
            let checkpoint = match (listed, spec.checkpoint) {
                (Some(c), _) => Some(c),
                (None, true) => ordered.last().copied(),
                (None, false) => None,
            };
            cut.push((spec.name.clone(), ordered, checkpoint));
        }
    } else {
        let c = cut_by_checkpoints(&deps, &checkpoints);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); c.count];
        for (t, &p) in c.phase_of.iter().enumerate() {
            members[p].push(t);
        }
        for (p, m) in members.iter().enumerate() {
            let checkpoint = c.ends.get(p).copied();
            let name = match checkpoint {
                Some(cp) => tasks[cp].id.clone(),
                None if c.count == 1 => workflow.name.clone(),
                None => FINAL_PHASE.to_string(),
            };
            cut.push((name, order(m), checkpoint));
        }
    }
    let phases = cut
        .into_iter()
        .enumerate()
        .map(|(i, (name, members, checkpoint))| PlannedPhase {
            index: i + 1,
            slug: phase_slug(&name),
            name,
            tasks: members.iter().map(|&t| tasks[t].id.clone()).collect(),
            checkpoint: checkpoint.map(|c| tasks[c].id.clone()),
        })
        .collect();
    Plan {
        workflow: workflow.name.clone(),
        concurrency: workflow.concurrency,
        phases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(phase_slug("Design Architecture!"), "design-architecture");
        assert_eq!(phase_slug("  --Ünïcode__x "), "n-code-x");
        assert_eq!(phase_slug("***"), "phase");
        assert_eq!(phase_slug(&"a".repeat(60)).len(), 48);
    }

    #[test]
    fn checkpoints_cut_and_conflicts() {
        // 0 <- 1 <- 2, 3 independent; checkpoints [1, 0]: 0 is pulled into phase 1.
        let deps = vec![vec![], vec![0], vec![1], vec![]];
        let c = cut_by_checkpoints(&deps, &[1, 0]);
        assert_eq!(c.phase_of, vec![0, 0, 1, 1]);
        assert_eq!(c.conflicts, vec![(1, 0)]);
        assert_eq!(c.count, 2);
    }

    #[test]
    fn run_order_priority_then_file_order() {
        let deps = vec![vec![], vec![], vec![0], vec![]];
        let mut dependents = vec![Vec::new(); 4];
        dependents[0].push(2);
        let mut in_set = vec![false; 4];
        let order = run_order(
            &[0, 1, 2, 3],
            &deps,
            &dependents,
            &[50, 75, 100, 50],
            &mut in_set,
        );
        assert_eq!(order, vec![1, 0, 2, 3]);
    }
}
