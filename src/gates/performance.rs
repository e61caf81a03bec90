//! `performance`: start the phase's services, load them, compare with `performanceThreshold`.
//!
//! What is started: the gate's own `run` command when the workflow declares one (started
//! in the checkout), else every `services/*/package.json` with a `start` script (else a
//! root `package.json` with one). Each gets a free loopback `PORT`, `HOST=127.0.0.1` and
//! a throwaway `JWT_SECRET`, must answer 2xx on `/health/ready`, `/health/live`, `/health`
//! or `/` within [`READY_TIMEOUT`], and is then loaded with [`super::loadgen`] on that
//! path. p95 latency and throughput are compared with the workflow's
//! `quality.performanceThreshold`. Whatever was started is stopped (its process group).
//!
//! Node dependencies are installed only when `node_modules` is missing and
//! `PRFLOW_GATES_NPM_INSTALL=1` (it downloads packages); otherwise such a service is
//! `skipped` with "dependencies not installed". A service that could not be measured
//! never counts as a pass.

use super::loadgen::{self, LoadStats};
use super::{fenced_tail, Conclusion, GateInput, GateResult};
use crate::agents::sandbox;
use crate::workflow::CommandLine;
use crate::workflow::PerformanceThreshold;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long a started service has to answer its health endpoint.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections kept busy by the load generator.
pub const CONCURRENCY: usize = 32;
/// Load duration per service; `PRFLOW_GATES_PERF_SECONDS` overrides it (1–60).
pub const DEFAULT_LOAD: Duration = Duration::from_secs(3);
/// Request budget per service, so a very fast service does not run forever either.
pub const MAX_REQUESTS: u64 = 300_000;
/// More failed requests than this share fail the gate.
pub const MAX_ERROR_RATE: f64 = 0.01;
/// Paths tried, in order, to see that a service is up; the first 2xx one is loaded.
pub const HEALTH_PATHS: &[&str] = &["/health/ready", "/health/live", "/health", "/"];

/// Something the gate can start.
#[derive(Debug, Clone)]
pub struct Service {
    /// `services/auth-service`, or `declared command` for the gate's own `run`.
    pub name: String,
    pub dir: PathBuf,
    pub command: String,
    /// Needs `node_modules` (a package.json with dependencies).
    pub needs_node_modules: bool,
}

/// What happened to one service.
#[derive(Debug, Clone)]
pub enum Outcome {
    Measured {
        path: String,
        stats: LoadStats,
    },
    /// Could not be measured for a reason outside the code (dependencies): `skipped`.
    Skipped(String),
    /// Started but never became ready, or exited: `neutral`, with its log.
    NotMeasured {
        reason: String,
        log: String,
    },
}

/// Runs the gate. `declared` is the gate's `run`, the command that starts the service.
pub fn run(input: &GateInput, declared: Option<&str>) -> GateResult {
    let threshold = input.workflow.quality.performance.clone();
    let services = match declared {
        Some(cmd) => vec![Service {
            name: "declared command".into(),
            dir: input.checkout.to_path_buf(),
            command: cmd.to_string(),
            needs_node_modules: false,
        }],
        None => detect(input.checkout),
    };
    if services.is_empty() {
        return GateResult::new(
            Conclusion::Skipped,
            "nothing to start: no service found",
            "No `services/*/package.json` (or root `package.json`) with a `start` script, and the `performance` gate has no `run` command, so no load was measured. Declare one: `{\"name\": \"performance\", \"run\": \"node server.js\"}` (it gets `PORT`).",
        );
    }
    let load = std::env::var("PRFLOW_GATES_PERF_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.clamp(1, 60)))
        .unwrap_or(DEFAULT_LOAD);
    let install = std::env::var("PRFLOW_GATES_NPM_INSTALL").is_ok_and(|v| v == "1");
    let results: Vec<(Service, Outcome)> = services
        .into_iter()
        .map(|s| {
            let o = measure_service(&s, input.checkout, load, install);
            (s, o)
        })
        .collect();
    verdict(&results, threshold.as_ref())
}

/// Services under `services/*` (else the root) whose package.json has a `start` script.
pub fn detect(checkout: &Path) -> Vec<Service> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(checkout.join("services")) {
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            if let Some(s) = node_service(checkout, &dir) {
                out.push(s);
            }
        }
    }
    if out.is_empty() {
        out.extend(node_service(checkout, checkout));
    }
    out
}

fn node_service(checkout: &Path, dir: &Path) -> Option<Service> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let start = v.pointer("/scripts/start")?.as_str()?.to_string();
    let deps = v
        .get("dependencies")
        .and_then(|d| d.as_object())
        .is_some_and(|d| !d.is_empty());
    let rel = dir
        .strip_prefix(checkout)
        .unwrap_or(dir)
        .to_string_lossy()
        .into_owned();
    Some(Service {
        name: if rel.is_empty() { ".".into() } else { rel },
        dir: dir.to_path_buf(),
        command: start,
        needs_node_modules: deps,
    })
}

