//! `execution` and `settings`: concurrency, checkpoints, timeouts, the failure
//! policy, and prflow's `outputDir`.

use super::{
    ids_with_pointers, opt_bool, opt_count, opt_count_at_most, opt_string, DEFAULT_CONCURRENCY,
    MAX_TIMEOUT_MS,
};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::child;
use crate::workflow::model::{FailurePolicy, RetryPolicy, Settings};
use crate::workflow::runner;
use serde_json::{Map, Value};
use std::path::Path;

pub(super) fn concurrency(
    root: &Map<String, Value>,
    exec: Option<&Map<String, Value>>,
    settings: Option<&Map<String, Value>>,
    r: &mut Report,
) -> usize {
    if let Some(e) = exec {
        keys::warn_near_misses(e, "/execution", keys::EXECUTION, "`execution`", r);
    }
    let mode = exec.and_then(|e| opt_string(e, "mode", "/execution", r));
    let mut limit: Option<u64> = None;
    let positive = "a whole number of tasks above 0";
    let mut take = |obj: &Map<String, Value>, key: &str, at: &str, r: &mut Report| {
        if let Some(n) = opt_count(obj, key, at, positive, r) {
            if n == 0 {
                r.error(&child(at, key), format!("`{key}` must be {positive}"));
            } else if limit.is_none() {
                limit = Some(n);
            }
        }
    };
    if let Some(e) = exec {
        match e.get("parallelism") {
            Some(Value::Object(p)) => {
                keys::warn_near_misses(
                    p,
                    "/execution/parallelism",
                    keys::PARALLELISM,
                    "`parallelism`",
                    r,
                );
                take(p, "max", "/execution/parallelism", r);
            }
            None | Some(Value::Null) => {}
            Some(_) => r.error(
                "/execution/parallelism",
                "`parallelism` is an object such as {\"max\": 4}",
            ),
        }
        take(e, "maxConcurrency", "/execution", r);
    }
    if let Some(s) = settings {
        take(s, "maxConcurrency", "/settings", r);
    }
    let parallel = opt_bool(root, "parallel", "", r);
    match mode.as_deref() {
        Some("sequential" | "pipeline") => return 1,
        Some("parallel" | "smart") | None => {}
        Some(other) => r.warning(
            "/execution/mode",
            format!(
                "unknown execution mode \"{other}\" (claude-flow's modes are sequential, parallel, smart and pipeline); \
                 prflow runs it as \"smart\": each task as soon as its dependencies are done"
            ),
        ),
    }
    let n = match (limit, parallel) {
        (Some(n), _) => n,
        (None, Some(false)) => 1,
        _ => DEFAULT_CONCURRENCY as u64,
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

pub(super) fn checkpoints(
    exec: Option<&Map<String, Value>>,
    r: &mut Report,
) -> Vec<(String, String)> {
    let Some(e) = exec else { return Vec::new() };
    let list = ids_with_pointers(
        e.get("checkpoints"),
        "/execution/checkpoints",
        "`checkpoints`",
        r,
    );
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (id, p) in list {
        if seen.insert(id.clone()) {
            out.push((id, p));
        } else {
            r.warning(
                &p,
                format!("checkpoint `{id}` is listed twice; the second one is ignored"),
            );
        }
    }
    out
}

pub(super) fn settings(
    exec: Option<&Map<String, Value>>,
    obj: Option<&Map<String, Value>>,
    r: &mut Report,
) -> Settings {
    let mut s = Settings::default();
    let ms = "a number of milliseconds, e.g. 1800000 for 30 minutes";
    if let Some(o) = obj {
        keys::warn_near_misses(o, "/settings", keys::SETTINGS, "`settings`", r);
        s.timeout_ms = opt_count_at_most(o, "timeout", "/settings", ms, MAX_TIMEOUT_MS, r);
        if let Some(p) = opt_string(o, "failurePolicy", "/settings", r) {
            s.failure_policy = match p.as_str() {
                "fail-fast" | "failFast" | "fail_fast" | "stop" | "abort" => {
                    FailurePolicy::FailFast
                }
                "continue" | "continue-on-error" => FailurePolicy::Continue,
                "ignore" => FailurePolicy::Ignore,
                other => {
                    r.warning(
                        "/settings/failurePolicy",
                        format!("unknown failurePolicy \"{other}\": use \"fail-fast\", \"continue\" or \"ignore\"; prflow uses fail-fast"),
                    );
                    FailurePolicy::FailFast
                }
            };
        }
    }
    if let Some(o) = obj {
        s.retry_policy = retry_policy(o, r);
        s.runner = o
            .get("runner")
            .and_then(|v| runner::parse(v, "/settings/runner", r));
    }
    // The parallel example writes the workflow timeout under `execution`.
    if s.timeout_ms.is_none() {
        if let Some(e) = exec {
            s.timeout_ms = opt_count_at_most(e, "timeout", "/execution", ms, MAX_TIMEOUT_MS, r);
        }
    }
    s
}

/// `retryPolicy`: a word, or `{"backoff": "exponential"}` as some files write it.
fn retry_policy(o: &Map<String, Value>, r: &mut Report) -> RetryPolicy {
    let word = match o.get("retryPolicy") {
        None | Some(Value::Null) => return RetryPolicy::default(),
        Some(Value::String(w)) => w.clone(),
        Some(Value::Object(m)) => match m.get("backoff").or_else(|| m.get("strategy")) {
            Some(Value::String(w)) => w.clone(),
            _ => return RetryPolicy::default(),
        },
        Some(_) => {
            r.error(
                "/settings/retryPolicy",
                "`retryPolicy` is \"exponential\", \"linear\", \"fixed\" or \"immediate\"",
            );
            return RetryPolicy::default();
        }
    };
    match word.as_str() {
        "exponential" => RetryPolicy::Exponential,
        "linear" => RetryPolicy::Linear,
        "fixed" | "constant" => RetryPolicy::Fixed,
        "immediate" | "none" => RetryPolicy::Immediate,
        other => {
            r.warning(
                "/settings/retryPolicy",
                format!("unknown retryPolicy \"{other}\": use \"exponential\", \"linear\", \"fixed\" or \"immediate\"; prflow uses exponential"),
            );
            RetryPolicy::Exponential
        }
    }
}

pub(super) fn output_dir(root: &Map<String, Value>, r: &mut Report) -> String {
    let Some(dir) = opt_string(root, "outputDir", "", r) else {
        return ".".to_string();
    };
    let p = Path::new(&dir);
    let bad = p.is_absolute()
        || dir.starts_with('/')
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        || p.components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git");
    if bad || dir.trim().is_empty() {
        r.error(
            "/outputDir",
            "`outputDir` is a folder inside the repository: relative, without `..`, not under .git (e.g. \"services\")",
        );
        return ".".to_string();
    }
    dir
}
