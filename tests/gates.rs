//! Quality gates against small checkouts built in temp dirs (loopback only).

use prflow::gates::{self, loadgen, AnnotationLevel, Conclusion, GateInput, GateResult};
use prflow::workflow::{GateSpec, Workflow};
use std::path::Path;
use std::time::{Duration, Instant};

fn workflow(extra: &str) -> Workflow {
    let text = format!(
        r#"{{"name": "w", "agents": [{{"id": "a"}}],
  "tasks": [{{"id": "t", "agentId": "a", "input": {{"coverage": 80}}}}]{extra}}}"#
    );
    prflow::workflow::parse(Path::new("w.json"), &text)
        .unwrap_or_else(|e| panic!("test workflow does not parse: {e}"))
        .workflow
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn spec(name: &str, run: Option<&str>, paths: &[&str]) -> GateSpec {
    GateSpec {
        name: name.into(),
        run: run.map(String::from),
        paths: paths.iter().map(|s| s.to_string()).collect(),
        required: true,
    }
}

fn run(w: &Workflow, dir: &Path, changed: &[&str], s: &GateSpec) -> GateResult {
    let changed: Vec<String> = changed.iter().map(|s| s.to_string()).collect();
    let input = GateInput {
        workflow: w,
        checkout: dir,
        changed_files: &changed,
        phase: 1,
    };
    gates::run_gate(s, &input)
}

fn lines_of(r: &GateResult, path: &str) -> Vec<(u32, AnnotationLevel)> {
    r.annotations
        .iter()
        .filter(|a| a.path == path)
        .map(|a| (a.start_line, a.level))
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie is as good as gone: it runs nothing.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn gates_for_adds_builtins_and_a_declared_gate_replaces_one() {
    let w = workflow(
        r#", "gates": [{"name": "unit", "run": "true"}, {"name": "code-review", "run": "echo mine"}],
  "quality": {"codeReview": true, "securityScan": true, "performanceThreshold": {"responseTime": 200, "throughput": 10}}"#,
    );
    let names: Vec<String> = gates::gates_for(&w).into_iter().map(|g| g.name).collect();
    assert_eq!(
        names,
        ["unit", "code-review", "security-scan", "performance"]
    );
    let review = gates::gates_for(&w)
        .into_iter()
        .find(|g| g.name == "code-review")
        .unwrap();
    assert_eq!(review.run.as_deref(), Some("echo mine"));
    assert_eq!(gates::check_name("unit"), "prflow/unit");
    let json = serde_json::to_value(Conclusion::Skipped).unwrap();
    assert_eq!(json, "skipped");
    assert_eq!(
        serde_json::to_value(AnnotationLevel::Failure).unwrap(),
        "failure"
    );
}

#[test]
fn command_gate_passes_fails_and_annotates_only_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/app.js", "a\nb\nc\n");
    let w = workflow("");
    let ok = run(
        &w,
        dir.path(),
        &["src/app.js"],
        &spec("unit", Some("echo fine"), &[]),
    );
    assert_eq!(ok.conclusion, Conclusion::Success, "{ok:?}");
    assert!(ok.summary.contains("exited with code 0"), "{}", ok.summary);
    assert_eq!(ok.name, "unit");

    let cmd = "echo 'src/app.js:2:5: error: unexpected token'; echo 'missing/x.js:1:1: error: gone' >&2; exit 3";
    let bad = run(
        &w,
        dir.path(),
        &["src/app.js"],
        &spec("lint", Some(cmd), &[]),
    );
    assert_eq!(bad.conclusion, Conclusion::Failure);
    assert!(bad.title.contains("exit code 3"), "{}", bad.title);
    assert!(
        bad.text.contains("unexpected token") && bad.text.contains("missing/x.js"),
        "{}",
        bad.text
    );
    assert_eq!(bad.annotations.len(), 1, "{:?}", bad.annotations);
    assert_eq!(
        lines_of(&bad, "src/app.js"),
        [(2, AnnotationLevel::Failure)]
    );
    assert_eq!(bad.annotations[0].message, "error: unexpected token");
}

