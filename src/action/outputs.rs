//! Step outputs, appended to the file named by `GITHUB_OUTPUT`.
//!
//! Every value is written in the heredoc form (`name<<DELIM`, value, `DELIM`)
//! with a random delimiter checked against the value, so a value holding a
//! newline or `=` can never inject another output.

use crate::flow::FlowReport;
use std::io::Write;
use std::path::Path;

/// The action's outputs (`action/action.yml`), in order. Empty when unknown.
pub fn outputs_of(report: &FlowReport) -> Vec<(&'static str, String)> {
    vec![
        ("run-id", report.run_id.clone().unwrap_or_default()),
        (
            "phase",
            report.phase.map(|p| p.to_string()).unwrap_or_default(),
        ),
        ("state", report.state.as_str().to_string()),
        (
            "pull-request-number",
            report
                .pull_request_number
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "pull-request-url",
            report.pull_request_url.clone().unwrap_or_default(),
        ),
    ]
}

/// Formats outputs in the multi-line-safe form; `delimiter` picks the
/// delimiter for a value (called again if the value contains it).
pub fn format_with(pairs: &[(&str, String)], mut delimiter: impl FnMut() -> String) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        let mut delim = delimiter();
        while value.contains(&delim) || name.contains(&delim) {
            delim = delimiter();
        }
        out.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    out
}

/// A delimiter no value will hold by accident: `ghadelimiter_` plus 128 random bits,
/// as GitHub's own toolkit does.
pub fn random_delimiter() -> String {
    format!("ghadelimiter_{:032x}", rand::random::<u128>())
}

/// Formats with random delimiters.
pub fn format(pairs: &[(&str, String)]) -> String {
    format_with(pairs, random_delimiter)
}

/// Appends the outputs to `path` (the runner may have written other steps' lines).
pub fn append(path: &Path, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(format(pairs).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_form_per_output() {
        let text = format_with(
            &[("state", "waiting-for-review".into()), ("phase", "".into())],
            || "EOF".into(),
        );
        assert_eq!(
            text,
            "state<<EOF\nwaiting-for-review\nEOF\nphase<<EOF\n\nEOF\n"
        );
    }

    #[test]
    fn a_value_holding_the_delimiter_gets_another_one() {
        let mut n = 0;
        let text = format_with(&[("x", "a\nD0\nb".into())], || {
            n += 1;
            format!("D{}", n - 1)
        });
        assert_eq!(text, "x<<D1\na\nD0\nb\nD1\n");
    }

    #[test]
    fn random_delimiters_differ() {
        assert_ne!(random_delimiter(), random_delimiter());
        assert!(random_delimiter().starts_with("ghadelimiter_"));
    }

    #[test]
    fn report_fields_map_to_the_declared_outputs() {
        let report = FlowReport {
            run_id: Some("r1".into()),
            phase: Some(2),
            state: crate::flow::FlowState::WaitingForReview,
            pull_request_number: Some(7),
            pull_request_url: Some("https://x/pull/7".into()),
            ..Default::default()
        };
        let names: Vec<_> = outputs_of(&report).into_iter().collect();
        assert_eq!(
            names,
            vec![
                ("run-id", "r1".to_string()),
                ("phase", "2".to_string()),
                ("state", "waiting-for-review".to_string()),
                ("pull-request-number", "7".to_string()),
                ("pull-request-url", "https://x/pull/7".to_string()),
            ]
        );
        assert_eq!(outputs_of(&FlowReport::default())[0].1, "");
    }
}
