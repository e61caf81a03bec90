//! Issue 11: workflow code (a `command` runner, a gate) is written by whoever can push
//! to a repository, so it must never see prflow's secrets nor outlive its task. Each
//! front end (`run`, `run --github`, `action`, `serve`) runs a runner that dumps its
//! environment and tries to read the App's key into the commit; the tests read the
//! commit back the way a user would (from the pushed branch) and find no secret.

mod common;

use common::{git, text, SECRET};
use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The runner every front end runs: its environment and the App's key (if it can find
/// it) end up in the task's commit.
const DUMP: &str = "env > env.txt; cat \"$PRIVATE_KEY_PATH\" > key.txt 2>/dev/null; true";

/// A secret value no other test on this machine uses.
fn fresh(prefix: &str) -> String {
    let n: u64 = rand::random();
    format!("{prefix}-{n:016x}")
}

fn dump_workflow() -> Value {
    json!({
        "name": "Leak",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command": DUMP}}],
        "tasks": [{"id": "dump", "agentId": "dev"}],
        "execution": {"checkpoints": ["dump"]}
    })
}

/// A repository on `main` with `.prflow/workflow.json` = `wf`.
/// `prflow run` of the repository's `.prflow/workflow.json`, quietly.
fn run_locally(repo: &tempfile::TempDir) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["run", ".prflow/workflow.json", "--quiet"])
        .current_dir(repo.path())
        .output()
        .unwrap()
}

fn repo_with(wf: &Value) -> tempfile::TempDir {
    let t = common::git_repo();
    std::fs::create_dir_all(t.path().join(".prflow")).unwrap();
    std::fs::write(t.path().join(".prflow/workflow.json"), wf.to_string()).unwrap();
    git(t.path(), &["add", "."]);
    git(t.path(), &["commit", "-qm", "workflow"]);
    t
}

/// `path` on the one `prflow/…` branch of the repository at `repo` (bare or not).
fn on_phase_branch(repo: &Path, path: &str) -> String {
    let refs = git(
        repo,
        &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
    );
    let branch = refs.lines().next().unwrap_or_else(|| {
        panic!("no phase branch in {}", repo.display());
    });
    git(repo, &["show", &format!("{branch}:{path}")])
}

/// The runner's environment as committed: no secret value, no secret name; and it
/// did run with its task variables (so the test cannot pass by running nothing).
fn assert_clean(env_txt: &str, key_txt: &str, secrets: &[(&str, &str)]) {
    assert!(env_txt.contains("PRFLOW_TASK_ID=dump"), "{env_txt}");
    assert!(env_txt.lines().any(|l| l.starts_with("PATH=")), "{env_txt}");
    for (name, value) in secrets {
        assert!(
            !env_txt.contains(value),
            "the value of {name} reached the runner:\n{env_txt}"
        );
        assert!(
            !env_txt.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name} reached the runner:\n{env_txt}"
        );
        assert!(!key_txt.contains(value), "{name}'s value: {key_txt}");
    }
    assert!(
        !key_txt.contains("PRIVATE KEY"),
        "the runner read the App's key: {key_txt}"
    );
    for never in [
        "WEBHOOK_SECRET",
        "PRIVATE_KEY",
        "GITHUB_TOKEN",
        "GIT_CONFIG",
    ] {
        assert!(!env_txt.contains(never), "{never} in:\n{env_txt}");
    }
}

/// A PEM-shaped key file holding `marker`.
fn key_file(dir: &Path, marker: &str) -> PathBuf {
    let path = dir.join("app-key.pem");
    std::fs::write(
        &path,
        format!("-----BEGIN RSA PRIVATE KEY-----\n{marker}\n-----END RSA PRIVATE KEY-----\n"),
    )
    .unwrap();
    path
}

