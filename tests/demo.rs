//! `prflow demo` — the first command in README — runs the whole flow offline.

#[test]
fn demo_runs_the_microservices_workflow_through_the_app_and_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["demo", "--timeout", "120", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in 1..=3 {
        assert!(stdout.contains(&format!("phase {n}: PR #")), "{stdout}");
    }
    assert!(stdout.contains("check prflow/security-scan"), "{stdout}");
    assert!(
        stdout.contains("The run is done: 3 phases, 3 PRs"),
        "{stdout}"
    );
    // A person lands the stack in order; the App keeps each PR above showing only its
    // own phase, based on main.
    assert!(
        stdout.contains("Bob lands the stack one PR at a time"),
        "{stdout}"
    );
    for n in 2..=3 {
        assert!(
            stdout.contains(&format!("(phase {n}: "))
                && stdout.contains("retargeted and restacked by the App) squash-merged into main"),
            "{stdout}"
        );
    }
    assert!(stdout.contains("The stack landed: #"), "{stdout}");
    assert!(
        stdout.contains("merged into main in order; 0 PRs open"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("could not save state"), "{stderr}");
    // The scratch repository received the phases from the simulator's side.
    assert!(dir.path().join("shop/.git").exists());
    // It names the pages, then says they are gone with the simulator.
    assert!(stdout.contains("/demo/shop/pull/"), "{stdout}");
    assert!(stdout.contains("the URLs above are gone"), "{stdout}");
}

/// `--keep` prints the first PR's page and serves it until Ctrl-C (SIGINT).
#[test]
fn demo_keep_serves_the_first_pr_page_until_ctrl_c() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["demo", "--keep", "--timeout", "120", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(u) = line.strip_prefix("  the first PR  ") {
            url = Some(u.trim().to_string());
        }
        if line.starts_with("--keep:") {
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no first PR URL in:\n{seen}"));
    let html = ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(html.contains("phase 1/3"), "{url}:\n{html}");
    assert!(html.contains("<pre class=\"mermaid\">"), "{html}");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        ureq::get(&url).call().is_err(),
        "the page is gone after Ctrl-C"
    );
}