#[test]
fn command_gate_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let r = gates::command::gate(
        "sleep 30 & echo $! > bg.pid; sleep 30",
        dir.path(),
        Duration::from_secs(1),
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.conclusion, Conclusion::Failure);
    assert!(r.title.contains("timed out"), "{}", r.title);
    let pid: i32 = std::fs::read_to_string(dir.path().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "background child {pid} survived the timeout");
}

#[test]
fn paths_filter_skips_gates_with_nothing_changed_under_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "docs/a.md", "x\n");
    let w = workflow("");
    let s = spec("unit", Some("exit 1"), &["services/"]);
    let r = run(&w, dir.path(), &["docs/a.md"], &s);
    assert_eq!(r.conclusion, Conclusion::Skipped);
    assert!(
        r.title.contains("no changes under services/"),
        "{}",
        r.title
    );
    let r = run(&w, dir.path(), &["services/api/x.js"], &s);
    assert_eq!(
        r.conclusion,
        Conclusion::Failure,
        "a matching path runs the gate"
    );
}

#[test]
fn security_scan_finds_planted_secrets_at_their_lines_and_masks_them() {
    let dir = tempfile::tempdir().unwrap();
    let aws = ["AKIA", "Q3VZ7XK2M4PL9RT8"].concat();
    write(
        dir.path(),
        "services/api/src/config.js",
        &format!(
            "'use strict';\nconst region = 'eu-west-1';\nconst accessKeyId = '{aws}';\nconst password = \"changeme\";\nconst secret = \"${{SECRET}}\";\nconst token = process.env.TOKEN;\neval(input);\n"
        ),
    );
    let body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw";
    write(
        dir.path(),
        "deploy/id_rsa",
        &format!(
            "# key\n\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
        ),
    );
    write(
        dir.path(),
        "README.md",
        "Use password = \"hunter2hunter2\" in the docs example.\n",
    );
    let w = workflow("");
    let changed = [
        "services/api/src/config.js",
        "deploy/id_rsa",
        "README.md",
        "deleted/file.js",
    ];
    let r = run(&w, dir.path(), &changed, &spec("security-scan", None, &[]));
    assert_eq!(r.conclusion, Conclusion::Failure, "{r:#?}");
    assert_eq!(
        lines_of(&r, "services/api/src/config.js"),
        [(3, AnnotationLevel::Failure), (7, AnnotationLevel::Warning)],
        "{:#?}",
        r.annotations
    );
    assert_eq!(
        lines_of(&r, "deploy/id_rsa"),
        [(3, AnnotationLevel::Failure)]
    );
    assert!(
        lines_of(&r, "README.md").is_empty(),
        "docs are not scanned for literal passwords"
    );
    let all = serde_json::to_string(&r).unwrap();
    assert!(!all.contains(&aws), "the AWS key leaked into the report");
    assert!(
        !all.contains(body),
        "the private key leaked into the report"
    );
    assert!(
        all.contains("AKIA…"),
        "the masked form names what was found"
    );
}

#[test]
fn security_scan_flags_escaping_symlinks_and_ci_workflow_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", dir.path().join("a/out")).unwrap();
    std::os::unix::fs::symlink("../b.txt", dir.path().join("a/in")).unwrap();
    write(dir.path(), "b.txt", "hello\n");
    write(dir.path(), ".github/workflows/ci.yml", "on: push\n");
    let changed = ["a/out", "a/in", "b.txt", ".github/workflows/ci.yml"];
    let r = run(
        &workflow(""),
        dir.path(),
        &changed,
        &spec("security-scan", None, &[]),
    );
    assert_eq!(r.conclusion, Conclusion::Failure, "{r:#?}");
    assert_eq!(lines_of(&r, "a/out"), [(1, AnnotationLevel::Failure)]);
    assert!(lines_of(&r, "a/in").is_empty());
    assert_eq!(
        lines_of(&r, ".github/workflows/ci.yml"),
        [(1, AnnotationLevel::Warning)]
    );
}

