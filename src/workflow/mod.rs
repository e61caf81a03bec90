//! Workflow files: parse every claude-flow dialect, validate, substitute variables, plan phases.
//!
//! Public API used by the rest of prflow (keep these signatures stable):
//! - [`load`] / [`parse`]: file or text → [`Loaded`] (a [`Workflow`] plus warnings) or every error.
//! - [`plan::plan`]: workflow → [`plan::Plan`] (phases in order, tasks in run order).
//! - [`vars::output_refs`] / [`vars::resolve_outputs`]: `${task.output.key}` at run time.

pub mod diagnostics;
pub mod expr;
mod json;
mod keys;
pub mod locate;
pub mod model;
mod output_refs;
pub mod parse;
pub mod plan;
pub mod references;
pub mod runner;
pub mod schema;
mod validate;
pub mod vars;
pub(crate) mod yaml;

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

/// The largest workflow file prflow reads: claude-flow's biggest examples are a few
/// hundred kilobytes, and a file any person with write access can commit must not make
/// `validate` or `serve` read until memory runs out (`validate /dev/zero`).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Reads and validates a workflow file (JSON or YAML, chosen by extension, then by content).
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// Reads a workflow file's text: at most [`MAX_FILE_BYTES`], valid UTF-8 (else the
/// line and column of the first bad byte).
pub fn read_text(path: &Path) -> Result<String, Diagnostics> {
    let file = path.display().to_string();
    let whole_file =
        |message: String| Diagnostics::single(Diagnostic::error(&file, 0, 0, "", message));
    let bytes = read_bounded(path)
        .map_err(|e| whole_file(format!("cannot read the workflow file: {e}")))?
        .ok_or_else(|| whole_file(too_large()))?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let p = locate::pos_of_byte(bytes, at);
        Diagnostics::single(Diagnostic::error(
            &file,
            p.line,
            p.col,
            "",
            format!(
                "the file is not valid UTF-8 (byte {:#04x}): save it as UTF-8",
                bytes[at]
            ),
        ))
    })
}

/// The file's bytes, or `None` when it is larger than [`MAX_FILE_BYTES`]; never reads
/// more than one byte past the limit (a device or a pipe may never end).
fn read_bounded(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() <= MAX_FILE_BYTES).then_some(bytes))
}

fn too_large() -> String {
    format!(
        "the workflow file is larger than {} MB ({MAX_FILE_BYTES} bytes): a workflow is text an editor can open; split it, or check that this is the right file",
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

/// Parses and validates workflow text; `path` is used for messages and to pick the format.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, Diagnostics> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostics::single(Diagnostic::error(
            path.display().to_string(),
            0,
            0,
            "",
            too_large(),
        )));
    }
    parse::parse_workflow(path, text)
}
