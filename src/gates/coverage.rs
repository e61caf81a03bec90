//! `coverage`: reads the coverage reports the phase's tests wrote and compares line
//! coverage with the workflow's threshold.
//!
//! Reports understood: istanbul/c8/nyc `coverage-summary.json`, `lcov.info`, and
//! Cobertura XML (`coverage.xml`, `cobertura.xml`, `cobertura-coverage.xml`), searched up
//! to [`MAX_DEPTH`] directories deep (so `services/*/coverage/` is found). This gate does
//! not run the tests: with no report it is `neutral`, never `success`.

use super::{Annotation, AnnotationLevel, Conclusion, GateInput, GateResult};
use crate::workflow::Workflow;
use regex::Regex;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The threshold when no task input names one.
pub const DEFAULT_THRESHOLD: f64 = 80.0;
/// How deep below the checkout reports are looked for.
pub const MAX_DEPTH: usize = 5;
/// Per-file annotations per report, at most.
const MAX_FILE_ANNOTATIONS: usize = 50;

/// Line coverage of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Relative to the checkout.
    pub path: String,
    pub format: &'static str,
    pub lines_total: u64,
    pub lines_covered: u64,
    /// Files in the report: (path relative to the checkout when it could be mapped, percent).
    pub files: Vec<(String, f64)>,
}

impl Report {
    pub fn percent(&self) -> f64 {
        if self.lines_total == 0 {
            100.0
        } else {
            self.lines_covered as f64 * 100.0 / self.lines_total as f64
        }
    }
}

/// Runs the gate.
pub fn run(input: &GateInput) -> GateResult {
    let threshold = threshold(input.workflow, input.phase);
    let found = find_reports(input.checkout);
    if found.is_empty() {
        return GateResult::new(
            Conclusion::Neutral,
            "no coverage report found; run tests with coverage first",
            format!(
                "No `coverage-summary.json`, `lcov.info` or Cobertura `coverage.xml` within {MAX_DEPTH} directories of the checkout, so line coverage was not measured (threshold {threshold}%). Make the phase's test command write one (e.g. `c8 --reporter json-summary`, `jest --coverage`, `cargo llvm-cov --lcov`)."
            ),
        );
    }
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for path in found {
        match read_report(input.checkout, &path) {
            Ok(r) => reports.push(r),
            Err(e) => unreadable.push(format!("- `{}`: {e}", rel(input.checkout, &path))),
        }
    }
    let mut summary = format!("Line coverage threshold: **{threshold}%**.\n\n| report | format | lines | covered | result |\n|---|---|---|---|---|\n");
    let mut ann = Vec::new();
    let mut below = 0;
    for r in &reports {
        let pct = r.percent();
        let ok = pct + 1e-9 >= threshold;
        if !ok {
            below += 1;
        }
        summary.push_str(&format!(
            "| `{}` | {} | {} | {:.1}% | {} |\n",
            r.path,
            r.format,
            r.lines_total,
            pct,
            if ok { "ok" } else { "below" }
        ));
        for (file, fpct) in r
            .files
            .iter()
            .filter(|(_, p)| *p + 1e-9 < threshold)
            .take(MAX_FILE_ANNOTATIONS)
        {
            ann.push(Annotation::at(
                file,
                1,
                AnnotationLevel::Warning,
                "low coverage",
                format!(
                    "{fpct:.1}% of lines covered (threshold {threshold}%), from `{}`.",
                    r.path
                ),
            ));
        }
    }
    if !unreadable.is_empty() {
        summary.push_str(&format!(
            "\nReports that could not be read:\n{}\n",
            unreadable.join("\n")
        ));
    }
    let (conclusion, title) = if reports.is_empty() {
        (
            Conclusion::Neutral,
            "coverage reports found but none could be read".to_string(),
        )
    } else if below > 0 {
        let worst = reports
            .iter()
            .map(Report::percent)
            .fold(f64::INFINITY, f64::min);
        (
            Conclusion::Failure,
            format!("{below} report(s) below {threshold}% (lowest {worst:.1}%)"),
        )
    } else {
        let low = reports
            .iter()
            .map(Report::percent)
            .fold(f64::INFINITY, f64::min);
        (
            Conclusion::Success,
            format!(
                "line coverage ≥ {threshold}% in {} report(s) (lowest {low:.1}%)",
                reports.len()
            ),
        )
    };
    GateResult::new(conclusion, title, summary).with_annotations(ann)
}

/// The line coverage percentage asked for: the largest `coverage` (or `coverageThreshold`)
/// number in the inputs of this phase's tasks, else of any task, else [`DEFAULT_THRESHOLD`].
pub fn threshold(workflow: &Workflow, phase: usize) -> f64 {
    let plan = crate::workflow::plan::plan(workflow);
    let in_phase: Vec<&String> = plan
        .phases
        .iter()
        .filter(|p| p.index == phase)
        .flat_map(|p| p.tasks.iter())
        .collect();
    let of = |tasks: &mut dyn Iterator<Item = &crate::workflow::Task>| -> Option<f64> {
        tasks
            .filter_map(|t| {
                let obj = t.input.as_object()?;
                ["coverage", "coverageThreshold", "coverage_threshold"]
                    .iter()
                    .find_map(|k| number(obj.get(*k)?))
            })
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            })
    };
    of(&mut workflow.tasks.iter().filter(|t| in_phase.contains(&&t.id)))
        .or_else(|| of(&mut workflow.tasks.iter()))
        .unwrap_or(DEFAULT_THRESHOLD)
}

fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok()?,
        Value::Object(o) => number(o.get("lines").or_else(|| o.get("line"))?)?,
        _ => return None,
    };
    let n = if n > 0.0 && n <= 1.0 { n * 100.0 } else { n };
    (0.0..=100.0).contains(&n).then_some(n)
}

