//! The llm runner against fake OpenAI-compatible and Anthropic servers on loopback:
//! real HTTP, the real binary, real git repositories.

use prflow::agents::llm::LlmRunner;
use prflow::agents::{Feedback, InlineComment, Runner, TaskRequest, TreeView};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
mod common;

use common::{all_refs, git, git_repo as repo, json_as, prflow_branches, text, write_workflow};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const KEY: &str = "sk-test-SECRET-0123456789abcdef";
const KEY_ENV: &str = "PRFLOW_TEST_LLM_KEY";

/// One request the fake server received.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// A canned answer: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);
type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    /// A server on 127.0.0.1:0 answering each request with `handler(request, n)`
    /// (`n` counts from 0) and recording it.
    fn start(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let rec = Recorded {
                    path,
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(rec.clone());
                    l.len() - 1
                };
                let (status, extra, text) = handler(&rec, n);
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    text.len()
                );
                for (k, v) in extra {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&text);
                let _ = stream.write_all(out.as_bytes());
            }
        });
        Fake { base, seen }
    }

    fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

/// An OpenAI Chat Completions reply whose message is `content`.
fn openai_reply(content: &str) -> Reply {
    let body = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}]
    });
    (200, vec![], body.to_string())
}

/// The user message of an OpenAI request.
fn openai_user(r: &Recorded) -> String {
    r.body["messages"][1]["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn openai_system(r: &Recorded) -> String {
    r.body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Which task a request is for, from the user message ("Task `id`").
fn task_of(user: &str) -> String {
    user.split("Task `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .unwrap_or("?")
        .to_string()
}

/// `prflow run` with the key in the environment (or not).
fn run(repo: &Path, wf: &Path, key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prflow"));
    cmd.arg("run")
        .arg(wf)
        .arg("--repo")
        .arg(repo)
        .arg("-q")
        .env_remove(KEY_ENV)
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1");
    if let Some(k) = key {
        cmd.env(KEY_ENV, k);
    }
    cmd.output().unwrap()
}

fn phase_branch(repo: &Path) -> String {
    prflow_branches(repo)
        .into_iter()
        .next()
        .expect("a phase branch")
}

/// A workflow whose one agent is an llm runner at `base`.
fn workflow(provider: &str, base: &str, tasks: Value) -> Value {
    json!({
        "name": "LLM flow",
        "outputDir": "out",
        "agents": [{
            "id": "dev", "name": "Backend Dev", "type": "developer",
            "capabilities": ["rust", "http"],
            "runner": {"llm": {"provider": provider, "model": "test-model",
                               "baseUrl": base, "apiKeyEnv": KEY_ENV}}
        }],
        "tasks": tasks
    })
}

fn two_tasks() -> Value {
    json!([
        {"id": "api", "name": "Write the API", "agentId": "dev",
         "input": {"framework": "axum", "port": 8080}},
        {"id": "docs", "name": "Document it", "agentId": "dev", "dependencies": ["api"]}
    ])
}

#[test]
fn a_two_task_workflow_commits_what_the_model_wrote() {
    let fake = Fake::start(|r, _| {
        let task = task_of(&openai_user(r));
        let answer = json!({
            "files": [{"path": format!("{task}/main.txt"), "content": format!("written for {task}\n")}],
            "summary": format!("wrote {task}")
        });
        openai_reply(&answer.to_string())
    });
    let dir = repo();
    let r = dir.path();
    let wf = write_workflow(
        r,
        "wf.json",
        &workflow("openai", &format!("{}/v1", fake.base), two_tasks()),
    );
    let out = run(r, &wf, Some(KEY));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(KEY));

    let b = phase_branch(r);
    let log = git(
        r,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Prflow-Task,valueonly)",
            &format!("main..{b}"),
        ],
    );
    let tasks: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(tasks, ["api", "docs"], "one commit per task");
    assert_eq!(
        git(r, &["show", &format!("{b}:out/api/main.txt")]),
        "written for api"
    );
    assert_eq!(
        git(r, &["show", &format!("{b}:out/docs/main.txt")]),
        "written for docs"
    );
    let first = git(r, &["log", "--format=%B", "-1", &format!("{b}~1")]);
    assert!(
        first.contains("wrote api"),
        "summary in the commit: {first}"
    );

    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for req in &seen {
        assert_eq!(req.path, "/v1/chat/completions");
        assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
        assert_eq!(req.body["model"], "test-model");
        assert_eq!(req.body["response_format"]["type"], "json_object");
        let system = openai_system(req);
        assert!(
            system.contains("Backend Dev")
                && system.contains("developer")
                && system.contains("rust, http"),
            "{system}"
        );
        assert!(
            system.contains("\"files\"") && system.contains("`out/`"),
            "{system}"
        );
    }
    let api = openai_user(&seen[0]);
    assert!(
        api.contains("Task `api`") && api.contains("Write the API"),
        "{api}"
    );
    assert!(
        api.contains("\"framework\": \"axum\"") && api.contains("8080"),
        "{api}"
    );
    assert!(api.contains("LLM flow"), "{api}");
    // The second task sees what the first wrote.
    let docs = openai_user(&seen[1]);
    assert!(
        docs.contains("api/main.txt") && docs.contains("written for api"),
        "{docs}"
    );
}

