//! `${name}` variables and `${task-id.output.key}` references.
//!
//! Substitution works on parsed values, never on the raw text (claude-flow replaces
//! text, which turns arrays into `a,b` and objects into `[object Object]`). A string
//! that is exactly `${name}` becomes the variable's value with its type; inside a
//! longer string the value is formatted (strings as they are, anything else as
//! compact JSON). `$${` writes a literal `${`.
//!
//! `${task-id.output.key}` references are left in place at parse time and resolved
//! by the engine with [`resolve_outputs`] once the referenced task has run.

use super::locate::push_token;
use super::references::{meaning, Meaning, Scope};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A `${task.output.key}` reference found inside a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputRef {
    pub task: String,
    pub key: String,
}

/// One part of a string: text, a variable, or an output reference.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    /// `$${` — a literal `${`.
    Dollar,
    Var(&'a str),
    Ref {
        task: &'a str,
        key: &'a str,
        raw: &'a str,
    },
}

/// Splits a string into pieces; unterminated or malformed `${…}` stays text.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            if i > 1 {
                out.push(Piece::Text(&rest[..i - 1]));
            }
            out.push(Piece::Dollar);
            rest = &rest[i + 2..];
            continue;
        }
        let Some(len) = rest[i + 2..].find('}') else {
            break;
        };
        let inner = rest[i + 2..i + 2 + len].trim();
        let raw = &rest[i..i + 3 + len];
        let piece = classify(inner, raw);
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        out.push(piece.unwrap_or(Piece::Text(raw)));
        rest = &rest[i + 3 + len..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.starts_with(['.', '-'])
}

/// `${t.output.k}` (a path when `k` has dots) and `${t.output}` (the whole output,
/// `key` empty) are references; any other name is a variable or placeholder.
fn classify<'a>(inner: &'a str, raw: &'a str) -> Option<Piece<'a>> {
    if let Some((task, key)) = inner.split_once(".output.") {
        if is_name(task) && is_name(key) && !task.contains('.') {
            return Some(Piece::Ref { task, key, raw });
        }
        return None;
    }
    if let Some(task) = inner.strip_suffix(".output") {
        if is_name(task) && !task.contains('.') {
            return Some(Piece::Ref { task, key: "", raw });
        }
    }
    is_name(inner).then_some(Piece::Var(inner))
}

/// Every output reference inside `value` (strings at any depth).
pub fn output_refs(value: &Value) -> Vec<OutputRef> {
    let mut out = Vec::new();
    output_refs_at(value, "", &mut |_, r| out.push(r));
    out
}

/// Every output reference inside `value` with the pointer of the string holding it.
pub(crate) fn output_refs_at(value: &Value, pointer: &str, f: &mut dyn FnMut(&str, OutputRef)) {
    refs_in(value, &Path::Root(pointer), f);
}

/// Where a value is, as a chain of borrowed segments: walking a document costs no
/// allocation; the pointer string is only built when something is found there.
enum Path<'p> {
    Root(&'p str),
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        match self {
            Path::Root(p) => p.to_string(),
            Path::Key(parent, k) => {
                let mut s = parent.pointer();
                push_token(&mut s, k);
                s
            }
            Path::Index(parent, i) => format!("{}/{i}", parent.pointer()),
        }
    }
}

