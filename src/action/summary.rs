//! The job summary (`GITHUB_STEP_SUMMARY`): a header saying what this step
//! did, then the flow's own Markdown (phases, tasks, gates, links, the Mermaid
//! graph), which the flow writes once for every front end.

use crate::flow::FlowReport;
use std::io::Write;
use std::path::Path;

/// Where the step ran, for the header.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// `GITHUB_EVENT_NAME`.
    pub event: String,
    /// `owner/name`.
    pub repository: String,
    /// Link to the workflow run, when known.
    pub run_url: Option<String>,
    pub dry_run: bool,
}

/// The summary of a step that reached the flow.
pub fn render(header: &Header, report: &FlowReport) -> String {
    let mut s = format!(
        "## prflow · `{}` on {}\n\n",
        header.event, header.repository
    );
    if header.dry_run {
        s.push_str("> **Dry run**: nothing was written to the repository.\n\n");
    }
    let mut facts: Vec<String> = Vec::new();
    if let Some(id) = &report.run_id {
        facts.push(format!("run `{id}`"));
    }
    if let Some(p) = report.phase {
        facts.push(format!("phase {p}"));
    }
    facts.push(format!("state **{}**", report.state));
    match (&report.pull_request_number, &report.pull_request_url) {
        (Some(n), Some(url)) => facts.push(format!("pull request [#{n}]({url})")),
        (Some(n), None) => facts.push(format!("pull request #{n}")),
        _ => {}
    }
    if !facts.is_empty() {
        s.push_str(&facts.join(" · "));
        s.push_str("\n\n");
    }
    if let Some(why) = &report.ignored_because {
        s.push_str(&format!("Nothing to do: {why}\n\n"));
    }
    if !report.summary_markdown.trim().is_empty() {
        s.push_str(report.summary_markdown.trim_end());
        s.push('\n');
    }
    s.push_str(&footer(header));
    s
}

/// The summary of a step that stopped with an error, so the reason is on the
/// run page and not only in the log.
pub fn render_error(header: &Header, message: &str) -> String {
    let mut s = format!(
        "## prflow · `{}` on {}\n\n**prflow stopped with an error:**\n\n",
        header.event, header.repository
    );
    s.push_str("```text\n");
    s.push_str(message.trim_end().replace("```", "'''").as_str());
    s.push_str("\n```\n");
    s.push_str(&footer(header));
    s
}

fn footer(header: &Header) -> String {
    match &header.run_url {
        Some(url) => format!(
            "\n<sub>[workflow run]({url}) · prflow {}</sub>\n",
            env!("CARGO_PKG_VERSION")
        ),
        None => format!("\n<sub>prflow {}</sub>\n", env!("CARGO_PKG_VERSION")),
    }
}

/// Appends to the summary file (earlier steps may have written to it).
pub fn append(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(markdown.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            event: "workflow_dispatch".into(),
            repository: "acme/shop".into(),
            run_url: Some("https://github.com/acme/shop/actions/runs/9".into()),
            dry_run: false,
        }
    }

    #[test]
    fn header_facts_then_the_flow_markdown() {
        let report = FlowReport {
            run_id: Some("ab12".into()),
            phase: Some(1),
            state: crate::flow::FlowState::WaitingForReview,
            pull_request_number: Some(3),
            pull_request_url: Some("https://github.com/acme/shop/pull/3".into()),
            summary_markdown: "### Phases\n\n```mermaid\ngraph TD\n```\n".into(),
            ..Default::default()
        };
        let s = render(&header(), &report);
        assert!(s.starts_with("## prflow · `workflow_dispatch` on acme/shop\n"));
        assert!(s.contains(
            "run `ab12` · phase 1 · state **waiting-for-review** · pull request [#3](https://github.com/acme/shop/pull/3)"
        ));
        assert!(s.contains("```mermaid\ngraph TD\n```"));
        assert!(s.contains("[workflow run](https://github.com/acme/shop/actions/runs/9)"));
        assert!(!s.contains("Dry run"));
    }

    #[test]
    fn dry_run_and_ignored_are_said() {
        let report = FlowReport {
            state: crate::flow::FlowState::Ignored,
            ignored_because: Some("the pull request is not a prflow phase".into()),
            ..Default::default()
        };
        let s = render(
            &Header {
                dry_run: true,
                ..header()
            },
            &report,
        );
        assert!(s.contains("**Dry run**"));
        assert!(s.contains("Nothing to do: the pull request is not a prflow phase"));
    }

    #[test]
    fn errors_are_fenced_and_cannot_break_the_fence() {
        let s = render_error(&header(), "bad\n```\ninjected");
        assert!(s.contains("**prflow stopped with an error:**"));
        assert!(s.contains("```text\nbad\n'''\ninjected\n```\n"));
    }
}