/// Is there a `node_modules` in `dir` or an ancestor up to the checkout (workspaces)?
fn has_node_modules(checkout: &Path, dir: &Path) -> bool {
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.join("node_modules").is_dir() {
            return true;
        }
        if p == checkout {
            break;
        }
        d = p.parent();
    }
    false
}

/// Installs if allowed, starts, waits for health, loads, stops.
pub fn measure_service(s: &Service, checkout: &Path, load: Duration, install: bool) -> Outcome {
    if s.needs_node_modules && !has_node_modules(checkout, &s.dir) {
        if !install {
            return Outcome::Skipped(format!(
                "dependencies not installed: `{}` has no `node_modules` (run `npm ci` there, or set PRFLOW_GATES_NPM_INSTALL=1 to let the gate run `npm install --omit=dev`)",
                s.name
            ));
        }
        match super::command::run_shell(
            "npm install --omit=dev --no-audit --no-fund",
            &s.dir,
            Duration::from_secs(300),
            &[],
        ) {
            Ok(r) if r.success() => {}
            Ok(r) => {
                return Outcome::Skipped(format!(
                    "dependencies not installed: `npm install --omit=dev` failed in `{}` (exit {:?}): {}",
                    s.name,
                    r.exit_code,
                    r.output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
                ))
            }
            Err(e) => {
                return Outcome::Skipped(format!(
                    "dependencies not installed: cannot run npm in `{}`: {e}",
                    s.name
                ))
            }
        }
    }
    // The measurement runs on its own thread with its own runtime, so this function is
    // safe to call from inside an async context too.
    let s = s.clone();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                return Outcome::NotMeasured {
                    reason: format!("cannot start a runtime: {e}"),
                    log: String::new(),
                }
            }
        };
        rt.block_on(start_and_load(&s, load))
    })
    .join()
    .unwrap_or_else(|_| Outcome::NotMeasured {
        reason: "the measurement thread crashed".into(),
        log: String::new(),
    })
}

struct Running {
    child: Child,
    log: std::fs::File,
}

impl Running {
    fn log_tail(&mut self) -> String {
        let mut s = String::new();
        let len = self.log.seek(SeekFrom::End(0)).unwrap_or(0);
        if self
            .log
            .seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
            .is_ok()
        {
            let mut b = Vec::new();
            let _ = self.log.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).into_owned();
        }
        s
    }

    /// SIGTERM to the service and all it started, SIGKILL after the grace, and reap.
    async fn stop(&mut self) {
        let _ = sandbox::terminate(&mut self.child);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn(s: &Service, port: u16) -> std::io::Result<Running> {
    let log = tempfile::tempfile()?;
    let mut path = std::env::var("PATH").unwrap_or_default();
    let bin = s.dir.join("node_modules/.bin");
    if bin.is_dir() {
        path = format!("{}:{path}", bin.display());
    }
    let secret: String = {
        use rand::Rng;
        let mut r = rand::thread_rng();
        (0..32).map(|_| format!("{:02x}", r.gen::<u8>())).collect()
    };
    let env: Vec<(String, String)> = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("NODE_ENV", "production".to_string()),
        ("LOG_LEVEL", "warn".to_string()),
        ("JWT_SECRET", secret),
        ("PATH", path),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let line = CommandLine::Shell(s.command.clone());
    let child = sandbox::command(&line, &s.dir, &env)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log.try_clone()?))
        .spawn()?;
    Ok(Running { child, log })
}

async fn start_and_load(s: &Service, load: Duration) -> Outcome {
    let port = match free_port() {
        Ok(p) => p,
        Err(e) => {
            return Outcome::NotMeasured {
                reason: format!("no free loopback port: {e}"),
                log: String::new(),
            }
        }
    };
    let mut running = match spawn(s, port) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::NotMeasured {
                reason: format!("`{}` could not be started: {e}", s.command),
                log: String::new(),
            }
        }
    };
    let outcome = match wait_ready(&mut running, port).await {
        Ok(path) => {
            let url = format!("http://127.0.0.1:{port}{path}");
            // Warm up (JIT, connection pools), then measure.
            let _ = loadgen::run(&url, 8, Duration::from_millis(500), 5_000).await;
            let stats = loadgen::run(&url, CONCURRENCY, load, MAX_REQUESTS).await;
            Outcome::Measured {
                path: path.to_string(),
                stats,
            }
        }
        Err(reason) => Outcome::NotMeasured {
            reason,
            log: running.log_tail(),
        },
    };
    running.stop().await;
    outcome
}

