//! `--handler flaky:FILE:N`: a test handler that fails on purpose, so the
//! queue's retries can be tested end to end against the real binary.
//!
//! Every attempt appends one JSON line to FILE (id, event, run key, attempt
//! number, outcome, start and end in ms, process id), like the record
//! handler. The first N attempts at each delivery fail with a *typed*
//! transient error (`GithubError::Server` 502, then `Transport`, alternating,
//! under some context), so the real classification
//! ([`crate::github::error::is_transient`]) decides. A delivery whose id
//! starts with `permanent-` fails every attempt with a 422
//! (`GithubError::Validation`), which must never be retried.
//!
//! The attempt number is counted from FILE itself, not kept in memory: it
//! survives a restart of the process, so a test can kill the service while a
//! retry waits and still see exactly N failures before the success.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use crate::github::GithubError;

use super::super::journal::Delivery;
use super::super::queue::{BoxFuture, Handled, Handler};
use super::{append_record, now_ms};

/// Ids with this prefix fail permanently.
pub const PERMANENT_PREFIX: &str = "permanent-";

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlakyHandler {
    pub path: PathBuf,
    /// Attempts at each delivery that fail transiently before one succeeds.
    pub failures: u32,
}

impl FlakyHandler {
    /// Parse `FILE:N` (what follows `flaky:`); FILE may itself hold colons.
    pub fn parse(spec: &str) -> Result<FlakyHandler> {
        let (path, n) = spec
            .rsplit_once(':')
            .filter(|(p, _)| !p.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "--handler flaky:{spec}: expected flaky:FILE:N, e.g. flaky:/tmp/record.jsonl:2"
                )
            })?;
        let failures = n.trim().parse().map_err(|_| {
            anyhow!("--handler flaky:{spec}: N (`{n}`) must be a whole number of failing attempts, e.g. flaky:{path}:2")
        })?;
        Ok(FlakyHandler {
            path: path.into(),
            failures,
        })
    }

    /// Attempts already recorded for `id` (lines of FILE naming it).
    fn recorded(&self, id: &str) -> Result<u32> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the record file {}", self.path.display()))
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["id"] == id)
            .count() as u32)
    }

    fn attempt(&self, d: &Delivery) -> Result<Handled> {
        let start = now_ms();
        let attempt = self.recorded(&d.id)? + 1;
        let request = format!("POST /flaky/{}", d.id);
        let failure = if d.id.starts_with(PERMANENT_PREFIX) {
            Some(GithubError::Validation {
                request,
                message: "Validation Failed".into(),
                errors: vec![
                    "the flaky test handler refuses ids starting with `permanent-`".into(),
                ],
            })
        } else if attempt <= self.failures {
            Some(if attempt % 2 == 1 {
                GithubError::Server {
                    request,
                    status: 502,
                    attempts: 1,
                    message: "Bad Gateway (flaky test handler)".into(),
                }
            } else {
                GithubError::Transport {
                    request,
                    message: "connection reset (flaky test handler)".into(),
                }
            })
        } else {
            None
        };
        let outcome = match &failure {
            None => "ok",
            Some(GithubError::Validation { .. }) => "permanent",
            Some(_) => "transient",
        };
        let line = serde_json::json!({
            "id": d.id, "event": d.event, "run_key": d.run_key, "attempt": attempt,
            "outcome": outcome, "start_ms": start as u64, "end_ms": now_ms() as u64,
            "pid": std::process::id(),
        });
        append_record(&self.path, &line)?;
        match failure {
            Some(e) => Err(anyhow::Error::new(e).context(format!(
                "flaky test handler: attempt {attempt} at delivery {}",
                d.id
            ))),
            None => Ok(Handled {
                run_state: Some("recorded".into()),
            }),
        }
    }
}

impl Handler for FlakyHandler {
    fn handle<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Handled>> {
        Box::pin(async move { self.attempt(d) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::error::is_transient;

    fn d(id: &str) -> Delivery {
        Delivery::for_test(id, "k")
    }

    #[test]
    fn parses_file_and_count() {
        assert_eq!(
            FlakyHandler::parse("/tmp/a:b/r.jsonl:2").unwrap(),
            FlakyHandler {
                path: "/tmp/a:b/r.jsonl".into(),
                failures: 2
            }
        );
        for bad in ["/tmp/r.jsonl", ":2", "/tmp/r.jsonl:x"] {
            let e = FlakyHandler::parse(bad).unwrap_err().to_string();
            assert!(e.contains("flaky:"), "{e}");
        }
    }

    #[test]
    fn fails_transiently_then_succeeds_and_permanent_ids_always_fail() {
        let dir = tempfile::tempdir().unwrap();
        let h = FlakyHandler {
            path: dir.path().join("r.jsonl"),
            failures: 2,
        };
        let e1 = h.attempt(&d("x")).unwrap_err();
        let e2 = h.attempt(&d("x")).unwrap_err();
        assert!(is_transient(&e1) && is_transient(&e2), "{e1:#} / {e2:#}");
        assert!(h.attempt(&d("x")).is_ok());
        let p = h.attempt(&d("permanent-1")).unwrap_err();
        assert!(!is_transient(&p), "{p:#}");
        assert!(format!("{p:#}").contains("422"));
        assert_eq!(h.recorded("x").unwrap(), 3);
        assert_eq!(h.recorded("permanent-1").unwrap(), 1);
    }
}
