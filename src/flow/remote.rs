//! The git remote: fetch and push through the `git` CLI.
//!
//! Why the CLI and not git2: git2's HTTPS needs OpenSSL linked in, and the CLI already
//! knows proxies, credential helpers and GitHub Enterprise quirks. The token never
//! appears in a URL, an argument or a log: it is handed to git as an HTTP header
//! through `GIT_CONFIG_*` environment variables. Every pushed ref is checked one by
//! one from `--porcelain` output: a declined ref is an error, never a silent success.

use crate::github::auth::Secret;
use anyhow::{bail, Context, Result};
use base64::Engine;
use std::path::Path;
use std::process::Command;

/// A remote and the credentials to reach it.
pub struct Remote<'a> {
    pub url: &'a str,
    pub token: Option<&'a Secret>,
}

impl Remote<'_> {
    fn git(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir);
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        if let Some(token) = self.token {
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("x-access-token:{}", token.expose()));
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {basic}"),
                );
        }
        cmd
    }

    /// Makes `dir` a repository with `origin` at this remote (idempotent).
    pub fn ensure_clone(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the work directory {}", dir.display()))?;
        if git2::Repository::open(dir).is_err() {
            run(self.git(dir).args(["init", "-q"]), "git init")?;
        }
        let repo = git2::Repository::open(dir)?;
        match repo.find_remote("origin") {
            Ok(r) if r.url() == Some(self.url) => {}
            Ok(_) => {
                repo.remote_set_url("origin", self.url)?;
            }
            Err(_) => {
                repo.remote("origin", self.url)?;
            }
        }
        Ok(())
    }

    /// Fetches every branch (as `refs/remotes/origin/*`) and prflow's own refs.
    pub fn fetch(&self, dir: &Path) -> Result<()> {
        run(
            self.git(dir).args([
                "fetch",
                "-q",
                "--prune",
                "--no-tags",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/prflow/*:refs/remotes/origin-prflow/*",
            ]),
            "git fetch",
        )
    }

    /// Pushes `local:remote` ref pairs without force; every ref must be accepted.
    pub fn push(&self, dir: &Path, refspecs: &[(String, String)]) -> Result<()> {
        if refspecs.is_empty() {
            return Ok(());
        }
        let mut cmd = self.git(dir);
        cmd.args(["push", "--porcelain", "origin"]);
        for (local, remote) in refspecs {
            cmd.arg(format!("{local}:{remote}"));
        }
        let out = cmd.output().context("cannot run git push")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut rejected = Vec::new();
        let mut seen = 0;
        for line in stdout.lines() {
            let mut parts = line.split('\t');
            let (Some(flag), Some(spec)) = (parts.next(), parts.next()) else {
                continue;
            };
            if flag.len() != 1 {
                continue;
            }
            seen += 1;
            let summary = parts.next().unwrap_or("");
            if flag == "!" {
                rejected.push(format!("{spec} {summary}"));
            }
        }
        if !rejected.is_empty() {
            bail!(
                "the remote declined: {}. prflow never force-pushes; fetch and run again",
                rejected.join("; ")
            );
        }
        if !out.status.success() || seen < refspecs.len() {
            bail!(
                "git push failed: {}",
                scrub(&String::from_utf8_lossy(&out.stderr))
            );
        }
        Ok(())
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            scrub(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(())
}

/// Removes anything that looks like a credential from git's messages.
fn scrub(s: &str) -> String {
    let re = regex::Regex::new(
        r"(gh[pousr]_[A-Za-z0-9_]+|github_pat_[A-Za-z0-9_]+|Basic [A-Za-z0-9+/=]+|://[^@\s]+@)",
    )
    .expect("valid regex");
    re.replace_all(s.trim(), "[redacted]").into_owned()
}
