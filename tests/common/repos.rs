//! Git for tests: the one way a test runs it, and the scratch repositories tests
//! start from.

use std::path::Path;
use std::process::Command;

use super::text;

/// Runs git in `dir` as a fixed person (Tess), never asking for a password:
/// (success, stdout then stderr). For a command a test expects to fail.
pub fn git_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = git_command(dir, args).output().expect("git runs");
    (out.status.success(), text(&out))
}

/// Runs git in `dir` as [`git_in`] does; panics with git's stderr when it fails.
/// Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir, args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The one way tests run git: the author and committer of the commits a test makes
/// are fixed (so they work on a machine without a git identity; prflow's own commits,
/// made by its process, are not affected) and git never prompts.
fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Tess")
        .env("GIT_AUTHOR_EMAIL", "tess@example.com")
        .env("GIT_COMMITTER_NAME", "Tess")
        .env("GIT_COMMITTER_EMAIL", "tess@example.com")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// Writes `files` (path → text, directories created) into the work tree at `dir`
/// and commits them all with `message`.
pub fn commit_files(dir: &Path, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", message]);
}

/// A new repository at `dir` (created if missing) on `main` whose first commit
/// holds `files`.
pub fn init_repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    commit_files(dir, files, "initial");
}

/// A repository in a temp dir on `main` whose first commit holds `files`.
pub fn repo_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    init_repo(dir.path(), files);
    dir
}

/// A repository with one commit (`README.md`) on `main`, whose config names a
/// person (Test), so prflow itself can commit in it on a machine without a git identity.
pub fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"]);
    git(p, &["config", "user.email", "t@example.com"]);
    git(p, &["config", "user.name", "Test"]);
    commit_files(p, &[("README.md", "hello\n")], "init");
    dir
}

/// Every ref of `repo` with its target, one per line: equal before and after = nothing written.
pub fn all_refs(repo: &Path) -> String {
    git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// The phase branches of the runs in `repo` (`prflow/<run>/<NN>-<task>`), sorted.
pub fn prflow_branches(repo: &Path) -> Vec<String> {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/prflow",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}