#[test]
fn a_rate_limit_is_retried_after_retry_after() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            (
                429,
                vec![("retry-after", "0".into())],
                r#"{"error":{"message":"slow down"}}"#.into(),
            )
        } else {
            openai_reply(r#"{"files":[{"path":"x.txt","content":"ok"}]}"#)
        }
    });
    let dir = repo();
    let r = dir.path();
    let tasks = json!([{"id": "one", "name": "One", "agentId": "dev"}]);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
    let out = run(r, &wf, Some(KEY));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fake.seen().len(), 2);
    let b = phase_branch(r);
    assert_eq!(git(r, &["show", &format!("{b}:out/x.txt")]), "ok");
}

#[test]
fn a_malformed_answer_fails_the_task_by_name_without_leaking_the_key() {
    let fake = Fake::start(|_, _| openai_reply(&format!("Sure! Here is the code (key {KEY}) ...")));
    let dir = repo();
    let r = dir.path();
    let tasks = json!([{"id": "broken", "name": "Broken", "agentId": "dev"}]);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
    let out = run(r, &wf, Some(KEY));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("`broken`") && t.contains("test-model"), "{t}");
    assert!(
        t.contains("not a JSON object") && t.contains("Sure! Here is the code"),
        "{t}"
    );
    assert!(!t.contains(KEY), "the key leaked: {t}");
    assert!(t.contains("[redacted]"), "{t}");
}

#[test]
fn an_empty_or_misshapen_answer_says_what_was_wrong() {
    for (answer, expected) in [
        (
            r#"{"files": [], "summary": "nothing to do"}"#,
            "wrote nothing",
        ),
        (r#"{"summary": "done"}"#, "has no `files` list"),
        (
            r#"{"files": [{"path": "a.txt"}]}"#,
            "gives `a.txt` no string `content`",
        ),
        (r#"[1, 2]"#, "not an object"),
    ] {
        let fake = Fake::start(move |_, _| openai_reply(answer));
        let dir = repo();
        let r = dir.path();
        let tasks = json!([{"id": "odd", "name": "Odd", "agentId": "dev"}]);
        let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
        let out = run(r, &wf, Some(KEY));
        assert_eq!(out.status.code(), Some(1), "{answer}");
        let t = text(&out);
        assert!(t.contains("`odd`") && t.contains(expected), "{answer}: {t}");
    }
}

#[test]
fn a_refused_key_is_named_by_its_variable_and_not_retried() {
    let fake = Fake::start(|_, _| {
        (
            401,
            vec![],
            format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#),
        )
    });
    let dir = repo();
    let r = dir.path();
    let tasks = json!([{"id": "one", "name": "One", "agentId": "dev"}]);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
    let out = run(r, &wf, Some(KEY));
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains(&format!("the key in ${KEY_ENV} was refused")),
        "{t}"
    );
    assert!(!t.contains(KEY), "{t}");
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn paths_out_of_the_root_are_refused_by_the_engine() {
    for bad in ["/etc/passwd", "../x", "../../.git/hooks/pre-commit"] {
        let answer = json!({"files": [{"path": "fine.txt", "content": "a"}, {"path": bad, "content": "evil"}]});
        let fake = Fake::start(move |_, _| openai_reply(&answer.to_string()));
        let dir = repo();
        let r = dir.path();
        let tasks = json!([{"id": "sneaky", "name": "Sneaky", "agentId": "dev"}]);
        let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
        let out = run(r, &wf, Some(KEY));
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("`sneaky`") && t.contains("may not write"),
            "{bad}: {t}"
        );
        let b = phase_branch(r);
        assert_eq!(
            git(r, &["rev-list", "--count", &format!("main..{b}")]),
            "0",
            "{bad}"
        );
        assert!(!r.join("x").exists());
    }
}

#[test]
fn anthropic_messages_api() {
    let fake = Fake::start(|r, _| {
        let user = r.body["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let task = task_of(&user);
        let answer = format!(
            "```json\n{}\n```",
            json!({"files": [{"path": format!("{task}.md"), "content": "# hi\n"}], "summary": "s"})
        );
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn"
        });
        (200, vec![], body.to_string())
    });
    let dir = repo();
    let r = dir.path();
    let tasks =
        json!([{"id": "plan", "name": "Plan", "agentId": "dev", "input": {"goal": "ship"}}]);
    let wf = write_workflow(r, "wf.json", &workflow("anthropic", &fake.base, tasks));
    let out = run(r, &wf, Some(KEY));
    assert!(out.status.success(), "{}", text(&out));
    let b = phase_branch(r);
    assert_eq!(git(r, &["show", &format!("{b}:out/plan.md")]), "# hi");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.headers["x-api-key"], KEY);
    assert_eq!(req.headers["anthropic-version"], "2023-06-01");
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.body["model"], "test-model");
    assert!(req.body["max_tokens"].as_u64().unwrap() > 0);
    assert!(req.body["system"].as_str().unwrap().contains("Backend Dev"));
    assert!(req.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("\"goal\": \"ship\""));
}

