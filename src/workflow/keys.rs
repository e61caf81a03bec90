//! Which keys each object of a workflow knows, and "did you mean …" for the rest.
//!
//! Two rules (docs/architecture.md, "Workflow file"): inside prflow's own objects (a runner, a
//! gate, a phase) an unknown key is an error, because nothing else could read it;
//! elsewhere unknown keys belong to claude-flow or the user and are kept, with a
//! warning only when they look like a misspelling of a key prflow reads.

use super::diagnostics::Report;
use super::locate::child;
use serde_json::{Map, Value};

/// Every top-level key: the ones read into typed fields first (see [`TOP_READ`]).
pub const TOP: &[&str] = &[
    "name",
    "description",
    "variables",
    "agents",
    "tasks",
    "dependencies",
    "parallel",
    "phases",
    "gates",
    "reviewers",
    "allowSelfApproval",
    "on",
    "outputDir",
    "conditions",
    "loops",
    "hooks",
    "taskContext",
    "workers",
    "version",
    "execution",
    "quality",
    "settings",
    "metadata",
    "integrations",
];

pub const AGENT: &[&str] = &[
    "id",
    "name",
    "type",
    "capabilities",
    "runner",
    "assignedTasks",
    "config",
    "configuration",
];

pub const TASK: &[&str] = &[
    "id",
    "name",
    "description",
    "type",
    "agentId",
    "assignTo",
    "dependencies",
    "depends",
    "input",
    "output",
    "runner",
    "timeout",
    "retries",
    "priority",
    "parallel",
    "claudePrompt",
    "config",
    "configuration",
    "condition",
    "onSuccess",
    "onFailure",
    "iterative",
    "maxIterations",
    "dependsOn",
    "assignedTo",
    "tags",
];

pub const EXECUTION: &[&str] = &[
    "mode",
    "parallelism",
    "maxConcurrency",
    "checkpoints",
    "rollback",
    "timeout",
];
pub const PARALLELISM: &[&str] = &["max", "strategy"];
pub const QUALITY: &[&str] = &["codeReview", "securityScan", "performanceThreshold"];
pub const PERFORMANCE: &[&str] = &["responseTime", "throughput"];
pub const SETTINGS: &[&str] = &[
    "timeout",
    "failurePolicy",
    "maxConcurrency",
    "retryPolicy",
    "runner",
    "hooks",
    "notifications",
    "monitoring",
];

/// Top-level keys the parser reads into typed fields (the first 18 of [`TOP`]);
/// every other top-level key is kept in `Workflow::extra` for agents.
pub const TOP_READ: &[&str] = TOP.split_at(18).0;

/// A dual-mode worker's keys (claude-flow's `WorkerConfig`); `worktreePath` and
/// `capabilityEnvelope` are kept for agents: prflow gives every task its own checkout.
pub const WORKER: &[&str] = &[
    "id",
    "platform",
    "role",
    "prompt",
    "model",
    "maxTurns",
    "timeout",
    "dependsOn",
    "readOnly",
    "worktreePath",
    "capabilityEnvelope",
];

/// Agent keys read into typed fields (the first six of [`AGENT`]); the rest (with
/// `configuration` also as `config`) is kept in `Agent::extra`.
pub const AGENT_READ: &[&str] = AGENT.split_at(6).0;

/// Task keys read into typed fields (the first fourteen of [`TASK`], up to
/// `priority`); the rest is kept in `Task::extra`.
pub const TASK_READ: &[&str] = TASK.split_at(14).0;

/// Top-level sections prflow does not own: kept byte for byte, `${…}` inside them
/// (`${JIRA_TOKEN}`) is the user's business, never substituted nor an error.
pub const UNTOUCHED: &[&str] = &["integrations", "metadata"];

/// The same inside `settings`.
pub const UNTOUCHED_SETTINGS: &[&str] = &["notifications", "monitoring"];

/// Keys that only a claude-flow configuration file (not a workflow) has at the top.
pub const CONFIG: &[&str] = &[
    "orchestrator",
    "terminal",
    "memory",
    "coordination",
    "mcp",
    "loadBalancing",
    "logging",
    "monitoring",
    "security",
];

