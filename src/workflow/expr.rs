//! claude-flow's expressions (`conditions[].expression`, a task's inline `condition`,
//! a loop's `condition`), evaluated by a real JavaScript engine: QuickJS, through
//! rquickjs.
//!
//! Each evaluation gets a fresh runtime, sandboxed: QuickJS has no I/O of its own (its
//! `std`/`os` modules are not loaded), memory is capped at [`MEMORY_LIMIT`] and time at
//! [`TIME_LIMIT`] (an interrupt handler stops a runaway loop). What an expression sees
//! ([`Scope`]): `variables`, every variable whose name is an identifier by that name,
//! `outputs` (both
//! `outputs['task.key']` and `outputs['task'].key`), `iteration` and `loop`.
//! `${t.output.k}` written inside an expression is replaced by the value as a
//! JavaScript literal before it is evaluated.

use super::vars;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The most memory one evaluation may allocate.
pub const MEMORY_LIMIT: usize = 32 * 1024 * 1024;
/// The longest one evaluation may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(1);

/// What an expression can see.
pub struct Scope<'a> {
    pub variables: &'a Map<String, Value>,
    /// Outputs of the tasks finished so far, by task.
    pub outputs: &'a HashMap<String, Map<String, Value>>,
    /// In a loop's condition: the iterations run so far (0 before the first); in a
    /// task: the 1-based iteration it is in (0 outside loops).
    pub iteration: u32,
    /// The item of a `foreach` loop's iteration.
    pub current_item: Option<&'a Value>,
}

impl Scope<'_> {
    /// The scope object, as JSON: its keys become names in the expression.
    fn object(&self) -> Value {
        let mut outputs = Map::new();
        for (task, out) in self.outputs {
            outputs.insert(task.clone(), Value::Object(out.clone()));
            for (k, v) in out {
                outputs.insert(format!("{task}.{k}"), v.clone());
            }
        }
        let mut scope = Map::new();
        for (k, v) in self.variables {
            scope.insert(k.clone(), v.clone());
        }
        scope.insert("variables".into(), Value::Object(self.variables.clone()));
        scope.insert("outputs".into(), Value::Object(outputs));
        scope.insert("iteration".into(), Value::from(self.iteration));
        scope.insert(
            "loop".into(),
            serde_json::json!({
                "current_item": self.current_item.cloned().unwrap_or(Value::Null),
                "index": self.iteration.saturating_sub(1),
                "iteration": self.iteration,
            }),
        );
        Value::Object(scope)
    }
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprError {
    /// `${t.output.k}` names an output that is not there.
    MissingOutput { task: String, key: String },
    /// The engine refused it: a syntax error, an exception, a limit.
    Js(String),
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExprError::MissingOutput { task, key } if key.is_empty() => {
                write!(
                    f,
                    "it refers to the output of task `{task}`, which has none"
                )
            }
            ExprError::MissingOutput { task, key } => {
                write!(
                    f,
                    "it refers to `${{{task}.output.{key}}}`, which task `{task}` did not produce"
                )
            }
            ExprError::Js(e) => f.write_str(e),
        }
    }
}

/// Is `expr` true (JavaScript truthiness) in `scope`?
pub fn truthy(expr: &str, scope: &Scope<'_>) -> Result<bool, ExprError> {
    let src = prepared(expr, scope)?;
    let json = run(&format!("!!(\n{src}\n)"), Some(scope), true)?;
    Ok(json == Value::Bool(true))
}

/// The value of `expr` in `scope`, as JSON (`undefined` and functions are null).
pub fn value(expr: &str, scope: &Scope<'_>) -> Result<Value, ExprError> {
    let src = prepared(expr, scope)?;
    run(&src, Some(scope), true)
}