#[test]
fn security_scan_passes_clean_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/a.js",
        "const password = process.env.DB_PASSWORD;\nmodule.exports = { password };\n",
    );
    let r = run(
        &workflow(""),
        dir.path(),
        &["src/a.js"],
        &spec("security-scan", None, &[]),
    );
    assert_eq!(r.conclusion, Conclusion::Success, "{r:#?}");
    assert!(r.annotations.is_empty());
    for gate in ["security-scan", "code-review"] {
        let r = run(
            &workflow(""),
            dir.path(),
            &["gone.js"],
            &spec(gate, None, &[]),
        );
        assert_eq!(
            r.conclusion,
            Conclusion::Skipped,
            "{gate} saw nothing: {r:#?}"
        );
    }
}

#[test]
fn code_review_fails_on_conflict_markers_and_invalid_json() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/app.js",
        "const a = 1;\n<<<<<<< HEAD\nconst b = 2;\n=======\nconst b = 3;\n>>>>>>> feature\nconsole.log(a);\n// TODO: remove\n",
    );
    write(
        dir.path(),
        "config/app.json",
        "{\n  \"a\": 1,\n  \"b\": \n}\n",
    );
    write(dir.path(), "config/ok.yaml", "a: 1\nb: [1, 2]\n");
    write(dir.path(), "docs/guide.md", "Title\n=======\n");
    let changed = [
        "src/app.js",
        "config/app.json",
        "config/ok.yaml",
        "docs/guide.md",
    ];
    let r = run(
        &workflow(""),
        dir.path(),
        &changed,
        &spec("code-review", None, &[]),
    );
    assert_eq!(r.conclusion, Conclusion::Failure);
    let app = lines_of(&r, "src/app.js");
    for line in [2, 4, 6] {
        assert!(
            app.contains(&(line, AnnotationLevel::Failure)),
            "conflict marker at {line}: {app:?}"
        );
    }
    assert!(
        app.contains(&(7, AnnotationLevel::Warning)),
        "console.log: {app:?}"
    );
    assert!(app.contains(&(8, AnnotationLevel::Notice)), "TODO: {app:?}");
    assert_eq!(
        lines_of(&r, "config/app.json"),
        [(4, AnnotationLevel::Failure)]
    );
    assert!(lines_of(&r, "config/ok.yaml").is_empty());
    assert!(
        lines_of(&r, "docs/guide.md").is_empty(),
        "a setext heading is not a conflict"
    );
}

#[test]
fn code_review_passes_with_advice_only() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "lib/x.py", "def f():\n    return 1\n");
    let r = run(
        &workflow(""),
        dir.path(),
        &["lib/x.py"],
        &spec("code-review", None, &[]),
    );
    assert_eq!(r.conclusion, Conclusion::Success);
    assert_eq!(
        lines_of(&r, "lib/x.py"),
        [(1, AnnotationLevel::Warning)],
        "source without tests"
    );
    write(dir.path(), "lib/test_x.py", "from x import f\n");
    let r = run(
        &workflow(""),
        dir.path(),
        &["lib/x.py", "lib/test_x.py"],
        &spec("code-review", None, &[]),
    );
    assert!(r.annotations.is_empty(), "{:?}", r.annotations);
}

fn istanbul(pct_covered: u64) -> String {
    format!(
        r#"{{"total": {{"lines": {{"total": 100, "covered": {pct_covered}, "skipped": 0, "pct": {pct_covered}}}}},
  "/ci/work/services/auth/src/app.js": {{"lines": {{"total": 50, "covered": 20, "skipped": 0, "pct": 40}}}}}}"#
    )
}

