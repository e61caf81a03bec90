//! Workflow files: parse every claude-flow dialect, validate, substitute variables, plan phases.
//!
//! Public API used by the rest of prflow (keep these signatures stable):
//! - [`load`] / [`parse`]: file or text → [`Loaded`] (a [`Workflow`] plus warnings) or every error.
//! - [`plan::plan`]: workflow → [`plan::Plan`] (phases in order, tasks in run order).
//! - [`vars::output_refs`] / [`vars::resolve_outputs`]: `${task.output.key}` at run time.

pub mod diagnostics;
mod json;
mod keys;
pub mod locate;
pub mod model;
pub mod parse;
pub mod plan;
mod runner;
pub mod schema;
mod validate;
pub mod vars;
mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use model::*;

use std::path::{Path, PathBuf};

/// A workflow that parsed and validated, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub workflow: Workflow,
    /// Problems that do not stop a run (unknown keys far from prflow's own …).
    pub warnings: Vec<Diagnostic>,
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The exact text that was parsed.
    pub text: String,
}

/// Reads and validates a workflow file (JSON or YAML, chosen by extension, then by content).
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics::single(Diagnostic::error(
            path.display().to_string(),
            0,
            0,
            "",
            format!("cannot read the workflow file: {e}"),
        ))
    })?;
    parse(path, &text)
}

/// Parses and validates workflow text; `path` is used for messages and to pick the format.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, Diagnostics> {
    parse::parse_workflow(path, text)
}