/// The first health path answering 2xx, or why none did.
async fn wait_ready(r: &mut Running, port: u16) -> Result<&'static str, String> {
    let until = Instant::now() + READY_TIMEOUT;
    let mut last = String::from("no answer");
    while Instant::now() < until {
        if let Ok(Some(status)) = r.child.try_wait() {
            return Err(format!(
                "the service exited ({status}) before it answered on port {port}"
            ));
        }
        for path in HEALTH_PATHS {
            match loadgen::probe(
                &format!("http://127.0.0.1:{port}{path}"),
                Duration::from_secs(2),
            )
            .await
            {
                Ok(code) if (200..300).contains(&code) => return Ok(path),
                Ok(code) => last = format!("{path} answered {code}"),
                Err(e) => {
                    last = e;
                    break; // not listening yet: no point trying the other paths
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(format!(
        "the service did not answer 2xx on {} within {} s (last: {last})",
        HEALTH_PATHS.join(", "),
        READY_TIMEOUT.as_secs()
    ))
}

/// Does a measurement meet the threshold? `Err(reasons)` when it does not.
pub fn judge(stats: &LoadStats, t: &PerformanceThreshold) -> Result<(), Vec<String>> {
    let mut why = Vec::new();
    if stats.requests == 0 || stats.requests == stats.errors {
        why.push(format!(
            "no request succeeded ({})",
            stats.first_error.as_deref().unwrap_or("no error recorded")
        ));
    } else {
        let rate = stats.errors as f64 / stats.requests as f64;
        if rate > MAX_ERROR_RATE {
            why.push(format!(
                "{:.1}% of requests failed (first: {})",
                rate * 100.0,
                stats.first_error.as_deref().unwrap_or("?")
            ));
        }
        if stats.p95_ms > t.response_time_ms as f64 {
            why.push(format!(
                "p95 {:.1} ms > {} ms",
                stats.p95_ms, t.response_time_ms
            ));
        }
        if stats.rps < t.throughput as f64 {
            why.push(format!("{:.0} req/s < {} req/s", stats.rps, t.throughput));
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

fn verdict(results: &[(Service, Outcome)], threshold: Option<&PerformanceThreshold>) -> GateResult {
    let goal = match threshold {
        Some(t) => format!(
            "p95 ≤ {} ms and ≥ {} req/s",
            t.response_time_ms, t.throughput
        ),
        None => "no `performanceThreshold` set".into(),
    };
    let mut table = format!(
        "Threshold: {goal}. Load: {CONCURRENCY} connections, GET, loopback.\n\n| service | path | requests | errors | req/s | p50 ms | p95 ms | p99 ms | result |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    let mut details = String::new();
    let (mut failed, mut passed, mut skipped, mut unmeasured) = (0, 0, 0, 0);
    for (s, o) in results {
        match o {
            Outcome::Measured { path, stats } => {
                let result = match threshold.map(|t| judge(stats, t)) {
                    Some(Ok(())) => {
                        passed += 1;
                        "pass".to_string()
                    }
                    Some(Err(why)) => {
                        failed += 1;
                        format!("**fail**: {}", why.join("; "))
                    }
                    None => {
                        unmeasured += 1;
                        "measured (no threshold)".into()
                    }
                };
                table.push_str(&format!(
                    "| `{}` | `{path}` | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {result} |\n",
                    s.name,
                    stats.requests,
                    stats.errors,
                    stats.rps,
                    stats.p50_ms,
                    stats.p95_ms,
                    stats.p99_ms
                ));
            }
            Outcome::Skipped(reason) => {
                skipped += 1;
                table.push_str(&format!(
                    "| `{}` | | | | | | | | skipped: {reason} |\n",
                    s.name
                ));
            }
            Outcome::NotMeasured { reason, log } => {
                unmeasured += 1;
                table.push_str(&format!(
                    "| `{}` | | | | | | | | not measured: {reason} |\n",
                    s.name
                ));
                if !log.trim().is_empty() {
                    details.push_str(&format!(
                        "### `{}` output\n\n{}\n\n",
                        s.name,
                        fenced_tail(log, 8000)
                    ));
                }
            }
        }
    }
    let measured: Vec<&LoadStats> = results
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Measured { stats, .. } => Some(stats),
            _ => None,
        })
        .collect();
    let worst = measured.iter().map(|s| s.p95_ms).fold(0.0, f64::max);
    let slowest = measured.iter().map(|s| s.rps).fold(f64::INFINITY, f64::min);
    let (conclusion, title) = if failed > 0 {
        (
            Conclusion::Failure,
            format!(
                "{failed} of {} service(s) below the threshold ({goal})",
                results.len()
            ),
        )
    } else if passed == results.len() {
        (
            Conclusion::Success,
            format!("p95 ≤ {worst:.1} ms, ≥ {slowest:.0} req/s in {passed} service(s)"),
        )
    } else if measured.is_empty() && unmeasured == 0 && skipped > 0 {
        let first = results.iter().find_map(|(_, o)| match o {
            Outcome::Skipped(r) => Some(r.clone()),
            _ => None,
        });
        (
            Conclusion::Skipped,
            first.unwrap_or_else(|| "skipped".into()),
        )
    } else if threshold.is_none() && !measured.is_empty() {
        (
            Conclusion::Neutral,
            format!("measured without a threshold: p95 {worst:.1} ms, {slowest:.0} req/s"),
        )
    } else {
        (
            Conclusion::Neutral,
            format!(
                "{} of {} service(s) not measured",
                skipped + unmeasured,
                results.len()
            ),
        )
    };
    GateResult::new(conclusion, title, table).with_text(details)
}
