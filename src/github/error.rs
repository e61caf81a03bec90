//! Typed errors for GitHub API calls.
//!
//! Callers branch on the variant (a missing ref is normal, a refused
//! fast-forward means someone else pushed), people read the message. No
//! variant ever holds a token: messages come from GitHub's JSON `message`
//! field and from our own request line (`METHOD /path`), nothing else.

use std::fmt;

/// One failed GitHub API request, classified.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GithubError {
    /// 404: the thing does not exist, or the token cannot see it.
    #[error("{request}: not found (404). Check the repository name and that the token or App installation can see it.")]
    NotFound { request: String },

    /// 401: no credentials, or they expired or were revoked.
    #[error("{request}: unauthorized (401): {message}. The token is missing, expired or revoked; for an App, check APP_ID and the private key.")]
    Unauthorized { request: String, message: String },

    /// 403 that is not a rate limit: the token lacks a permission.
    #[error("{request}: forbidden (403): {message}")]
    Forbidden { request: String, message: String },

    /// 422: GitHub understood the request and refused it.
    #[error("{request}: rejected (422): {message}{}", fmt_errors(errors))]
    Validation {
        request: String,
        message: String,
        errors: Vec<String>,
    },

    /// 409: the state changed under us (a ref moved, a merge conflict).
    #[error("{request}: conflict (409): {message}")]
    Conflict { request: String, message: String },

    /// Updating `branch` from `current` to `wanted` would not be a
    /// fast-forward: someone else's commit is there. prflow never forces.
    #[error("refusing to move branch `{branch}` from {current} to {wanted}: not a fast-forward (someone else pushed to it). Pull their commits into the phase or delete the branch.")]
    NotFastForward {
        branch: String,
        current: String,
        wanted: String,
    },

    /// Primary or secondary rate limit that did not clear within the retry budget.
    #[error("{request}: rate limited by GitHub{}; try again later or lower the concurrency.", fmt_wait(*retry_after_secs))]
    RateLimited {
        request: String,
        retry_after_secs: Option<u64>,
    },

    /// 5xx after every retry.
    #[error("{request}: GitHub server error {status} after {attempts} attempt(s): {message}")]
    Server {
        request: String,
        status: u16,
        attempts: u32,
        message: String,
    },

    /// Connection refused, DNS, TLS, timeout … after every retry.
    #[error("{request}: could not reach the GitHub API: {message}. Check the API URL (--api-url / GITHUB_API_URL) and the network.")]
    Transport { request: String, message: String },

    /// Any other status we did not expect.
    #[error("{request}: unexpected HTTP status {status}: {message}")]
    Unexpected {
        request: String,
        status: u16,
        message: String,
    },

    /// GitHub answered 2xx with a body we could not read.
    #[error("{request}: could not read GitHub's answer: {message}")]
    Decode { request: String, message: String },

    /// Local configuration problem (bad private key, bad URL, …).
    #[error("{0}")]
    Config(String),
}

fn fmt_errors(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" ({})", errors.join("; "))
    }
}

fn fmt_wait(secs: Option<u64>) -> String {
    match secs {
        Some(s) => format!(" (retry after {s} s)"),
        None => String::new(),
    }
}

impl GithubError {
    /// HTTP status behind this error, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::NotFound { .. } => Some(404),
            GithubError::Unauthorized { .. } => Some(401),
            GithubError::Forbidden { .. } => Some(403),
            GithubError::Validation { .. } => Some(422),
            GithubError::Conflict { .. } => Some(409),
            GithubError::RateLimited { .. } => Some(429),
            GithubError::Server { status, .. } | GithubError::Unexpected { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, GithubError::NotFound { .. })
    }
}

/// `METHOD /path` without the query string (which never holds secrets
/// either, but keeps messages short).
pub(crate) struct RequestLine<'a>(pub &'a str, pub &'a str);

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.1.split('?').next().unwrap_or(self.1);
        write!(f, "{} {}", self.0, path)
    }
}

/// True when `err` may succeed if the same work is tried again later: a
/// GitHub 5xx, a transport failure or a rate limit that outlasted the
/// client's own retries ([`crate::github::RetryPolicy`]), or a network
/// `std::io::Error` (refused, reset, timed out, broken pipe).
///
/// The chain is walked outermost first and the first typed error decides,
/// so context added on top (`.context("posting the status comment")`) does
/// not hide the cause. Anything untyped — a plain `anyhow!` message, which
/// is what git CLI failures in [`crate::flow`] are — counts as permanent:
/// retrying a validation error or a bug only repeats it.
pub fn is_transient(err: &anyhow::Error) -> bool {
    for cause in err.chain() {
        if let Some(g) = cause.downcast_ref::<GithubError>() {
            return matches!(
                g,
                GithubError::Server { .. }
                    | GithubError::Transport { .. }
                    | GithubError::RateLimited { .. }
            );
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(
                io.kind(),
                ConnectionRefused | ConnectionReset | TimedOut | BrokenPipe
            );
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn server() -> GithubError {
        GithubError::Server {
            request: "GET /repos/a/b".into(),
            status: 502,
            attempts: 5,
            message: "bad gateway".into(),
        }
    }

    #[test]
    fn transient_errors_are_found_under_context() {
        let wrapped = Err::<(), _>(server())
            .context("reading the run")
            .context("handling delivery d-1")
            .unwrap_err();
        assert!(is_transient(&wrapped));
        for g in [
            GithubError::Transport {
                request: "GET /".into(),
                message: "connection refused".into(),
            },
            GithubError::RateLimited {
                request: "GET /".into(),
                retry_after_secs: Some(600),
            },
        ] {
            assert!(is_transient(&anyhow::Error::new(g)));
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(is_transient(&anyhow::Error::new(io).context("git fetch")));
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        for g in [
            GithubError::Validation {
                request: "POST /repos/a/b/pulls".into(),
                message: "Validation Failed".into(),
                errors: vec![],
            },
            GithubError::NotFound {
                request: "GET /".into(),
            },
            GithubError::Config("bad key".into()),
        ] {
            assert!(!is_transient(&anyhow::Error::new(g).context("x")));
        }
        assert!(!is_transient(&anyhow::anyhow!(
            "git push failed: timed out"
        )));
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert!(!is_transient(&anyhow::Error::new(io)));
    }
}
