//! Input an attacker controls — a workflow file, a pack, a request to `serve` — never
//! hangs, bloats or crashes prflow: each case fails fast, in bounded memory, with an
//! error that names the place and the fix (docs/security.md, "Input and the service's
//! door").

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A scratch folder removed at the end of the test.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `prflow validate FILE` with a hard deadline; returns exit code, stdout,
/// stderr and how long it took.
fn validate(file: &Path, deadline: Duration) -> (i32, String, String, Duration) {
    let bin = assert_cmd::cargo::cargo_bin("prflow");
    let start = Instant::now();
    let mut child = std::process::Command::new(bin)
        .arg("validate")
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads, so a long report never blocks the child on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            r.read_to_end(&mut s).unwrap();
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "`prflow validate {}` still ran after {deadline:?}",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
        took,
    )
}

/// A minimal valid workflow in YAML, with `extra` spliced in at the top level.
fn yaml_workflow(extra: &str) -> String {
    format!(
        "name: demo\n{extra}agents:\n  - id: dev\n    type: developer\ntasks:\n  - id: a\n    agentId: dev\n    type: documentation\n"
    )
}

/// Nine anchors of nine aliases each: 9^9 (387 million) nodes once expanded, from
/// well under a kilobyte of text.
fn alias_bomb() -> String {
    let mut s = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    for w in names.windows(2) {
        let (prev, name) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        s.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    s
}

#[test]
fn yaml_alias_bomb_fails_fast_naming_the_alias_and_its_line() {
    let dir = scratch();
    let bomb = alias_bomb();
    assert!(bomb.len() < 600, "{} bytes", bomb.len());
    let file = write(dir.path(), "bomb.yaml", &bomb);
    let (code, _, err, took) = validate(&file, Duration::from_secs(20));
    assert_eq!(code, 1, "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The alias that crossed the budget is on some line from 2 on, named as written.
    let line = err.lines().next().unwrap_or_default();
    assert!(
        line.contains("bomb.yaml:") && line.contains("alias `*") && line.contains("1000000"),
        "{err}"
    );
    assert!(err.lines().count() == 1, "{err}");
}

#[test]
fn yaml_nesting_deeper_than_the_limit_is_an_error_not_a_crash() {
    let dir = scratch();
    let deep = format!("tasks: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let file = write(dir.path(), "deep.yaml", deep);
    let (code, _, err, _) = validate(&file, Duration::from_secs(20));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("deep.yaml:1:") && err.contains("nested more than"),
        "{err}"
    );
}

#[test]
fn one_line_json_with_100k_keys_validates_in_well_under_a_second() {
    let dir = scratch();
    let keys: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\": {i}")).collect();
    let text = format!(
        "{{\"name\": \"big\", \"metadata\": {{{}}}, \"agents\": [{{\"id\": \"dev\", \"type\": \"developer\"}}], \"tasks\": [{{\"id\": \"a\", \"agentId\": \"dev\", \"type\": \"documentation\", \"priority\": \"someday\"}}]}}",
        keys.join(", ")
    );
    assert!(!text.contains('\n'));
    let file = write(dir.path(), "wide.json", &text);
    let (code, out, err, took) = validate(&file, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid workflow \"big\""), "{out}");
    // The unknown priority is a warning with its column: positions were computed.
    let col = text.find("\"someday\"").unwrap() + 1;
    assert!(
        err.contains(&format!("wide.json:1:{col}: warning")),
        "{err}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn one_line_json_with_100k_repeated_keys_reports_fast() {
    let dir = scratch();
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("\"k{}\": {i}", i % 2))
        .collect();
    let text = format!(
        "{{\"name\": \"big\", \"metadata\": {{{}}}, \"tasks\": []}}",
        keys.join(", ")
    );
    let file = write(dir.path(), "dups.json", &text);
    let (code, _, err, took) = validate(&file, Duration::from_secs(30));
    assert_eq!(code, 1);
    assert!(
        err.contains("`k0` appears twice"),
        "{}",
        &err[..err.len().min(2000)]
    );
    // Alone this takes about a second; a duplicate check that compared every key
    // with every other (10^10 comparisons) takes minutes. The bound tells those two
    // apart with room for a loaded CI machine (3.08 s was seen under load).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn validate_dev_zero_ends_quickly_naming_the_limit() {
    let (code, _, err, took) = validate(Path::new("/dev/zero"), Duration::from_secs(20));
    assert_eq!(code, 1, "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        err.trim_end(),
        "/dev/zero:0:0: error: the workflow file is larger than 10 MB (10485760 bytes): a workflow is text an editor can open; split it, or check that this is the right file"
    );
}