#[test]
fn coverage_compares_istanbul_summaries_with_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let w = workflow("");
    let s = spec("coverage", None, &[]);
    let none = run(&w, dir.path(), &[], &s);
    assert_eq!(none.conclusion, Conclusion::Neutral);
    assert!(
        none.title.contains("no coverage report found"),
        "{}",
        none.title
    );

    write(dir.path(), "services/auth/src/app.js", "x\n");
    write(
        dir.path(),
        "services/auth/coverage/coverage-summary.json",
        &istanbul(60),
    );
    let low = run(&w, dir.path(), &[], &s);
    assert_eq!(low.conclusion, Conclusion::Failure, "{low:#?}");
    assert!(low.title.contains("60.0%"), "{}", low.title);
    assert_eq!(
        lines_of(&low, "services/auth/src/app.js"),
        [(1, AnnotationLevel::Warning)]
    );

    write(
        dir.path(),
        "services/auth/coverage/coverage-summary.json",
        &istanbul(91),
    );
    let high = run(&w, dir.path(), &[], &s);
    assert_eq!(high.conclusion, Conclusion::Success, "{high:#?}");

    let mut strict = workflow(r#", "gates": [{"name": "coverage"}]"#);
    strict.tasks[0].input = serde_json::json!({"coverage": 95});
    assert_eq!(
        run(&strict, dir.path(), &[], &s).conclusion,
        Conclusion::Failure
    );
}

#[test]
fn coverage_reads_lcov() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/lib.rs", "x\n");
    write(
        dir.path(),
        "lcov.info",
        "SF:/build/src/lib.rs\nLF:10\nLH:9\nend_of_record\n",
    );
    let r = run(&workflow(""), dir.path(), &[], &spec("coverage", None, &[]));
    assert_eq!(r.conclusion, Conclusion::Success, "{r:#?}");
    assert!(r.title.contains("90.0%"), "{}", r.title);
}

const SERVER: &str = r#"import http.server, os
open("server.pid", "w").write(str(os.getpid()))
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        body = b'{"status":"ok"}' if self.path.startswith("/health") else b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
"#;

fn perf_workflow(response_ms: u64, rps: u64, gates: &str) -> Workflow {
    workflow(&format!(
        r#", "quality": {{"performanceThreshold": {{"responseTime": {response_ms}, "throughput": {rps}}}}}{gates}"#
    ))
}

#[test]
fn performance_starts_a_detected_service_and_passes_a_reachable_threshold() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "services/api/server.py", SERVER);
    write(
        dir.path(),
        "services/api/package.json",
        r#"{"name": "api", "scripts": {"start": "exec python3 server.py"}}"#,
    );
    let w = perf_workflow(2000, 20, "");
    let r = run(
        &w,
        dir.path(),
        &["services/api/server.py"],
        &spec("performance", None, &[]),
    );
    eprintln!("{}\n{}", r.title, r.summary);
    assert_eq!(r.conclusion, Conclusion::Success, "{r:#?}");
    assert!(
        r.summary.contains("`services/api`") && r.summary.contains("`/health/ready`"),
        "{}",
        r.summary
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("services/api/server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "the service was left running");
}

#[test]
fn performance_fails_an_impossible_threshold_with_a_declared_command() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.py", SERVER);
    let w = perf_workflow(
        2000,
        10_000_000,
        r#", "gates": [{"name": "performance", "run": "python3 server.py"}]"#,
    );
    let s = gates::gates_for(&w)
        .into_iter()
        .find(|g| g.name == "performance")
        .unwrap();
    let r = run(&w, dir.path(), &["server.py"], &s);
    eprintln!("{}\n{}", r.title, r.summary);
    assert_eq!(r.conclusion, Conclusion::Failure, "{r:#?}");
    assert!(
        r.summary.contains("req/s < 10000000 req/s"),
        "{}",
        r.summary
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "the service was left running");
}

#[test]
fn performance_skips_when_nothing_can_be_started_or_dependencies_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "docs/a.md", "x\n");
    let w = perf_workflow(200, 10, "");
    let r = run(
        &w,
        dir.path(),
        &["docs/a.md"],
        &spec("performance", None, &[]),
    );
    assert_eq!(r.conclusion, Conclusion::Skipped, "{r:#?}");
    assert!(r.title.contains("nothing to start"), "{}", r.title);

    write(
        dir.path(),
        "services/web/package.json",
        r#"{"name": "web", "scripts": {"start": "node index.js"}, "dependencies": {"express": "^4"}}"#,
    );
    if std::env::var("PRFLOW_GATES_NPM_INSTALL").as_deref() != Ok("1") {
        let r = run(
            &w,
            dir.path(),
            &["services/web/package.json"],
            &spec("performance", None, &[]),
        );
        assert_eq!(r.conclusion, Conclusion::Skipped, "{r:#?}");
        assert!(
            r.title.contains("dependencies not installed"),
            "{}",
            r.title
        );
    }
}

