//! `security-scan`: secrets, unsafe paths and risky patterns in the files a phase changed.
//!
//! Secrets (key blocks, cloud and chat tokens, literal passwords) are `failure`
//! annotations and fail the gate; risky code patterns are `warning`s a reviewer should
//! look at. A secret is never repeated in a message: only a masked form is shown.

use super::files;
use super::{Annotation, AnnotationLevel, Conclusion, GateInput, GateResult};
use regex::Regex;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

struct SecretRule {
    title: &'static str,
    re: Regex,
}

static SECRETS: LazyLock<Vec<SecretRule>> = LazyLock::new(|| {
    let r = |title, re: &str| SecretRule {
        title,
        re: Regex::new(re).unwrap(),
    };
    vec![
        r(
            "private key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        ),
        r("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        r(
            "GitHub token",
            r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b",
        ),
        r("GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
        r("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        r(
            "Slack webhook",
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}",
        ),
        r("Stripe secret key", r"\b[rs]k_live_[A-Za-z0-9]{20,}\b"),
        r("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ]
});

/// `password = "…"`, `secret: '…'`, `"apiKey": "…"`, `TOKEN=…` with a literal value.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?token|client[_-]?secret|token)[A-Za-z0-9_]*)["']?\s*(?::|=|:=|=>)\s*(?P<q>["'`])(?P<value>[^"'`\s]{8,})["'`]"#,
    )
    .unwrap()
});

struct RiskRule {
    title: &'static str,
    why: &'static str,
    re: Regex,
}

static RISKS: LazyLock<Vec<RiskRule>> = LazyLock::new(|| {
    let r = |title, why, re: &str| RiskRule {
        title,
        why,
        re: Regex::new(re).unwrap(),
    };
    vec![
        r("eval", "`eval(` runs a string as code; if any part of it comes from input, that is code injection.", r"(?:^|[^\w.$])eval\s*\("),
        r("new Function", "`new Function(…)` compiles a string into code, like `eval`.", r"\bnew\s+Function\s*\("),
        r(
            "shell command built from a string",
            "`exec` with a template literal or concatenation passes input through a shell; use `execFile`/`spawn` with an argument array.",
            r#"\bexec(?:Sync)?\s*\(\s*(?:`[^`]*\$\{|["'][^"']*["']\s*\+|\w+\s*\+)"#,
        ),
        r(
            "SQL built from strings",
            "SQL assembled from strings is open to injection; pass values as query parameters ($1, ?).",
            r#"\b(?:query|execute|raw)\s*\(\s*(?:`[^`]*\$\{|["'][^"']*\b(?:SELECT|INSERT|UPDATE|DELETE|WHERE)\b[^"']*["']\s*\+)"#,
        ),
        r("dangerouslySetInnerHTML", "HTML set without escaping is an XSS risk unless it is sanitized first.", r"\bdangerouslySetInnerHTML\b"),
        r(
            "TLS verification turned off",
            "Turning certificate verification off allows man-in-the-middle attacks.",
            r"\b(?:rejectUnauthorized\s*:\s*false|verify\s*[:=]\s*(?:false|False)\b|NODE_TLS_REJECT_UNAUTHORIZED\s*=\s*['\x22]?0|InsecureSkipVerify\s*:\s*true|danger_accept_invalid_certs\(\s*true)",
        ),
        r("world-writable permissions", "`chmod 777` lets every user on the machine change the file.", r"\bchmod\s+(?:-R\s+)?0?777\b"),
        r(
            "download piped to a shell",
            "`curl … | sh` runs whatever the server returns; pin and verify a checksum instead.",
            r"\b(?:curl|wget)\b[^|\n]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b",
        ),
    ]
});

