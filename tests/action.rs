//! `prflow action` as the Actions runner starts it: the real binary, the runner's
//! environment (`GITHUB_*`, `INPUT_*`), an event payload file shaped like GitHub's
//! (tests/fixtures/action/, copied from GitHub's webhook examples), and temporary
//! `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files. The end-to-end tests use the
//! simulator as the API and the git remote, with an installation token as
//! `GITHUB_TOKEN` is on a real runner.

mod common;

use common::outbox::Outbox;
use common::{git, json_as, repo_with};
use prflow::github::{AppAuth, Auth, GitHub, GitHubConfig};
use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

// ---------- the step ----------

/// One invocation: files the runner would create, and the environment.
struct Step {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Step {
    /// A step for `event` with `payload`, on `acme/shop`, API at `api_url`.
    fn new(event: &str, payload: &Value, workspace: &Path, api_url: &str, token: &str) -> Step {
        let dir = tempfile::tempdir().unwrap();
        let event_path = dir.path().join("event.json");
        std::fs::write(&event_path, serde_json::to_vec_pretty(payload).unwrap()).unwrap();
        let env = [
            ("GITHUB_EVENT_NAME", event.to_string()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_REPOSITORY", "acme/shop".into()),
            ("GITHUB_API_URL", api_url.to_string()),
            ("GITHUB_SERVER_URL", api_url.to_string()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            (
                "GITHUB_OUTPUT",
                dir.path().join("output").display().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY",
                dir.path().join("summary.md").display().to_string(),
            ),
            ("GITHUB_ACTOR", "alice".into()),
            ("GITHUB_RUN_ID", "4242".into()),
            ("INPUT_TOKEN", token.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Step { dir, env }
    }

    fn set(mut self, key: &str, value: &str) -> Step {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    fn run(&self) -> Output {
        run_action(&self.env)
    }

    /// The outputs written to `GITHUB_OUTPUT`, parsed as the runner parses them.
    fn outputs(&self) -> HashMap<String, String> {
        let text = std::fs::read_to_string(self.dir.path().join("output")).unwrap_or_default();
        parse_outputs(&text)
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary.md")).unwrap_or_default()
    }
}

/// Runs `prflow action` with exactly `env` (plus PATH and HOME, as a runner has).
fn run_action(env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prflow"));
    cmd.arg("action").env_clear();
    for keep in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(keep) {
            cmd.env(keep, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `name<<DELIM` … `DELIM` blocks (and `name=value` lines) → map; panics on a
/// malformed file, like the runner would fail the step.
fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let l = lines
                    .next()
                    .unwrap_or_else(|| panic!("unterminated output {name}: {text}"));
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else if !line.is_empty() {
            panic!("malformed output line {line:?} in {text}");
        }
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn log(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// ---------- payloads ----------

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/action")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn repo_json() -> Value {
    json!({"id": 1, "name": "shop", "full_name": "acme/shop", "private": false, "fork": false,
           "owner": {"login": "acme", "type": "Organization"}, "default_branch": "main"})
}

/// GitHub's example payload for `event`, moved to acme/shop.
fn payload(event: &str) -> Value {
    let mut p = fixture(event);
    p["repository"] = repo_json();
    p.as_object_mut().unwrap().remove("organization");
    p.as_object_mut().unwrap().remove("installation");
    p
}

fn dispatch(workflow_input: Option<&str>, sender: &str) -> Value {
    let mut p = payload("workflow_dispatch");
    p["ref"] = json!("refs/heads/main");
    p["inputs"] = match workflow_input {
        Some(w) => json!({ "workflow": w }),
        None => json!({}),
    };
    p["sender"]["login"] = json!(sender);
    p
}

/// A submitted review of pull `number` (head `head_ref` at `sha`) by `reviewer`.
fn review(
    number: u64,
    head_ref: &str,
    sha: &str,
    base_ref: &str,
    state: &str,
    reviewer: &str,
    head_repo: Value,
) -> Value {
    let mut p = payload("pull_request_review");
    p["action"] = json!("submitted");
    p["review"]["state"] = json!(state);
    p["review"]["user"]["login"] = json!(reviewer);
    p["review"]["commit_id"] = json!(sha);
    p["sender"]["login"] = json!(reviewer);
    let pr = &mut p["pull_request"];
    pr["number"] = json!(number);
    pr["head"]["ref"] = json!(head_ref);
    pr["head"]["sha"] = json!(sha);
    pr["head"]["repo"] = head_repo;
    pr["base"]["ref"] = json!(base_ref);
    pr["base"]["repo"] = repo_json();
    p
}

fn comment(number: u64, author: &str, body: &str) -> Value {
    let mut p = payload("issue_comment");
    p["action"] = json!("created");
    p["issue"]["number"] = json!(number);
    p["issue"]["pull_request"] =
        json!({"url": format!("https://api.github.com/repos/acme/shop/pulls/{number}")});
    p["comment"]["body"] = json!(body);
    p["comment"]["user"]["login"] = json!(author);
    p["comment"]["user"]["type"] = json!("User");
    p["sender"]["login"] = json!(author);
    p
}

// ---------- without a server ----------

const NO_API: &str = "http://127.0.0.1:9";

#[test]
fn missing_environment_is_named_and_exits_2() {
    let out = run_action(&[("GITHUB_EVENT_NAME".into(), "workflow_dispatch".into())]);
    assert_eq!(out.status.code(), Some(2), "{}", log(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "::error title=prflow::missing environment variables GITHUB_EVENT_PATH, \
             GITHUB_REPOSITORY, GITHUB_WORKSPACE"
        ),
        "{text}"
    );
    let out = run_action(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", log(&out));
    assert!(stdout(&out).contains("missing environment variable GITHUB_EVENT_NAME"));
}

#[test]
fn no_token_is_a_clear_error() {
    let ws = tempfile::tempdir().unwrap();
    let step = Step::new(
        "workflow_dispatch",
        &dispatch(None, "alice"),
        ws.path(),
        NO_API,
        "",
    )
    .set("INPUT_TOKEN", "");
    let out = step.run();
    assert_eq!(out.status.code(), Some(2), "{}", log(&out));
    assert!(stdout(&out).contains("no GitHub token"), "{}", log(&out));
}

#[test]
fn unsupported_events_get_a_notice_and_exit_0() {
    for event in ["push", "schedule"] {
        let out = run_action(&[("GITHUB_EVENT_NAME".into(), event.into())]);
        assert_eq!(out.status.code(), Some(0), "{}", log(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!(
                "::notice title=prflow::prflow does not act on `{event}` events"
            )),
            "{text}"
        );
        assert!(text.contains("workflow_dispatch, issue_comment"), "{text}");
    }
}

#[test]
fn an_invalid_workflow_file_becomes_file_annotations_and_exit_1() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join("flows")).unwrap();
    std::fs::write(
        ws.path().join("flows/shop.json"),
        "{\n  \"name\": \"shop\",\n  \"agents\": [{\"id\": \"dev\", \"type\": \"coder\"}],\n  \"tasks\": [\n    {\"id\": \"a\", \"agentId\": \"ghost\"}\n  ]\n}\n",
    )
    .unwrap();
    let step = Step::new(
        "workflow_dispatch",
        &dispatch(Some("flows/shop.json"), "alice"),
        ws.path(),
        NO_API,
        "t0k3n",
    );
    let out = step.run();
    assert_eq!(out.status.code(), Some(1), "{}", log(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no error annotation: {text}"));
    assert!(
        line.starts_with(
            "::error title=prflow%3A invalid workflow file,file=flows/shop.json,line=5,col="
        ),
        "{line}"
    );
    assert!(line.contains("ghost"), "{line}");
    assert!(line.contains("(at /tasks/0/agentId)"), "{line}");
    assert_eq!(step.outputs()["state"], "error");
    let summary = step.summary();
    assert!(
        summary.contains("**prflow stopped with an error:**")
            && summary.contains("flows/shop.json:5:"),
        "{summary}"
    );
    assert!(!text.contains("t0k3n"));
}

#[test]
fn a_commenting_review_writes_multiline_safe_outputs_and_does_nothing() {
    let ws = tempfile::tempdir().unwrap();
    let p = review(2, "feature", "abc", "main", "commented", "bob", repo_json());
    let step = Step::new("pull_request_review", &p, ws.path(), NO_API, "t");
    let out = step.run();
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert!(stdout(&out).contains(
        "::notice title=prflow::Nothing to do: a review `submitted` with state `commented`"
    ));
    let raw = std::fs::read_to_string(step.dir.path().join("output")).unwrap();
    assert!(
        raw.starts_with("run-id<<ghadelimiter_"),
        "not the heredoc form: {raw}"
    );
    let outputs = step.outputs();
    assert_eq!(outputs["state"], "ignored");
    assert_eq!(outputs["run-id"], "");
    let mut names: Vec<_> = outputs.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "phase",
            "pull-request-number",
            "pull-request-url",
            "run-id",
            "state"
        ]
    );
}

#[test]
fn a_review_of_a_fork_pull_request_is_not_trusted() {
    let ws = tempfile::tempdir().unwrap();
    let fork = json!({"name": "shop", "full_name": "mallory/shop", "owner": {"login": "mallory"}});
    let p = review(7, "patch-1", "abc", "main", "approved", "bob", fork);
    let step = Step::new("pull_request_review", &p, ws.path(), NO_API, "t")
        .set("OPENAI_API_KEY", "sk-very-secret");
    let out = step.run();
    let text = stdout(&out);
    assert!(
        text.contains(
            "::warning title=prflow%3A event from a fork::This event is not trusted: pull request \
             #7 comes from the fork mallory/shop, not from acme/shop. prflow will not run `command` runners"
        ),
        "{}",
        log(&out)
    );
    assert!(!log(&out).contains("sk-very-secret"));
}

// ---------- end to end against the simulator ----------

/// acme/shop: a two-phase workflow of command tasks with a command gate.
fn shop_workflow() -> Value {
    json!({
        "name": "Shop",
        "agents": [{"id": "dev", "name": "Dev Agent", "type": "developer",
                    "runner": {"command": "echo \"$PRFLOW_TASK_ID\" > \"$PRFLOW_TASK_ID.txt\""}}],
        "tasks": [
            {"id": "design", "name": "Design", "agentId": "dev"},
            {"id": "build", "name": "Build", "agentId": "dev", "dependencies": ["design"]}
        ],
        "execution": {"checkpoints": ["design", "build"]},
        "gates": [{"name": "has-design", "run": "test -f design.txt", "required": true}],
        "reviewers": ["bob"]
    })
}

fn shop_repo(wf: &Value) -> tempfile::TempDir {
    let wf = serde_json::to_string_pretty(wf).unwrap();
    repo_with(&[("README.md", "# shop\n"), ("flows/shop.json", &wf)])
}

struct World {
    sim: Sim,
    repo: tempfile::TempDir,
    /// GITHUB_WORKSPACE: a checkout of the repository, as actions/checkout leaves it.
    workspace: tempfile::TempDir,
    /// An installation token, like GITHUB_TOKEN on a runner.
    token: String,
    alice: String,
    bob: String,
    http: reqwest::Client,
}

impl World {
    async fn new() -> World {
        World::with_workflow(&shop_workflow()).await
    }

    async fn with_workflow(wf: &Value) -> World {
        let repo = shop_repo(wf);
        let sim = Sim::start(SimConfig {
            repos: vec![("acme/shop".into(), repo.path().to_path_buf())],
            ..Default::default()
        })
        .await
        .unwrap();
        let alice = sim.create_user("alice", "write").unwrap();
        let bob = sim.create_user("bob", "write").unwrap();
        let app = AppAuth::new(sim.app_id(), sim.private_key_pem().as_bytes()).unwrap();
        let gh = GitHub::new(GitHubConfig::new(sim.api_url()), Auth::App(Arc::new(app))).unwrap();
        let token = gh
            .installation(sim.installation_id(), None, Default::default())
            .unwrap()
            .token()
            .await
            .unwrap()
            .expect("an installation token")
            .expose()
            .to_string();
        let workspace = tempfile::tempdir().unwrap();
        let src = repo.path().display().to_string();
        let dst = workspace.path().join("shop");
        git(
            workspace.path(),
            &["clone", "-q", &src, dst.to_str().unwrap()],
        );
        World {
            sim,
            repo,
            workspace,
            token,
            alice,
            bob,
            http: reqwest::Client::new(),
        }
    }

    fn ws(&self) -> PathBuf {
        self.workspace.path().join("shop")
    }

    fn step(&self, event: &str, payload: &Value) -> Step {
        Step::new(event, payload, &self.ws(), &self.sim.api_url(), &self.token)
    }

    async fn run(&self, step: Step) -> (Step, Output) {
        tokio::task::spawn_blocking(move || {
            let out = step.run();
            (step, out)
        })
        .await
        .unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.sim.api_url());
        json_as(self.http.get(url), &self.bob).await
    }

    /// Alice comments `body` on issue or pull `n` (the comment must exist: prflow reacts to it).
    async fn comment(&self, n: u64, body: &str) -> Value {
        let url = format!("{}/repos/acme/shop/issues/{n}/comments", self.sim.api_url());
        let created = json_as(
            self.http.post(url).json(&json!({ "body": body })),
            &self.alice,
        )
        .await;
        let mut p = comment(n, "alice", body);
        p["comment"]["id"] = created["id"].clone();
        p
    }

    /// Bob approves pull `n` on its current head; returns (head ref, head sha, base ref).
    async fn approve(&self, n: u64) -> (String, String, String) {
        let pull = self.get(&format!("/repos/acme/shop/pulls/{n}")).await;
        let head = pull["head"]["sha"].as_str().unwrap().to_string();
        let status = self
            .http
            .post(format!(
                "{}/repos/acme/shop/pulls/{n}/reviews",
                self.sim.api_url()
            ))
            .bearer_auth(&self.bob)
            .json(&json!({"event": "APPROVE", "body": "ship it", "commit_id": head}))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "review: {status}");
        (
            pull["head"]["ref"].as_str().unwrap().to_string(),
            head,
            pull["base"]["ref"].as_str().unwrap().to_string(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_drives_the_run_end_to_end() {
    let w = World::new().await;

    // workflow_dispatch (the `workflow` input of the dispatch): phase 1 starts.
    let (step, out) = w
        .run(w.step(
            "workflow_dispatch",
            &dispatch(Some("flows/shop.json"), "alice"),
        ))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let o = step.outputs();
    assert_eq!(o["state"], "waiting-for-review", "{o:?}\n{}", log(&out));
    assert_eq!(o["phase"], "1");
    let run = o["run-id"].clone();
    let pr1: u64 = o["pull-request-number"].parse().unwrap();
    assert!(
        o["pull-request-url"].ends_with(&format!("/pull/{pr1}")),
        "{o:?}"
    );
    let pull = w.get(&format!("/repos/acme/shop/pulls/{pr1}")).await;
    let branch1 = format!("prflow/{run}/01-design");
    assert_eq!(pull["head"]["ref"], branch1.as_str());
    assert_eq!(pull["base"]["ref"], "main");
    let bare = w.sim.bare_repo_path("acme/shop");
    assert_eq!(
        git(&bare, &["show", &format!("{branch1}:design.txt")]),
        "design"
    );
    let head1 = pull["head"]["sha"].as_str().unwrap().to_string();
    let outbox = Outbox::new(&w.sim, "acme/shop", &w.bob);
    let checks = outbox.check_runs(&head1).await;
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["prflow/has-design"], "{checks:?}");
    assert_eq!(checks[0]["conclusion"], "success", "{checks:?}");
    let summary = step.summary();
    assert!(
        summary.starts_with("## prflow · `workflow_dispatch` on acme/shop"),
        "{summary}"
    );
    assert!(summary.contains(&format!("run `{run}`")), "{summary}");
    assert!(summary.contains("```mermaid"), "{summary}");
    assert!(
        summary.contains("/acme/shop/actions/runs/4242"),
        "{summary}"
    );

    // issue_comment `/prflow status`: the status comment on the PR.
    let (step, out) = w
        .run(w.step("issue_comment", &w.comment(pr1, "/prflow status").await))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert_eq!(step.outputs()["run-id"], run);
    outbox
        .comment_containing(pr1, "Status requested by @alice")
        .await;

    // pull_request_review: bob's approval continues with phase 2, stacked on phase 1.
    let (head_ref, sha, base) = w.approve(pr1).await;
    let p = review(pr1, &head_ref, &sha, &base, "approved", "bob", repo_json());
    let (step, out) = w.run(w.step("pull_request_review", &p)).await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let o = step.outputs();
    assert_eq!(o["phase"], "2", "{o:?}\n{}", log(&out));
    assert_eq!(o["state"], "waiting-for-review");
    let pr2: u64 = o["pull-request-number"].parse().unwrap();
    assert_ne!(pr1, pr2);
    let pull2 = w.get(&format!("/repos/acme/shop/pulls/{pr2}")).await;
    assert_eq!(pull2["base"]["ref"], branch1.as_str());
    let head2 = pull2["head"]["sha"].as_str().unwrap();
    let checks = outbox.check_runs(head2).await;
    let gates: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["conclusion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(gates, [("prflow/has-design", "success")], "{checks:?}");
    // Phase 2 cannot land before phase 1: its stack status says so.
    let stack = outbox.statuses(head2).await;
    assert_eq!(stack.len(), 1, "{stack:?}");
    assert_eq!(stack[0]["context"], "prflow/stack");
    assert_eq!(stack[0]["state"], "pending", "{stack:?}");
    assert!(
        stack[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("stacked on phase 1"),
        "{stack:?}"
    );

    // repository_dispatch `prflow-continue` after the last approval: finished.
    w.approve(pr2).await;
    let mut p = payload("repository_dispatch");
    p["action"] = json!("prflow-continue");
    p["branch"] = json!("main");
    p["client_payload"] = json!({ "run_id": run });
    let (step, out) = w.run(w.step("repository_dispatch", &p)).await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert_eq!(step.outputs()["state"], "finished", "{}", log(&out));
    assert_eq!(step.outputs()["run-id"], run);

    outbox.assert_all_read(&w.sim);
    drop(w.repo);
    w.sim.shutdown().await;
}

/// GitHub's `pull_request` `closed` payload for PR `number`, merged or not.
fn closed(number: u64, head_ref: &str, base_ref: &str, merged: bool) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/webhooks/pull_request/closed.payload.json");
    let mut p: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    p["repository"] = repo_json();
    p.as_object_mut().unwrap().remove("organization");
    p.as_object_mut().unwrap().remove("installation");
    p["sender"]["login"] = json!("alice");
    let pr = &mut p["pull_request"];
    pr["number"] = json!(number);
    pr["merged"] = json!(merged);
    pr["head"]["ref"] = json!(head_ref);
    pr["base"]["ref"] = json!(base_ref);
    pr["head"]["repo"] = repo_json();
    pr["base"]["repo"] = repo_json();
    p
}

/// The case a team meets on its first merge: the repository deletes head branches on
/// merge (GitHub retargets PR 2 to `main` and deletes phase 1's branch), and the Action
/// that handles `pull_request` `closed` starts from a fresh checkout of `main` with
/// no phase branch in it. PR 2 must still be restacked onto `main`, by a merge commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squash_merge_that_deleted_the_branch_restacks_from_a_fresh_checkout() {
    let w = World::new().await;
    let (step, out) = w
        .run(w.step(
            "workflow_dispatch",
            &dispatch(Some("flows/shop.json"), "alice"),
        ))
        .await;
    assert_eq!(
        step.outputs()["state"],
        "waiting-for-review",
        "{}",
        log(&out)
    );
    let pr1: u64 = step.outputs()["pull-request-number"].parse().unwrap();
    let (head_ref, sha, base) = w.approve(pr1).await;
    let p = review(pr1, &head_ref, &sha, &base, "approved", "bob", repo_json());
    let (step, out) = w.run(w.step("pull_request_review", &p)).await;
    assert_eq!(
        step.outputs()["state"],
        "waiting-for-review",
        "{}",
        log(&out)
    );
    let pr2: u64 = step.outputs()["pull-request-number"].parse().unwrap();
    let old_head = w.get(&format!("/repos/acme/shop/pulls/{pr2}")).await["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();

    // A person squash-merges PR 1 in a repository that deletes merged branches.
    let api = w.sim.api_url();
    let patched = w
        .http
        .patch(format!("{api}/repos/acme/shop"))
        .bearer_auth(&w.alice)
        .json(&json!({"delete_branch_on_merge": true}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(patched.is_success(), "{patched}");
    let merged = w
        .http
        .put(format!("{api}/repos/acme/shop/pulls/{pr1}/merge"))
        .bearer_auth(&w.alice)
        .json(&json!({"merge_method": "squash"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(merged, 200);
    let branch = w
        .get(&format!("/repos/acme/shop/branches/{head_ref}"))
        .await;
    assert_eq!(branch["message"], "Branch not found", "{branch}");

    // The next job: actions/checkout of main, from the simulator, into a new workspace.
    let fresh = tempfile::tempdir().unwrap();
    let bare = w.sim.bare_repo_path("acme/shop");
    git(
        fresh.path(),
        &[
            "clone",
            "-q",
            "--single-branch",
            "--branch",
            "main",
            bare.to_str().unwrap(),
            "shop",
        ],
    );
    let event = closed(pr1, &head_ref, "main", true);
    let step = Step::new(
        "pull_request",
        &event,
        &fresh.path().join("shop"),
        &api,
        &w.token,
    );
    let (step, out) = w.run(step).await;
    let said = format!("{}\n{}\n{:?}", log(&out), step.summary(), step.outputs());
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(step.outputs()["state"], "waiting-for-review", "{said}");
    let pull2 = w.get(&format!("/repos/acme/shop/pulls/{pr2}")).await;
    assert_eq!(pull2["base"]["ref"], "main", "{pull2}");
    let files = w.get(&format!("/repos/acme/shop/pulls/{pr2}/files")).await;
    let names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["filename"].as_str())
        .collect();
    assert_eq!(names, ["build.txt"], "only phase 2's files");
    let new_head = pull2["head"]["sha"].as_str().unwrap();
    let parents = git(&bare, &["log", "-1", "--format=%P", new_head]);
    assert!(
        parents.starts_with(&old_head),
        "a merge commit on PR 2's old head, never a force push: {parents}"
    );
    let body = pull2["body"].as_str().unwrap();
    assert!(body.contains("this PR now targets `main`"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_review_never_runs_command_runners() {
    let w = World::new().await;
    let (step, out) = w
        .run(w.step(
            "workflow_dispatch",
            &dispatch(Some("flows/shop.json"), "alice"),
        ))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let pr1: u64 = step.outputs()["pull-request-number"].parse().unwrap();
    let run = step.outputs()["run-id"].clone();
    let (head_ref, sha, base) = w.approve(pr1).await;
    let fork = json!({"name": "shop", "full_name": "mallory/shop", "owner": {"login": "mallory"}});
    let p = review(pr1, &head_ref, &sha, &base, "approved", "bob", fork);
    let (step, out) = w.run(w.step("pull_request_review", &p)).await;
    assert_eq!(out.status.code(), Some(1), "{}", log(&out));
    let text = stdout(&out);
    assert!(text.contains("event from a fork"), "{text}");
    assert!(
        text.contains("will not run `command` runners (design, build)"),
        "{text}"
    );
    assert_eq!(step.outputs()["state"], "error");
    let bare = w.sim.bare_repo_path("acme/shop");
    let branches = git(&bare, &["branch", "--list", &format!("prflow/{run}/*")]);
    assert!(
        !branches.contains("02-build"),
        "phase 2 started: {branches}"
    );
    w.sim.shutdown().await;
}

// ---------- the installer of action.yml ----------

/// A fake release `v9.9.9` under `dir` (the layout release.yml uploads), with a
/// SHA256SUMS that is right, or wrong when `tamper`.
fn fake_release(dir: &Path, tamper: bool) {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("prflow"), "#!/bin/sh\necho 'prflow 9.9.9'\n").unwrap();
    let rel = dir.join("v9.9.9");
    std::fs::create_dir_all(&rel).unwrap();
    let asset = "prflow-v9.9.9-x86_64-unknown-linux-gnu.tar.gz";
    let ok = Command::new("tar")
        .arg("-C")
        .arg(&stage)
        .arg("-czf")
        .arg(rel.join(asset))
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    let out = Command::new("sha256sum")
        .arg(asset)
        .current_dir(&rel)
        .output()
        .unwrap();
    let mut sums = String::from_utf8(out.stdout).unwrap();
    if tamper {
        sums = format!("{}{}", "0".repeat(64), &sums[64..]);
    }
    std::fs::write(rel.join("SHA256SUMS"), sums).unwrap();
}

fn install(dir: &Path, os: &str, path_env: Option<&str>) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/install.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .env("PRFLOW_REF", "v9.9.9")
        .env("PRFLOW_REPOSITORY", "acme/prflow")
        .env("PRFLOW_DOWNLOAD_BASE", format!("file://{}", dir.display()))
        .env("PRFLOW_INSTALL_DIR", dir.join("bin"))
        .env("RUNNER_OS", os)
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env_remove("GITHUB_PATH");
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    cmd.output().unwrap()
}

#[test]
fn the_installer_verifies_the_release_checksum() {
    let t = tempfile::tempdir().unwrap();
    fake_release(t.path(), false);
    let out = install(t.path(), "Linux", None);
    assert!(out.status.success(), "{}", log(&out));
    let bin = t.path().join("bin/prflow");
    let outputs = std::fs::read_to_string(t.path().join("output")).unwrap();
    assert_eq!(outputs, format!("bin={}\n", bin.display()));
    let ran = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "prflow 9.9.9\n");

    let t = tempfile::tempdir().unwrap();
    fake_release(t.path(), true);
    let out = install(t.path(), "Linux", None);
    assert_eq!(out.status.code(), Some(1), "{}", log(&out));
    assert!(
        stdout(&out).contains("::error title=prflow install::checksum mismatch for prflow-v9.9.9-x86_64-unknown-linux-gnu.tar.gz"),
        "{}",
        log(&out)
    );
    assert!(!t.path().join("bin/prflow").exists());
}

#[test]
fn the_installer_finds_its_ref_from_the_action_path_when_the_context_is_empty() {
    // github.action_ref can be empty in composite actions; the runner checks the
    // action out at _actions/OWNER/NAME/REF/<subdir>.
    let t = tempfile::tempdir().unwrap();
    fake_release(t.path(), false);
    let action_path = t.path().join("_actions/acme/prflow/v9.9.9/action");
    std::fs::create_dir_all(&action_path).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/install.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("PRFLOW_REF", "")
        .env("PRFLOW_REPOSITORY", "")
        .env("GITHUB_ACTION_PATH", &action_path)
        .env(
            "PRFLOW_DOWNLOAD_BASE",
            format!("file://{}", t.path().display()),
        )
        .env("PRFLOW_INSTALL_DIR", t.path().join("bin"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", log(&out));
    assert!(t.path().join("bin/prflow").exists());
}

#[test]
fn without_a_prebuilt_binary_or_cargo_the_installer_says_what_to_do() {
    if Path::new("/usr/bin/cargo").exists() || Path::new("/bin/cargo").exists() {
        return; // cargo would be found: the fallback would build from the network
    }
    let t = tempfile::tempdir().unwrap();
    fake_release(t.path(), false);
    let out = install(t.path(), "Windows", Some("/usr/bin:/bin"));
    assert_eq!(out.status.code(), Some(1), "{}", log(&out));
    let text = log(&out);
    assert!(
        text.contains("no prebuilt binary for Windows/X64"),
        "{text}"
    );
    assert!(
        text.contains("cargo is not installed on this runner"),
        "{text}"
    );
}

// ---------- the documented workflow ----------

#[test]
fn the_documented_workflow_is_the_checked_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/action.md")).unwrap();
    let start = doc
        .find("```yaml\n")
        .expect("a yaml block in docs/action.md")
        + 8;
    let end = start + doc[start..].find("```\n").unwrap();
    let documented = common::yaml::one(&doc[start..end]).unwrap();
    let example = common::yaml::one(
        &std::fs::read_to_string(root.join("examples/github-action.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        documented, example,
        "docs/action.md and examples/github-action.yml differ"
    );
    let perms = &example["permissions"];
    let mut granted: Vec<(String, String)> = perms
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().into()))
        .collect();
    granted.sort();
    let write = |s: &str| (s.to_string(), "write".to_string());
    assert_eq!(
        granted,
        vec![
            write("checks"),
            write("contents"),
            write("issues"),
            write("pull-requests"),
            write("statuses")
        ]
    );
    assert_eq!(
        example["concurrency"]["cancel-in-progress"],
        Value::Bool(false)
    );
    let on = &example["on"];
    for event in [
        "workflow_dispatch",
        "issue_comment",
        "pull_request_review",
        "repository_dispatch",
    ] {
        assert!(
            on.get(event).is_some(),
            "the example does not trigger on {event}"
        );
    }
    assert_eq!(on["repository_dispatch"]["types"][0], "prflow-continue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_review_gives_gates_no_secrets() {
    // Template runners are allowed for untrusted events; the gate passes only
    // when the secrets the job passed in are gone from prflow's environment.
    let wf = json!({
        "name": "Docs",
        "agents": [{"id": "writer", "name": "Writer", "type": "writer"}],
        "tasks": [
            {"id": "intro", "name": "Intro", "type": "documentation", "agentId": "writer"},
            {"id": "guide", "name": "Guide", "type": "documentation", "agentId": "writer",
             "dependencies": ["intro"]}
        ],
        "execution": {"checkpoints": ["intro", "guide"]},
        "gates": [{"name": "no-secrets", "run": "test -z \"$LEAKY_API_KEY$DATABASE_URL\"", "required": true}],
        "reviewers": ["bob"]
    });
    let w = World::with_workflow(&wf).await;
    let (step, out) = w
        .run(w.step(
            "workflow_dispatch",
            &dispatch(Some("flows/shop.json"), "alice"),
        ))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let pr1: u64 = step.outputs()["pull-request-number"].parse().unwrap();
    let (head_ref, sha, base) = w.approve(pr1).await;
    let fork = json!({"name": "shop", "full_name": "mallory/shop", "owner": {"login": "mallory"}});
    let p = review(pr1, &head_ref, &sha, &base, "approved", "bob", fork);
    let step = w
        .step("pull_request_review", &p)
        .set("LEAKY_API_KEY", "sk-leak")
        .set("DATABASE_URL", "postgres://u:p@db/x");
    let (step, out) = w.run(step).await;
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert!(stdout(&out).contains("event from a fork"), "{}", log(&out));
    let o = step.outputs();
    assert_eq!(o["phase"], "2", "{o:?}");
    let pull2 = w
        .get(&format!(
            "/repos/acme/shop/pulls/{}",
            o["pull-request-number"]
        ))
        .await;
    let head2 = pull2["head"]["sha"].as_str().unwrap();
    let checks = w
        .get(&format!("/repos/acme/shop/commits/{head2}/check-runs"))
        .await;
    let gate = &checks["check_runs"][0];
    assert_eq!(gate["name"], "prflow/no-secrets", "{checks}");
    assert_eq!(
        gate["conclusion"], "success",
        "a secret reached the gate: {checks}"
    );
    w.sim.shutdown().await;
}