fn refs_in(value: &Value, path: &Path, f: &mut dyn FnMut(&str, OutputRef)) {
    match value {
        Value::String(s) => {
            if !s.contains("${") {
                return;
            }
            let mut pointer: Option<String> = None;
            for p in pieces(s) {
                if let Piece::Ref { task, key, .. } = p {
                    let at = pointer.get_or_insert_with(|| path.pointer());
                    f(
                        at,
                        OutputRef {
                            task: task.to_string(),
                            key: key.to_string(),
                        },
                    );
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs_in(v, &Path::Index(path, i), f);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                refs_in(v, &Path::Key(path, k), f);
            }
        }
        _ => {}
    }
}

/// How a value is written when it appears inside a longer string.
fn format_inline(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Replaces output references with the outputs of earlier tasks. A string that is
/// exactly one reference becomes the referenced value itself (objects stay objects).
/// A reference whose output is missing is left as written.
pub fn resolve_outputs(value: &Value, outputs: &HashMap<String, Map<String, Value>>) -> Value {
    let lookup = |task: &str, key: &str| lookup_output(outputs, task, key);
    match value {
        Value::String(s) => {
            if !s.contains("${") {
                return value.clone();
            }
            let ps = pieces(s);
            if let [Piece::Ref { task, key, .. }] = ps.as_slice() {
                if let Some(v) = lookup(task, key) {
                    return v;
                }
            }
            let mut out = String::with_capacity(s.len());
            for p in ps {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Dollar => out.push_str("${"),
                    // Variables were substituted at parse time; what is left is literal
                    // text (written as `$${name}`).
                    Piece::Var(name) => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                    Piece::Ref { task, key, raw } => match lookup(task, key) {
                        Some(v) => out.push_str(&format_inline(&v)),
                        None => out.push_str(raw),
                    },
                }
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_outputs(v, outputs)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve_outputs(v, outputs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Fills in run-time placeholders (`${task.id}`, `${iteration}`, `${loop.current_item}`
/// and paths into it, `${error.message}` …) from `known`; any other `${…}` stays as
/// written. A string that is exactly one placeholder becomes the value with its type.
pub fn resolve_runtime(value: &Value, known: &Map<String, Value>) -> Value {
    let lookup = |name: &str| -> Option<Value> {
        if let Some(v) = known.get(name) {
            return Some(v.clone());
        }
        let path = name.strip_prefix("loop.current_item.")?;
        let mut v = known.get("loop.current_item")?;
        for seg in path.split('.') {
            v = match v {
                Value::Object(m) => m.get(seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(v.clone())
    };
    match value {
        Value::String(s) => {
            if !s.contains("${") {
                return value.clone();
            }
            let ps = pieces(s);
            if let [Piece::Var(name)] = ps.as_slice() {
                if let Some(v) = lookup(name) {
                    return v;
                }
            }
            let mut out = String::with_capacity(s.len());
            for p in ps {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Dollar => out.push_str("$${"),
                    Piece::Var(name) => match lookup(name) {
                        Some(v) => out.push_str(&format_inline(&v)),
                        None => {
                            out.push_str("${");
                            out.push_str(name);
                            out.push('}');
                        }
                    },
                    Piece::Ref { raw, .. } => out.push_str(raw),
                }
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_runtime(v, known)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve_runtime(v, known)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `s` with every `${t.output.k}` replaced by `f(t, k)` (kept as written when `None`)
/// and every other `${name}` by the bare `name`: for expressions, where a run-time
/// placeholder such as `${iteration}` is a name in scope.
pub fn replace_refs(s: &str, f: &mut dyn FnMut(&str, &str) -> Option<String>) -> String {
    if !s.contains("${") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for p in pieces(s) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Dollar => out.push_str("${"),
            Piece::Var(name) => out.push_str(name),
            Piece::Ref { task, key, raw } => match f(task, key) {
                Some(v) => out.push_str(&v),
                None => out.push_str(raw),
            },
        }
    }
    out
}

/// The value of output `key` of `task`: `""` is the whole output object; a dotted
/// key is the declared key itself when it exists, else a path into the value.
pub fn lookup_output(
    outputs: &HashMap<String, Map<String, Value>>,
    task: &str,
    key: &str,
) -> Option<Value> {
    let out = outputs.get(task)?;
    if key.is_empty() {
        return Some(Value::Object(out.clone()));
    }
    if let Some(v) = out.get(key) {
        return Some(v.clone());
    }
    let mut segs = key.split('.');
    let mut v = out.get(segs.next()?)?;
    for seg in segs {
        v = match v {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v.clone())
}

/// A `${name}` that names no variable, output or run-time placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undeclared {
    pub pointer: String,
    pub name: String,
    /// Why, when more is known than "no such variable" (a path into a variable
    /// that is not there, a task named without an output).
    pub reason: String,
}

/// Substitutes `${name}` variables in every string of `value` (in place).
///
/// `shell(pointer)` says whether the string is read by a shell (a runner's command or
/// env, a gate's `run`): there an undeclared `${HOME}` is left for the shell instead
/// of being an error. Output references are left in place everywhere.
pub(crate) fn substitute(
    value: &mut Value,
    pointer: &str,
    scope: &Scope,
    shell: &dyn Fn(&str) -> bool,
    undeclared: &mut Vec<Undeclared>,
) {
    substitute_in(value, &Path::Root(pointer), scope, shell, undeclared);
}

fn substitute_in(
    value: &mut Value,
    path: &Path,
    scope: &Scope,
    shell: &dyn Fn(&str) -> bool,
    undeclared: &mut Vec<Undeclared>,
) {
    match value {
        Value::String(s) => {
            if !s.contains("${") {
                return;
            }
            let ps = pieces(s);
            if let [Piece::Var(name)] = ps.as_slice() {
                if let Meaning::Value(v) = meaning(name, scope) {
                    *value = v;
                    return;
                }
            }
            let mut out = String::with_capacity(s.len());
            for p in &ps {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Dollar => out.push_str("${"),
                    Piece::Ref { raw, .. } => out.push_str(raw),
                    Piece::Var(name) => match meaning(name, scope) {
                        Meaning::Value(v) => out.push_str(&format_inline(&v)),
                        Meaning::Output(canonical) => {
                            out.push_str("${");
                            out.push_str(&canonical);
                            out.push('}');
                        }
                        Meaning::Runtime => {
                            out.push_str("${");
                            out.push_str(name);
                            out.push('}');
                        }
                        Meaning::Unknown(reason) => {
                            let pointer = path.pointer();
                            if !shell(&pointer) {
                                undeclared.push(Undeclared {
                                    pointer,
                                    name: name.to_string(),
                                    reason,
                                });
                            }
                            out.push_str("${");
                            out.push_str(name);
                            out.push('}');
                        }
                    },
                }
            }
            *s = out;
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute_in(v, &Path::Index(path, i), scope, shell, undeclared);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_in(v, &Path::Key(path, k), scope, shell, undeclared);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Map<String, Value> {
        json!({"list": ["a", "b"], "port": 3000, "name": "api"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn sub(v: Value) -> (Value, Vec<Undeclared>) {
        let mut v = v;
        let mut bad = Vec::new();
        let (vars, tasks) = (vars(), ["t1", "t2"].map(String::from).into());
        let scope = Scope {
            vars: &vars,
            tasks: &tasks,
        };
        substitute(&mut v, "", &scope, &|p| p.ends_with("/command"), &mut bad);
        (v, bad)
    }

    #[test]
    fn whole_string_keeps_type_inside_string_formats() {
        let (v, bad) =
            sub(json!({"a": "${list}", "p": "${port}", "s": "on ${name}:${port} ${list}"}));
        assert!(bad.is_empty());
        assert_eq!(
            v,
            json!({"a": ["a", "b"], "p": 3000, "s": "on api:3000 [\"a\",\"b\"]"})
        );
    }

    #[test]
    fn undeclared_and_shell_and_escape() {
        let (v, bad) = sub(json!({"x": "${nope}", "command": "echo ${HOME}", "e": "$${name}"}));
        assert_eq!(
            bad,
            vec![Undeclared {
                pointer: "/x".into(),
                name: "nope".into(),
                reason: String::new()
            }]
        );
        assert_eq!(v["command"], "echo ${HOME}");
        assert_eq!(v["e"], "${name}");
    }

    #[test]
    fn output_refs_found_and_left_in_place() {
        let (v, bad) =
            sub(json!({"i": ["${t1.output.k}", "x ${t2.output.j} y"], "o": "output:t.k"}));
        assert!(bad.is_empty());
        assert_eq!(v["i"][0], "${t1.output.k}");
        assert_eq!(v["o"], "output:t.k");
        assert_eq!(
            output_refs(&v),
            vec![
                OutputRef {
                    task: "t1".into(),
                    key: "k".into()
                },
                OutputRef {
                    task: "t2".into(),
                    key: "j".into()
                }
            ]
        );
    }

    #[test]
    fn resolve_exact_and_inline() {
        let mut outs = HashMap::new();
        outs.insert(
            "t".to_string(),
            json!({"k": {"a": 1}, "s": "str"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let v = resolve_outputs(
            &json!({"a": "${t.output.k}", "b": "see ${t.output.s} and ${t.output.k}", "c": "${u.output.z}"}),
            &outs,
        );
        assert_eq!(
            v,
            json!({"a": {"a": 1}, "b": "see str and {\"a\":1}", "c": "${u.output.z}"})
        );
    }
}