/// Report files under `root`, skipping dependency and VCS directories.
pub fn find_reports(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, 0, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if depth < MAX_DEPTH
                && !matches!(
                    name.as_str(),
                    "node_modules" | ".git" | "target" | "vendor" | ".venv" | "venv"
                )
            {
                walk(&e.path(), depth + 1, out);
            }
        } else if ft.is_file()
            && matches!(
                name.as_str(),
                "coverage-summary.json"
                    | "lcov.info"
                    | "coverage.xml"
                    | "cobertura.xml"
                    | "cobertura-coverage.xml"
            )
        {
            out.push(e.path());
        }
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Reads one report of any supported format.
pub fn read_report(root: &Path, path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The project directory the report belongs to: the parent of `coverage/`, else its own directory.
    let dir = path.parent().unwrap_or(root);
    let base = if dir.file_name().is_some_and(|n| n == "coverage") {
        dir.parent().unwrap_or(root)
    } else {
        dir
    };
    let mapper = |file: &str| map_path(root, base, file);
    let mut r = match name.as_str() {
        "coverage-summary.json" => istanbul(&text, &mapper)?,
        "lcov.info" => lcov(&text, &mapper)?,
        _ => cobertura(&text, &mapper)?,
    };
    r.path = rel(root, path);
    Ok(r)
}

fn istanbul(text: &str, map: &dyn Fn(&str) -> Option<String>) -> Result<Report, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let lines = v
        .pointer("/total/lines")
        .ok_or("no `total.lines` entry: not an istanbul json-summary")?;
    let total = lines
        .get("total")
        .and_then(Value::as_u64)
        .ok_or("`total.lines.total` is not a number")?;
    let covered = lines
        .get("covered")
        .and_then(Value::as_u64)
        .ok_or("`total.lines.covered` is not a number")?;
    let mut files = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, entry) in obj.iter().filter(|(k, _)| k.as_str() != "total") {
            if let (Some(p), Some(pct)) =
                (map(k), entry.pointer("/lines/pct").and_then(Value::as_f64))
            {
                files.push((p, pct));
            }
        }
    }
    Ok(Report {
        path: String::new(),
        format: "istanbul",
        lines_total: total,
        lines_covered: covered,
        files,
    })
}

fn lcov(text: &str, map: &dyn Fn(&str) -> Option<String>) -> Result<Report, String> {
    let (mut total, mut covered) = (0u64, 0u64);
    let mut files = Vec::new();
    let mut current: Option<String> = None;
    let (mut lf, mut lh) = (0u64, 0u64);
    let mut seen = false;
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("SF:") {
            current = Some(f.trim().to_string());
            (lf, lh) = (0, 0);
            seen = true;
        } else if let Some(n) = line.strip_prefix("LF:") {
            lf = n.trim().parse().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("LH:") {
            lh = n.trim().parse().unwrap_or(0);
        } else if line.trim() == "end_of_record" {
            total += lf;
            covered += lh;
            if let Some(p) = current.take().and_then(|f| map(&f)) {
                if lf > 0 {
                    files.push((p, lh as f64 * 100.0 / lf as f64));
                }
            }
        }
    }
    if !seen {
        return Err("no `SF:` records: not an lcov tracefile".into());
    }
    Ok(Report {
        path: String::new(),
        format: "lcov",
        lines_total: total,
        lines_covered: covered,
        files,
    })
}

static COB_ROOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<coverage\b[^>]*>").unwrap());
static ATTR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"([\w-]+)="([^"]*)""#).unwrap());
static COB_CLASS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<class\b[^>]*>").unwrap());

fn cobertura(text: &str, map: &dyn Fn(&str) -> Option<String>) -> Result<Report, String> {
    let attrs = |tag: &str| -> std::collections::HashMap<String, String> {
        ATTR.captures_iter(tag)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect()
    };
    let root = COB_ROOT
        .find(text)
        .ok_or("no `<coverage>` element: not a Cobertura report")?;
    let a = attrs(root.as_str());
    let (total, covered) = match (
        a.get("lines-valid").and_then(|s| s.parse().ok()),
        a.get("lines-covered").and_then(|s| s.parse().ok()),
    ) {
        (Some(t), Some(c)) => (t, c),
        _ => {
            let rate: f64 = a
                .get("line-rate")
                .and_then(|s| s.parse().ok())
                .ok_or("`<coverage>` has no `line-rate`")?;
            (10_000u64, (rate * 10_000.0).round() as u64)
        }
    };
    let mut files = Vec::new();
    for m in COB_CLASS.find_iter(text) {
        let c = attrs(m.as_str());
        if let (Some(f), Some(rate)) = (
            c.get("filename"),
            c.get("line-rate").and_then(|s| s.parse::<f64>().ok()),
        ) {
            if let Some(p) = map(f) {
                if !files.iter().any(|(q, _): &(String, f64)| q == &p) {
                    files.push((p, rate * 100.0));
                }
            }
        }
    }
    Ok(Report {
        path: String::new(),
        format: "cobertura",
        lines_total: total,
        lines_covered: covered,
        files,
    })
}

/// Maps a file named in a report (often an absolute path from the machine that ran the
/// tests) to a path relative to the checkout, by trying its suffixes below the report's
/// project directory and below the checkout root.
fn map_path(root: &Path, base: &Path, file: &str) -> Option<String> {
    let parts: Vec<&str> = file
        .split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for i in 0..parts.len() {
        let tail = parts[i..].join("/");
        if tail.split('/').any(|s| s == "..") {
            continue;
        }
        for dir in [base, root] {
            let candidate = dir.join(&tail);
            if candidate.is_file() {
                return Some(rel(root, &candidate));
            }
        }
    }
    None
}
