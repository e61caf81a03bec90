//! End-to-end: `prflow run --github` against the simulator. Phases become pushed
//! branches and stacked PRs; approvals continue the run only under the rules; a
//! change request revises the phase with new commits (no force push) and an
//! interdiff comment; a re-run with nothing new writes nothing.

mod common;

use common::outbox::Outbox;
use common::{git, json_as, repo_with};
use prflow::sim::Sim;
use serde_json::{json, Value};
use std::process::{Command, Output};

/// A repository whose workflow has two phases of command tasks; the revision task
/// writes the review feedback it got into a file so the test can see it arrived.
fn two_phase_workflow() -> Value {
    json!({
        "name": "Two phase app",
        "agents": [{"id": "dev", "name": "Dev Agent", "type": "developer",
                    "runner": {"command": "echo \"$PRFLOW_TASK_ID\" > \"$PRFLOW_TASK_ID.txt\"; python3 -c 'import json,os; d=json.load(open(os.environ[\"PRFLOW_TASK_JSON\"])); fb=d.get(\"feedback\"); open(\"feedback-\"+os.environ[\"PRFLOW_TASK_ID\"]+\".txt\",\"w\").write(fb[\"body\"] if fb else \"none\")'"}}],
        "tasks": [
            {"id": "design", "name": "Design", "agentId": "dev"},
            {"id": "build", "name": "Build", "agentId": "dev", "dependencies": ["design"]}
        ],
        "execution": {"checkpoints": ["design", "build"]},
        "reviewers": ["bob"]
    })
}

fn scratch_repo(wf: &Value) -> tempfile::TempDir {
    let wf = serde_json::to_string_pretty(wf).unwrap();
    repo_with(&[("README.md", "# app\n"), (".prflow/workflow.json", &wf)])
}

struct World {
    sim: Sim,
    _repo: tempfile::TempDir,
    work: tempfile::TempDir,
    bot: String,
    alice: String,
    bob: String,
    http: reqwest::Client,
    /// What the bot (`prflow-bot`, whose token the runs use) posted, and what the
    /// test read of it.
    outbox: Outbox,
}

impl World {
    async fn new() -> World {
        World::with(&two_phase_workflow()).await
    }

    async fn with(wf: &Value) -> World {
        let repo = scratch_repo(wf);
        let sim = common::sim_serving("acme/app", repo.path()).await;
        let bot = sim.create_user("prflow-bot", "write").unwrap();
        let alice = sim.create_user("alice", "write").unwrap();
        let bob = sim.create_user("bob", "write").unwrap();
        let outbox = Outbox::of(&sim, "acme/app", &bob, &["prflow-bot"]);
        World {
            outbox,
            sim,
            _repo: repo,
            work: tempfile::tempdir().unwrap(),
            bot,
            alice,
            bob,
            http: reqwest::Client::new(),
        }
    }

