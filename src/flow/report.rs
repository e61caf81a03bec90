//! A [`FlowReport`] in words: the lines `prflow run --github` prints and the Action
//! writes to its log, so the two front ends cannot say it differently.

use super::{FlowReport, FlowState};
use std::fmt::Write;

impl FlowReport {
    /// The human lines: where the run stands, why nothing was done, the pull
    /// request, and the API calls per phase (the dry-run summary when nothing was written).
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.run_id {
            Some(run) => {
                let _ = writeln!(out, "run {run}: {}", self.state);
            }
            None => {
                let _ = writeln!(out, "{}", self.state);
            }
        }
        if self.state == FlowState::DryRun {
            out.push_str(&self.summary_markdown);
        }
        if let Some(why) = &self.would_refuse {
            let _ = writeln!(out, "\na real run would refuse to start: {why}");
        }
        if let Some(why) = &self.ignored_because {
            let _ = writeln!(out, "  ({why})");
        }
        if let (Some(n), Some(url)) = (self.pull_request_number, &self.pull_request_url) {
            let _ = writeln!(out, "  pull request #{n}: {url}");
        }
        let (mut reads, mut writes) = (0, 0);
        for (label, r, w) in &self.api_calls {
            let _ = writeln!(out, "  API calls {label}: {r} read, {w} write");
            reads += r;
            writes += w;
        }
        let _ = writeln!(out, "  API calls total: {reads} read, {writes} write");
        out
    }

    /// True when the run failed, or a dry run found that a real one would refuse to
    /// start: the front ends exit 1.
    pub fn failed(&self) -> bool {
        self.state == FlowState::Failed || self.would_refuse.is_some()
    }
}