/// `prflow run` in a local repository, started with every secret a service or a CI
/// job might hold; the operator lets exactly one key through PRFLOW_RUNNER_ENV.
#[test]
fn local_run_gives_the_runner_no_secret() {
    let repo = repo_with(&dump_workflow());
    let keys = tempfile::tempdir().unwrap();
    let hook = fresh("whsec");
    let token = fresh("ghp");
    let openai = fresh("sk-openai");
    let anthropic = fresh("sk-ant");
    let marker = fresh("key");
    let key = key_file(keys.path(), &marker);
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["run", ".prflow/workflow.json", "--quiet"])
        .current_dir(repo.path())
        .env("WEBHOOK_SECRET", &hook)
        .env("GITHUB_TOKEN", &token)
        .env("PRIVATE_KEY_PATH", &key)
        .env("OPENAI_API_KEY", &openai)
        .env("ANTHROPIC_API_KEY", &anthropic)
        .env("PRFLOW_RUNNER_ENV", "ANTHROPIC_API_KEY,WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let env_txt = on_phase_branch(repo.path(), "env.txt");
    let key_txt = on_phase_branch(repo.path(), "key.txt");
    assert_clean(
        &env_txt,
        &key_txt,
        &[
            ("WEBHOOK_SECRET", &hook),
            ("GITHUB_TOKEN", &token),
            ("OPENAI_API_KEY", &openai),
            ("PRIVATE_KEY_PATH", key.to_str().unwrap()),
            ("APP_KEY", &marker),
        ],
    );
    // The operator's choice is honoured (and only it).
    assert!(
        env_txt.contains(&format!("ANTHROPIC_API_KEY={anthropic}")),
        "{env_txt}"
    );
}

/// `prflow run --github` against the simulator: the push token (GITHUB_TOKEN) stays
/// with prflow, which still pushes the phase with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_github_gives_the_runner_no_token() {
    let repo = repo_with(&dump_workflow());
    let sim = common::sim_serving("acme/app", repo.path()).await;
    let bot = sim.create_user("prflow-bot", "write").unwrap();
    let work = tempfile::tempdir().unwrap();
    let hook = fresh("whsec");
    let api = sim.api_url();
    let (token, work_dir) = (bot.clone(), work.path().to_path_buf());
    let hook2 = hook.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_prflow"))
            .args(["run", ".prflow/workflow.json", "--github", "acme/app"])
            .args(["--quiet", "--api-url", &api, "--repo"])
            .arg(&work_dir)
            .env("GITHUB_TOKEN", &token)
            .env("GH_TOKEN", &token)
            .env("WEBHOOK_SECRET", &hook2)
            .env("PRFLOW_STARTER", "alice")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let bare = sim.bare_repo_path("acme/app");
    let env_txt = on_phase_branch(&bare, "env.txt");
    let key_txt = on_phase_branch(&bare, "key.txt");
    assert_clean(
        &env_txt,
        &key_txt,
        &[
            ("GITHUB_TOKEN", &bot),
            ("GH_TOKEN", &bot),
            ("WEBHOOK_SECRET", &hook),
        ],
    );
    sim.shutdown().await;
}

