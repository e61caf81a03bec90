//! The one check every path a runner writes goes through (docs/architecture.md, "Agents").
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
    #[error(
        "`{path}` is a symbolic link to `{target}`, outside the repository: a link may only point at a path inside it"
    )]
    LinkOutside { path: String, target: String },
}

/// A symbolic link at `path` (already [`check`]ed) pointing at `target`: refused when
/// the target is absolute, climbs above the repository root with `..`, or enters
/// `.git`. Links inside the repository keep their mode (120000).
pub fn check_link(path: &str, target: &[u8]) -> Result<(), PathError> {
    let text = String::from_utf8_lossy(target).into_owned();
    let outside = || PathError::LinkOutside {
        path: path.to_string(),
        target: text.escape_debug().to_string(),
    };
    if target.is_empty() || target.starts_with(b"/") || target.contains(&0) {
        return Err(outside());
    }
    let mut depth = path.split('/').count() as i64 - 1;
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(outside());
                }
            }
            p if p.eq_ignore_ascii_case(".git") => return Err(outside()),
            _ => depth += 1,
        }
    }
    Ok(())
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
    fn links_stay_inside_the_repository() {
        assert!(check_link("a/link", b"../README.md").is_ok());
        assert!(check_link("link", b"docs/./x").is_ok());
        assert!(check_link("a/b/link", b"../../c").is_ok());
        for (path, target) in [
            ("link", &b"/etc/passwd"[..]),
            ("link", b"../outside"),
            ("a/link", b"../../x"),
            ("a/link", b"x/../../../y"),
            ("link", b".git/config"),
            ("link", b""),
        ] {
            assert!(
                matches!(check_link(path, target), Err(PathError::LinkOutside { .. })),
                "{path} -> {}",
                String::from_utf8_lossy(target)
            );
        }
    }

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
