//! The one check every path a runner writes goes through (DESIGN.md, "Agents").
//!
//! A runner is untrusted: a template pack from a repository, an LLM, a coding-agent
//! CLI. Whatever it produced, the engine refuses the whole task when one path is
//! absolute, climbs out with `..`, touches `.git`, leaves the output root, or writes
//! `.github/workflows/` (which would let a workflow file grant itself CI powers)
//! unless the workflow allows it.

/// Why a path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("`{0}` is an absolute path: agents write paths relative to the repository root")]
    Absolute(String),
    #[error("`{0}` climbs out of the repository with `..`")]
    ParentDir(String),
    #[error("`{0}` is inside `.git/`: agents may not touch git's own files")]
    GitDir(String),
    #[error(
        "`{path}` is outside the workflow's output root `{root}` (set `outputDir` to widen it)"
    )]
    OutsideRoot { path: String, root: String },
    #[error("`{0}` is a GitHub Actions workflow: agents may not write `.github/workflows/`")]
    Workflows(String),
    #[error("an empty path or one with a NUL byte or backslash is not a file name: `{0}`")]
    Malformed(String),
}

/// Checks `path` and returns it normalized (`./a//b` → `a/b`).
pub fn check(path: &str, output_dir: &str, allow_workflows: bool) -> Result<String, PathError> {
    if path.is_empty() || path.contains('\0') || path.contains('\\') {
        return Err(PathError::Malformed(path.escape_debug().to_string()));
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute(path.into()));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(PathError::ParentDir(path.into())),
            p if p.eq_ignore_ascii_case(".git") => return Err(PathError::GitDir(path.into())),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(PathError::Malformed(path.into()));
    }
    let normalized = parts.join("/");
    let root = output_dir.trim_matches('/').trim_start_matches("./");
    let inside_root = root.is_empty()
        || root == "."
        || normalized == root
        || normalized.starts_with(&format!("{root}/"));
    if !inside_root {
        return Err(PathError::OutsideRoot {
            path: normalized,
            root: root.into(),
        });
    }
    if !allow_workflows && normalized.starts_with(".github/workflows/") {
        return Err(PathError::Workflows(normalized));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(check("./a//b.txt", ".", false).unwrap(), "a/b.txt");
        assert_eq!(check("out/x", "out", false).unwrap(), "out/x");
    }

    #[test]
    fn refuses_escapes() {
        assert!(matches!(
            check("/etc/passwd", ".", false),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            check("a/../../b", ".", false),
            Err(PathError::ParentDir(_))
        ));
        assert!(matches!(
            check(".git/config", ".", false),
            Err(PathError::GitDir(_))
        ));
        assert!(matches!(
            check("sub/.GIT/x", ".", false),
            Err(PathError::GitDir(_))
        ));
        assert!(matches!(
            check("other/x", "out", false),
            Err(PathError::OutsideRoot { .. })
        ));
        assert!(matches!(
            check(".github/workflows/ci.yml", ".", false),
            Err(PathError::Workflows(_))
        ));
        assert!(check(".github/workflows/ci.yml", ".", true).is_ok());
        assert!(matches!(
            check("a\\b", ".", false),
            Err(PathError::Malformed(_))
        ));
    }
}