/// `prflow action` as the Actions runner starts it: INPUT_TOKEN, GITHUB_TOKEN and the
/// runner's own ACTIONS_* tokens never reach the workflow's runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_gives_the_runner_no_token() {
    let repo = repo_with(&dump_workflow());
    let sim = common::sim_serving("acme/app", repo.path()).await;
    let token = sim.create_user("prflow-bot", "write").unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let ws = workspace.path().join("app");
    git(
        workspace.path(),
        &[
            "clone",
            "-q",
            repo.path().to_str().unwrap(),
            ws.to_str().unwrap(),
        ],
    );
    let step = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/action");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("workflow_dispatch.json")).unwrap())
            .unwrap();
    payload["repository"] = common::repo("acme/app");
    payload.as_object_mut().unwrap().remove("installation");
    payload["ref"] = json!("refs/heads/main");
    payload["inputs"] = json!({"workflow": ".prflow/workflow.json"});
    payload["sender"]["login"] = json!("alice");
    let event = step.path().join("event.json");
    std::fs::write(&event, payload.to_string()).unwrap();
    let runtime = fresh("actions-runtime");
    let api = sim.api_url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prflow"));
    cmd.arg("action").env_clear();
    for keep in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_API_URL", &api)
        .env("GITHUB_SERVER_URL", &api)
        .env("GITHUB_WORKSPACE", &ws)
        .env("GITHUB_OUTPUT", step.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", step.path().join("summary.md"))
        .env("GITHUB_ACTOR", "alice")
        .env("GITHUB_RUN_ID", "4242")
        .env("INPUT_TOKEN", &token)
        .env("GITHUB_TOKEN", &token)
        .env("ACTIONS_RUNTIME_TOKEN", &runtime);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bare = sim.bare_repo_path("acme/app");
    let env_txt = on_phase_branch(&bare, "env.txt");
    let key_txt = on_phase_branch(&bare, "key.txt");
    assert_clean(
        &env_txt,
        &key_txt,
        &[
            ("INPUT_TOKEN", &token),
            ("GITHUB_TOKEN", &token),
            ("ACTIONS_RUNTIME_TOKEN", &runtime),
        ],
    );
    sim.shutdown().await;
}

/// `prflow serve` as the simulator's App, driven by real signed webhooks (an issue
/// comment `/prflow run`): the webhook secret, APP_ID, the private key and its path,
/// and the installation token the App pushes with never reach the runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_gives_the_runner_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&dump_workflow());
    let sim = Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), repo.path().to_path_buf())],
        webhook_secret: Some(SECRET.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = sim.private_key_path();
    let openai = fresh("sk-openai");
    let svc = common::spawn(
        &data,
        &["--handler", "flow"],
        &[
            ("APP_ID", &sim.app_id().to_string()),
            ("PRIVATE_KEY_PATH", key.to_str().unwrap()),
            ("GITHUB_API_URL", &sim.api_url()),
            ("OPENAI_API_KEY", &openai),
        ],
    );
    sim.set_webhook_url(Some(svc.url("/webhook")));
    let alice = sim.create_user("alice", "write").unwrap();
    let http = reqwest::Client::new();
    let api = sim.api_url();
    let issue = common::json_as(
        http.post(format!("{api}/repos/acme/shop/issues"))
            .json(&json!({"title": "Leak it"})),
        &alice,
    )
    .await;
    let n = issue["number"].as_u64().unwrap();
    common::json_as(
        http.post(format!("{api}/repos/acme/shop/issues/{n}/comments"))
            .json(&json!({"body": "/prflow run"})),
        &alice,
    )
    .await;
    let bare = sim.bare_repo_path("acme/shop");
    let deadline = Instant::now() + Duration::from_secs(60);
    while git(&bare, &["for-each-ref", "refs/heads/prflow"]).is_empty() {
        assert!(Instant::now() < deadline, "no phase pushed: {}", svc.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env_txt = on_phase_branch(&bare, "env.txt");
    let key_txt = on_phase_branch(&bare, "key.txt");
    let pem = std::fs::read_to_string(&key).unwrap();
    let pem_line = pem.lines().nth(1).unwrap();
    assert_clean(
        &env_txt,
        &key_txt,
        &[
            ("WEBHOOK_SECRET", SECRET),
            ("APP_ID", &format!("APP_ID={}", sim.app_id())),
            ("PRIVATE_KEY_PATH", key.to_str().unwrap()),
            ("PRIVATE_KEY", pem_line),
            ("OPENAI_API_KEY", &openai),
        ],
    );
    assert!(
        !env_txt.contains("ghs_"),
        "an installation token: {env_txt}"
    );
    drop(svc);
    sim.shutdown().await;
}

/// Is process `pid` still running (a zombie waiting to be reaped does not count)?
/// Root reads any process's `/proc/PID/environ`, and a runner's parent is its
/// supervisor, a fork of prflow: the environment block prflow was started with must
/// not hold the secrets any more. (Not root, the reads are refused outright; then the
/// files are empty and the test checks only that no secret got through.)
#[test]
fn the_environment_block_of_prflow_and_its_supervisor_holds_no_secret() {
    let read_parents = "sup=$PPID; pf=$(awk '{print $4}' /proc/$sup/stat); \
        tr '\\0' '\\n' < /proc/$sup/environ > sup.txt 2>/dev/null; \
        tr '\\0' '\\n' < /proc/$pf/environ > prflow.txt 2>/dev/null; \
        tr '\\0' ' ' < /proc/$pf/cmdline > cmdline.txt; true";
    let wf = json!({
        "name": "Peek",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command": read_parents}}],
        "tasks": [{"id": "peek", "agentId": "dev"}],
        "execution": {"checkpoints": ["peek"]}
    });
    let repo = repo_with(&wf);
    let hook = fresh("whsec");
    let token = fresh("ghp");
    let openai = fresh("sk-openai");
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["run", ".prflow/workflow.json", "--quiet"])
        .current_dir(repo.path())
        .env("WEBHOOK_SECRET", &hook)
        .env("GITHUB_TOKEN", &token)
        .env("OPENAI_API_KEY", &openai)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let cmdline = on_phase_branch(repo.path(), "cmdline.txt");
    assert!(
        cmdline.contains("prflow") && cmdline.contains("run"),
        "the runner's grandparent is prflow: {cmdline}"
    );
    let root = unsafe { libc::geteuid() } == 0;
    for file in ["sup.txt", "prflow.txt"] {
        let seen = on_phase_branch(repo.path(), file);
        for (name, value) in [
            ("WEBHOOK_SECRET", &hook),
            ("GITHUB_TOKEN", &token),
            ("OPENAI_API_KEY", &openai),
        ] {
            assert!(
                !seen.contains(value.as_str()),
                "{name}'s value is in {file}:\n{seen}"
            );
        }
        if root {
            // Read, so the check above looked at something: the names are there, the values gone.
            assert!(
                seen.lines().any(|l| l.starts_with("PATH=/")),
                "{file}:\n{seen}"
            );
            assert!(
                seen.lines().any(|l| l == "WEBHOOK_SECRET="),
                "{file}:\n{seen}"
            );
        } else {
            assert!(
                seen.is_empty(),
                "{file} was readable by the runner:\n{seen}"
            );
        }
    }
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").split_whitespace().next();
            !matches!(state, Some("Z") | Some("X"))
        })
        .unwrap_or(false)
}

