//! Rendering packs with minijinja: one environment for every pack, the filters pack
//! authors can use, and the turn from a pack plus a context into files.
//!
//! Settings chosen so generated source looks hand-written and is reproducible:
//! `trim_blocks` and `lstrip_blocks` (a line holding only a `{% tag %}` leaves no
//! blank line), trailing newlines kept, no auto-escaping (use `tojson`), undefined
//! variables an error when printed (`semi-strict`), and no clock or randomness.

use super::context::{self, ContextInput};
use super::pack::{Origin, Pack};
use crate::agents::FileChange;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Template names inside the environment are `<pack>/<path in pack>`.
pub fn template_name(pack: &str, rel: &str) -> String {
    match rel.strip_prefix('@') {
        // A file borrowed from another pack (`@other/path`) is that pack's template.
        Some(other) => other.to_string(),
        None => format!("{pack}/{rel}"),
    }
}

/// Steps (minijinja instructions) one render may take. The embedded packs need a few
/// thousand per file; a pack from a repository with nested `range(10000)` loops would
/// otherwise render for minutes and take gigabytes.
pub const FUEL: u64 = 5_000_000;

/// Bytes one rendered file (or `dest`, or output) may have.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// Creates the environment with prflow's settings and filters (no templates yet).
pub fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // `{% import "lib/x.j2" %}` is relative to the importing template's pack;
    // `@other-pack/lib/x.j2` names a file of another pack.
    env.set_path_join_callback(|name, parent| {
        if let Some(rest) = name.strip_prefix('@') {
            return rest.to_string().into();
        }
        let pack = parent.split('/').next().unwrap_or("");
        format!("{pack}/{name}").into()
    });
    env.add_filter("slug", |s: &str| words(s).join("-"));
    env.add_filter("kebab", |s: &str| words(s).join("-"));
    env.add_filter("snake", |s: &str| words(s).join("_"));
    env.add_filter("screaming_snake", |s: &str| {
        words(s).join("_").to_ascii_uppercase()
    });
    env.add_filter("camel", |s: &str| {
        let w = words(s);
        let mut out = String::new();
        for (i, word) in w.iter().enumerate() {
            if i == 0 {
                out.push_str(word);
            } else {
                out.push_str(&capitalize(word));
            }
        }
        out
    });
    env.add_filter("pascal", |s: &str| {
        words(s).iter().map(|w| capitalize(w)).collect::<String>()
    });
    env.add_filter("plural", |s: &str| super::system::resources::plural(s));
    env.add_filter("toyaml", |v: JValue| -> Result<String, Error> {
        let json = serde_json::to_value(&v)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))?;
        let mut out = String::new();
        yaml_rust2::YamlEmitter::new(&mut out)
            .dump(&to_yaml(&json))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))?;
        // The emitter starts a document (`---`); a filter's output is a fragment.
        let body = out
            .strip_prefix("---")
            .unwrap_or(&out)
            .trim_start_matches([' ', '\n']);
        Ok(format!("{body}\n"))
    });
    env
}