#[test]
fn performance_is_neutral_when_the_service_never_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let w = perf_workflow(
        200,
        10,
        r#", "gates": [{"name": "performance", "run": "echo 'boom: missing config' >&2; exit 1"}]"#,
    );
    let s = gates::gates_for(&w)
        .into_iter()
        .find(|g| g.name == "performance")
        .unwrap();
    let r = run(&w, dir.path(), &[], &s);
    assert_eq!(r.conclusion, Conclusion::Neutral, "{r:#?}");
    assert!(r.summary.contains("exited"), "{}", r.summary);
    assert!(r.text.contains("boom: missing config"), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_measures_an_in_process_axum_server() {
    let app = axum::Router::new().route("/health/live", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/health/live");

    let s = loadgen::run(&url, 32, Duration::from_secs(2), 5_000_000).await;
    eprintln!(
        "loadgen vs axum: {} requests, {} errors, {:.0} req/s, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms",
        s.requests, s.errors, s.rps, s.p50_ms, s.p95_ms, s.p99_ms
    );
    assert_eq!(s.errors, 0, "{:?}", s.first_error);
    assert!(s.requests > 200, "{s:?}");
    assert!(s.rps > 100.0, "{s:?}");
    assert!(
        s.p50_ms > 0.0 && s.p50_ms <= s.p95_ms && s.p95_ms <= s.p99_ms,
        "{s:?}"
    );

    let bounded = loadgen::run(&url, 32, Duration::from_secs(10), 500).await;
    assert_eq!(
        bounded.requests, 500,
        "the request budget bounds the run: {bounded:?}"
    );
    assert!(bounded.elapsed_ms < 10_000);

    let missing = loadgen::run(
        &format!("http://{addr}/nope"),
        4,
        Duration::from_millis(300),
        100,
    )
    .await;
    assert_eq!(missing.errors, missing.requests, "404s are errors");
    assert_eq!(missing.first_error.as_deref(), Some("HTTP 404 Not Found"));

    let remote = loadgen::run("http://192.0.2.1/", 4, Duration::from_millis(100), 10).await;
    assert_eq!(remote.requests, 0);
    assert!(remote.first_error.unwrap().contains("loopback"));
}

/// Runs every gate of `examples/microservices-workflow.json` (plus `coverage`) over a real
/// checkout and prints the results: `PRFLOW_GATES_CHECKOUT=DIR cargo test --test gates
/// -- --ignored --nocapture real_checkout`. Every file in the checkout counts as changed.
#[test]
#[ignore]
fn real_checkout() {
    let Ok(dir) = std::env::var("PRFLOW_GATES_CHECKOUT") else {
        panic!("set PRFLOW_GATES_CHECKOUT to a directory");
    };
    let dir = Path::new(&dir);
    let w = prflow::workflow::load(Path::new("examples/microservices-workflow.json"))
        .unwrap()
        .workflow;
    let mut changed = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "node_modules" || name == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                changed.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let input = GateInput {
        workflow: &w,
        checkout: dir,
        changed_files: &changed,
        phase: 3,
    };
    let mut specs = gates::gates_for(&w);
    specs.push(spec("coverage", None, &[]));
    for s in &specs {
        let r = gates::run_gate(s, &input);
        eprintln!(
            "== {} {:?} ({} ms): {}\n{}",
            gates::check_name(&r.name),
            r.conclusion,
            r.duration_ms,
            r.title,
            r.summary
        );
        for a in r.annotations.iter().take(15) {
            eprintln!(
                "  {}:{} {:?} {}: {}",
                a.path,
                a.start_line,
                a.level,
                a.title.as_deref().unwrap_or(""),
                a.message
            );
        }
    }
}
