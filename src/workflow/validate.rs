//! Cross-reference checks: ids, agents, dependencies, output references, cycles,
//! checkpoints and explicit phases.
//!
//! Runs after every task and agent is read, so each check sees the whole file and
//! can suggest the id the user probably meant. It also completes the tasks: the
//! agent from `assignedTasks`, and the dependencies (declared plus those implied by
//! `${task.output.key}` references — a reference to a task's output means "after
//! that task", as in Terraform).

use super::diagnostics::Report;
use super::keys;
use super::model::{Agent, Task};
use super::output_refs;
use super::plan;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};

/// One dependency as written (or implied), with where it was written.
#[derive(Debug, Clone)]
pub struct Dep {
    pub id: String,
    pub pointer: String,
    /// `Some("${t.output.k}")` when a reference implied this dependency, or
    /// [`PIPELINE`] when `execution.mode: pipeline` did.
    pub implied_by: Option<String>,
}

/// The `implied_by` of the dependencies `execution.mode: pipeline` adds.
pub const PIPELINE: &str = "execution.mode: pipeline";

/// Why an implied dependency exists, in words: "uses `${t.output.k}`".
fn implied_because(text: &str) -> String {
    if text == PIPELINE {
        "comes after it in a pipeline (`execution.mode: pipeline`)".to_string()
    } else {
        format!("uses `{text}`")
    }
}

/// Where a task came from in the file.
#[derive(Debug, Clone)]
pub struct TaskSrc {
    /// `/tasks/N`.
    pub pointer: String,
    /// N: the index in the file's `tasks` array.
    pub index: usize,
    /// Where the agent was named (`agentId` or `assignTo`), if it was.
    pub agent_pointer: Option<String>,
    pub deps: Vec<Dep>,
}

#[derive(Debug, Clone)]
pub struct AgentSrc {
    pub pointer: String,
    /// `assignedTasks`: task ids with their pointers.
    pub assigned: Vec<(String, String)>,
}

/// One explicit phase as written: its pointer and its task ids with their pointers.
pub type PhaseSrc = (String, Vec<(String, String)>);

/// What the checks need to know about the file besides the parsed model.
pub struct Sources<'a> {
    /// One per parsed task, same order.
    pub tasks: &'a [TaskSrc],
    /// The file's `tasks` array after variable substitution.
    pub task_values: &'a [Value],
    /// One per parsed agent, same order.
    pub agents: &'a [AgentSrc],
    /// `execution.checkpoints`: ids with pointers.
    pub checkpoints: &'a [(String, String)],
    /// Explicit `phases`: the phase pointer and its task ids with pointers.
    pub phases: Option<&'a [PhaseSrc]>,
}

/// The one rule for task, agent and phase ids (a phase's `name` may hold spaces).
///
/// Ids name commits (`Prflow-Task`), branches and, through them, folders and files; an
/// id with `/`, `\`, `..` or a control character could reach outside the folder it
/// names or forge a line in a commit message. Returns the error, naming the id and a
/// fix, or `None` when the id is fine.
pub fn id_problem(what: &str, id: &str, spaces_allowed: bool) -> Option<String> {
    let shown = id.escape_debug().to_string();
    let fix = || {
        let mut s = String::new();
        for c in id.chars() {
            let ok = c.is_alphanumeric() || "-_.".contains(c) || (spaces_allowed && c == ' ');
            if ok {
                s.push(c);
            } else if !s.ends_with('-') {
                s.push('-');
            }
        }
        while s.contains("..") {
            s = s.replace("..", ".");
        }
        let s = s
            .trim_matches(|c| c == '-' || c == '.' || c == ' ')
            .to_string();
        if s.is_empty() {
            "build-api".to_string()
        } else {
            s
        }
    };
    if id.trim().is_empty() {
        return Some(format!(
            "the {what} id is empty: give it a short name such as \"build-api\""
        ));
    }
    if id.chars().any(char::is_control) {
        return Some(format!(
            "{what} id \"{shown}\" contains a control character: ids name commits and folders; use letters, digits, `-`, `_` and `.`, e.g. \"{}\"",
            fix()
        ));
    }
    if !spaces_allowed && id.chars().any(char::is_whitespace) {
        return Some(format!(
            "{what} id \"{shown}\" contains spaces: ids appear in commits and references, use dashes, e.g. \"{}\"",
            fix()
        ));
    }
    let bad = if id.contains('/') {
        Some("`/`")
    } else if id.contains('\\') {
        Some("`\\`")
    } else if id.contains("..") {
        Some("`..`")
    } else {
        None
    };
    bad.map(|b| {
        format!(
            "{what} id \"{shown}\" contains {b}: ids name commits and folders, and a path \
             separator could reach outside them; use dashes, e.g. \"{}\"",
            fix()
        )
    })
}