/// Does `expr` compile? (`${…}` references stand in as `null`.) Nothing is run.
pub fn check_syntax(expr: &str) -> Result<(), String> {
    let src = vars::replace_refs(expr, &mut |_, _| Some("null".into()));
    run(&src, None, false)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `${t.output.k}` replaced by the value as a JavaScript (JSON) literal.
fn prepared(expr: &str, scope: &Scope<'_>) -> Result<String, ExprError> {
    let mut missing = None;
    let src = vars::replace_refs(expr, &mut |task, key| match vars::lookup_output(
        scope.outputs,
        task,
        key,
    ) {
        Some(v) => Some(v.to_string()),
        None => {
            missing.get_or_insert((task.to_string(), key.to_string()));
            Some("undefined".into())
        }
    });
    match missing {
        Some((task, key)) => Err(ExprError::MissingOutput { task, key }),
        None => Ok(src),
    }
}

/// Compiles `src` as the body of `with (scope) { return (src) }` and, when `call`,
/// runs it and returns `JSON.stringify` of the result.
fn run(src: &str, scope: Option<&Scope<'_>>, call: bool) -> Result<Value, ExprError> {
    let js = |e: String| ExprError::Js(e);
    let rt = rquickjs::Runtime::new().map_err(|e| js(e.to_string()))?;
    rt.set_memory_limit(MEMORY_LIMIT);
    rt.set_max_stack_size(512 * 1024);
    let deadline = Instant::now() + TIME_LIMIT;
    rt.set_interrupt_handler(Some(Box::new(move || Instant::now() > deadline)));
    let ctx = rquickjs::Context::full(&rt).map_err(|e| js(e.to_string()))?;
    let scope_obj = scope.map(Scope::object);
    let names: Vec<&str> = match &scope_obj {
        Some(Value::Object(m)) => m
            .keys()
            .map(String::as_str)
            .filter(|k| is_identifier(k))
            .collect(),
        _ => FIXED.to_vec(),
    };
    let scope_json = scope_obj.as_ref().map(Value::to_string);
    // Every name of the scope becomes a constant (the engine runs strict code, where
    // `with` does not exist). The expression stands alone on its lines so a `//`
    // comment cannot swallow the closing parenthesis.
    let function = format!(
        "(function (__prflow_scope) {{ const {{ {} }} = __prflow_scope; return JSON.stringify((\n{src}\n)); }})",
        names.join(", ")
    );
    ctx.with(|ctx| {
        let caught = |e: rquickjs::Error| -> ExprError {
            if let rquickjs::Error::Exception = e {
                let v = ctx.catch();
                if let Some(ex) = v.as_exception() {
                    let name = ex
                        .get::<_, String>("name")
                        .unwrap_or_else(|_| "Error".into());
                    return js(format!(
                        "{name}: {}",
                        ex.message().unwrap_or_default().trim()
                    ));
                }
                if Instant::now() > deadline {
                    return js(format!(
                        "it ran longer than {} s and was stopped",
                        TIME_LIMIT.as_secs()
                    ));
                }
                let text = v
                    .as_string()
                    .and_then(|s| s.to_string().ok())
                    .unwrap_or_else(|| "an exception".into());
                return js(text);
            }
            js(e.to_string())
        };
        let f: rquickjs::Function = ctx.eval(function.as_str()).map_err(caught)?;
        if !call {
            return Ok(Value::Null);
        }
        let scope_value = ctx
            .json_parse(scope_json.unwrap_or_else(|| "{}".into()))
            .map_err(caught)?;
        let out: Option<String> = f.call((scope_value,)).map_err(caught)?;
        Ok(match out {
            Some(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
            None => Value::Null,
        })
    })
    .map_err(|e: ExprError| {
        if Instant::now() > deadline {
            js(format!(
                "it ran longer than {} s and was stopped",
                TIME_LIMIT.as_secs()
            ))
        } else {
            e
        }
    })
}

/// The names every scope has.
const FIXED: &[&str] = &["variables", "outputs", "iteration", "loop"];

/// Can `name` be declared as a constant (a plain identifier, not a reserved word)?
fn is_identifier(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "await",
        "arguments",
        "eval",
        "undefined",
        "NaN",
        "Infinity",
    ];
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !RESERVED.contains(&name)
        && !name.starts_with("__prflow")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope_with<'a>(
        variables: &'a Map<String, Value>,
        outputs: &'a HashMap<String, Map<String, Value>>,
    ) -> Scope<'a> {
        Scope {
            variables,
            outputs,
            iteration: 0,
            current_item: None,
        }
    }

    fn outputs() -> HashMap<String, Map<String, Value>> {
        let mut o = HashMap::new();
        o.insert(
            "unit-tests".to_string(),
            json!({"passed": true, "coverage": 91, "m": {"accuracy": 0.9}})
                .as_object()
                .unwrap()
                .clone(),
        );
        o
    }

    #[test]
    fn claude_flow_expressions_are_javascript() {
        let vars = json!({"enable_e2e": true, "test_coverage_target": 80, "names": ["a", "b"]})
            .as_object()
            .unwrap()
            .clone();
        let out = outputs();
        let s = scope_with(&vars, &out);
        for (e, want) in [
            ("outputs['unit-tests.passed'] && variables.enable_e2e", true),
            (
                "outputs['unit-tests.coverage'] >= variables.test_coverage_target",
                true,
            ),
            ("outputs['unit-tests'].coverage > 95", false),
            ("${unit-tests.output.m.accuracy} > 0.85", true),
            ("enable_e2e === true", true),
            ("names.length === 2 && names.includes('b')", true),
            ("iteration < 3 // a comment", true),
            ("''", false),
        ] {
            assert_eq!(truthy(e, &s), Ok(want), "{e}");
        }
        assert_eq!(
            value("variables.names.map(n => n.toUpperCase())", &s),
            Ok(json!(["A", "B"]))
        );
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let vars = Map::new();
        let out = outputs();
        let s = scope_with(&vars, &out);
        let e = truthy("nope > 1", &s).unwrap_err().to_string();
        assert!(e.contains("ReferenceError") && e.contains("nope"), "{e}");
        let e = truthy("${build.output.ok}", &s).unwrap_err();
        assert_eq!(
            e,
            ExprError::MissingOutput {
                task: "build".into(),
                key: "ok".into()
            }
        );
        assert!(check_syntax("outputs['a.b'] &&").is_err());
        assert!(check_syntax("outputs['a.b'] && ${t.output.k} > 2").is_ok());
    }

    #[test]
    fn the_sandbox_bounds_time_and_memory_and_has_no_io() {
        let vars = Map::new();
        let out = HashMap::new();
        let s = scope_with(&vars, &out);
        let started = Instant::now();
        let e = truthy("(() => { while (true) {} })()", &s)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < TIME_LIMIT * 3, "{e}");
        assert!(e.contains("stopped") || e.contains("interrupted"), "{e}");
        let e = truthy(
            "(() => { let a = []; for (;;) a.push('x'.repeat(1 << 20)); })()",
            &s,
        )
        .unwrap_err()
        .to_string();
        assert!(!e.is_empty());
        for io in ["require('fs')", "std.loadFile('/etc/passwd')", "fetch('x')"] {
            assert!(truthy(io, &s).is_err(), "{io}");
        }
    }
}
