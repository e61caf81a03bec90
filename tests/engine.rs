//! End-to-end tests of the local engine (`prflow run / approve / status`) on real git
//! repositories, through the real binary.

mod common;

use common::{all_refs, git, git_repo as repo, prflow, prflow_branches, text, write_workflow};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn run(repo: &Path, wf: &Path, extra: &[&str]) -> Output {
    prflow()
        .arg("run")
        .arg(wf)
        .arg("--repo")
        .arg(repo)
        .args(extra)
        .output()
        .unwrap()
}

/// (task trailer, commit) of every commit on `branch` not on `base`, oldest first.
fn task_commits(repo: &Path, base: &str, branch: &str) -> Vec<String> {
    let log = git(
        repo,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Prflow-Task,valueonly)",
            &format!("{base}..{branch}"),
        ],
    );
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A workflow whose tasks are shell commands, two phases cut by a checkpoint.
fn two_phase_workflow() -> serde_json::Value {
    serde_json::json!({
        "name": "Two phases",
        "agents": [
            {"id": "dev", "name": "Developer", "type": "developer", "runner": {"command": "sh -c 'echo \"$PRFLOW_TASK_ID\" > \"$PRFLOW_TASK_ID.txt\"'"}}
        ],
        "tasks": [
            {"id": "a", "name": "Task A", "agentId": "dev"},
            {"id": "b", "name": "Task B", "agentId": "dev", "dependencies": ["a"]},
            {"id": "c", "name": "Task C", "agentId": "dev", "dependencies": ["b"]}
        ],
        "execution": {"checkpoints": ["b"]}
    })
}