fn key_line(r: &Report, pointer: &str) -> usize {
    r.positions().value(pointer).line
}

pub fn check(tasks: &mut [Task], agents: &[Agent], s: &Sources, r: &mut Report) {
    // Ids: the first of a duplicated id wins so the rest of the checks stay sane.
    let mut task_ix: HashMap<String, usize> = HashMap::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        if let Some(&first) = task_ix.get(&t.id) {
            let line = key_line(r, &s.tasks[first].pointer);
            r.error(
                &format!("{}/id", s.tasks[i].pointer),
                format!("duplicate task id `{}` (the first is on line {line}): give each task its own id", t.id),
            );
        } else {
            task_ix.insert(t.id.clone(), i);
        }
    }
    let mut agent_ix: HashMap<&str, usize> = HashMap::with_capacity(agents.len());
    for (i, a) in agents.iter().enumerate() {
        if let Some(&first) = agent_ix.get(a.id.as_str()) {
            let line = key_line(r, &s.agents[first].pointer);
            r.error(
                &format!("{}/id", s.agents[i].pointer),
                format!("duplicate agent id `{}` (the first is on line {line}): give each agent its own id", a.id),
            );
        } else {
            agent_ix.insert(&a.id, i);
        }
    }
    let mut seen = HashSet::new();
    let agent_ids: Vec<&str> = agents
        .iter()
        .map(|a| a.id.as_str())
        .filter(|id| seen.insert(*id))
        .collect();

    assign_agents(tasks, agents, &agent_ids, &task_ix, s, r);

    // Declared dependencies, then those implied by output references.
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut dep_src: Vec<Vec<Dep>> = vec![Vec::new(); tasks.len()];
    for (i, src) in s.tasks.iter().enumerate() {
        for d in &src.deps {
            match task_ix.get(&d.id) {
                None => {
                    let hint = keys::suggestion(&d.id, tasks.iter().map(|t| t.id.as_str()));
                    r.error(
                        &d.pointer,
                        format!(
                            "task `{}` depends on `{}`, which is not a task{hint}",
                            tasks[i].id, d.id
                        ),
                    );
                }
                Some(&j) if j == i => r.error(
                    &d.pointer,
                    format!(
                        "task `{}` depends on itself: remove it from its dependencies",
                        d.id
                    ),
                ),
                Some(&j) => {
                    if !deps[i].contains(&j) {
                        deps[i].push(j);
                        dep_src[i].push(d.clone());
                    }
                }
            }
        }
    }
    output_refs::check(tasks, &task_ix, s, &mut deps, &mut dep_src, r);
    for (i, t) in tasks.iter_mut().enumerate() {
        t.dependencies = dep_src[i].iter().map(|d| d.id.clone()).collect();
    }

    // Phase order is meaningless on a cyclic graph: then only the ids are checked.
    let acyclic = !report_cycles(tasks, &deps, &dep_src, r);
    checkpoints(tasks, &task_ix, &deps, acyclic, s, r);
    if let Some(phases) = s.phases {
        explicit_phases(tasks, &task_ix, &deps, &dep_src, acyclic, phases, r);
    }
}

fn assign_agents(
    tasks: &mut [Task],
    agents: &[Agent],
    agent_ids: &[&str],
    task_ix: &HashMap<String, usize>,
    s: &Sources,
    r: &mut Report,
) {
    // `agents[].assignedTasks` (the claude-workflow.json dialect).
    let mut assigned: HashMap<usize, (usize, String)> = HashMap::new();
    for (a, src) in s.agents.iter().enumerate() {
        for (task, p) in &src.assigned {
            match task_ix.get(task) {
                None => {
                    let hint = keys::suggestion(task, tasks.iter().map(|t| t.id.as_str()));
                    r.error(
                        p,
                        format!("agent `{}` lists `{task}` in `assignedTasks`, but there is no such task{hint}", agents[a].id),
                    );
                }
                Some(&t) => {
                    if let Some((first, _)) = assigned.get(&t) {
                        r.warning(
                            p,
                            format!(
                                "task `{task}` is also in the `assignedTasks` of `{}`; a task is done by one agent, so prflow uses `{}`",
                                agents[a].id, agents[*first].id
                            ),
                        );
                    } else {
                        assigned.insert(t, (a, p.clone()));
                    }
                }
            }
        }
    }
    let known = if agent_ids.is_empty() {
        "the workflow defines no `agents` yet: add one".to_string()
    } else {
        format!("agents are {}", keys::list(agent_ids))
    };
    for (i, t) in tasks.iter_mut().enumerate() {
        let src = &s.tasks[i];
        let from_list = assigned.get(&i);
        if t.agent.is_empty() {
            match from_list {
                Some((a, _)) => t.agent = agents[*a].id.clone(),
                None => r.error(
                    &src.pointer,
                    format!(
                        "task `{}` has no agent: add \"agentId\": \"…\" naming one of the agents, or list the task in an agent's `assignedTasks` ({known})",
                        t.id
                    ),
                ),
            }
            continue;
        }
        let at = src
            .agent_pointer
            .clone()
            .unwrap_or_else(|| src.pointer.clone());
        if !agent_ids.contains(&t.agent.as_str()) {
            let hint = keys::suggestion(&t.agent, agent_ids.iter().copied());
            r.error(
                &at,
                format!(
                    "task `{}` is assigned to agent `{}`, which is not defined{hint}: {known}",
                    t.id, t.agent
                ),
            );
        } else if let Some((a, p)) = from_list {
            if agents[*a].id != t.agent {
                r.warning(
                    p,
                    format!("task `{}` names agent `{}` itself; its place in `assignedTasks` of `{}` is ignored", t.id, t.agent, agents[*a].id),
                );
            }
        }
    }
}

