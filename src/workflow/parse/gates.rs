//! `quality` flags and prflow's `gates`: every gate becomes one check run.

use super::{opt_bool, opt_count, opt_string, strings, BUILTIN_GATES};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::{child, index};
use crate::workflow::model::{GateSpec, PerformanceThreshold, Quality};
use serde_json::{Map, Value};

pub(super) fn quality(obj: Option<&Map<String, Value>>, r: &mut Report) -> Quality {
    let Some(q) = obj else {
        return Quality::default();
    };
    keys::warn_near_misses(q, "/quality", keys::QUALITY, "`quality`", r);
    let mut out = Quality {
        code_review: opt_bool(q, "codeReview", "/quality", r).unwrap_or(false),
        security_scan: opt_bool(q, "securityScan", "/quality", r).unwrap_or(false),
        performance: None,
    };
    match q.get("performanceThreshold") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) => {
            let at = "/quality/performanceThreshold";
            keys::warn_near_misses(p, at, keys::PERFORMANCE, "`performanceThreshold`", r);
            let rt = opt_count(
                p,
                "responseTime",
                at,
                "a p95 latency in milliseconds, e.g. 200",
                r,
            );
            let tp = opt_count(p, "throughput", at, "requests per second, e.g. 1000", r);
            if rt.is_none() && tp.is_none() {
                r.error(at, "`performanceThreshold` needs `responseTime` (ms) and/or `throughput` (requests/s)");
            } else {
                out.performance = Some(PerformanceThreshold {
                    response_time_ms: rt.unwrap_or(u64::MAX),
                    throughput: tp.unwrap_or(0),
                });
            }
        }
        Some(_) => r.error(
            "/quality/performanceThreshold",
            "`performanceThreshold` is an object: {\"responseTime\": 200, \"throughput\": 1000}",
        ),
    }
    out
}

pub(super) fn gates(v: Option<&Value>, quality: &Quality, r: &mut Report) -> Vec<GateSpec> {
    let mut out: Vec<GateSpec> = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = index("/gates", i);
                let Value::Object(g) = item else {
                    r.error(
                        &at,
                        "a gate is an object: {\"name\": \"unit-tests\", \"run\": \"npm test\"}",
                    );
                    continue;
                };
                keys::reject_unknown(g, &at, keys::GATE, "a gate", r);
                let name = match g.get("name") {
                    Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                    _ => {
                        r.error(&at, "a gate needs a `name` (a non-empty string); it becomes the check run prflow/<name>");
                        continue;
                    }
                };
                let run = opt_string(g, "run", &at, r);
                if run.is_none() && !BUILTIN_GATES.contains(&name.as_str()) {
                    r.error(
                        &at,
                        format!(
                            "gate `{name}` has no `run` and is not a built-in gate ({}): add \"run\": \"<shell command>\"{}",
                            keys::list(BUILTIN_GATES),
                            keys::suggestion(&name, BUILTIN_GATES.iter().copied())
                        ),
                    );
                }
                if out.iter().any(|o| o.name == name) {
                    r.error(
                        &child(&at, "name"),
                        format!("duplicate gate name `{name}`: each gate is one check run"),
                    );
                    continue;
                }
                let paths = strings(
                    g.get("paths"),
                    &child(&at, "paths"),
                    "`paths` is a list of path prefixes",
                    true,
                    r,
                );
                let required = opt_bool(g, "required", &at, r).unwrap_or(true);
                out.push(GateSpec {
                    name,
                    run,
                    paths,
                    required,
                });
            }
        }
        Some(_) => r.error(
            "/gates",
            "`gates` is a list: [{\"name\": \"unit-tests\", \"run\": \"npm test\"}]",
        ),
    }
    let mut builtin = |on: bool, name: &str| {
        if on && !out.iter().any(|g| g.name == name) {
            out.push(GateSpec {
                name: name.to_string(),
                run: None,
                paths: Vec::new(),
                // Gates that `quality` flags turn on are advisory: claude-flow's flags
                // say what to measure, not what blocks. Declare the gate in `gates` with
                // `"required": true` to make an approval wait for it.
                required: false,
            });
        }
    };
    builtin(quality.code_review, "code-review");
    builtin(quality.security_scan, "security-scan");
    builtin(quality.performance.is_some(), "performance");
    out
}