pub const GATE: &[&str] = &["name", "run", "paths", "required"];
pub const PHASE: &[&str] = &["name", "tasks", "checkpoint"];
pub const COMMAND_RUNNER: &[&str] = &["command", "timeout", "env"];
pub const TEMPLATE_RUNNER: &[&str] = &["template"];
pub const LLM_RUNNER: &[&str] = &["llm"];
pub const LLM: &[&str] = &["provider", "model", "baseUrl", "apiKeyEnv"];

/// Is `a` probably a misspelling of `b`? Case differences always count; otherwise
/// the allowed edit distance grows with the length of the shorter word.
fn close(a: &str, b: &str) -> bool {
    let (al, bl) = (a.to_lowercase(), b.to_lowercase());
    if al == bl {
        return true;
    }
    let n = al.chars().count().min(bl.chars().count());
    let allowed = match n {
        0..=2 => 0,
        3..=5 => 1,
        6..=9 => 2,
        _ => 3,
    };
    strsim::damerau_levenshtein(&al, &bl) <= allowed
}

/// The candidate closest to `word`, if any is close enough to be a likely typo.
pub fn did_you_mean<'c, I>(word: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    candidates
        .into_iter()
        .filter(|c| *c != word && close(word, c))
        .min_by_key(|c| strsim::damerau_levenshtein(&word.to_lowercase(), &c.to_lowercase()))
}

/// `" (did you mean `x`?)"` or nothing.
pub fn suggestion<'c, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'c str>,
{
    match did_you_mean(word, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// The keys of `obj` that are not in `known`, in the file's order.
fn unknown<'a>(obj: &'a Map<String, Value>, known: &'a [&str]) -> impl Iterator<Item = &'a String> {
    obj.keys().filter(|k| !known.contains(&k.as_str()))
}

/// Warns about keys of a claude-flow object that look like misspelt known keys.
pub fn warn_near_misses(
    obj: &Map<String, Value>,
    pointer: &str,
    known: &[&str],
    what: &str,
    r: &mut Report,
) {
    for k in unknown(obj, known) {
        if let Some(m) = did_you_mean(k, known.iter().copied()) {
            r.warning_at_key(
                &child(pointer, k),
                format!("unknown key `{k}` in {what}; did you mean `{m}`? (kept and passed to agents as is)"),
            );
        }
    }
}

/// Errors for every key of one of prflow's own objects that prflow does not read.
pub fn reject_unknown(
    obj: &Map<String, Value>,
    pointer: &str,
    known: &[&str],
    what: &str,
    r: &mut Report,
) {
    for k in unknown(obj, known) {
        let hint = match did_you_mean(k, known.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("it takes {}", list(known)),
        };
        r.error_at_key(
            &child(pointer, k),
            format!("unknown key `{k}` in {what}: {hint}"),
        );
    }
}

/// `` `a`, `b` and `c` ``.
pub fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_read_lists_end_where_the_typed_fields_end() {
        assert_eq!(super::AGENT_READ.last(), Some(&"assignedTasks"));
        assert_eq!(super::TASK_READ.last(), Some(&"priority"));
    }

    use super::*;

    #[test]
    fn near_misses() {
        assert_eq!(did_you_mean("runer", AGENT.iter().copied()), Some("runner"));
        assert_eq!(
            did_you_mean("agentID", TASK.iter().copied()),
            Some("agentId")
        );
        assert_eq!(
            did_you_mean("dependecies", TASK.iter().copied()),
            Some("dependencies")
        );
        assert_eq!(did_you_mean("gate", TOP.iter().copied()), Some("gates"));
        // claude-flow keys that are not typos stay quiet.
        for k in [
            "tools",
            "mode",
            "coverage",
            "skipPermissions",
            "orchestrator",
            "memory",
        ] {
            assert_eq!(
                did_you_mean(k, TASK.iter().chain(TOP).copied()),
                None,
                "{k}"
            );
        }
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