/// Runs a one-task workflow whose runner is `command` (with `timeout` seconds) in a
/// local repository; returns prflow's output and the pid the runner wrote to `$PIDS`.
fn run_and_read_pid(command: &str, timeout: u64) -> (Output, String) {
    let pids = tempfile::tempdir().unwrap();
    let pid_file = pids.path().join("pid");
    let wf = json!({
        "name": "Escape",
        "agents": [{"id": "dev", "type": "developer", "runner": {
            "command": command, "timeout": timeout,
            "env": {"PIDS": pid_file.to_str().unwrap()}}}],
        "tasks": [{"id": "dump", "agentId": "dev"}],
        "execution": {"checkpoints": ["dump"]}
    });
    let repo = repo_with(&wf);
    let out = run_locally(&repo);
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|_| panic!("the runner wrote no pid: {}", text(&out)));
    (out, pid.trim().to_string())
}

/// Item 7: a process the runner detached with `setsid` (its own session and process
/// group) is gone when the task is done.
#[test]
fn a_setsid_child_does_not_outlive_its_task() {
    let (out, pid) = run_and_read_pid(
        "setsid sleep 1000 & echo $! > \"$PIDS\"; echo done > done.txt",
        60,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!pid.is_empty());
    assert!(!alive(&pid), "process {pid} outlived its task");
}