#[test]
fn a_workflow_just_over_the_limit_is_refused_and_one_at_the_limit_is_read() {
    let dir = scratch();
    let base = yaml_workflow("");
    let pad = |total: usize| {
        let mut s = base.clone();
        s.push('#');
        s.push_str(&"x".repeat(total - s.len() - 1));
        s.push('\n');
        assert_eq!(s.len(), total);
        s
    };
    let at_limit = write(dir.path(), "ok.yaml", pad(10 * 1024 * 1024));
    let (code, out, err, _) = validate(&at_limit, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid workflow \"demo\""), "{out}");
    let over = write(dir.path(), "big.yaml", pad(10 * 1024 * 1024 + 1));
    let (code, _, err, _) = validate(&over, Duration::from_secs(30));
    assert_eq!(code, 1);
    assert!(
        err.contains("big.yaml:0:0: error: the workflow file is larger than 10 MB"),
        "{err}"
    );
}

#[test]
fn a_bom_before_yaml_is_skipped_as_in_json() {
    let dir = scratch();
    let file = write(
        dir.path(),
        "bom.yaml",
        format!("\u{feff}{}", yaml_workflow("")),
    );
    let (code, out, err, _) = validate(&file, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid workflow \"demo\""), "{out}");
    assert!(!err.contains("feff") && !err.contains("unknown"), "{err}");
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = scratch();
    let mut bytes = b"name: demo\ntasks:\n  - id: caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'\n']);
    let file = write(dir.path(), "latin1.yaml", bytes);
    let (code, _, err, _) = validate(&file, Duration::from_secs(20));
    assert_eq!(code, 1);
    assert_eq!(
        err.trim_end(),
        "latin1.yaml:3:12: error: the file is not valid UTF-8 (byte 0xe9): save it as UTF-8"
            .replace("latin1.yaml", &file.display().to_string())
    );
}

#[test]
fn a_warning_quotes_at_most_a_few_hundred_characters_of_a_value() {
    let dir = scratch();
    let huge = "u".repeat(5_000_000);
    let text = yaml_workflow("").replace(
        "    type: documentation\n",
        &format!("    type: documentation\n    priority: \"{huge}\"\n"),
    );
    let file = write(dir.path(), "long.yaml", text);
    let (code, _, err, took) = validate(&file, Duration::from_secs(20));
    assert_eq!(code, 0, "{}", &err[..err.len().min(2000)]);
    let warning = err
        .lines()
        .find(|l| l.contains("unknown priority"))
        .unwrap_or_else(|| panic!("{}", &err[..err.len().min(2000)]));
    assert!(warning.len() < 1000, "{} bytes", warning.len());
    assert!(warning.contains("characters cut"), "{warning}");
    // The advice at the end of the message survives the cut.
    assert!(warning.contains("treated as medium"), "{warning}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn prflow_run_refuses_an_endless_workflow_file_too() {
    let dir = scratch();
    common::git(dir.path(), &["init", "-q", "-b", "main"]);
    let start = Instant::now();
    let out = assert_cmd::Command::cargo_bin("prflow")
        .unwrap()
        .args(["run", "/dev/zero"])
        .current_dir(dir.path())
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/dev/zero:0:0: error: the workflow file is larger than 10 MB"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// Template packs come from the repository, and render within limits.

use prflow::agents::template::TemplateRunner;

/// One repository pack `name` under `templates` that serves every `documentation`
/// task with one template.
fn write_pack(templates: &Path, name: &str, template: &str) {
    let dir = templates.join(name);
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        format!("name: {name}\npriority: 100\nmatch:\n  task_type: [documentation]\nfiles:\n  - src: files/out.txt.j2\n    dest: out.txt\n"),
    )
    .unwrap();
    std::fs::write(dir.join("files/out.txt.j2"), template).unwrap();
}

/// Renders task `a` of [`yaml_workflow`] with the packs of `templates`.
fn render_with(templates: &Path) -> Result<prflow::agents::AgentOutput, String> {
    let runner = TemplateRunner::new(Some(templates)).map_err(|e| e.to_string())?;
    let loaded = prflow::workflow::parse(Path::new("wf.yaml"), &yaml_workflow("")).unwrap();
    render::run_task(&runner, &loaded.workflow, "a", 1).map_err(|e| e.to_string())
}

#[test]
fn a_repository_pack_renders_within_the_limits() {
    let dir = scratch();
    write_pack(
        dir.path(),
        "mine",
        "{{ task.id }} {% for i in range(1000) %}.{% endfor %}\n",
    );
    let out = render_with(dir.path()).unwrap();
    assert_eq!(out.files[0].path, "out.txt");
    let content = String::from_utf8(out.files[0].content.clone().unwrap()).unwrap();
    assert_eq!(content, format!("a {}", ".".repeat(1000)));
}

#[cfg(unix)]
#[test]
fn a_pack_folder_that_is_a_symlink_is_refused() {
    let outside = scratch();
    write_pack(outside.path(), "evil", "{{ task.id }}\n");
    let dir = scratch();
    std::os::unix::fs::symlink(outside.path().join("evil"), dir.path().join("evil")).unwrap();
    let err = render_with(dir.path()).unwrap_err();
    assert_eq!(
        err,
        format!(
            "{}: is a symbolic link; template packs are read from the repository only: make it a real folder or file (copy it instead of linking)",
            dir.path().join("evil").display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_beside_the_packs_or_as_the_template_folder_is_refused() {
    let dir = scratch();
    write_pack(dir.path(), "mine", "{{ task.id }}\n");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("notes.yaml")).unwrap();
    let err = render_with(dir.path()).unwrap_err();
    assert!(err.contains("notes.yaml: is a symbolic link"), "{err}");

    let real = scratch();
    write_pack(real.path(), "mine", "{{ task.id }}\n");
    let holder = scratch();
    let link = holder.path().join("templates");
    std::os::unix::fs::symlink(real.path(), &link).unwrap();
    let err = render_with(&link).unwrap_err();
    assert!(err.contains("templates: is a symbolic link"), "{err}");
}

#[test]
fn nested_loops_in_a_pack_run_out_of_fuel_quickly_naming_pack_and_template() {
    let dir = scratch();
    write_pack(
        dir.path(),
        "slow",
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ j }}{% endfor %}{% endfor %}\n",
    );
    let start = Instant::now();
    let err = render_with(dir.path()).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains("slow/pack.yaml:6: pack `slow`, files[0], template `files/out.txt.j2`: rendering took more than 5000000 steps (the fuel limit)"),
        "{err}"
    );
}