/// A JSON value as YAML, keys in their order (for the `toyaml` filter).
fn to_yaml(v: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

/// Splits an identifier or phrase into lowercase words: `createAuthService`,
/// `create-auth service` and `CREATE_AUTH_SERVICE` all give `create auth service`.
pub fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Turns a minijinja error into `FILE:LINE: message`, naming the pack file.
pub fn describe_error(e: &Error, origins: &HashMap<String, Origin>, fallback: &str) -> String {
    let location = match e.name() {
        Some(name) if name.contains('/') => {
            let (pack, rel) = name.split_once('/').unwrap_or((name, ""));
            match origins.get(pack) {
                Some(o) => o.display_path(pack, rel),
                None => name.to_string(),
            }
        }
        _ => fallback.to_string(),
    };
    let location = match e.line() {
        Some(l) if !location.contains(':') || e.name().is_some_and(|n| n.contains('/')) => {
            format!("{location}:{l}")
        }
        _ => location,
    };
    let mut msg = e.kind().to_string();
    if let Some(d) = e.detail() {
        msg.push_str(": ");
        msg.push_str(d);
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        msg.push_str(&format!(" (caused by: {inner})"));
        src = inner.source();
    }
    format!("{location}: {msg}")
}

/// A rendered file, refusing to grow past [`MAX_OUTPUT_BYTES`] (the write fails, which
/// stops the render there).
#[derive(Default)]
struct Bounded {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.over = true;
            return Err(std::io::Error::other("the rendered file is too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What rendering a pack produced.
pub struct Rendered {
    pub files: Vec<FileChange>,
    pub outputs: Map<String, Value>,
}

fn has_markup(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Makes `dest` a clean relative path, or says why it cannot be one.
fn clean_path(p: &str) -> Result<String, String> {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if p.starts_with('/') || p.contains('\\') || parts.contains(&"..") || parts.is_empty() {
        return Err(format!(
            "`{p}` is not a relative path inside the repository"
        ));
    }
    Ok(parts.join("/"))
}

/// Joins `rel` under the workflow's output root (`.` and empty mean the repository root).
pub fn under_output_dir(output_dir: &str, rel: &str) -> String {
    let root = output_dir.trim_matches('/');
    if root.is_empty() || root == "." {
        rel.to_string()
    } else {
        format!("{}/{rel}", root.trim_start_matches("./"))
    }
}

/// Renders `pack` for one task.
pub fn render(
    env: &Environment<'static>,
    origins: &HashMap<String, Origin>,
    pack: &Pack,
    ci: &ContextInput<'_>,
    shared: &context::Shared,
) -> Result<Rendered, String> {
    let manifest = pack.manifest_path();
    let err_at = |line: usize, what: &str, e: &Error| {
        let at = if line > 0 {
            format!("{manifest}:{line}")
        } else {
            manifest.clone()
        };
        if e.kind() == ErrorKind::OutOfFuel {
            return format!(
                "{at}: pack `{}`, {what}: rendering took more than {FUEL} steps (the fuel limit): a loop in it runs too long; loop over less",
                pack.name
            );
        }
        describe_error(e, origins, &format!("{at} ({what})"))
    };
    let too_big = |line: usize, what: &str| {
        format!(
            "{manifest}:{line}: pack `{}`, {what}: renders to more than {} MB (the limit of one file): render less",
            pack.name,
            MAX_OUTPUT_BYTES / (1024 * 1024)
        )
    };

    let defaults: Vec<(String, Value)> = pack
        .variables
        .iter()
        .map(|v| (v.name.clone(), v.default.clone()))
        .collect();
    let mut ctx: BTreeMap<String, JValue> = context::build(ci, &defaults)
        .into_iter()
        .map(|(k, v)| (k, JValue::from_serialize(v)))
        .collect();
    ctx.insert("workflow".into(), shared.workflow.clone());
    ctx.insert("system".into(), shared.system.clone());
    // Defaults that are templates themselves (`"{{ task.id | slug }}"`) are rendered,
    // in manifest order, unless the workflow or the task gave the variable a value.
    for v in &pack.variables {
        let Value::String(text) = &v.default else {
            continue;
        };
        if !has_markup(text) || ctx.get(&v.name) != Some(&JValue::from_serialize(&v.default)) {
            continue;
        }
        let value = env
            .render_str(text, JValue::from(ctx.clone()))
            .map_err(|e| {
                err_at(
                    pack.line_of(&format!("{}:", v.name)),
                    &format!("variable {}", v.name),
                    &e,
                )
            })?;
        let value = JValue::from(value);
        if v.name.contains('-') {
            ctx.insert(v.name.replace('-', "_"), value.clone());
        }
        ctx.insert(v.name.clone(), value);
    }
    let jctx = JValue::from(ctx);

    let mut files: Vec<FileChange> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, spec) in pack.files.iter().enumerate() {
        let what = format!("files[{i}]");
        if let Some(when) = &spec.when {
            let expr = env
                .compile_expression(when)
                .map_err(|e| err_at(spec.line, &format!("{what}.when"), &e))?;
            let on = expr
                .eval(&jctx)
                .map_err(|e| err_at(spec.line, &format!("{what}.when"), &e))?;
            if !on.is_true() {
                continue;
            }
        }
        let dest = env
            .render_str(&spec.dest, &jctx)
            .map_err(|e| err_at(spec.line, &format!("{what}.dest"), &e))?;
        if dest.len() > MAX_OUTPUT_BYTES {
            return Err(too_big(spec.line, &format!("{what}.dest")));
        }
        for (src, suffix) in pack.entry_sources(spec) {
            let source = &pack.sources[src];
            let is_template = src.ends_with(".j2");
            let rel = if suffix.is_empty() {
                if dest.ends_with('/') {
                    let file = src.rsplit('/').next().unwrap_or(src);
                    format!("{dest}{}", file.strip_suffix(".j2").unwrap_or(file))
                } else {
                    dest.clone()
                }
            } else {
                let suffix = if has_markup(&suffix) {
                    env.render_str(&suffix, &jctx)
                        .map_err(|e| err_at(spec.line, &format!("{what} file name {suffix}"), &e))?
                } else {
                    suffix
                };
                let suffix = suffix.strip_suffix(".j2").unwrap_or(&suffix).to_string();
                format!("{}/{suffix}", dest.trim_end_matches('/'))
            };
            let rel = clean_path(&rel)
                .map_err(|m| format!("{manifest}:{}: {what}.dest renders to {m}", spec.line))?;
            let content = if is_template {
                let what = format!("{what}, template `{src}`");
                let tmpl = env
                    .get_template(&template_name(&pack.name, src))
                    .map_err(|e| err_at(spec.line, &what, &e))?;
                let mut out = Bounded::default();
                let rendered = tmpl.render_captured_to(&jctx, &mut out);
                if out.over {
                    return Err(too_big(spec.line, &what));
                }
                rendered.map_err(|e| err_at(spec.line, &what, &e))?;
                out.bytes
            } else {
                source.bytes.clone()
            };
            let path = under_output_dir(ci.output_dir, &rel);
            let change = FileChange {
                path: path.clone(),
                content: Some(content),
                executable: spec.executable || source.executable,
                symlink: false,
            };
            match index.get(&path) {
                Some(&at) => files[at] = change,
                None => {
                    index.insert(path, files.len());
                    files.push(change);
                }
            }
        }
    }

    let mut outputs = Map::new();
    for (key, template) in &pack.outputs {
        if !ci.task.output_keys.iter().any(|k| k == key) {
            continue;
        }
        let text = env.render_str(template, &jctx).map_err(|e| {
            err_at(
                pack.line_of(&format!("{key}:")),
                &format!("outputs.{key}"),
                &e,
            )
        })?;
        if text.len() > MAX_OUTPUT_BYTES {
            return Err(too_big(
                pack.line_of(&format!("{key}:")),
                &format!("outputs.{key}"),
            ));
        }
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        outputs.insert(key.clone(), value);
    }
    if ci.task.output_keys.iter().any(|k| k == "artifacts") && !outputs.contains_key("artifacts") {
        outputs.insert(
            "artifacts".into(),
            Value::Array(
                files
                    .iter()
                    .map(|f| Value::String(f.path.clone()))
                    .collect(),
            ),
        );
    }
    Ok(Rendered { files, outputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_every_spelling() {
        for s in [
            "createAuthService",
            "create-auth service",
            "CREATE_AUTH_SERVICE",
            "CreateAuthService",
        ] {
            assert_eq!(words(s), ["create", "auth", "service"], "{s}");
        }
        assert_eq!(words("HTTPServer2go"), ["http", "server2go"]);
        assert!(words("--").is_empty());
    }

    #[test]
    fn filters() {
        let env = new_environment();
        let r = |t: &str| env.render_str(t, ()).unwrap();
        assert_eq!(r("{{ 'Build Auth Service' | slug }}"), "build-auth-service");
        assert_eq!(r("{{ 'auth-service' | camel }}"), "authService");
        assert_eq!(r("{{ 'auth-service' | pascal }}"), "AuthService");
        assert_eq!(r("{{ 'authService' | snake }}"), "auth_service");
        assert_eq!(r("{{ 'auth-service' | screaming_snake }}"), "AUTH_SERVICE");
        assert_eq!(
            r("{{ 'category' | plural }} {{ 'box' | plural }} {{ 'day' | plural }}"),
            "categories boxes days"
        );
        assert_eq!(
            r("{{ {'a': [1, 2], 'b': 'x'} | toyaml }}"),
            "a:\n  - 1\n  - 2\nb: x\n"
        );
        assert_eq!(r("{{ {'z': 1, 'a': 2} | tojson }}"), r#"{"z":1,"a":2}"#);
        // No auto-escaping, whatever the template name says.
        assert_eq!(r("{{ '<a>&' }}"), "<a>&");
    }

    #[test]
    fn paths_stay_relative() {
        assert_eq!(clean_path("./a//b/c.txt").unwrap(), "a/b/c.txt");
        assert!(clean_path("/etc/passwd").is_err());
        assert!(clean_path("a/../../b").is_err());
        assert!(clean_path("").is_err());
        assert_eq!(under_output_dir(".", "a"), "a");
        assert_eq!(under_output_dir("", "a"), "a");
        assert_eq!(under_output_dir("out/", "a"), "out/a");
    }
}
