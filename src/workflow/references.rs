//! What a `${…}` that is not a plain variable means, decided once at parse time.
//!
//! claude-flow writes one thing several ways. prflow reads them all and stores the
//! one canonical form the engine resolves (`${task.output.key}`), so nothing after
//! parsing needs to know the dialects:
//!
//! | written | meaning |
//! |---|---|
//! | `${tech_stack.frontend}`, `${variables.port}` | a variable, or a path into one |
//! | `${t.key}`, `${outputs.t.key}` | `${t.output.key}` (when `t` is a task id) |
//! | `${t.output}`, `${t.output.metrics.accuracy}` | the whole output, a path into it |
//! | `${task.id}`, `${task.name}`, `${workflow.name}`, `${loop.current_item}`, `${loop.index}`, `${iteration}`, `${error.message}` | filled in at run time |
//!
//! Anything else is an error that says what was expected.

use serde_json::{Map, Value};
use std::collections::HashSet;

/// Placeholders whose value only exists while a task runs; kept as written.
pub const RUNTIME: &[&str] = &[
    "task.id",
    "task.name",
    "workflow.name",
    "loop.current_item",
    "loop.index",
    "iteration",
    "error.message",
];

/// What one `${inner}` turns into.
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    /// A variable's value (or a value inside it).
    Value(Value),
    /// An output reference, as `task.output[.path]` (written back as `${…}`).
    Output(String),
    /// A run-time placeholder: left as written.
    Runtime,
    /// Not a name prflow knows: the reason, for the error.
    Unknown(String),
}

/// What the parser knows when it reads a `${…}`.
pub struct Scope<'a> {
    pub vars: &'a Map<String, Value>,
    /// Every task id in the file (read before substitution).
    pub tasks: &'a HashSet<String>,
}

/// Is `inner` a run-time placeholder (`${loop.current_item.url}` included)?
pub fn is_runtime(inner: &str) -> bool {
    RUNTIME.iter().any(|r| {
        inner == *r || (*r == "loop.current_item" && inner.starts_with("loop.current_item."))
    })
}

/// The meaning of `${inner}` (already trimmed; a plain declared variable is handled
/// by the caller).
pub fn meaning(inner: &str, scope: &Scope) -> Meaning {
    if let Some(v) = scope.vars.get(inner) {
        return Meaning::Value(v.clone());
    }
    if is_runtime(inner) {
        return Meaning::Runtime;
    }
    if let Some(rest) = inner.strip_prefix("variables.") {
        return variable_path(rest, scope);
    }
    if let Some(rest) = inner.strip_prefix("outputs.") {
        if let Some((task, key)) = split_task(rest, scope) {
            return Meaning::Output(canonical(task, key));
        }
        return Meaning::Unknown(format!(
            "`outputs.` is followed by a task id and an output name, e.g. `${{outputs.build.artifact}}`, and `{rest}` starts with no task id"
        ));
    }
    if let Some((task, key)) = split_task(inner, scope) {
        let key = match key {
            "output" => "",
            k => k.strip_prefix("output.").unwrap_or(k),
        };
        return Meaning::Output(canonical(task, key));
    }
    if scope.tasks.contains(inner) {
        return Meaning::Unknown(format!(
            "`${{{inner}}}` names task `{inner}` but none of its outputs: write `${{{inner}.output}}` for all of them or `${{{inner}.KEY}}` for one"
        ));
    }
    let first = inner.split('.').next().unwrap_or(inner);
    if first != inner && scope.vars.contains_key(first) {
        return variable_path(inner, scope);
    }
    Meaning::Unknown(String::new())
}

/// `task.output.key` (or `task.output` for the whole output).
fn canonical(task: &str, key: &str) -> String {
    if key.is_empty() {
        format!("{task}.output")
    } else {
        format!("{task}.output.{key}")
    }
}

/// Splits `t.rest` where `t` is the longest task id the text starts with.
fn split_task<'s>(s: &'s str, scope: &Scope) -> Option<(&'s str, &'s str)> {
    s.match_indices('.')
        .map(|(i, _)| i)
        .rev()
        .find(|&i| scope.tasks.contains(&s[..i]))
        .map(|i| (&s[..i], &s[i + 1..]))
}

/// `name.a.b`: the value at `a.b` inside variable `name`.
fn variable_path(path: &str, scope: &Scope) -> Meaning {
    let mut segs = path.split('.');
    let name = segs.next().unwrap_or_default();
    let Some(mut v) = scope.vars.get(name) else {
        return Meaning::Unknown(format!("there is no variable `{name}`"));
    };
    let mut walked = name.to_string();
    for seg in segs {
        let next = match v {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => {
                v = n;
                walked.push('.');
                walked.push_str(seg);
            }
            None => {
                let has = match v {
                    Value::Object(m) => {
                        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                        format!("it has {}", super::keys::list(&keys))
                    }
                    other => format!("it is {}", kind(other)),
                };
                return Meaning::Unknown(format!("variable `{walked}` has no `{seg}`: {has}"));
            }
        }
    }
    Meaning::Value(v.clone())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope_parts() -> (Map<String, Value>, HashSet<String>) {
        let vars = json!({"tech_stack": {"frontend": "React"}, "port": 3000})
            .as_object()
            .unwrap()
            .clone();
        let tasks = ["build", "unit-tests", "a.b"]
            .into_iter()
            .map(String::from)
            .collect();
        (vars, tasks)
    }

    #[test]
    fn every_written_form_has_its_meaning() {
        let (vars, tasks) = scope_parts();
        let s = Scope {
            vars: &vars,
            tasks: &tasks,
        };
        let out = |x: &str| Meaning::Output(x.to_string());
        assert_eq!(
            meaning("tech_stack.frontend", &s),
            Meaning::Value(json!("React"))
        );
        assert_eq!(meaning("variables.port", &s), Meaning::Value(json!(3000)));
        assert_eq!(meaning("build.artifact", &s), out("build.output.artifact"));
        assert_eq!(meaning("build.output", &s), out("build.output"));
        assert_eq!(meaning("build.output.m.acc", &s), out("build.output.m.acc"));
        assert_eq!(
            meaning("outputs.unit-tests.passed", &s),
            out("unit-tests.output.passed")
        );
        assert_eq!(meaning("a.b.k", &s), out("a.b.output.k"));
        assert_eq!(meaning("task.id", &s), Meaning::Runtime);
        assert_eq!(meaning("loop.current_item.url", &s), Meaning::Runtime);
        assert!(
            matches!(meaning("tech_stack.mobile", &s), Meaning::Unknown(m) if m.contains("`frontend`"))
        );
        assert!(matches!(meaning("JIRA_TOKEN", &s), Meaning::Unknown(m) if m.is_empty()));
        assert!(matches!(meaning("build", &s), Meaning::Unknown(m) if m.contains("build.output")));
    }
}