#[test]
fn a_missing_key_stops_the_run_before_anything_is_written() {
    let fake = Fake::start(|_, _| openai_reply("{}"));
    let dir = repo();
    let r = dir.path();
    let before = all_refs(r);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, two_tasks()));
    let out = run(r, &wf, None);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains(KEY_ENV) && t.contains("export"), "{t}");
    assert_eq!(all_refs(r), before);
    assert!(fake.seen().is_empty());

    let validate = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .arg("validate")
        .arg(&wf)
        .env_remove(KEY_ENV)
        .output()
        .unwrap();
    let t = text(&validate);
    assert!(t.contains(KEY_ENV) && t.contains("`api`"), "{t}");
}

#[test]
fn server_errors_are_retried_three_times_then_reported() {
    let fake = Fake::start(|_, _| (503, vec![], r#"{"error":{"message":"overloaded"}}"#.into()));
    let dir = repo();
    let r = dir.path();
    let tasks = json!([{"id": "one", "name": "One", "agentId": "dev"}]);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
    let out = run(r, &wf, Some(KEY));
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("failed 3 times") && t.contains("503") && t.contains("overloaded"),
        "{t}"
    );
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn a_model_that_does_not_answer_in_time_times_out() {
    let fake = Fake::start(|_, _| {
        std::thread::sleep(std::time::Duration::from_millis(2500));
        openai_reply("{}")
    });
    let dir = repo();
    let r = dir.path();
    let tasks = json!([{"id": "slow", "name": "Slow", "agentId": "dev", "timeout": 1000}]);
    let wf = write_workflow(r, "wf.json", &workflow("openai", &fake.base, tasks));
    let started = std::time::Instant::now();
    let out = run(r, &wf, Some(KEY));
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("`slow`") && t.contains("timed out after 1 s"),
        "{t}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2400),
        "{:?}",
        started.elapsed()
    );
}

/// A tree with no files, for calling the runner directly.
struct Empty;
impl TreeView for Empty {
    fn read(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn list(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
}

#[test]
fn review_feedback_reaches_the_model() {
    let fake = Fake::start(|_, _| {
        openai_reply(r#"{"files":[{"path":"a.txt","content":"v2"}],"summary":"fixed"}"#)
    });
    let dir = tempfile::tempdir().unwrap();
    let wf = write_workflow(
        dir.path(),
        "wf.json",
        &workflow(
            "openai",
            &fake.base,
            json!([{"id": "a", "name": "A", "agentId": "dev"}]),
        ),
    );
    let loaded = prflow::workflow::load(&wf).unwrap();
    let w = &loaded.workflow;
    let feedback = Feedback {
        reviewer: Some("octocat".into()),
        body: "Please handle the empty case.".into(),
        comments: vec![InlineComment {
            path: "out/a.txt".into(),
            line: Some(3),
            body: "off by one here".into(),
        }],
    };
    let req = TaskRequest {
        run_id: "r1",
        workflow: w,
        task: &w.tasks[0],
        agent: &w.agents[0],
        phase: 1,
        feedback: Some(&feedback),
        base: &Empty,
        workdir: None,
        output_dir: &w.output_dir,
    };
    // The variable is read by this process; no other test in this binary sets it.
    std::env::set_var(KEY_ENV, KEY);
    let out = LlmRunner.run(&req).expect("the runner succeeds");
    assert_eq!(out.files.len(), 1);
    assert_eq!(out.files[0].path, "out/a.txt");
    assert_eq!(out.files[0].content.as_deref(), Some(&b"v2"[..]));
    assert_eq!(out.summary.as_deref(), Some("fixed"));
    let user = openai_user(&fake.seen()[0]);
    assert!(user.contains("Changes requested by octocat"), "{user}");
    assert!(user.contains("Please handle the empty case."), "{user}");
    assert!(user.contains("out/a.txt:3: off by one here"), "{user}");
}

/// `prflow run --github` against the simulator, as the bot, started by alice.
fn run_github(api: &str, work: &Path, token: &str) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args([
            "run",
            ".prflow/workflow.json",
            "--github",
            "acme/app",
            "--json",
            "--api-url",
        ])
        .arg(api)
        .arg("--repo")
        .arg(work)
        .env("GITHUB_TOKEN", token)
        .env("PRFLOW_STARTER", "alice")
        .env(KEY_ENV, KEY)
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_requested_on_the_pull_request_reach_the_model_and_revise_the_phase() {
    let fake = Fake::start(|_, n| {
        let answer = json!({
            "files": [{"path": "design.md", "content": format!("version {}\n", n + 1)}],
            "summary": format!("version {}", n + 1)
        });
        openai_reply(&answer.to_string())
    });
    let mut wf = workflow(
        "openai",
        &fake.base,
        json!([{"id": "design", "name": "Design", "agentId": "dev"}]),
    );
    wf["execution"] = json!({"checkpoints": ["design"]});
    wf["reviewers"] = json!(["bob"]);
    let repo = repo();
    std::fs::create_dir_all(repo.path().join(".prflow")).unwrap();
    std::fs::write(
        repo.path().join(".prflow/workflow.json"),
        serde_json::to_string_pretty(&wf).unwrap(),
    )
    .unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "workflow"]);
    let sim = common::sim_serving("acme/app", repo.path()).await;
    let bot = sim.create_user("prflow-bot", "write").unwrap();
    sim.create_user("alice", "write").unwrap();
    let bob = sim.create_user("bob", "write").unwrap();
    let work = tempfile::tempdir().unwrap();
    let api = sim.api_url();

    let (a, w, t) = (api.clone(), work.path().to_path_buf(), bot.clone());
    let (out, report) = tokio::task::spawn_blocking(move || run_github(&a, &w, &t))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["state"], "waiting-for-review", "{report}");
    let pr = report["pull_request_number"].as_u64().unwrap();

    let http = reqwest::Client::new();
    let pull = json_as(http.get(format!("{api}/repos/acme/app/pulls/{pr}")), &bob).await;
    let status = http
        .post(format!("{api}/repos/acme/app/pulls/{pr}/reviews"))
        .bearer_auth(&bob)
        .json(&json!({
            "event": "REQUEST_CHANGES",
            "body": "Please describe the error handling.",
            "commit_id": pull["head"]["sha"],
            "comments": [{"path": "out/design.md", "line": 1, "body": "say which version"}]
        }))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    let (a, w, t) = (api.clone(), work.path().to_path_buf(), bot.clone());
    let (out, report) = tokio::task::spawn_blocking(move || run_github(&a, &w, &t))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["state"], "waiting-for-review", "{report}");
    assert!(!text(&out).contains(KEY));

    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one call per run");
    let first = openai_user(&seen[0]);
    assert!(!first.contains("Changes requested"), "{first}");
    let second = openai_user(&seen[1]);
    assert!(second.contains("Changes requested by bob"), "{second}");
    assert!(
        second.contains("Please describe the error handling."),
        "{second}"
    );
    assert!(
        second.contains("out/design.md:1: say which version"),
        "{second}"
    );
    // The model saw its own first version in the tree it revises.
    assert!(
        second.contains("design.md") && second.contains("version 1"),
        "{second}"
    );
    let branch = pull["head"]["ref"].as_str().unwrap();
    let bare = sim.bare_repo_path("acme/app");
    assert_eq!(
        git(&bare, &["show", &format!("{branch}:out/design.md")]),
        "version 2"
    );
}