/// Item 7: the same when the task times out: the runner and what it detached are gone
/// when prflow reports the timeout.
#[test]
fn a_setsid_child_does_not_outlive_a_timeout() {
    let started = Instant::now();
    let (out, pid) = run_and_read_pid(
        "setsid sh -c 'trap \"\" TERM; sleep 1000' & echo $! > \"$PIDS\"; sleep 1000",
        1,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("timed out after 1 s"), "{}", text(&out));
    assert!(!alive(&pid), "process {pid} outlived the timeout");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Item 8: a `command` string is shell. Valid shell that starts with syntax or a
/// builtin (`true;`, a subshell, `trap`) runs instead of being refused as a program
/// "not found on PATH"; a plain program name that is not installed is still named.
#[test]
fn command_strings_are_shell_strings() {
    let wf = json!({
        "name": "Shell",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command":
            "true; (cd . && trap 'echo trapped >> ok.txt' EXIT; echo ok > ok.txt)"}}],
        "tasks": [{"id": "sh", "agentId": "dev"}],
        "execution": {"checkpoints": ["sh"]}
    });
    let repo = repo_with(&wf);
    let out = run_locally(&repo);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(on_phase_branch(repo.path(), "ok.txt"), "ok\ntrapped");

    let wf = json!({
        "name": "Missing",
        "agents": [{"id": "dev", "type": "developer",
                    "runner": {"command": "no-such-agent-cli-4711 -p \"$(cat x)\""}}],
        "tasks": [{"id": "sh", "agentId": "dev"}]
    });
    let repo = repo_with(&wf);
    let out = run_locally(&repo);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("command `no-such-agent-cli-4711` was not found on PATH"),
        "{}",
        text(&out)
    );
}

/// Item 4: one id rule. A task id with `/` and `..` (which made the task's checkout
/// land outside the temp folder) is refused by `validate`, at its line, with a fix.
#[test]
fn ids_with_path_separators_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.json");
    std::fs::write(
        &file,
        "{\n  \"name\": \"Ids\",\n  \"agents\": [{\"id\": \"dev\", \"type\": \"developer\"}],\n  \"tasks\": [\n    {\"id\": \"t/../rt\", \"agentId\": \"dev\"}\n  ]\n}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("flow.json:5:") && t.contains("task id \"t/../rt\" contains `/`"),
        "{t}"
    );
}

/// A child process killed (SIGTERM) when the test ends, even by a failed assertion.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

