//! What prflow writes for people: PR bodies, the living status comment, the
//! "what changed since your review" interdiff, and the run summary (Action job
//! summary, `status --github`). Pure functions of the run's state, so the same
//! state always renders the same text and an unchanged PR is never re-written.

use crate::engine::state::{PhaseStatus, RunState};
use crate::github::body::{pr_marker, status_marker, with_marker};
use crate::workflow::Workflow;
use similar::TextDiff;

/// Per-task numbers for the task table.
#[derive(Debug, Clone, Default)]
pub struct TaskStat {
    pub files: usize,
    pub added: usize,
    pub removed: usize,
}

/// A gate's result as the PR body shows it.
#[derive(Debug, Clone)]
pub struct GateLine {
    pub name: String,
    pub conclusion: String,
    pub title: String,
    pub required: bool,
}

/// The title of phase `index`'s PR.
pub fn pr_title(workflow: &Workflow, state: &RunState, index: usize) -> String {
    let p = &state.phases[index - 1];
    format!(
        "prflow: {} — phase {}/{}: {}",
        workflow.name,
        index,
        state.phases.len(),
        p.name
    )
}

/// The body of phase `index`'s PR.
pub fn pr_body(
    workflow: &Workflow,
    state: &RunState,
    index: usize,
    stats: &std::collections::HashMap<String, TaskStat>,
    gates: &[GateLine],
    revision: u32,
    base: &str,
) -> String {
    let p = &state.phases[index - 1];
    let mut b = String::new();
    b.push_str(&format!(
        "**{}** — phase {} of {} (`{}`), run `{}`",
        workflow.name,
        index,
        state.phases.len(),
        p.name,
        state.run_id
    ));
    if revision > 0 {
        b.push_str(&format!(", revision {revision}"));
    }
    b.push_str("\n\n");
    let landed: Vec<String> = state.phases[..index - 1]
        .iter()
        .filter(|p| p.landed)
        .map(|p| p.index.to_string())
        .collect();
    if !landed.is_empty() {
        b.push_str(&format!(
            "**Stack:** phase {} merged; this PR now targets `{base}`, which prflow merged into \
             this branch (a merge commit, never a force push), so it shows only this phase's \
             changes.\n\n",
            landed.join(", ")
        ));
    }
    if let Some(d) = &workflow.description {
        b.push_str(d.trim());
        b.push_str("\n\n");
    }
    b.push_str("### Tasks\n\n| task | agent | files | +/− |\n|---|---|---|---|\n");
    for (task, commit) in &p.tasks {
        let agent = workflow.task(task).map(|t| t.agent.as_str()).unwrap_or("");
        let s = stats.get(task).cloned().unwrap_or_default();
        let mark = match (
            commit,
            p.control.skipped.get(task),
            p.control.handled.get(task),
        ) {
            (Some(_), _, _) => String::new(),
            (None, Some(why), _) => format!(" (skipped: {})", why.replace('|', "\\|")),
            (None, None, Some(_)) => " (failed, handled)".to_string(),
            (None, None, None) => " (pending)".to_string(),
        };
        b.push_str(&format!(
            "| `{task}`{mark} | {agent} | {} | +{} / −{} |\n",
            s.files, s.added, s.removed
        ));
    }
    b.push_str("\n### Gates\n\n");
    if gates.is_empty() {
        b.push_str("No quality gates are declared for this workflow.\n");
    } else {
        for g in gates {
            b.push_str(&format!(
                "- {} `{}`{}: {}\n",
                icon(&g.conclusion),
                crate::engine::naming::check_name(&g.name),
                if g.required { " (required)" } else { "" },
                g.title
            ));
        }
    }
    b.push_str("\n### The run\n\n");
    b.push_str(&mermaid(workflow, state));
    b.push_str("\n### Next\n\n");
    b.push_str(&next_step(state, index));
    b.push('\n');
    with_marker(&b, &pr_marker(&state.run_id, index as u32))
}