/// Reports each dependency cycle once, as the cycle itself. Returns whether any exists.
fn report_cycles(
    tasks: &[Task],
    deps: &[Vec<usize>],
    dep_src: &[Vec<Dep>],
    r: &mut Report,
) -> bool {
    let sccs = strongly_connected(deps);
    let mut any = false;
    for comp in sccs.into_iter().filter(|c| c.len() > 1) {
        any = true;
        let members: HashSet<usize> = comp.iter().copied().collect();
        let start = *comp.iter().min().expect("non-empty component");
        // Shortest path start -> … -> start inside the component (BFS on dependency edges).
        let mut prev: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'bfs: while let Some(u) = queue.pop_front() {
            for &v in &deps[u] {
                if !members.contains(&v) {
                    continue;
                }
                if v == start {
                    closing = Some(u);
                    break 'bfs;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(v) {
                    e.insert(u);
                    queue.push_back(v);
                }
            }
        }
        let mut path = vec![start];
        let mut u = closing.expect("a strongly connected component has a cycle through each node");
        let mut back = Vec::new();
        while u != start {
            back.push(u);
            u = prev[&u];
        }
        path.extend(back.into_iter().rev());
        path.push(start);
        let names: Vec<&str> = path.iter().map(|&i| tasks[i].id.as_str()).collect();
        let first_edge = dep_src[start]
            .iter()
            .find(|d| d.id == names[1])
            .expect("edge in the cycle");
        let mut implied = Vec::new();
        for w in path.windows(2) {
            if let Some(d) = dep_src[w[0]].iter().find(|d| d.id == tasks[w[1]].id) {
                if let Some(text) = &d.implied_by {
                    implied.push(format!(
                        "`{}` needs `{}` because it {}",
                        tasks[w[0]].id,
                        tasks[w[1]].id,
                        implied_because(text)
                    ));
                }
            }
        }
        let note = if implied.is_empty() {
            String::new()
        } else {
            format!(" ({})", implied.join("; "))
        };
        r.error(
            &first_edge.pointer,
            format!(
                "dependency cycle: {} (each task depends on the next){note}: remove one of these dependencies",
                names.join(" -> ")
            ),
        );
    }
    any
}

/// Tarjan's algorithm, iterative (a 10,000-task chain must not overflow the stack).
fn strongly_connected(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = deps.len();
    let mut idx = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if idx[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        idx[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (u, ref mut next)) = work.last_mut() {
            if *next < deps[u].len() {
                let v = deps[u][*next];
                *next += 1;
                if idx[v] == usize::MAX {
                    idx[v] = counter;
                    low[v] = counter;
                    counter += 1;
                    stack.push(v);
                    on_stack[v] = true;
                    work.push((v, 0));
                } else if on_stack[v] {
                    low[u] = low[u].min(idx[v]);
                }
            } else {
                work.pop();
                if let Some(&(p, _)) = work.last() {
                    low[p] = low[p].min(low[u]);
                }
                if low[u] == idx[u] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == u {
                            break;
                        }
                    }
                    out.push(comp);
                }
            }
        }
    }
    out
}