/// Item 4: a run's temporary files are private while it runs (folders 0700, the task
/// file 0600) and gone after SIGTERM, the runner included.
#[test]
fn sigterm_leaves_no_task_folder_and_no_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("modes");
    let wf = json!({
        "name": "Slow",
        "agents": [{"id": "dev", "type": "developer", "runner": {
            "command": "stat -c %a \"$PRFLOW_TASK_JSON\" \"$(dirname \"$PRFLOW_TASK_JSON\")\" \"$(dirname \"$(dirname \"$PRFLOW_TASK_JSON\")\")\" > \"$MARK.tmp\"; echo $$ >> \"$MARK.tmp\"; mv \"$MARK.tmp\" \"$MARK\"; sleep 1000",
            "env": {"MARK": mark.to_str().unwrap()}}}],
        "tasks": [{"id": "slow", "agentId": "dev"}]
    });
    let repo = repo_with(&wf);
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_prflow"))
            .args(["run", ".prflow/workflow.json", "--quiet"])
            .current_dir(repo.path())
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mark.exists() {
        assert!(Instant::now() < deadline, "the runner never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let modes = std::fs::read_to_string(&mark).unwrap();
    let lines: Vec<&str> = modes.lines().collect();
    assert_eq!(lines[..3], ["600", "700", "700"], "{modes}");
    let runner = lines[3].to_string();
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_some());
    unsafe {
        libc::kill(child.0.id() as i32, libc::SIGTERM);
    }
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(&runner) {
        assert!(Instant::now() < deadline, "runner {runner} outlived prflow");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Item 3: the tree is the user's. A phase commit keeps a symlink (120000), an
/// executable (100755) and a submodule entry (160000) that no task touched exactly as
/// they were; a link the runner makes inside the repository is committed as a link.
#[test]
fn a_phase_keeps_links_executables_and_submodules() {
    let wf = json!({
        "name": "Tree",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command":
            "echo new > new.txt; ln -s README.md inside-link; chmod +x new.txt"}}],
        "tasks": [{"id": "tree", "agentId": "dev"}],
        "execution": {"checkpoints": ["tree"]}
    });
    let repo = repo_with(&wf);
    let p = repo.path();
    std::os::unix::fs::symlink("README.md", p.join("link")).unwrap();
    std::fs::write(p.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    git(p, &["add", "link", "run.sh"]);
    git(p, &["update-index", "--chmod=+x", "run.sh"]);
    let head = git(p, &["rev-parse", "HEAD"]);
    git(
        p,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{head},vendor/lib"),
        ],
    );
    git(p, &["commit", "-qm", "a link, an executable, a submodule"]);
    let before = git(p, &["ls-tree", "-r", "HEAD"]);
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["run", ".prflow/workflow.json", "--quiet"])
        .current_dir(p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let branch = git(
        p,
        &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
    );
    let after = git(p, &["ls-tree", "-r", &branch]);
    for line in before.lines() {
        assert!(after.contains(line), "`{line}` changed:\n{after}");
    }
    let mode_of = |name: &str| {
        after
            .lines()
            .find(|l| l.ends_with(&format!("\t{name}")))
            .map(|l| l[..6].to_string())
    };
    assert_eq!(mode_of("link").as_deref(), Some("120000"), "{after}");
    assert_eq!(mode_of("run.sh").as_deref(), Some("100755"), "{after}");
    assert_eq!(mode_of("vendor/lib").as_deref(), Some("160000"), "{after}");
    assert_eq!(mode_of("inside-link").as_deref(), Some("120000"), "{after}");
    assert_eq!(mode_of("new.txt").as_deref(), Some("100755"), "{after}");
    let changed = git(p, &["diff", "--name-only", "HEAD", &branch]);
    assert_eq!(changed, "inside-link\nnew.txt", "{changed}");
}

/// Item 3: a link that points outside the repository fails its task, naming it;
/// nothing of the task is committed.
#[test]
fn a_link_outside_the_repository_fails_its_task() {
    let wf = json!({
        "name": "Escape",
        "agents": [{"id": "dev", "type": "developer",
                    "runner": {"command": "echo x > ok.txt; ln -s /etc/passwd passwd"}}],
        "tasks": [{"id": "link", "agentId": "dev"}]
    });
    let repo = repo_with(&wf);
    let out = run_locally(&repo);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("`passwd` is a symbolic link to `/etc/passwd`, outside the repository"),
        "{}",
        text(&out)
    );
    let refs = git(
        repo.path(),
        &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
    );
    for branch in refs.lines() {
        let files = git(repo.path(), &["ls-tree", "-r", "--name-only", branch]);
        assert!(!files.contains("ok.txt"), "{files}");
    }
}

/// Item 6: a file over GitHub's 100 MB limit fails its task with the file and the
/// limit, found from its size before it is read (a sparse 1 GB file: reading it would
/// take a gigabyte of memory).
#[test]
fn a_file_over_100_mb_fails_its_task_before_it_is_read() {
    let wf = json!({
        "name": "Big",
        "agents": [{"id": "dev", "type": "developer",
                    "runner": {"command": "truncate -s 1G big.bin"}}],
        "tasks": [{"id": "big", "agentId": "dev"}]
    });
    let repo = repo_with(&wf);
    let started = Instant::now();
    let out = run_locally(&repo);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("`big.bin` is 1024 MB, over GitHub's limit of 100 MB per file"),
        "{}",
        text(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
