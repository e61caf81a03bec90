//! Commit trailers: how a commit says which run, phase, task and agent made it.
//!
//! `Prflow-Run`, `Prflow-Phase`, `Prflow-Task`, `Prflow-Agent`, `Prflow-Workflow`
//! (path@blob) are the contract (docs/architecture.md, "Contracts"); `Prflow-Output` carries one declared
//! output as `key=<compact JSON>` so later tasks can resolve `${task.output.key}`
//! from git alone; `Prflow-Revision` counts review rounds.

use serde_json::{Map, Value};

pub const RUN: &str = "Prflow-Run";
pub const PHASE: &str = "Prflow-Phase";
pub const TASK: &str = "Prflow-Task";
pub const AGENT: &str = "Prflow-Agent";
pub const WORKFLOW: &str = "Prflow-Workflow";
pub const OUTPUT: &str = "Prflow-Output";
pub const REVISION: &str = "Prflow-Revision";
/// The 1-based iteration of a looped task (a loop body, an `iterative` task).
pub const ITERATION: &str = "Prflow-Iteration";
/// The review (id) a revision answers.
pub const REVIEW: &str = "Prflow-Review";
/// On the merge commits prflow makes to keep a stack up to date: the commit merged in.
pub const RESTACK: &str = "Prflow-Restack";

/// The trailers of a commit message, in order (last paragraph, `Key: value` lines).
pub fn parse(message: &str) -> Vec<(String, String)> {
    let trimmed = message.trim_end();
    let last = trimmed.rsplit("\n\n").next().unwrap_or("");
    let mut out = Vec::new();
    for line in last.lines() {
        let Some((k, v)) = line.split_once(": ") else {
            return Vec::new();
        };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Vec::new();
        }
        out.push((k.to_string(), v.to_string()));
    }
    out
}

/// The first value of trailer `key`.
pub fn get<'a>(trailers: &'a [(String, String)], key: &str) -> Option<&'a str> {
    trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Outputs recorded in `Prflow-Output` trailers.
pub fn outputs(trailers: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in trailers {
        if k.eq_ignore_ascii_case(OUTPUT) {
            if let Some((key, json)) = v.split_once('=') {
                let value = serde_json::from_str(json).unwrap_or(Value::String(json.to_string()));
                out.insert(key.to_string(), value);
            }
        }
    }
    out
}

/// Formats a message: subject, optional body, then the trailer block.
pub fn format(subject: &str, body: Option<&str>, trailers: &[(&str, String)]) -> String {
    let mut msg = String::new();
    msg.push_str(subject.lines().next().unwrap_or("").trim());
    msg.push_str("\n\n");
    if let Some(body) = body.map(str::trim).filter(|b| !b.is_empty()) {
        msg.push_str(body);
        msg.push_str("\n\n");
    }
    for (k, v) in trailers {
        // A trailer is one line; a value never carries a newline into the block.
        msg.push_str(&format!("{k}: {}\n", v.replace('\n', " ")));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let msg = format(
            "Design System Architecture",
            Some("Writes architecture/."),
            &[
                (RUN, "abc123".into()),
                (TASK, "design".into()),
                (OUTPUT, "spec={\"a\":[1,2]}".into()),
            ],
        );
        let t = parse(&msg);
        assert_eq!(get(&t, RUN), Some("abc123"));
        assert_eq!(get(&t, "prflow-task"), Some("design"));
        assert_eq!(outputs(&t)["spec"], serde_json::json!({"a": [1, 2]}));
    }

    #[test]
    fn body_without_trailers_has_none() {
        assert!(parse("subject\n\nJust a body: with a colon\nand more").is_empty());
    }
}