fn checkpoints(
    tasks: &[Task],
    task_ix: &HashMap<String, usize>,
    deps: &[Vec<usize>],
    acyclic: bool,
    s: &Sources,
    r: &mut Report,
) {
    let mut cps = Vec::new();
    for (id, p) in s.checkpoints {
        match task_ix.get(id) {
            Some(&i) => cps.push((i, p)),
            None => {
                let hint = keys::suggestion(id, tasks.iter().map(|t| t.id.as_str()));
                r.error(p, format!("checkpoint `{id}` names no task{hint}: a checkpoint is the id of the task after which the run waits for approval"));
            }
        }
    }
    if !acyclic {
        return;
    }
    let order: Vec<usize> = cps.iter().map(|(i, _)| *i).collect();
    let cut = plan::cut_by_checkpoints(deps, &order);
    for (k, taken_by) in cut.conflicts {
        let (i, p) = cps[k];
        let (earlier, _) = cps[taken_by];
        r.error(
            p,
            format!(
                "checkpoint `{}` runs before checkpoint `{}`, which depends on it, yet is listed after it: list checkpoints in run order",
                tasks[i].id, tasks[earlier].id
            ),
        );
    }
}

fn explicit_phases(
    tasks: &[Task],
    task_ix: &HashMap<String, usize>,
    deps: &[Vec<usize>],
    dep_src: &[Vec<Dep>],
    acyclic: bool,
    phases: &[PhaseSrc],
    r: &mut Report,
) {
    let mut phase_of: Vec<Option<(usize, String)>> = vec![None; tasks.len()];
    for (k, (_, ids)) in phases.iter().enumerate() {
        for (id, p) in ids {
            match task_ix.get(id) {
                None => {
                    let hint = keys::suggestion(id, tasks.iter().map(|t| t.id.as_str()));
                    r.error(p, format!("phase {} lists `{id}`, which is not a task{hint}", k + 1));
                }
                Some(&i) => match &phase_of[i] {
                    Some((other, _)) => r.error(
                        p,
                        format!("task `{id}` is already in phase {}: each task belongs to exactly one phase", other + 1),
                    ),
                    None => phase_of[i] = Some((k, p.clone())),
                },
            }
        }
    }
    let missing: Vec<&str> = tasks
        .iter()
        .enumerate()
        .filter(|(i, _)| phase_of[*i].is_none())
        .map(|(_, t)| t.id.as_str())
        .collect();
    if !missing.is_empty() {
        r.error(
            "/phases",
            format!(
                "every task must be in one phase, and {} {} in none: add {} to `phases`",
                keys::list(&missing),
                if missing.len() == 1 { "is" } else { "are" },
                if missing.len() == 1 { "it" } else { "them" }
            ),
        );
    }
    if !acyclic {
        return;
    }
    for (i, t) in tasks.iter().enumerate() {
        let Some((pi, p)) = &phase_of[i] else {
            continue;
        };
        for (n, &j) in deps[i].iter().enumerate() {
            let Some((pj, _)) = &phase_of[j] else {
                continue;
            };
            if pj > pi {
                let why = match &dep_src[i][n].implied_by {
                    Some(text) => implied_because(text),
                    None => format!("depends on `{}`", tasks[j].id),
                };
                r.error(
                    p,
                    format!(
                        "task `{}` (phase {}) {why}, but `{}` is in the later phase {}: move `{}` to phase {} or earlier, or `{}` later",
                        t.id,
                        pi + 1,
                        tasks[j].id,
                        pj + 1,
                        tasks[j].id,
                        pi + 1,
                        t.id
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_rule_for_tasks_agents_and_phases() {
        for ok in ["build-api", "v1.2_x", "Ünïcode"] {
            assert_eq!(id_problem("task", ok, false), None, "{ok}");
        }
        assert_eq!(id_problem("phase", "Design the API", true), None);
        let e = id_problem("task", "a/../b", false).unwrap();
        assert!(
            e.starts_with("task id \"a/../b\" contains `/`") && e.ends_with("e.g. \"a-.-b\""),
            "{e}"
        );
        let e = id_problem("agent", "x\\y", false).unwrap();
        assert!(e.contains("contains `\\`"), "{e}");
        let e = id_problem("task", "..", false).unwrap();
        assert!(e.contains("contains `..`"), "{e}");
        let e = id_problem("phase", "a\nPrflow-Task: x", true).unwrap();
        assert!(
            e.contains("control character") && e.contains("a\\nPrflow-Task"),
            "{e}"
        );
        let e = id_problem("task", "two words", false).unwrap();
        assert!(e.contains("contains spaces"), "{e}");
        assert!(id_problem("task", " ", false).unwrap().contains("is empty"));
    }

    #[test]
    fn sccs_find_cycles_only() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0
        let deps = vec![vec![1], vec![2], vec![0], vec![0]];
        let mut comps: Vec<Vec<usize>> = strongly_connected(&deps)
            .into_iter()
            .filter(|c| c.len() > 1)
            .collect();
        for c in &mut comps {
            c.sort();
        }
        assert_eq!(comps, vec![vec![0, 1, 2]]);
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert_eq!(strongly_connected(&deps).len(), n);
    }
}
