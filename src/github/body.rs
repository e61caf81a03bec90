//! Hidden markers prflow leaves in what it writes, so it can find its own
//! PR bodies and comments again without a database.

/// `<!-- prflow:run=<id> phase=<n> -->`, the marker every phase PR body carries.
pub fn pr_marker(run_id: &str, phase: u32) -> String {
    format!("<!-- prflow:run={run_id} phase={phase} -->")
}

/// `<!-- prflow:status run=<id> -->`, the marker of a run's living status comment.
pub fn status_marker(run_id: &str) -> String {
    format!("<!-- prflow:status run={run_id} -->")
}

/// Read `(run_id, phase)` back from a PR body.
pub fn parse_pr_marker(body: &str) -> Option<(String, u32)> {
    let start = body.find("<!-- prflow:run=")? + "<!-- prflow:run=".len();
    let rest = &body[start..];
    let end = rest.find("-->")?;
    let mut run = None;
    let mut phase = None;
    for (i, word) in rest[..end].split_whitespace().enumerate() {
        if i == 0 {
            run = Some(word.to_string());
        } else if let Some(p) = word.strip_prefix("phase=") {
            phase = p.parse().ok();
        }
    }
    Some((run?, phase?))
}

/// Read the run id back from a status comment.
pub fn parse_status_marker(body: &str) -> Option<String> {
    const START: &str = "<!-- prflow:status run=";
    let rest = &body[body.find(START)? + START.len()..];
    let run = rest.split_whitespace().next()?;
    (!run.is_empty() && run != "-->").then(|| run.to_string())
}

/// Append `marker` to `body` unless it is already there.
pub fn with_marker(body: &str, marker: &str) -> String {
    if body.contains(marker) {
        body.to_string()
    } else if body.is_empty() {
        marker.to_string()
    } else {
        format!("{}\n\n{marker}", body.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let body = with_marker("# Phase 2\n\ntext", &pr_marker("a1b2c3", 2));
        assert_eq!(parse_pr_marker(&body), Some(("a1b2c3".into(), 2)));
        assert_eq!(with_marker(&body, &pr_marker("a1b2c3", 2)), body);
        assert_eq!(parse_pr_marker("no marker"), None);
        assert!(status_marker("r1").starts_with("<!-- prflow:status run=r1"));
        let comment = format!("**prflow** · run r1\n\n{}", status_marker("r1"));
        assert_eq!(parse_status_marker(&comment), Some("r1".into()));
        assert_eq!(parse_status_marker("<!-- prflow:status run= -->"), None);
    }
}
