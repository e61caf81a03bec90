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
    // The scratch repository received the phases from the simulator's side.
    assert!(dir.path().join("shop/.git").exists());
}
