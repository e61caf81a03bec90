//! `code-review`: a deterministic static review of the files a phase changed.
//!
//! Hard problems fail the gate: merge-conflict markers and JSON/YAML files that do not
//! parse. Everything else (very large files, TODO/FIXME left in, `console.log` in
//! source, source without tests, very long lines) is a notice or warning for the human
//! reviewer, and the gate still passes.

use super::files;
use super::{Annotation, AnnotationLevel, Conclusion, GateInput, GateResult};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Files longer than this are hard to review in one PR.
pub const LARGE_FILE_LINES: usize = 1000;
/// Lines longer than this (in characters) are flagged once per file.
pub const LONG_LINE_CHARS: usize = 200;
/// At most this many TODO notices per file.
const MAX_TODOS_PER_FILE: usize = 5;

static TODO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(TODO|FIXME|XXX|HACK)\b").unwrap());
static CONSOLE_LOG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bconsole\.log\s*\(").unwrap());

/// Runs the review over the phase's changed files.
pub fn run(input: &GateInput) -> GateResult {
    let mut ann: Vec<Annotation> = Vec::new();
    let mut reviewed = 0usize;
    for rel in input.changed_files {
        let Some(text) = files::read_text(input.checkout, rel) else {
            continue;
        };
        reviewed += 1;
        ann.extend(review_file(rel, &text));
    }
    ann.extend(missing_tests(input));
    if reviewed == 0 && ann.is_empty() {
        return GateResult::new(
            Conclusion::Skipped,
            "no changed text files to look at",
            format!(
                "Skipped: of the {} path(s) this phase changed, none is a text file under 1 MiB that still exists, so code-review had nothing to read.",
                input.changed_files.len()
            ),
        );
    }
    let failures = ann
        .iter()
        .filter(|a| a.level == AnnotationLevel::Failure)
        .count();
    let warnings = ann
        .iter()
        .filter(|a| a.level == AnnotationLevel::Warning)
        .count();
    let notices = ann.len() - failures - warnings;
    let conclusion = if failures > 0 {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    let title = if failures > 0 {
        format!("{failures} problem(s) to fix, {warnings} warning(s)")
    } else if ann.is_empty() {
        format!("{reviewed} file(s) reviewed, nothing to report")
    } else {
        format!("{warnings} warning(s), {notices} notice(s)")
    };
    let mut summary = format!(
        "Reviewed {reviewed} changed text file(s): {failures} failure(s), {warnings} warning(s), {notices} notice(s).\n"
    );
    let mut by_title: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &ann {
        *by_title
            .entry(a.title.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    if !by_title.is_empty() {
        summary.push_str("\n| finding | count |\n|---|---|\n");
        for (t, n) in by_title {
            summary.push_str(&format!("| {t} | {n} |\n"));
        }
    }
    if failures > 0 {
        summary.push_str(
            "\nConflict markers and files that do not parse fail this gate; the rest are advice.\n",
        );
    }
    GateResult::new(conclusion, title, summary).with_annotations(ann)
}

/// Findings inside one file.
pub fn review_file(rel: &str, text: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    let ext = files::ext(rel);
    let generated = files::is_generated(rel);
    out.extend(conflict_markers(rel, text));
    match ext.as_str() {
        "json" if !generated => out.extend(check_json(rel, text)),
        "yml" | "yaml" if !generated => out.extend(check_yaml(rel, text)),
        _ => {}
    }
    if generated {
        return out;
    }
    let lines = text.lines().count();
    if lines > LARGE_FILE_LINES {
        out.push(Annotation::at(
            rel,
            1,
            AnnotationLevel::Warning,
            "large file",
            format!("{lines} lines: consider splitting it into smaller modules with one job each."),
        ));
    }
    let code = files::is_source(rel);
    let js = matches!(ext.as_str(), "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs");
    let test = files::is_test_path(rel);
    let cli_like = rel
        .split('/')
        .any(|d| matches!(d, "scripts" | "bin" | "cli"));
    let mut todos = 0;
    let mut long: Option<(u32, usize)> = None;
    let mut long_count = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if let Some(m) = TODO.find(line) {
            if todos < MAX_TODOS_PER_FILE && (code || !matches!(ext.as_str(), "md" | "txt")) {
                out.push(Annotation::at(
                    rel,
                    n,
                    AnnotationLevel::Notice,
                    "TODO left in",
                    format!(
                        "`{}` left in the code: finish it or track it in an issue.",
                        m.as_str()
                    ),
                ));
            }
            todos += 1;
        }
        if js
            && !test
            && !cli_like
            && CONSOLE_LOG.is_match(line)
            && !line.trim_start().starts_with("//")
        {
            out.push(Annotation::at(
                rel,
                n,
                AnnotationLevel::Warning,
                "console.log in source",
                "`console.log` in application code: use the service's logger (levels, structure) or remove it."
                    .to_string(),
            ));
        }
        let width = line.chars().count();
        if width > LONG_LINE_CHARS && !matches!(ext.as_str(), "md" | "svg" | "csv" | "txt" | "lock")
        {
            long_count += 1;
            if long.is_none() {
                long = Some((n, width));
            }
        }
    }
    if let Some((n, width)) = long {
        out.push(Annotation::at(
            rel,
            n,
            AnnotationLevel::Notice,
            "very long line",
            format!("{width} characters (and {} more such line(s) in this file); lines over {LONG_LINE_CHARS} are hard to review.", long_count - 1),
        ));
    }
    out
}

/// `<<<<<<<`, `=======` (between the other two) and `>>>>>>>` at the start of a line.
fn conflict_markers(rel: &str, text: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        let marker = if line.starts_with("<<<<<<<") {
            open = true;
            true
        } else if line.starts_with(">>>>>>>") {
            open = false;
            true
        } else {
            open && line.trim_end() == "======="
        };
        if marker {
            out.push(Annotation::at(
                rel,
                i as u32 + 1,
                AnnotationLevel::Failure,
                "merge conflict marker",
                "An unresolved merge conflict: pick the right side and remove the markers."
                    .to_string(),
            ));
        }
    }
    out
}

/// Files that allow comments although they end in `.json`.
fn is_jsonc(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with("tsconfig")
        || name.starts_with("jsconfig")
        || name.starts_with(".eslintrc")
        || rel.starts_with(".vscode/")
        || rel.contains("/.vscode/")
        || name == "devcontainer.json"
}

fn check_json(rel: &str, text: &str) -> Option<Annotation> {
    let err = serde_json::from_str::<serde_json::Value>(text).err()?;
    let level = if is_jsonc(rel) {
        AnnotationLevel::Warning
    } else {
        AnnotationLevel::Failure
    };
    Some(Annotation::at(
        rel,
        err.line() as u32,
        level,
        "invalid JSON",
        format!("This file does not parse as JSON: {err}."),
    ))
}

fn check_yaml(rel: &str, text: &str) -> Option<Annotation> {
    /// Syntax only: events are dropped, so aliases are never expanded (a generated
    /// file can be an alias bomb as well as a workflow can).
    struct SyntaxOnly;
    impl yaml_rust2::parser::MarkedEventReceiver for SyntaxOnly {
        fn on_event(&mut self, _: yaml_rust2::Event, _: yaml_rust2::scanner::Marker) {}
    }
    if text.contains("{{") && text.contains("}}") {
        return None; // a template (Helm, Jinja): not YAML until rendered
    }
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    let err = parser.load(&mut SyntaxOnly, true).err()?;
    Some(Annotation::at(
        rel,
        err.marker().line().max(1) as u32,
        AnnotationLevel::Failure,
        "invalid YAML",
        format!("This file does not parse as YAML: {}.", err.info()),
    ))
}

/// One warning per package (nearest directory with a manifest, else the top directory)
/// whose source changed in this phase with no test file changed alongside it.
fn missing_tests(input: &GateInput) -> Vec<Annotation> {
    let mut groups: BTreeMap<String, (Vec<&String>, bool)> = BTreeMap::new();
    for rel in input.changed_files {
        if !files::is_source(rel) && !files::is_test_path(rel) {
            continue;
        }
        if std::fs::symlink_metadata(input.checkout.join(rel))
            .map(|m| !m.is_file())
            .unwrap_or(true)
        {
            continue;
        }
        let entry = groups.entry(package_of(input.checkout, rel)).or_default();
        let inline_tests = files::ext(rel) == "rs"
            && files::read_text(input.checkout, rel)
                .is_some_and(|t| t.contains("#[cfg(test)]") || t.contains("#[test]"));
        if files::is_test_path(rel) || inline_tests {
            entry.1 = true;
        } else {
            entry.0.push(rel);
        }
    }
    groups
        .into_iter()
        .filter(|(_, (sources, tested))| !sources.is_empty() && !tested)
        .map(|(pkg, (sources, _))| {
            let place = if pkg.is_empty() {
                "the repository root".to_string()
            } else {
                format!("`{pkg}/`")
            };
            Annotation::at(
                sources[0],
                1,
                AnnotationLevel::Warning,
                "source without tests",
                format!(
                    "{} source file(s) under {place} changed in this phase with no test file changed alongside.",
                    sources.len()
                ),
            )
        })
        .collect()
}

/// The nearest ancestor directory of `rel` holding a package manifest, else its top directory.
fn package_of(root: &std::path::Path, rel: &str) -> String {
    let parts: Vec<&str> = rel.split('/').collect();
    for k in (1..parts.len()).rev() {
        let dir = parts[..k].join("/");
        if ["package.json", "Cargo.toml", "pyproject.toml", "setup.py"]
            .iter()
            .any(|m| root.join(&dir).join(m).is_file())
        {
            return dir;
        }
    }
    if parts.len() > 1 {
        parts[0].to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setext_heading_is_not_a_conflict_marker() {
        assert!(conflict_markers("a.md", "Title\n=======\n").is_empty());
        assert_eq!(
            conflict_markers("a.js", "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n").len(),
            3
        );
    }

    #[test]
    fn yaml_errors_carry_a_line() {
        let a = check_yaml("a.yml", "a: 1\nb: [1, 2\nc: 3\n").unwrap();
        assert_eq!(a.level, AnnotationLevel::Failure);
        assert!(a.start_line >= 2);
        assert!(check_yaml("a.yml", "a: 1\n---\nb: 2\n").is_none());
    }
}