    /// `prflow run .prflow/workflow.json --github acme/app --json` with the bot's
    /// token, started by alice.
    async fn run(&self) -> (Output, Value) {
        let api = self.sim.api_url();
        let work = self.work.path().to_path_buf();
        let token = self.bot.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_prflow"))
                .args([
                    "run",
                    ".prflow/workflow.json",
                    "--github",
                    "acme/app",
                    "--json",
                    "--api-url",
                ])
                .arg(&api)
                .arg("--repo")
                .arg(&work)
                .env("GITHUB_TOKEN", &token)
                .env("PRFLOW_STARTER", "alice")
                // The client's retries as on GitHub, with millisecond waits: a fault
                // that outlasts them fails the run in well under a second.
                .env("PRFLOW_GITHUB_RETRY_BASE_MS", "5")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, v)
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.sim.api_url());
        json_as(self.http.get(url), &self.bob).await
    }

    /// POST `body` to `path` of the simulator's API as the user with `token`:
    /// the JSON answered.
    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.sim.api_url());
        json_as(self.http.post(url).json(&body), token).await
    }

    async fn review(
        &self,
        token: &str,
        pr: u64,
        event: &str,
        body: &str,
        comments: Value,
    ) -> reqwest::StatusCode {
        let head = self.get(&format!("/repos/acme/app/pulls/{pr}")).await["head"]["sha"].clone();
        self.http
            .post(format!(
                "{}/repos/acme/app/pulls/{pr}/reviews",
                self.sim.api_url()
            ))
            .bearer_auth(token)
            .json(&json!({"event": event, "body": body, "commit_id": head, "comments": comments}))
            .send()
            .await
            .unwrap()
            .status()
    }

    fn bare(&self) -> std::path::PathBuf {
        self.sim.bare_repo_path("acme/app")
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn writes(report: &Value) -> u64 {
    report["api_calls"]
        .as_array()
        .map(|a| a.iter().map(|c| c[2].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_become_stacked_prs_and_reviews_drive_the_run() {
    let w = World::new().await;

    // 1. Phase 1 is pushed and gets a PR on main, reviewers requested.
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["state"], "waiting-for-review", "{report}");
    let run = report["run_id"].as_str().unwrap().to_string();
    let pr1 = report["pull_request_number"].as_u64().unwrap();
    let pull = w.get(&format!("/repos/acme/app/pulls/{pr1}")).await;
    let branch1 = pull["head"]["ref"].as_str().unwrap().to_string();
    assert_eq!(branch1, format!("prflow/{run}/01-design"));
    assert_eq!(pull["base"]["ref"], "main");
    let body = pull["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("<!-- prflow:run={run} phase=1 -->")),
        "{body}"
    );
    assert!(
        body.contains("```mermaid") && body.contains("| `design`"),
        "{body}"
    );
    let requested: Vec<&str> = pull["requested_reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["login"].as_str())
        .collect();
    assert_eq!(requested, vec!["bob"]);
    let log = git(
        &w.bare(),
        &[
            "log",
            "--format=%(trailers:key=Prflow-Task,valueonly)%an",
            &branch1,
        ],
    );
    assert!(log.starts_with("design\nDev Agent"), "{log}");

    // 2. The same invocation again: nothing new, no write call.
    let (out, again) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(again["pull_request_number"], pr1);
    assert_eq!(
        writes(&again),
        0,
        "a re-run with nothing new wrote: {again}"
    );
    let pulls = w.get("/repos/acme/app/pulls?state=all").await;
    assert_eq!(pulls.as_array().unwrap().len(), 1);

    // 3. The starter's own approval does not count.
    assert!(w
        .review(&w.alice, pr1, "APPROVE", "lgtm", json!([]))
        .await
        .is_success());
    let (_, waiting) = w.run().await;
    assert_eq!(waiting["state"], "waiting-for-review");
    assert_eq!(waiting["pull_request_number"], pr1);

    // 4. Bob approves: phase 2 starts on top of phase 1, its PR based on phase 1's branch.
    assert!(w
        .review(&w.bob, pr1, "APPROVE", "ship it", json!([]))
        .await
        .is_success());
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["phase"], 2, "{report}");
    let pr2 = report["pull_request_number"].as_u64().unwrap();
    assert_ne!(pr1, pr2);
    let pull2 = w.get(&format!("/repos/acme/app/pulls/{pr2}")).await;
    assert_eq!(pull2["base"]["ref"], branch1.as_str());
    let branch2 = pull2["head"]["ref"].as_str().unwrap().to_string();
    let head2 = pull2["head"]["sha"].as_str().unwrap().to_string();
    assert_eq!(
        git(&w.bare(), &["merge-base", &branch1, &branch2]),
        git(&w.bare(), &["rev-parse", &branch1])
    );
    assert_stacked_on_phase_1(&w, &head2).await;

    // 5. Changes requested: the phase is revised with the feedback, on top, no force push.
    let status = w
        .review(
            &w.bob,
            pr2,
            "REQUEST_CHANGES",
            "please add logging",
            json!([{"path": "build.txt", "line": 1, "body": "more detail"}]),
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["state"], "waiting-for-review", "{report}");
    let new_head = w.get(&format!("/repos/acme/app/pulls/{pr2}")).await["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_head, head2);
    assert_eq!(
        git(&w.bare(), &["merge-base", &head2, &new_head]),
        head2,
        "history was rewritten"
    );
    let feedback = git(
        &w.bare(),
        &["show", &format!("{branch2}:feedback-build.txt")],
    );
    assert_eq!(feedback, "please add logging");
    let msg = git(&w.bare(), &["log", "-1", "--format=%B", &branch2]);
    assert!(
        msg.contains("Prflow-Revision: 1") && msg.contains("Prflow-Review: "),
        "{msg}"
    );
    assert_stacked_on_phase_1(&w, &new_head).await;
    let interdiff = w.outbox.comment_containing(pr2, "revision 1").await;
    assert!(
        interdiff["body"].as_str().unwrap().contains("build.txt"),
        "the interdiff comment names no changed file: {interdiff}"
    );

    // 6. Bob approves the revision: the run is finished.
    assert!(w
        .review(&w.bob, pr2, "APPROVE", "good", json!([]))
        .await
        .is_success());
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["state"], "finished", "{report}");

    // 7. `status --github` reads the run back from branches, trailers and PRs.
    let api = w.sim.api_url();
    let work = w.work.path().to_path_buf();
    let token = w.bot.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_prflow"))
            .args([
                "status",
                "--github",
                "acme/app",
                "--format",
                "json",
                "--api-url",
            ])
            .arg(&api)
            .arg("--repo")
            .arg(&work)
            .env("GITHUB_TOKEN", &token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0]["run_id"], run.as_str());
    assert_eq!(runs[0]["phases"][1]["status"], "done");
    assert_eq!(runs[0]["pull_requests"][0][0], pr1);
    assert_eq!(runs[0]["pull_requests"][1][0], pr2);
    w.outbox.assert_all_read(&w.sim);
    w.sim.shutdown().await;
}

/// Phase 2's head carries one `prflow/stack` status saying it waits for phase 1 (it
/// cannot land before the PR it stands on).
async fn assert_stacked_on_phase_1(w: &World, head: &str) {
    let statuses = w.outbox.statuses(head).await;
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert_eq!(statuses[0]["context"], "prflow/stack", "{statuses:#?}");
    assert!(
        statuses[0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("stacked on phase 1: land the stack with /prflow land"),
        "{statuses:#?}"
    );
}

/// Every write prflow makes can fail (a 5xx that outlasts the retries, or a push the
/// server drops); the next invocation must still leave exactly one branch, one PR and
/// one set of gate reports per phase — never a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_any_write_leaves_no_duplicates_after_the_next_run() {
    let faults: &[(&str, &str)] = &[
        ("POST", r"/repos/acme/app/pulls$"),
        ("POST", r"/check-runs$"),
        ("POST", r"/requested_reviewers$"),
        ("POST", r"/statuses/"),
        ("POST", r"git-receive-pack"),
        ("GET", r"/pulls/\d+/reviews$"),
    ];
    // Each fault has its own simulator and repository, so the cases run side by side.
    futures::future::join_all(
        faults
            .iter()
            .map(|&(method, path)| fail_once_at(method, path)),
    )
    .await;
}

/// One write fails (502 until cleared): the run stops; the next run finishes
/// the phase with nothing twice, and a third run writes nothing.
async fn fail_once_at(method: &str, path: &str) {
    // A workflow with a gate, so check runs are part of every phase.
    let w = World::with(&json!({
        "name": "Faults",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command": "echo $PRFLOW_TASK_ID > $PRFLOW_TASK_ID.txt"}}],
        "tasks": [{"id": "one", "agentId": "dev"}, {"id": "two", "agentId": "dev", "dependencies": ["one"]}],
        "execution": {"checkpoints": ["one"]},
        "gates": [{"name": "lint", "run": "true", "required": true}],
        "reviewers": ["bob"]
    }))
    .await;

    let status = w
        .http
        .post(format!("{}/_sim/faults", w.sim.api_url()))
        .json(&json!({"method": method, "path": path, "status": 502, "times": 50}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success());
    let (failed, _) = w.run().await;
    assert!(
        !failed.status.success(),
        "{method} {path}: the run ignored a failing write"
    );
    w.http
        .delete(format!("{}/_sim/faults", w.sim.api_url()))
        .send()
        .await
        .unwrap();
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{method} {path}: {}", stderr(&out));
    assert_eq!(
        report["state"], "waiting-for-review",
        "{method} {path}: {report}"
    );
    let (_, again) = w.run().await;
    assert_eq!(
        writes(&again),
        0,
        "{method} {path}: a settled run still wrote: {again}"
    );

    let pulls = w.get("/repos/acme/app/pulls?state=all").await;
    assert_eq!(
        pulls.as_array().unwrap().len(),
        1,
        "{method} {path}: {pulls}"
    );
    let head = pulls[0]["head"]["sha"].as_str().unwrap().to_string();
    // A person's token cannot create check runs (as on GitHub): gates are reported
    // as commit statuses, and there must be exactly one for the gate.
    let statuses = w.outbox.statuses(&head).await;
    let lint: Vec<&Value> = statuses
        .iter()
        .filter(|c| c["context"] == "prflow/lint")
        .collect();
    assert_eq!(lint.len(), 1, "{method} {path}: {statuses:#?}");
    assert_eq!(lint[0]["state"], "success");
    assert_eq!(statuses.len(), 1, "{method} {path}: {statuses:#?}");
    let branches = git(
        &w.bare(),
        &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
    );
    assert_eq!(branches.lines().count(), 1, "{method} {path}: {branches}");
    let tasks = git(
        &w.bare(),
        &[
            "log",
            "--format=%(trailers:key=Prflow-Task,valueonly)",
            "main..",
            &branches,
        ],
    );
    assert_eq!(
        tasks.split_whitespace().collect::<Vec<_>>(),
        vec!["one"],
        "{method} {path}"
    );
    w.outbox.assert_all_read(&w.sim);
    w.sim.shutdown().await;
}

/// `serve --executor actions`: the service does not run agents; it hands the phase
/// to the repository's Actions runners with a `repository_dispatch` the prflow Action
/// answers (`prflow-continue` with the run id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actions_executor_dispatches_phases_instead_of_running_them() {
    use prflow::flow::{self, Executor, FlowContext, FlowOptions, Trigger};
    let w = World::new().await;
    let ctx = FlowContext {
        github: prflow::github::GitHub::with_token(&w.sim.api_url(), &w.bot).unwrap(),
        owner: "acme".into(),
        repo: "app".into(),
        git_url: format!("{}/acme/app.git", w.sim.git_url()),
        workdir: w.work.path().to_path_buf(),
        options: FlowOptions {
            executor: Executor::Actions {
                workflow_file: "prflow.yml".into(),
            },
            trusted: true,
            quiet: true,
            ..Default::default()
        },
    };
    let report = flow::handle(
        &ctx,
        Trigger::Run {
            workflow_path: ".prflow/workflow.json".into(),
            base: None,
            starter: "alice".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.state, "dispatched", "{report:?}");
    assert!(
        w.sim
            .wait_deliveries(std::time::Duration::from_secs(5))
            .await
    );
    let dispatch = w
        .sim
        .deliveries()
        .into_iter()
        .find(|d| serde_json::to_value(d).unwrap()["event"] == "repository_dispatch")
        .expect("a repository_dispatch was sent");
    let d = serde_json::to_value(&dispatch).unwrap();
    let text = d.to_string();
    assert!(text.contains("prflow-continue"), "{text}");
    assert!(text.contains(report.run_id.as_deref().unwrap()), "{text}");
    // Nothing ran here: no phase branch was pushed.
    let branches = git(
        &w.bare(),
        &["for-each-ref", "--format=%(refname)", "refs/heads/prflow"],
    );
    assert!(branches.is_empty(), "{branches}");
    w.outbox.assert_all_read(&w.sim);
    w.sim.shutdown().await;
}

/// A person presses "Re-run" on a gate: the gate runs again on that head, on the
/// phase's changed files, and its report is updated in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerequested_gate_runs_again_on_its_head() {
    use prflow::flow::{self, FlowContext, FlowOptions, Trigger};
    use prflow::github::events::{CheckRunRerequested, WebhookEvent};
    let counter = tempfile::tempdir().unwrap();
    let count_file = counter.path().join("runs");
    let w = World::with(&json!({
        "name": "Rerun",
        "agents": [{"id": "dev", "type": "developer", "runner": {"command": "echo hi > a.txt"}}],
        "tasks": [{"id": "one", "agentId": "dev"}],
        "execution": {"checkpoints": ["one"]},
        "gates": [{"name": "lint", "run": format!("echo run >> {}", count_file.display())}]
    }))
    .await;
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pr = report["pull_request_number"].as_u64().unwrap();
    let pull = w.get(&format!("/repos/acme/app/pulls/{pr}")).await;
    let head = pull["head"]["sha"].as_str().unwrap().to_string();
    let branch = pull["head"]["ref"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(&count_file)
            .unwrap()
            .lines()
            .count(),
        1
    );

    let ctx = FlowContext {
        github: prflow::github::GitHub::with_token(&w.sim.api_url(), &w.bot).unwrap(),
        owner: "acme".into(),
        repo: "app".into(),
        git_url: format!("{}/acme/app.git", w.sim.git_url()),
        workdir: w.work.path().to_path_buf(),
        options: FlowOptions {
            trusted: true,
            quiet: true,
            ..Default::default()
        },
    };
    let event = WebhookEvent::CheckRunRerequested(CheckRunRerequested {
        repo: acme_app(),
        installation_id: None,
        check_run_id: 1,
        name: "prflow/lint".into(),
        head_sha: head.clone(),
        head_branch: Some(branch),
        external_id: None,
        sender: "bob".into(),
    });
    let report = flow::handle(&ctx, Trigger::Webhook(Box::new(event)))
        .await
        .unwrap();
    assert_eq!(report.state, "gate-rerun", "{report:?}");
    assert_eq!(
        std::fs::read_to_string(&count_file)
            .unwrap()
            .lines()
            .count(),
        2
    );
    // A person's token reports gates as commit statuses: the gate's, passing.
    let statuses = w.outbox.statuses(&head).await;
    assert!(!statuses.is_empty());
    for s in &statuses {
        assert_eq!(s["context"], "prflow/lint", "{statuses:#?}");
        assert_eq!(s["state"], "success", "{statuses:#?}");
    }
    w.outbox.assert_all_read(&w.sim);
    w.sim.shutdown().await;
}

fn flow_context(w: &World) -> prflow::flow::FlowContext {
    prflow::flow::FlowContext {
        github: prflow::github::GitHub::with_token(&w.sim.api_url(), &w.bot).unwrap(),
        owner: "acme".into(),
        repo: "app".into(),
        git_url: format!("{}/acme/app.git", w.sim.git_url()),
        workdir: w.work.path().to_path_buf(),
        options: prflow::flow::FlowOptions {
            trusted: true,
            quiet: true,
            ..Default::default()
        },
    }
}

/// `acme/app` as webhook events name it.
fn acme_app() -> prflow::github::events::EventRepo {
    prflow::github::events::EventRepo {
        owner: "acme".into(),
        name: "app".into(),
        default_branch: "main".into(),
        private: false,
        fork: false,
    }
}

/// A `/prflow` comment on `acme/app` #`issue`, as the webhook parser hands it over.
fn comment_event(
    issue: u64,
    is_pull_request: bool,
    comment_id: u64,
    author: &str,
    body: &str,
) -> prflow::github::events::CommentCommand {
    use prflow::github::events::CommentCommand;
    CommentCommand {
        repo: acme_app(),
        installation_id: None,
        issue_number: issue,
        is_pull_request,
        comment_id,
        author: author.into(),
        author_association: "MEMBER".into(),
        commands: prflow::github::parse_commands(body),
    }
}

/// A comment on `issue` by `author`, posted and handed to the core.
async fn comment(w: &World, issue: u64, author: &str, token: &str, body: &str) -> Value {
    use prflow::github::events::WebhookEvent;
    let path = format!("/repos/acme/app/issues/{issue}/comments");
    let c = w.post(token, &path, json!({"body": body})).await;
    let event = comment_event(issue, false, c["id"].as_u64().unwrap(), author, body);
    let report = prflow::flow::handle(
        &flow_context(w),
        prflow::flow::Trigger::Webhook(Box::new(WebhookEvent::CommentCommand(event))),
    )
    .await
    .unwrap();
    serde_json::to_value(report).unwrap()
}

/// Which run a comment on `issue` concerns, as `prflow serve` resolves it before
/// taking the run's lock.
async fn run_of_comment(w: &World, issue: u64, is_pull_request: bool) -> Option<String> {
    let c = comment_event(issue, is_pull_request, 1, "bob", "/prflow status");
    let client = flow_context(w).github.repo("acme", "app");
    prflow::flow::commands::run_of_comment(&client, &c)
        .await
        .unwrap()
}

/// Comment commands end to end: `/prflow run` on an issue starts the run (its status
/// comment lives there), a person's own commit on a phase branch is kept and built on,
/// `/prflow rollback` drops later phases, `/prflow land` merges the stack in order,
/// and `/prflow abort` closes what is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_commands_run_rollback_land_and_abort() {
    let w = World::new().await;
    let issue = w
        .post(
            &w.alice,
            "/repos/acme/app/issues",
            json!({"title": "Build the app"}),
        )
        .await;
    let n = issue["number"].as_u64().unwrap();
    assert_eq!(run_of_comment(&w, n, false).await, None, "no run yet");
    let started = comment(
        &w,
        n,
        "alice",
        &w.alice,
        "/prflow run .prflow/workflow.json",
    )
    .await;
    assert_eq!(started["state"], "waiting-for-review", "{started}");
    let pr1 = started["pull_request_number"].as_u64().unwrap();
    w.outbox
        .comment_containing(n, "<!-- prflow:status run=")
        .await;
    // A later comment on the issue or on the phase PR is about this run.
    let run = started["run_id"].as_str().map(str::to_string);
    assert!(run.is_some(), "{started}");
    assert_eq!(run_of_comment(&w, n, false).await, run);
    assert_eq!(run_of_comment(&w, pr1, true).await, run);

    // Bob pushes his own commit onto phase 1; it is kept, and phase 2 builds on it.
    let branch1 = w.get(&format!("/repos/acme/app/pulls/{pr1}")).await["head"]["ref"]
        .as_str()
        .unwrap()
        .to_string();
    let clone = tempfile::tempdir().unwrap();
    let url = format!("{}/acme/app.git", w.sim.git_url())
        .replace("http://", &format!("http://x-access-token:{}@", w.bob));
    git(clone.path(), &["clone", "-q", "-b", &branch1, &url, "."]);
    std::fs::write(clone.path().join("bob.txt"), "by hand\n").unwrap();
    git(clone.path(), &["add", "."]);
    git(clone.path(), &["commit", "-qm", "Bob's fix"]);
    git(clone.path(), &["push", "-q", "origin", &branch1]);
    let bobs = git(clone.path(), &["rev-parse", "HEAD"]);
    assert!(w
        .review(&w.bob, pr1, "APPROVE", "ok", json!([]))
        .await
        .is_success());
    let (out, report) = w.run().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["phase"], 2, "{report}");
    let pr2 = report["pull_request_number"].as_u64().unwrap();
    let pull2 = w.get(&format!("/repos/acme/app/pulls/{pr2}")).await;
    let branch2 = pull2["head"]["ref"].as_str().unwrap().to_string();
    assert_stacked_on_phase_1(&w, pull2["head"]["sha"].as_str().unwrap()).await;
    assert_eq!(
        git(&w.bare(), &["merge-base", &bobs, &branch2]),
        bobs,
        "phase 2 dropped Bob's commit"
    );

    // Rollback to the first checkpoint: phase 2's PR closes, its branch is rebuilt.
    let rolled = comment(&w, n, "bob", &w.bob, "/prflow rollback design").await;
    assert_eq!(rolled["state"], "waiting-for-review", "{rolled}");
    let old2 = w.get(&format!("/repos/acme/app/pulls/{pr2}")).await;
    assert_eq!(old2["state"], "closed");
    let pr2b = rolled["pull_request_number"].as_u64().unwrap();
    assert_ne!(pr2b, pr2);

    // Approve phase 2 and land: both PRs merged into main in order.
    assert!(w
        .review(&w.bob, pr2b, "APPROVE", "ok", json!([]))
        .await
        .is_success());
    let (_, fin) = w.run().await;
    assert_eq!(fin["state"], "finished", "{fin}");
    let landed = comment(&w, n, "bob", &w.bob, "/prflow land").await;
    assert_eq!(landed["state"], "landed", "{landed}");
    for pr in [pr1, pr2b] {
        let p = w.get(&format!("/repos/acme/app/pulls/{pr}")).await;
        assert_eq!(p["merged"], true, "PR #{pr}: {p}");
        // Each head says the stack is landing; phase 2's said before that it waited.
        let statuses = w.outbox.statuses(p["head"]["sha"].as_str().unwrap()).await;
        let said: Vec<&str> = statuses
            .iter()
            .map(|s| {
                assert_eq!(s["context"], "prflow/stack", "{statuses:#?}");
                s["description"].as_str().unwrap_or("")
            })
            .collect();
        assert!(
            said.contains(&"landing the stack in order"),
            "PR #{pr}: {said:?}"
        );
        if pr == pr2b {
            assert!(
                said.iter().any(|d| d.starts_with("stacked on phase 1")),
                "PR #{pr}: {said:?}"
            );
        }
    }
    let files = git(&w.bare(), &["ls-tree", "-r", "--name-only", "main"]);
    for f in ["design.txt", "build.txt", "bob.txt"] {
        assert!(files.lines().any(|l| l == f), "{f} not on main: {files}");
    }

    // A second run, aborted: its open PR is closed and nothing continues it.
    let issue2 = w
        .post(
            &w.alice,
            "/repos/acme/app/issues",
            json!({"title": "Again"}),
        )
        .await;
    let n2 = issue2["number"].as_u64().unwrap();
    let again = comment(
        &w,
        n2,
        "alice",
        &w.alice,
        "/prflow run .prflow/workflow.json",
    )
    .await;
    let pr3 = again["pull_request_number"].as_u64().unwrap();
    let aborted = comment(&w, n2, "bob", &w.bob, "/prflow abort").await;
    assert_eq!(aborted["state"], "aborted", "{aborted}");
    assert_eq!(
        w.get(&format!("/repos/acme/app/pulls/{pr3}")).await["state"],
        "closed"
    );
    let status = w
        .outbox
        .comment_containing(n2, "<!-- prflow:status run=")
        .await;
    let run2 = again["run_id"].as_str().unwrap();
    assert!(status["body"].as_str().unwrap().contains(run2), "{status}");
    w.outbox.assert_all_read(&w.sim);
    w.sim.shutdown().await;
}