/// Runs the scan over the phase's changed files.
pub fn run(input: &GateInput) -> GateResult {
    let root = input.checkout;
    let mut ann: Vec<Annotation> = Vec::new();
    let mut scanned = 0usize;
    for rel in input.changed_files {
        ann.extend(path_findings(root, rel));
        let Some(text) = files::read_text(root, rel) else {
            continue;
        };
        scanned += 1;
        ann.extend(scan_text(rel, &text));
    }
    if scanned == 0 && ann.is_empty() {
        return GateResult::new(
            Conclusion::Skipped,
            "no changed text files to look at",
            format!(
                "Skipped: of the {} path(s) this phase changed, none is a text file under 1 MiB that still exists, so security-scan had nothing to read.",
                input.changed_files.len()
            ),
        );
    }
    let secrets = ann
        .iter()
        .filter(|a| a.level == AnnotationLevel::Failure)
        .count();
    let warnings = ann.len() - secrets;
    let conclusion = if secrets > 0 {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    let title = match (secrets, warnings) {
        (0, 0) => format!("no findings in {scanned} file(s)"),
        (0, w) => format!("{w} warning(s) to review"),
        (s, w) => format!("{s} blocking finding(s), {w} warning(s)"),
    };
    let mut summary = format!(
        "Scanned {scanned} changed text file(s) of {} changed path(s) for secrets, unsafe paths and risky patterns.\n\n",
        input.changed_files.len()
    );
    if ann.is_empty() {
        summary.push_str("Nothing found.");
    } else {
        summary.push_str("| level | file | line | finding |\n|---|---|---|---|\n");
        for a in ann.iter().take(100) {
            summary.push_str(&format!(
                "| {:?} | `{}` | {} | {} |\n",
                a.level,
                a.path,
                a.start_line,
                a.title.as_deref().unwrap_or("")
            ));
        }
        if ann.len() > 100 {
            summary.push_str(&format!(
                "\n… and {} more (see the annotations).\n",
                ann.len() - 100
            ));
        }
        if secrets > 0 {
            summary.push_str(
                "\nA secret committed to git stays in its history: revoke it, then remove it from the file.\n",
            );
        }
    }
    GateResult::new(conclusion, title, summary).with_annotations(ann)
}

/// Findings in one file's text: secrets (failure, or warning inside tests) and risky patterns.
pub fn scan_text(rel: &str, text: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    let in_test = files::is_test_path(rel);
    let ext = files::ext(rel);
    let generated = files::is_generated(rel);
    let is_doc = matches!(ext.as_str(), "md" | "markdown" | "rst" | "txt" | "adoc");
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let mut found_secret = false;
        for rule in SECRETS.iter() {
            if let Some(m) = rule.re.find(line) {
                found_secret = true;
                out.push(Annotation::at(
                    rel,
                    n,
                    AnnotationLevel::Failure,
                    &format!("secret: {}", rule.title),
                    format!(
                        "Looks like a {} ({}). Revoke it and load it from the environment or a secret store.",
                        rule.title,
                        mask(m.as_str())
                    ),
                ));
            }
        }
        if !found_secret && !is_doc {
            if let Some(c) = ASSIGNMENT.captures(line) {
                let value = &c["value"];
                if !is_placeholder(value, line) && entropy(value) >= 3.0 {
                    let (level, advice) = if in_test {
                        (
                            AnnotationLevel::Warning,
                            "In a test this may be a fixture; make sure it is not a real credential.",
                        )
                    } else {
                        (
                            AnnotationLevel::Failure,
                            "Load it from the environment or a secret store instead.",
                        )
                    };
                    out.push(Annotation::at(
                        rel,
                        n,
                        level,
                        "secret: literal credential",
                        format!(
                            "`{}` is assigned a literal value ({}). {advice}",
                            &c["key"],
                            mask(value)
                        ),
                    ));
                }
            }
        }
        if is_doc || in_test || generated {
            continue; // risky patterns matter in shipped code, not in docs, tests or bundles
        }
        for rule in RISKS.iter() {
            if rule.re.is_match(line) && !is_comment_line(line) {
                out.push(Annotation::at(
                    rel,
                    n,
                    AnnotationLevel::Warning,
                    &format!("risky: {}", rule.title),
                    rule.why.to_string(),
                ));
            }
        }
    }
    out
}