#[test]
fn phases_become_branches_and_tasks_commits_with_trailers() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(r, "wf.json", &two_phase_workflow());
    let out = run(r, &wf, &["--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    assert_eq!(b.len(), 1, "only phase 1 exists before approval: {b:?}");
    let phase1 = &b[0];
    assert!(
        phase1.starts_with("prflow/") && phase1.ends_with("/01-b"),
        "{phase1}"
    );
    assert_eq!(task_commits(r, "main", phase1), vec!["a", "b"]);
    let msg = git(r, &["log", "-1", "--format=%B", phase1]);
    let run_id = phase1.split('/').nth(1).unwrap();
    for trailer in [
        format!("Prflow-Run: {run_id}"),
        "Prflow-Phase: 01-b".to_string(),
        "Prflow-Task: b".to_string(),
        "Prflow-Agent: dev".to_string(),
        "Prflow-Workflow: wf.json@".to_string(),
    ] {
        assert!(msg.contains(&trailer), "missing {trailer} in\n{msg}");
    }
    assert_eq!(git(r, &["log", "-1", "--format=%an", phase1]), "Developer");
    assert_eq!(git(r, &["show", &format!("{phase1}:b.txt")]), "b");
    // The person's checkout is untouched.
    assert_eq!(git(r, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert!(!r.join("a.txt").exists());

    let out = prflow()
        .args(["approve", "--quiet", "--repo"])
        .arg(r)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    assert_eq!(b.len(), 2, "{b:?}");
    let phase2 = &b[1];
    assert!(
        phase2.ends_with("/02-final") || phase2.contains("/02-"),
        "{phase2}"
    );
    // Phase 2 starts at phase 1's tip.
    assert_eq!(
        git(r, &["merge-base", phase1, phase2]),
        git(r, &["rev-parse", phase1])
    );
    assert_eq!(task_commits(r, phase1, phase2), vec!["c"]);

    let status = prflow()
        .args(["status", "--format", "json", "--repo"])
        .arg(r)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let phases = v[0]["phases"].as_array().unwrap();
    assert_eq!(phases[0]["status"], "done");
    assert_eq!(phases[1]["status"], "done");
    assert_eq!(phases[1]["tasks"][0][0], "c");
    assert!(phases[1]["tasks"][0][1].as_str().unwrap().len() == 40);
}

#[test]
fn running_again_creates_nothing_new() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(r, "wf.json", &two_phase_workflow());
    assert!(run(r, &wf, &["-q"]).status.success());
    let before = all_refs(r);
    let out = run(r, &wf, &["-q", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "waiting-for-review");
    assert_eq!(
        all_refs(r),
        before,
        "a second run at a checkpoint changed refs"
    );

    assert!(prflow()
        .args(["approve", "-q", "--repo"])
        .arg(r)
        .status()
        .unwrap()
        .success());
    let finished = all_refs(r);
    let out = run(r, &wf, &["-q", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "finished", "{}", text(&out));
    assert_eq!(
        all_refs(r),
        finished,
        "a run of a finished workflow changed refs"
    );
}

#[test]
fn parallel_tasks_overlap_and_respect_concurrency() {
    let dir = repo();
    let r = dir.path();
    let marks = tempfile::tempdir().unwrap();
    // Each task announces itself, then waits (up to 20 s) until `want` tasks are
    // running at once; with too little parallelism it times out and fails.
    let script = format!(
        "touch {m}/$PRFLOW_TASK_ID; n=0; while [ $(ls {m} | wc -l) -lt $WANT ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done; \
         [ $(ls {m} | wc -l) -ge $WANT ] && echo $PRFLOW_TASK_ID > out-$PRFLOW_TASK_ID.txt",
        m = marks.path().display()
    );
    let wf = write_workflow(
        r,
        "par.json",
        &serde_json::json!({
            "name": "Parallel",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": script, "env": {"WANT": "4"}}}],
            "tasks": (1..=4).map(|i| serde_json::json!({"id": format!("t{i}"), "agentId": "w"})).collect::<Vec<_>>(),
            "execution": {"parallelism": {"max": 4}}
        }),
    );
    let started = Instant::now();
    let out = run(r, &wf, &["-q"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    let b = prflow_branches(r);
    let mut tasks = task_commits(r, "main", &b[0]);
    tasks.sort();
    assert_eq!(tasks, vec!["t1", "t2", "t3", "t4"]);
    for i in 1..=4 {
        assert_eq!(
            git(r, &["show", &format!("{}:out-t{i}.txt", b[0])]),
            format!("t{i}")
        );
    }
}

#[test]
fn sequential_mode_runs_one_task_at_a_time() {
    let dir = repo();
    let r = dir.path();
    let marks = tempfile::tempdir().unwrap();
    // A task fails if it ever sees another task running.
    let script = format!(
        "ls {m} | grep -q running && exit 3; touch {m}/running; sleep 0.2; rm {m}/running; echo ok > $PRFLOW_TASK_ID",
        m = marks.path().display()
    );
    let wf = write_workflow(
        r,
        "seq.json",
        &serde_json::json!({
            "name": "Sequential",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": script}}],
            "tasks": (1..=3).map(|i| serde_json::json!({"id": format!("s{i}"), "agentId": "w"})).collect::<Vec<_>>(),
            "execution": {"mode": "sequential"}
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn conflicting_parallel_tasks_stop_the_phase_with_whole_commits_only() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(
        r,
        "conflict.json",
        &serde_json::json!({
            "name": "Conflict",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": "echo $PRFLOW_TASK_ID > shared.txt; echo x > only-$PRFLOW_TASK_ID.txt"}}],
            "tasks": [{"id": "left", "agentId": "w"}, {"id": "right", "agentId": "w"}],
            "execution": {"maxConcurrency": 2}
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("left") && t.contains("right") && t.contains("shared.txt"),
        "{t}"
    );
    let b = prflow_branches(r);
    let done = task_commits(r, "main", &b[0]);
    assert_eq!(
        done.len(),
        1,
        "exactly one of the two was committed: {done:?}"
    );
    // The committed task's commit is whole: both its files are there.
    let first = &done[0];
    git(r, &["show", &format!("{}:only-{first}.txt", b[0])]);
    assert_eq!(git(r, &["show", &format!("{}:shared.txt", b[0])]), *first);
    let status = prflow().args(["status", "--repo"]).arg(r).output().unwrap();
    assert!(text(&status).contains("[failed]"), "{}", text(&status));
}

#[test]
fn tasks_that_change_different_parts_of_one_file_merge() {
    let dir = repo();
    let r = dir.path();
    std::fs::write(
        r.join("list.txt"),
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\n",
    )
    .unwrap();
    git(r, &["add", "."]);
    git(r, &["commit", "-qm", "list"]);
    let wf = write_workflow(
        r,
        "merge.json",
        &serde_json::json!({
            "name": "Merge",
            "agents": [
                {"id": "top", "type": "developer", "runner": {"command": "sed -i 's/^one$/ONE/' list.txt; sleep 0.3"}},
                {"id": "bottom", "type": "developer", "runner": {"command": "sed -i 's/^seven$/SEVEN/' list.txt"}}
            ],
            "tasks": [{"id": "t", "agentId": "top"}, {"id": "b", "agentId": "bottom"}],
            "execution": {"maxConcurrency": 2}
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    let content = git(r, &["show", &format!("{}:list.txt", b[0])]);
    assert!(
        content.starts_with("ONE\n") && content.ends_with("SEVEN"),
        "{content}"
    );
}

#[test]
fn a_path_outside_the_repository_fails_the_task_and_writes_nothing() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(
        r,
        "bad.json",
        &serde_json::json!({
            "name": "Bad paths",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": "echo fine > ok.txt; mkdir -p .git/hooks; echo evil > .git/hooks/post-checkout"}}],
            "tasks": [{"id": "sneaky", "agentId": "w"}]
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(".git"), "{}", text(&out));
    let b = prflow_branches(r);
    assert!(task_commits(r, "main", &b[0]).is_empty());
    assert!(!r.join(".git/hooks/post-checkout").exists());
}

#[test]
fn a_task_no_runner_can_serve_stops_the_run_before_anything_is_written() {
    let dir = repo();
    let r = dir.path();
    let before = all_refs(r);
    let wf = write_workflow(
        r,
        "missing.json",
        &serde_json::json!({
            "name": "Missing tool",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": ["definitely-not-installed-prflow-tool", "--go"]}}],
            "tasks": [{"id": "x", "agentId": "w"}]
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("`x`") && t.contains("definitely-not-installed-prflow-tool"),
        "{t}"
    );
    assert!(t.contains("template packs available"), "{t}");
    assert_eq!(all_refs(r), before);
}

#[test]
fn command_runner_environment_outputs_and_failures() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(
        r,
        "env.json",
        &serde_json::json!({
            "name": "Env",
            "variables": {"greeting": "hi"},
            "agents": [{"id": "w", "type": "developer", "runner": {"command": "cp \"$PRFLOW_TASK_JSON\" task-$PRFLOW_TASK_ID.json; cp \"$PRFLOW_PROMPT_FILE\" prompt-$PRFLOW_TASK_ID.md; echo \"$PRFLOW_RUN_ID\" > run-id; if [ $PRFLOW_TASK_ID = producer ]; then echo '{\"items\": [1, 2]}' > \"$PRFLOW_OUTPUT_FILE\"; fi"}}],
            "tasks": [
                {"id": "producer", "agentId": "w", "input": {"g": "${greeting}"}, "output": {"items": "array"}},
                {"id": "consumer", "agentId": "w", "dependencies": ["producer"], "input": {"got": "${producer.output.items}"}}
            ]
        }),
    );
    let out = run(r, &wf, &["-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    let task: serde_json::Value =
        serde_json::from_str(&git(r, &["show", &format!("{}:task-consumer.json", b[0])])).unwrap();
    assert_eq!(task["input"]["got"], serde_json::json!([1, 2]));
    let producer: serde_json::Value =
        serde_json::from_str(&git(r, &["show", &format!("{}:task-producer.json", b[0])])).unwrap();
    assert_eq!(producer["input"]["g"], "hi");
    let prompt = git(r, &["show", &format!("{}:prompt-producer.md", b[0])]);
    assert!(
        prompt.contains("producer") && prompt.contains("PRFLOW_OUTPUT_FILE"),
        "{prompt}"
    );
    let run_id = b[0].split('/').nth(1).unwrap();
    assert_eq!(git(r, &["show", &format!("{}:run-id", b[0])]), run_id);
}

#[test]
fn a_failing_command_reports_its_stderr_and_a_timeout_kills_its_process_group() {
    let dir = repo();
    let r = dir.path();
    let pidfile = r.join("..").join(format!("bg-{}.pid", std::process::id()));
    let wf = write_workflow(
        r,
        "fail.json",
        &serde_json::json!({
            "name": "Fail",
            "agents": [
                {"id": "loud", "type": "developer", "runner": {"command": "echo 'the reason it broke' >&2; exit 7"}},
                {"id": "slow", "type": "developer", "runner": {"command": format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display()), "timeout": 1}}
            ],
            "tasks": [{"id": "breaks", "agentId": "loud"}, {"id": "hangs", "agentId": "slow"}],
            "settings": {"failurePolicy": "continue"},
            "execution": {"maxConcurrency": 2}
        }),
    );
    let started = Instant::now();
    let out = run(r, &wf, &["-q"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("exit code 7") && t.contains("the reason it broke"),
        "{t}"
    );
    assert!(t.contains("timed out after 1 s"), "{t}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let _ = std::fs::remove_file(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    let alive = Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "the background child {pid} survived the timeout");
}

/// A handled failure (docs/workflow-format.md) needs its handler to run: an `onFailure`
/// handler whose `condition` cannot be evaluated (it reads an output the failed task
/// never wrote) is a failed handler, so the failure stays unhandled and the run fails,
/// naming the condition and why.
#[test]
fn an_on_failure_handler_whose_condition_cannot_be_evaluated_fails_the_run() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(
        r,
        "deploy.json",
        &serde_json::json!({
            "name": "Deploy",
            "agents": [{"id": "ops", "type": "devops", "runner": {"command": "if [ $PRFLOW_TASK_ID = deploy ]; then echo 'the cluster is gone' >&2; exit 3; fi; echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt"}}],
            "tasks": [
                {"id": "deploy", "agentId": "ops", "output": {"code": "number"}, "onFailure": ["rollback"]},
                {"id": "rollback", "agentId": "ops", "condition": "${deploy.output.code} == 3"}
            ]
        }),
    );
    let out = run(r, &wf, &["-q"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("task `rollback` failed: its condition `${deploy.output.code} == 3` cannot be evaluated: it refers to `${deploy.output.code}`, which task `deploy` did not produce"),
        "{t}"
    );
    assert!(
        t.contains("task `deploy` failed and its onFailure handler `rollback` failed too: the command failed with exit code 3"),
        "{t}"
    );
    assert!(t.contains("the cluster is gone"), "{t}");
    let st = text(&prflow().args(["status", "--repo"]).arg(r).output().unwrap());
    assert!(!st.contains("handled by onFailure"), "{st}");
}

#[test]
fn killed_mid_phase_resumes_with_every_task_committed_once() {
    let dir = repo();
    let r = dir.path();
    let gate = tempfile::tempdir().unwrap();
    let hold = gate.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    // t3 hangs while the hold file exists.
    let script = format!(
        "if [ $PRFLOW_TASK_ID = t3 ]; then while [ -e {h} ]; do sleep 0.05; done; fi; echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt",
        h = hold.display()
    );
    let wf = write_workflow(
        r,
        "crash.json",
        &serde_json::json!({
            "name": "Crash",
            "agents": [{"id": "w", "type": "developer", "runner": {"command": script}}],
            "tasks": [
                {"id": "t1", "agentId": "w"},
                {"id": "t2", "agentId": "w", "dependencies": ["t1"]},
                {"id": "t3", "agentId": "w", "dependencies": ["t2"]},
                {"id": "t4", "agentId": "w", "dependencies": ["t3"]}
            ]
        }),
    );
    let mut child = prflow()
        .arg("run")
        .arg(&wf)
        .arg("--repo")
        .arg(r)
        .arg("-q")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let b = prflow_branches(r);
        if b.len() == 1 && task_commits(r, "main", &b[0]).len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "t1 and t2 never got committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    std::fs::remove_file(&hold).unwrap();
    let out = run(r, &wf, &["-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    assert_eq!(task_commits(r, "main", &b[0]), vec!["t1", "t2", "t3", "t4"]);
}

#[test]
fn a_workflow_outside_the_repository_and_a_custom_base() {
    let dir = repo();
    let r = dir.path();
    git(r, &["checkout", "-qb", "feature"]);
    std::fs::write(r.join("f.txt"), "f\n").unwrap();
    git(r, &["add", "."]);
    git(r, &["commit", "-qm", "feature"]);
    git(r, &["checkout", "-q", "main"]);
    let outside = tempfile::tempdir().unwrap();
    let wf = write_workflow(outside.path(), "wf.yaml", &serde_json::json!(null));
    std::fs::write(
        &wf,
        "name: Outside\nagents:\n  - id: w\n    type: developer\n    runner:\n      command: ls > listing.txt\ntasks:\n  - id: look\n    agentId: w\n",
    )
    .unwrap();
    let out = run(r, &wf, &["-q", "--base", "feature"]);
    assert!(out.status.success(), "{}", text(&out));
    let b = prflow_branches(r);
    let listing = git(r, &["show", &format!("{}:listing.txt", b[0])]);
    assert!(
        listing.contains("f.txt"),
        "phase 1 did not start at --base: {listing}"
    );
}

#[test]
fn progress_is_plain_lines_when_not_a_terminal_and_silent_with_quiet() {
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(r, "wf.json", &two_phase_workflow());
    let out = run(r, &wf, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("phase 1") && err.contains("done     a"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("next:") && stdout.contains("prflow approve"),
        "{stdout}"
    );

    let dir = repo();
    let wf = write_workflow(dir.path(), "wf.json", &two_phase_workflow());
    let out = run(dir.path(), &wf, &["--quiet"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn microservices_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/microservices-workflow.json")
}

#[test]
fn dry_run_shows_branches_and_diffs_and_writes_nothing() {
    let dir = repo();
    let r = dir.path();
    let before = all_refs(r);
    let objects_before = git(r, &["count-objects", "-v"]);
    let out = run(r, &microservices_example(), &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("/01-design-architecture"), "{t}");
    assert!(
        t.contains("pull request: prflow/") && t.contains("→ HEAD"),
        "{t}"
    );
    assert!(t.contains("new file: architecture/architecture.md"), "{t}");
    assert!(t.contains("+++ b/architecture/api-specs.yaml"), "{t}");
    assert!(t.contains("services/auth-service/"), "{t}");
    assert_eq!(all_refs(r), before);
    assert_eq!(git(r, &["count-objects", "-v"]), objects_before);
}

/// The headline: claude-flow's microservices workflow runs offline, phase by phase,
/// and the same workflow gives byte-identical files.
#[test]
fn microservices_example_runs_offline_through_three_phases_deterministically() {
    let mut trees = Vec::new();
    for _ in 0..2 {
        let dir = repo();
        let r = dir.path();
        let out = run(r, &microservices_example(), &["-q"]);
        assert!(out.status.success(), "{}", text(&out));
        for _ in 0..2 {
            let out = prflow()
                .args(["approve", "-q", "--repo"])
                .arg(r)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
        let b = prflow_branches(r);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b[0].ends_with("/01-design-architecture"));
        assert_eq!(task_commits(r, "main", &b[0]), vec!["design-architecture"]);
        let mut p2 = task_commits(r, &b[0], &b[1]);
        p2[..3].sort();
        assert_eq!(
            p2,
            vec![
                "create-auth-service",
                "create-product-service",
                "create-user-service",
                "create-api-gateway"
            ]
        );
        assert_eq!(
            task_commits(r, &b[1], &b[2]),
            vec![
                "create-frontend",
                "containerize-services",
                "integration-tests"
            ]
        );
        let files = git(r, &["ls-tree", "-r", "--name-only", &b[2]]);
        for expected in [
            "architecture/architecture.md",
            "architecture/api-specs.yaml",
            "architecture/database-schema.sql",
            "services/auth-service/package.json",
            "services/user-service/package.json",
            "services/product-service/package.json",
            "services/api-gateway/package.json",
            "frontend/react-app/package.json",
            "deployment/docker-compose.yml",
            "package.json",
        ] {
            assert!(files.lines().any(|l| l == expected), "{expected} missing");
        }
        trees.push(git(r, &["rev-parse", &format!("{}^{{tree}}", b[2])]));
    }
    assert_eq!(trees[0], trees[1], "the same workflow gave different files");
}
