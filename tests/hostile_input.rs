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
    assert!(took < Duration::from_secs(3), "took {took:?}");
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
    let git = std::process::Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(git.success());
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
use prflow::agents::{Runner, TaskRequest, TreeView};

struct EmptyTree;
impl TreeView for EmptyTree {
    fn read(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn list(&self, _: &str) -> Vec<String> {
        vec![]
    }
}

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
    let w = &loaded.workflow;
    let task = w.task("a").unwrap();
    runner
        .run(&TaskRequest {
            run_id: "r",
            workflow: w,
            task,
            agent: w.agent(&task.agent).unwrap(),
            phase: 1,
            feedback: None,
            base: &EmptyTree,
            workdir: None,
            output_dir: &w.output_dir,
        })
        .map_err(|e| e.to_string())
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
    assert_eq!(
        out.files[0].content.as_ref().unwrap().len(),
        1 + 1 + 1000 + 1
    );
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
