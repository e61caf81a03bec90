//! The prflow binary as a person runs it from a shell, and the workflow files it reads.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The prflow binary under test.
pub fn prflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prflow"))
}

/// Writes `json` as the workflow file `dir/name`; its path.
pub fn write_workflow(dir: &Path, name: &str, json: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(json).unwrap()).unwrap();
    path
}

/// A process's stdout and stderr, one after the other (for assertions and messages).
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