#[test]
fn a_pack_rendering_a_huge_file_stops_at_the_output_limit() {
    let dir = scratch();
    write_pack(
        dir.path(),
        "big",
        "{% for i in range(300) %}{{ 'x' * 100000 }}{% endfor %}\n",
    );
    let err = render_with(dir.path()).unwrap_err();
    assert!(
        err.contains("big/pack.yaml:6: pack `big`, files[0], template `files/out.txt.j2`: renders to more than 10 MB (the limit of one file)"),
        "{err}"
    );
}

#[test]
fn an_alias_bomb_in_a_pack_manifest_is_refused_fast() {
    let dir = scratch();
    write_pack(dir.path(), "bomb", "{{ task.id }}\n");
    let manifest = dir.path().join("bomb/pack.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("variables:\n");
    for line in alias_bomb().lines() {
        text.push_str(&format!("  {line}\n"));
    }
    std::fs::write(&manifest, text).unwrap();
    let start = Instant::now();
    let err = render_with(dir.path()).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains("bomb/pack.yaml:") && err.contains("the alias `*"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// The service's door: `prflow serve` on loopback, attacked with raw sockets.

mod common;
mod render;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

/// Fast door limits for the tests (the defaults are 10 s, 30 s and 256).
const FAST: &[(&str, &str)] = &[
    ("PRFLOW_HEADER_TIMEOUT_MS", "500"),
    ("PRFLOW_BODY_TIMEOUT_MS", "500"),
];

fn connect(svc: &common::Svc) -> TcpStream {
    let s = TcpStream::connect(svc.base.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

/// Reads until the server closes the connection or `within` passes; returns what
/// was read and when the close came (`None`: still open). While waiting, sends
/// `drip` one byte at a time, every 100 ms, as long as the socket takes it.
fn until_closed(s: &mut TcpStream, within: Duration, drip: &[u8]) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut next_drip = 0;
    let mut last_drip = Instant::now();
    while start.elapsed() < within {
        if next_drip < drip.len() && last_drip.elapsed() >= Duration::from_millis(100) {
            if s.write_all(&drip[next_drip..next_drip + 1]).is_err() {
                return (String::from_utf8_lossy(&got).into(), Some(start.elapsed()));
            }
            next_drip += 1;
            last_drip = Instant::now();
        }
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into(), Some(start.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into(), Some(start.elapsed())),
        }
    }
    (String::from_utf8_lossy(&got).into(), None)
}

#[test]
fn headers_sent_one_byte_at_a_time_are_cut_off_at_the_header_timeout() {
    let dir = scratch();
    let svc = common::spawn(dir.path(), &[], FAST);
    let mut s = connect(&svc);
    let drip = b"POST /webhook HTTP/1.1\r\nHost: prflow\r\nX-GitHub-Event: push\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let (_, closed) = until_closed(&mut s, Duration::from_secs(10), drip);
    let closed = closed.expect("the connection was still open after 10 s");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
}

#[test]
fn a_body_that_never_comes_gets_408_at_the_body_timeout() {
    let dir = scratch();
    let svc = common::spawn(dir.path(), &[], FAST);
    let mut s = connect(&svc);
    s.write_all(b"POST /webhook HTTP/1.1\r\nHost: prflow\r\nX-GitHub-Event: push\r\nContent-Length: 100\r\n\r\n{").unwrap();
    let (got, closed) = until_closed(&mut s, Duration::from_secs(10), b"");
    let closed = closed.expect("the connection was still open after 10 s");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.contains("the body did not arrive within 500 ms"),
        "{got}"
    );
}

#[test]
fn an_idle_socket_and_an_idle_keep_alive_connection_are_closed() {
    let dir = scratch();
    let svc = common::spawn(dir.path(), &[], FAST);
    let mut idle = connect(&svc);
    let (_, closed) = until_closed(&mut idle, Duration::from_secs(10), b"");
    let closed = closed.expect("an idle socket was still open after 10 s");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");

    let mut kept = connect(&svc);
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHost: prflow\r\n\r\n")
        .unwrap();
    let (got, closed) = until_closed(&mut kept, Duration::from_secs(10), b"");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let closed = closed.expect("a kept-alive connection was still open after 10 s");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
}

#[test]
fn content_length_over_the_limit_gets_413_before_any_body() {
    let dir = scratch();
    // The default body timeout (30 s): the answer must not wait for the body.
    let svc = common::spawn(dir.path(), &[], &[]);
    let mut s = connect(&svc);
    let start = Instant::now();
    s.write_all(b"POST /webhook HTTP/1.1\r\nHost: prflow\r\nX-GitHub-Event: push\r\nContent-Length: 31457280\r\n\r\n").unwrap();
    let mut head = Vec::new();
    while !String::from_utf8_lossy(&head).contains("\r\n\r\n") {
        assert!(start.elapsed() < Duration::from_secs(10), "no answer");
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let answered = start.elapsed();
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        answered < Duration::from_secs(1),
        "answered after {answered:?}"
    );
    let (rest, closed) = until_closed(&mut s, Duration::from_secs(10), b"");
    assert!(
        format!("{head}{rest}").contains("larger than 25 MB"),
        "{head}{rest}"
    );
    assert!(closed.is_some(), "the connection stayed open");
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    let dir = scratch();
    let svc = common::spawn(
        dir.path(),
        &[],
        &[
            ("PRFLOW_HEADER_TIMEOUT_MS", "1500"),
            ("PRFLOW_MAX_CONNECTIONS", "2"),
        ],
    );
    let _a = connect(&svc);
    let _b = connect(&svc);
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let mut c = connect(&svc);
    c.write_all(b"GET /health/live HTTP/1.1\r\nHost: prflow\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (got, _) = until_closed(&mut c, Duration::from_secs(10), b"");
    let waited = start.elapsed();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // Served only once an idle connection was closed by the header timeout.
    assert!(
        waited > Duration::from_millis(1000),
        "served after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_requests_with_any_event_name_add_no_metrics_series_and_few_log_lines() {
    let dir = scratch();
    let svc = common::spawn(dir.path(), &[], &[]);
    let client = reqwest::Client::new();
    let send = |i: usize| {
        client
            .post(svc.url("/webhook"))
            .header("x-github-event", format!("evil-{i}\"}} 1 fake_metric"))
            .header("x-github-delivery", format!("d-{i}"))
            .body("{}")
            .send()
    };
    assert_eq!(send(0).await.unwrap().status().as_u16(), 401);
    let before = common::metrics(&svc).await;
    let total = 20_000;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let send = &send;
        tasks.push(async move {
            for i in (1 + worker..total).step_by(8) {
                assert_eq!(send(i).await.unwrap().status().as_u16(), 401);
            }
        });
    }
    futures::future::join_all(tasks).await;
    let after = common::metrics(&svc).await;
    assert!(
        after.contains(&format!(
            "prflow_webhook_deliveries_total{{outcome=\"unauthorized\"}} {total}\n"
        )),
        "{after}"
    );
    assert_eq!(
        after.len(),
        before.len() + (total.to_string().len() - 1),
        "{after}"
    );
    assert!(
        !after.contains("evil") && !after.contains("fake_metric"),
        "{after}"
    );
    let refusals = svc.log().matches("webhook refused (401)").count();
    assert!((1..=3).contains(&refusals), "{refusals} log lines");
}
