//! Reading the phase's changed files the way every static gate needs: text only, bounded.

use std::path::Path;

/// Files larger than this are not read by the static gates (generated or vendored blobs).
pub const MAX_TEXT_BYTES: u64 = 1024 * 1024;

/// A changed file's text, or `None` when it is deleted, not a regular file, larger than
/// [`MAX_TEXT_BYTES`], or binary (a NUL byte in its first 8 KiB).
pub fn read_text(checkout: &Path, rel: &str) -> Option<String> {
    let path = checkout.join(rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_TEXT_BYTES {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Is this path a test (by directory or file name), in any of the languages we know?
pub fn is_test_path(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    if dirs.iter().any(|d| {
        matches!(
            *d,
            "test"
                | "tests"
                | "__tests__"
                | "spec"
                | "specs"
                | "e2e"
                | "integration"
                | "fixtures"
                | "__mocks__"
        )
    }) {
        return true;
    }
    let name = parts.last().copied().unwrap_or("");
    name.contains(".test.")
        || name.contains(".spec.")
        || name.contains(".integration.")
        || name.contains(".e2e.")
        || name.starts_with("test_")
        || name.ends_with("_test.py")
        || name.ends_with("_test.go")
        || name.ends_with("_test.rs")
        || name == "conftest.py"
}

/// The file's extension, lowercase, without the dot (`""` when none).
pub fn ext(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rsplit_once('.') {
        Some((stem, e)) if !stem.is_empty() => e.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Source code in a language whose tests we can recognise.
pub fn is_source(rel: &str) -> bool {
    matches!(
        ext(rel).as_str(),
        "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs" | "rs" | "py"
    ) && !rel.ends_with(".d.ts")
        && !rel.contains(".min.")
}

/// Generated or vendored files whose style is not the author's (lockfiles, minified bundles).
pub fn is_generated(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(
        name,
        "package-lock.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "Cargo.lock"
            | "poetry.lock"
            | "composer.lock"
    ) || name.contains(".min.")
        || name.ends_with(".map")
        || name.ends_with(".snap")
        || rel
            .split('/')
            .any(|d| matches!(d, "node_modules" | "vendor" | "dist" | "build"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths_are_recognised() {
        assert!(is_test_path("services/auth/test/auth.test.js"));
        assert!(is_test_path("src/app.spec.ts"));
        assert!(is_test_path("tests/test_api.py"));
        assert!(!is_test_path("services/auth/src/app.js"));
        assert!(!is_test_path("src/latest.js"));
    }
}