/// Findings about the path itself: symlinks leaving the checkout, CI workflow changes.
fn path_findings(root: &Path, rel: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    let path = root.join(rel);
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            if symlink_escapes(rel, &target) {
                out.push(Annotation::at(
                    rel,
                    1,
                    AnnotationLevel::Failure,
                    "unsafe path: symlink leaves the repository",
                    format!(
                        "This symlink points to `{}`, outside the repository; tools that follow it read or write files they should not.",
                        target.display()
                    ),
                ));
            }
        }
    }
    if rel.starts_with(".github/workflows/") {
        out.push(Annotation::at(
            rel,
            1,
            AnnotationLevel::Warning,
            "CI workflow changed",
            "This file changes what GitHub Actions runs, with this repository's secrets; review it line by line."
                .to_string(),
        ));
    }
    out
}

/// Does a symlink at `rel` with this target resolve outside the repository root?
fn symlink_escapes(rel: &str, target: &Path) -> bool {
    if target.is_absolute() {
        return true;
    }
    let mut depth: i64 = rel.split('/').count() as i64 - 1;
    let base: PathBuf = target.to_path_buf();
    for c in base.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return true,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// `AKIA…WXYZ (20 chars)`: enough to find it, never enough to use it.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return format!(
            "{}… ({} chars)",
            chars.iter().take(2).collect::<String>(),
            chars.len()
        );
    }
    let head: String = chars.iter().take(4).collect();
    format!("{head}… ({} chars, masked)", chars.len())
}

/// Values that are obviously not real credentials.
fn is_placeholder(value: &str, line: &str) -> bool {
    let v = value.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "example",
        "placeholder",
        "your",
        "dummy",
        "sample",
        "redacted",
        "xxxx",
        "****",
        "insecure",
        "dev-only",
        "not-a-secret",
        "<",
        "${",
        "{{",
        "%(",
        "process.env",
        "os.environ",
        "env(",
        "getenv",
        "todo",
        "replace",
        "secret_here",
        "insert",
    ];
    WORDS.iter().any(|w| v.contains(w))
        || words_only(value)
        || line.contains("process.env")
        || line.contains("os.environ")
        || v.chars().all(|c| c == v.chars().next().unwrap_or('x'))
}

/// Names rather than secrets: letters-only words joined by `-`, `_` or `.` (`app.accessToken`,
/// `new-password`), or an environment variable's name (`OAUTH2_CLIENT_SECRET`).
fn words_only(value: &str) -> bool {
    value
        .split(['-', '_', '.'])
        .all(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        || (value.contains('_')
            && value
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let n = s.chars().count() as f64;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn is_comment_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//") || t.starts_with("* ") || t.starts_with("/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_escape_is_computed_from_the_link_location() {
        assert!(symlink_escapes("a/link", Path::new("../../etc/passwd")));
        assert!(!symlink_escapes("a/link", Path::new("../b/file")));
        assert!(symlink_escapes("link", Path::new("/etc/passwd")));
    }

    #[test]
    fn placeholders_and_low_entropy_values_are_not_secrets() {
        assert!(scan_text("a.js", "const password = \"changeme123\";").is_empty());
        assert!(scan_text("a.js", "password: \"${DB_PASSWORD}\"").is_empty());
        assert!(scan_text(
            "a.js",
            "const secret = process.env.JWT_SECRET || 'dev-secret-x';"
        )
        .is_empty());
        assert!(scan_text("a.js", "const ACCESS_KEY = 'app.accessToken';").is_empty());
        assert!(scan_text(
            "a.js",
            "autoComplete={x ? 'current-password' : 'new-password'}"
        )
        .is_empty());
        assert!(scan_text("a.js", "clientSecret: 'OAUTH2_CLIENT_SECRET',").is_empty());
        assert!(scan_text(
            "a.js",
            "const DEV_ONLY_SECRET = 'dev-only-insecure-jwt-secret-1';"
        )
        .is_empty());
        assert!(scan_text("test/a.test.js", "eval(x)").is_empty());
        assert_eq!(scan_text("src/a.js", "eval(x)").len(), 1);
        let hit = scan_text("a.js", "const password = \"Zq8!vR2#pL9m\";");
        assert_eq!(hit.len(), 1);
        assert!(!hit[0].message.contains("Zq8!vR2#pL9m"));
    }
}
