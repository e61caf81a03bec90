//! The git remote: fetch and push through the `git` CLI.
//!
//! Why the CLI and not git2: git2's HTTPS needs OpenSSL linked in, and the CLI already
//! knows proxies, credential helpers and GitHub Enterprise quirks. The token never
//! appears in a URL, an argument or a log: it is handed to git as an HTTP header
//! through `GIT_CONFIG_*` environment variables. Every pushed ref is checked one by
//! one from `--porcelain` output: a declined ref is an error, never a silent success.

use crate::github::auth::Secret;
use crate::github::GithubError;
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
            return Err(failure("git push", &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        return Err(failure(what, &String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// What git prints when the network or the server failed, not the request.
const NETWORK_FAILURES: &[&str] = &[
    "Could not resolve host",
    "Connection refused",
    "Connection reset",
    "Connection timed out",
    "Operation timed out",
    "Failed to connect",
    "unexpected disconnect",
    "early EOF",
    "the remote end hung up unexpectedly",
];

/// A failed git command as an error. A network failure or a 5xx is typed as
/// GitHub's own ([`GithubError::Transport`] / [`GithubError::Server`]), so that
/// `prflow serve` retries the delivery later; anything else (a refused
/// credential, a missing repository) is final.
fn failure(what: &str, stderr: &str) -> anyhow::Error {
    let message = scrub(stderr);
    let request = format!("{what} (git over HTTPS)");
    if let Some(status) = server_status(&message) {
        return GithubError::Server {
            request,
            status,
            attempts: 1,
            message,
        }
        .into();
    }
    if NETWORK_FAILURES.iter().any(|m| message.contains(m)) {
        return GithubError::Transport { request, message }.into();
    }
    anyhow::anyhow!("{what} failed: {message}")
}

/// The 5xx status in git's "returned error: 502" or "RPC failed; HTTP 503".
fn server_status(message: &str) -> Option<u16> {
    ["returned error: ", "HTTP "].iter().find_map(|lead| {
        message.match_indices(lead).find_map(|(i, _)| {
            let code: String = message[i + lead.len()..].chars().take(3).collect();
            code.parse().ok().filter(|c| (500..600).contains(c))
        })
    })
}

/// Removes anything that looks like a credential from git's messages.
fn scrub(s: &str) -> String {
    let re = regex::Regex::new(
        r"(gh[pousr]_[A-Za-z0-9_]+|github_pat_[A-Za-z0-9_]+|Basic [A-Za-z0-9+/=]+|://[^@\s]+@)",
    )
    .expect("valid regex");
    re.replace_all(s.trim(), "[redacted]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::error::is_transient;

    #[test]
    fn network_and_server_failures_are_retried_the_rest_is_final() {
        let e = failure(
            "git push",
            "error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502\nfatal: the remote end hung up unexpectedly",
        );
        assert!(is_transient(&e), "{e:#}");
        assert!(matches!(
            e.downcast_ref::<GithubError>(),
            Some(GithubError::Server { status: 502, .. })
        ));
        let e = failure(
            "git fetch",
            "fatal: unable to access 'https://github.com/a/b.git/': Failed to connect to github.com port 443: Connection refused",
        );
        assert!(is_transient(&e), "{e:#}");
        let e = failure(
            "git fetch",
            "remote: Repository not found.\nfatal: repository 'https://github.com/a/b.git/' not found",
        );
        assert!(!is_transient(&e), "{e:#}");
        let e = failure("git push", "fatal: The requested URL returned error: 403");
        assert!(!is_transient(&e), "{e:#}");
        // Credentials never reach the error.
        let e = failure(
            "git fetch",
            "fatal: https://x-access-token:ghs_abc123@github.com/a/b.git: Connection reset by peer",
        );
        assert!(!format!("{e:#}").contains("ghs_abc123"), "{e:#}");
    }
}