/// What approving this PR will do.
fn next_step(state: &RunState, index: usize) -> String {
    let p = &state.phases[index - 1];
    let later = state.phases.get(index);
    match (&p.checkpoint, later) {
        (Some(cp), Some(next)) => format!(
            "This phase ends at checkpoint `{cp}`. **Approve** this PR to start phase {} (`{}`); \
             **request changes** and the agents revise this phase with your review as feedback.",
            next.index, next.name
        ),
        (Some(cp), None) => format!(
            "This is the last phase; it ends at checkpoint `{cp}`. **Approve** to finish the run, \
             then comment `/prflow land` to merge the stack."
        ),
        (None, Some(next)) => format!(
            "No checkpoint: phase {} (`{}`) follows without waiting.",
            next.index, next.name
        ),
        (None, None) => "This is the last phase. Comment `/prflow land` to merge the stack.".into(),
    }
}

fn icon(conclusion: &str) -> &'static str {
    match conclusion {
        "success" => "✅",
        "failure" | "timed_out" | "cancelled" => "❌",
        "neutral" => "⚪",
        "skipped" => "⏭️",
        _ => "⏳",
    }
}

/// A Mermaid graph of the whole run: phases as subgraphs, tasks coloured by state.
pub fn mermaid(workflow: &Workflow, state: &RunState) -> String {
    let mut m = String::from("```mermaid\ngraph TD\n");
    for p in &state.phases {
        m.push_str(&format!(
            "  subgraph phase{}[\"{}. {}\"]\n",
            p.index,
            p.index,
            p.name.replace('"', "'")
        ));
        for (task, commit) in &p.tasks {
            let class = match (commit.is_some(), p.status) {
                (true, _) => "done",
                (false, _) if p.control.skipped.contains_key(task) => "skipped",
                (false, _) if p.control.handled.contains_key(task) => "handled",
                (false, PhaseStatus::Failed) => "failed",
                (false, PhaseStatus::Running) => "running",
                _ => "pending",
            };
            m.push_str(&format!("    {}[\"{}\"]:::{class}\n", node(task), task));
        }
        m.push_str("  end\n");
    }
    for t in &workflow.tasks {
        for d in &t.dependencies {
            m.push_str(&format!("  {} --> {}\n", node(d), node(&t.id)));
        }
    }
    m.push_str("  classDef done fill:#2da44e,color:#fff\n");
    m.push_str("  classDef running fill:#bf8700,color:#fff\n");
    m.push_str("  classDef failed fill:#cf222e,color:#fff\n");
    m.push_str("  classDef pending fill:#eaeef2,color:#24292f\n");
    m.push_str("  classDef skipped fill:#ffffff,color:#57606a,stroke-dasharray:4 4\n");
    m.push_str("  classDef handled fill:#fff8c5,color:#24292f\n");
    m.push_str("```\n");
    m
}

fn node(task: &str) -> String {
    let mut s: String = task
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.insert_str(0, "t_");
    s
}

/// The one living status comment of a run.
pub fn status_comment(
    workflow: &Workflow,
    state: &RunState,
    prs: &[(usize, u64)],
    headline: &str,
) -> String {
    let mut b = format!(
        "### prflow · {} · run `{}`\n\n{headline}\n\n",
        workflow.name, state.run_id
    );
    b.push_str("| phase | state | PR |\n|---|---|---|\n");
    for p in &state.phases {
        let pr = prs
            .iter()
            .find(|(i, _)| *i == p.index)
            .map(|(_, n)| format!("#{n}"))
            .unwrap_or_else(|| "—".into());
        b.push_str(&format!(
            "| {}. {} | {} | {pr} |\n",
            p.index,
            p.name,
            p.status.as_str()
        ));
    }
    b.push('\n');
    b.push_str(&mermaid(workflow, state));
    with_marker(&b, &status_marker(&state.run_id))
}

/// "What changed since your review": one folded unified diff per file.
pub fn interdiff(reviewer: &str, changes: &[(String, String, String)], revision: u32) -> String {
    let mut b = format!(
        "@{reviewer} revision {revision} is pushed: the agents revised this phase with your review \
         as feedback. What changed since the commit you reviewed:\n\n"
    );
    if changes.is_empty() {
        b.push_str("_Nothing changed in the files: the agents produced the same result._\n");
    }
    for (path, old, new) in changes {
        let diff = TextDiff::from_lines(old, new);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string();
        b.push_str(&format!(
            "<details><summary><code>{path}</code></summary>\n\n```diff\n{}\n```\n</details>\n",
            unified.trim_end()
        ));
    }
    b
}
