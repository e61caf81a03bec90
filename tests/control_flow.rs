//! claude-flow workflows run as written: a default runner for tasks nothing else
//! serves, conditions, loops, handlers and hooks — through the real binary, on real
//! git repositories, with fake coding-agent CLIs (shell scripts on PATH) standing in
//! for `claude` and `codex`.

mod common;

use common::{
    all_refs, commit_files, git, git_repo as repo, prflow, prflow_branches, sim_serving, text,
    write_workflow,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A stand-in for `claude -p PROMPT`: writes the prompt it was given (its last
/// argument) to `<outputDir>/<task>.md`, and records its arguments' count.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
dir=$(sed -n 's/^  "output_dir": "\(.*\)",\{0,1\}$/\1/p' "$PRFLOW_TASK_JSON")
[ -n "$dir" ] || dir=.
mkdir -p "$dir"
last=""
for a in "$@"; do last="$a"; done
printf '%s\n' "$last" > "$dir/$PRFLOW_TASK_ID.md"
echo "args=$#" >> "$dir/$PRFLOW_TASK_ID.md"
"#;

/// A directory holding fake CLIs, to put first on PATH.
struct FakeBin {
    dir: tempfile::TempDir,
}

impl FakeBin {
    fn new() -> FakeBin {
        let fb = FakeBin {
            dir: tempfile::tempdir().unwrap(),
        };
        fb.add("claude", FAKE_CLAUDE);
        fb
    }

    fn add(&self, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(name);
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// PATH with the fakes first.
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// prflow with `args`, the fakes first on PATH and no default runner taken from
    /// the environment running the tests.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = prflow();
        cmd.args(args)
            .env("PATH", self.path())
            .env_remove("PRFLOW_DEFAULT_RUNNER");
        cmd
    }

    fn prflow(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every commit of `branch` not on main, oldest first: (task, subject, trailers).
fn commits(repo: &Path, branch: &str) -> Vec<(String, String)> {
    git(
        repo,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Prflow-Task,valueonly,separator=)%x09%(trailers:key=Prflow-Iteration,valueonly,separator=)",
            &format!("main..{branch}"),
        ],
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| {
        let (t, i) = l.split_once('\t').unwrap_or((l, ""));
        (t.trim().to_string(), i.trim().to_string())
    })
    .collect()
}

/// The one phase branch of a run.
fn only_branch(repo: &Path) -> String {
    let all = prflow_branches(repo);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

/// Researchers and writers: no template pack serves them, and no runner is named.
fn research_workflow() -> serde_json::Value {
    serde_json::json!({
        "name": "Research",
        "agents": [
            {"id": "researcher", "name": "Researcher", "type": "researcher"},
            {"id": "writer", "name": "Writer", "type": "documenter"}
        ],
        "tasks": [
            {"id": "gather", "name": "Gather sources", "agentId": "researcher",
             "description": "Find three sources about ${topic}"},
            {"id": "write", "name": "Write the summary", "agentId": "writer", "dependencies": ["gather"]}
        ],
        "variables": {"topic": "stacked pull requests"}
    })
}

#[test]
fn a_default_runner_serves_the_tasks_nothing_else_serves() {
    let bin = FakeBin::new();
    let repo = repo();
    let r = repo.path();
    let wf = write_workflow(r, "research.json", &research_workflow());

    // Without a default runner: visible everywhere, and nothing is written.
    let before = all_refs(r);
    let v = bin.prflow(&["validate", "--strict", s(&wf)]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(
        text(&v).contains("task `gather` cannot run here"),
        "{}",
        text(&v)
    );
    assert!(text(&v).contains("--runner 'claude -p'"), "{}", text(&v));
    let p = bin.prflow(&["plan", "--format", "json", s(&wf)]);
    assert!(p.status.success(), "{}", text(&p));
    let plan: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    let tasks: Vec<&str> = plan["unservable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["gather", "write"]);
    let p = bin.prflow(&["plan", s(&wf)]);
    assert!(
        text(&p).contains("2 task(s) no runner here can serve"),
        "{}",
        text(&p)
    );
    let d = bin.prflow(&["run", "--dry-run", s(&wf), "--repo", s(r)]);
    assert_eq!(d.status.code(), Some(1), "{}", text(&d));
    assert!(
        text(&d).contains("a real run would refuse to start"),
        "{}",
        text(&d)
    );
    let run = bin.prflow(&["run", s(&wf), "--repo", s(r)]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert_eq!(all_refs(r), before, "a refused run writes nothing");

    // With one: every check passes and each task is one commit by the fake CLI,
    // which got the task's prompt as its last argument.
    let v = bin.prflow(&["validate", "--strict", "--runner", "claude -p", s(&wf)]);
    assert!(v.status.success(), "{}", text(&v));
    let p = bin.prflow(&["plan", "--format", "json", "--runner", "claude -p", s(&wf)]);
    let plan: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_eq!(plan["unservable"], serde_json::json!([]));
    let d = bin.prflow(&[
        "run",
        "--dry-run",
        s(&wf),
        "--repo",
        s(r),
        "--runner",
        "claude -p",
    ]);
    assert!(d.status.success(), "{}", text(&d));
    let run = bin.prflow(&["run", s(&wf), "--repo", s(r), "--runner", "claude -p"]);
    assert!(run.status.success(), "{}", text(&run));
    let branch = only_branch(r);
    let tasks: Vec<String> = commits(r, &branch).into_iter().map(|c| c.0).collect();
    assert_eq!(tasks, ["gather", "write"]);
    let gather = git(r, &["show", &format!("{branch}:gather.md")]);
    assert!(
        gather.contains("Find three sources about stacked pull requests"),
        "{gather}"
    );
    assert!(gather.contains("args=2"), "`-p` and the prompt: {gather}");
}

#[test]
fn the_workflows_own_runner_wins_and_a_continued_run_keeps_its_default() {
    let bin = FakeBin::new();
    bin.add(
        "other-agent",
        "#!/bin/sh\necho settings > \"$PRFLOW_TASK_ID.md\"\n",
    );
    let repo = repo();
    let r = repo.path();
    let mut w = research_workflow();
    w["execution"] = serde_json::json!({"checkpoints": ["gather"]});
    let wf = write_workflow(r, "research.json", &w);

    // Phase 1 waits for review; `approve` (no --runner) continues with the run's own.
    let run = bin.prflow(&["run", s(&wf), "--repo", s(r), "--runner", "claude -p"]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("waiting-for-review"), "{}", text(&run));
    let ok = bin.prflow(&["approve", "--repo", s(r)]);
    assert!(ok.status.success(), "{}", text(&ok));
    let last = git(
        r,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/prflow/*/02-*",
        ],
    );
    let write = git(r, &["show", &format!("{last}:write.md")]);
    assert!(write.contains("Write the summary"), "{write}");

    // settings.runner is the workflow's choice: it wins over --runner.
    let repo2 = self::repo();
    let r2 = repo2.path();
    let mut w2 = research_workflow();
    w2["settings"] = serde_json::json!({"runner": {"command": "other-agent"}});
    let wf2 = write_workflow(r2, "research.json", &w2);
    let run = bin.prflow(&["run", s(&wf2), "--repo", s(r2), "--runner", "claude -p"]);
    assert!(run.status.success(), "{}", text(&run));
    let b = only_branch(r2);
    assert_eq!(git(r2, &["show", &format!("{b}:gather.md")]), "settings");
}

#[test]
fn a_bad_default_runner_is_a_usage_error_that_shows_the_forms() {
    let bin = FakeBin::new();
    let repo = repo();
    let wf = write_workflow(repo.path(), "research.json", &research_workflow());
    let out = bin.prflow(&[
        "run",
        s(&wf),
        "--repo",
        s(repo.path()),
        "--runner",
        "llm:openia:gpt-4o-mini",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("did you mean `openai`"), "{t}");
    assert!(t.contains("llm:PROVIDER:MODEL"), "{t}");
}

/// The claude-flow example files (tests/fixtures/claude-flow/*.json), each run to the
/// end with a fake `claude -p` as the default runner, approving every checkpoint.
#[test]
fn every_claude_flow_example_runs_end_to_end_with_a_coding_agent_cli() {
    let bin = FakeBin::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-flow");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut ran = 0;
    for f in files {
        let v = bin.prflow(&["validate", s(&f)]);
        if !v.status.success() {
            // Not a workflow (production-config.json): said so by validate's own tests.
            continue;
        }
        let repo = repo();
        let r = repo.path();
        let mut out = bin.prflow(&["run", s(&f), "--repo", s(r), "--runner", "claude -p"]);
        for _ in 0..20 {
            assert!(out.status.success(), "{}: {}", f.display(), text(&out));
            if !text(&out).contains("waiting-for-review") {
                break;
            }
            let ok = bin.prflow(&["approve", "--repo", s(r)]);
            assert!(ok.status.success(), "{}: {}", f.display(), text(&ok));
            out = ok;
        }
        let st = bin.prflow(&["status", "--repo", s(r)]);
        assert!(
            !text(&st).contains("pending") && !text(&st).contains("failed"),
            "{}: {}",
            f.display(),
            text(&st)
        );
        ran += 1;
    }
    assert!(ran >= 5, "ran {ran} examples");
}

/// A command agent for the control-flow tests: logs what it was asked into
/// `<task>.log` (the task's `source` input and iteration when given), fails for task
/// `research`, and answers outputs for `unit` and `fix`.
const AGENT: &str = r#"#!/bin/sh
log="$PRFLOW_TASK_ID.log"
src=$(sed -n 's/^    "source": "\(.*\)",\{0,1\}$/\1/p' "$PRFLOW_TASK_JSON" | head -n 1)
why=$(sed -n 's/^    "why": "\(.*\)",\{0,1\}$/\1/p' "$PRFLOW_TASK_JSON" | head -n 1)
echo "run source=$src why=$why" >> "$log"
case "$PRFLOW_TASK_ID" in
  research) echo "no sources reachable" >&2; exit 4 ;;
  unit) echo '{"passed": true, "accuracy": 0.9}' > "$PRFLOW_OUTPUT_FILE" ;;
  fix)
    n=$(wc -l < "$log")
    if [ "$n" -ge 2 ]; then echo '{"green": true}' > "$PRFLOW_OUTPUT_FILE";
    else echo '{"green": false}' > "$PRFLOW_OUTPUT_FILE"; fi ;;
esac
"#;

fn agent_workflow(tasks: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "name": "Control flow",
        "agents": [{"id": "dev", "name": "Developer", "type": "developer", "runner": {"command": "agent"}}],
        "tasks": tasks,
        "execution": {"mode": "sequential"}
    })
}

fn bin_with_agent() -> FakeBin {
    let bin = FakeBin::new();
    bin.add("agent", AGENT);
    bin
}

#[test]
fn a_false_condition_skips_the_task_and_a_reference_to_its_outputs_fails_naming_both() {
    let bin = bin_with_agent();
    let repo = repo();
    let r = repo.path();
    let mut w = agent_workflow(serde_json::json!([
        {"id": "unit", "name": "Unit tests", "agentId": "dev", "output": {"passed": "bool", "accuracy": "number"}},
        {"id": "e2e", "name": "E2E tests", "agentId": "dev", "dependencies": ["unit"], "condition": "e2e-enabled", "output": {"report": "string"}},
        {"id": "deploy", "name": "Deploy", "agentId": "dev", "dependencies": ["unit"],
         "condition": "${unit.output.accuracy} > 0.85 && outputs['unit.passed']"},
        {"id": "canary", "name": "Canary", "agentId": "dev", "dependencies": ["unit"], "condition": "outputs['unit'].accuracy > 0.95"},
        {"id": "report", "name": "Report", "agentId": "dev", "dependencies": ["e2e"]},
        {"id": "publish", "name": "Publish", "agentId": "dev", "dependencies": ["report"], "input": {"r": "${e2e.output.report}"}}
    ]));
    w["variables"] = serde_json::json!({"enable_e2e": false});
    w["conditions"] =
        serde_json::json!([{"id": "e2e-enabled", "expression": "variables.enable_e2e === true"}]);
    let wf = write_workflow(r, "wf.json", &w);
    let v = bin.prflow(&["validate", s(&wf)]);
    assert!(v.status.success(), "{}", text(&v));
    let out = bin.prflow(&["run", s(&wf), "--repo", s(r)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("task `publish` refers to ${e2e.output.report}, but task `e2e` was skipped (its condition `e2e-enabled` (`variables.enable_e2e === true`) is false)"),
        "{t}"
    );
    let branch = only_branch(r);
    let tasks: Vec<String> = commits(r, &branch).into_iter().map(|c| c.0).collect();
    assert_eq!(
        tasks,
        ["unit", "deploy", "report"],
        "e2e and canary skipped: no commit"
    );
    let st = bin.prflow(&["status", "--repo", s(r)]);
    let st = text(&st);
    assert!(
        st.contains("e2e  (skipped: its condition `e2e-enabled`"),
        "{st}"
    );
    assert!(
        st.contains("canary  (skipped: its condition `outputs['unit'].accuracy > 0.95` is false)"),
        "{st}"
    );
    let json = bin.prflow(&["status", "--repo", s(r), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v[0]["phases"][0]["skipped"]["e2e"].is_string(), "{v}");
}

#[test]
fn a_bad_expression_is_a_validate_error_with_its_place_and_a_fix() {
    let bin = bin_with_agent();
    let dir = tempfile::tempdir().unwrap();
    let mut w = agent_workflow(serde_json::json!([
        {"id": "a", "name": "A", "agentId": "dev", "condition": "outputs['x.y'] &&"}
    ]));
    w["conditions"] = serde_json::json!([{"id": "ok", "expression": "variables.x ==== 1"}]);
    let wf = write_workflow(dir.path(), "wf.json", &w);
    let v = bin.prflow(&["validate", s(&wf)]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    let t = text(&v);
    assert!(t.contains("(at /conditions/0/expression)"), "{t}");
    assert!(
        t.contains("condition `ok` is not a JavaScript expression (SyntaxError"),
        "{t}"
    );
    assert!(t.contains("(at /tasks/0/condition)"), "{t}");
    assert!(t.contains("write one expression such as"), "{t}");
}

#[test]
fn loops_and_iterative_tasks_commit_each_iteration_with_its_trailer() {
    let bin = bin_with_agent();
    let repo = repo();
    let r = repo.path();
    let mut w = agent_workflow(serde_json::json!([
        {"id": "fetch", "name": "Fetch ${loop.current_item}", "agentId": "dev", "input": {"source": "${loop.current_item}", "n": "${iteration}"}},
        {"id": "refine", "name": "Refine", "agentId": "dev", "dependencies": ["fetch"], "iterative": true, "maxIterations": 3},
        {"id": "fix", "name": "Fix", "agentId": "dev", "dependencies": ["refine"]},
        {"id": "empty", "name": "Nothing to do", "agentId": "dev", "dependencies": ["fix"]}
    ]));
    w["variables"] = serde_json::json!({"sources": ["arxiv", "acm", "ieee"]});
    w["loops"] = serde_json::json!([
        {"id": "per-source", "type": "foreach", "condition": "variables.sources", "tasks": ["fetch"]},
        {"id": "until-green", "type": "while", "condition": "outputs['fix.green'] !== true", "tasks": ["fix"], "maxIterations": 5},
        {"id": "never", "type": "foreach", "items": [], "tasks": ["empty"]}
    ]);
    let wf = write_workflow(r, "wf.json", &w);
    let out = bin.prflow(&["run", s(&wf), "--repo", s(r)]);
    assert!(out.status.success(), "{}", text(&out));
    let branch = only_branch(r);
    let c: Vec<(String, String)> = commits(r, &branch);
    let pairs: Vec<(&str, &str)> = c.iter().map(|(t, i)| (t.as_str(), i.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("fetch", "1"),
            ("fetch", "2"),
            ("fetch", "3"),
            ("refine", "1"),
            ("refine", "2"),
            ("refine", "3"),
            ("fix", "1"),
            ("fix", "2"),
        ]
    );
    let log = git(r, &["show", &format!("{branch}:fetch.log")]);
    assert_eq!(
        log,
        "run source=arxiv why=\nrun source=acm why=\nrun source=ieee why="
    );
    let subjects = git(r, &["log", "--format=%s", "-3", &format!("{branch}~5")]);
    assert!(subjects.contains("Fetch ieee (iteration 3)"), "{subjects}");
    let st = text(&bin.prflow(&["status", "--repo", s(r)]));
    assert!(
        st.contains("empty  (skipped: loop `never` ran no iteration)"),
        "{st}"
    );
    assert!(st.contains("[done]"), "{st}");
}

#[test]
fn a_failure_its_handlers_succeed_for_is_handled_and_hooks_are_part_of_each_commit() {
    let bin = bin_with_agent();
    let repo = repo();
    let r = repo.path();
    let mut w = agent_workflow(serde_json::json!([
        {"id": "research", "name": "Research", "agentId": "dev", "onSuccess": ["validate"], "onFailure": ["fallback"]},
        {"id": "validate", "name": "Validate", "agentId": "dev"},
        {"id": "fallback", "name": "Fallback", "agentId": "dev", "input": {"why": "${error.message}"}},
        {"id": "summary", "name": "Summary", "agentId": "dev", "dependencies": ["research"]}
    ]));
    w["hooks"] = serde_json::json!({
        "pre-task": "echo \"pre ${task.id}\" >> hooks.log",
        "post-task": "echo \"post ${task.name}\" >> hooks.log",
        "on-error": "echo \"error ${task.id}: ${error.message}\" > /dev/null"
    });
    let wf = write_workflow(r, "wf.json", &w);
    let out = bin.prflow(&["run", s(&wf), "--repo", s(r)]);
    assert!(out.status.success(), "{}", text(&out));
    let branch = only_branch(r);
    let tasks: Vec<String> = commits(r, &branch).into_iter().map(|c| c.0).collect();
    assert_eq!(tasks, ["fallback", "summary"]);
    let why = git(r, &["show", &format!("{branch}:fallback.log")]);
    assert!(why.contains("no sources reachable"), "{why}");
    let hooks = git(r, &["show", &format!("{branch}:hooks.log")]);
    assert_eq!(
        hooks,
        "pre fallback\npost Fallback\npre summary\npost Summary"
    );
    let first = git(r, &["show", "--stat", "--format=", &format!("{branch}~1")]);
    assert!(
        first.contains("hooks.log"),
        "the hook's change is in the task's commit: {first}"
    );
    let st = text(&bin.prflow(&["status", "--repo", s(r)]));
    assert!(
        st.contains("research  (failed, handled by onFailure: the command failed with exit code 4"),
        "{st}"
    );
    assert!(
        st.contains(
            "validate  (skipped: a handler (onSuccess of `research`) that nothing triggered)"
        ),
        "{st}"
    );

    // --skip-hooks: the same run without them.
    let repo2 = self::repo();
    let wf2 = write_workflow(repo2.path(), "wf.json", &w);
    let out = bin.prflow(&["run", s(&wf2), "--repo", s(repo2.path()), "--skip-hooks"]);
    assert!(out.status.success(), "{}", text(&out));
    let b2 = only_branch(repo2.path());
    let files = git(repo2.path(), &["ls-tree", "--name-only", &b2]);
    assert!(!files.contains("hooks.log"), "{files}");
}

#[test]
fn failure_policies_ignore_and_continue() {
    let bin = bin_with_agent();
    let tasks = serde_json::json!([
        {"id": "research", "name": "Research", "agentId": "dev"},
        {"id": "after", "name": "After", "agentId": "dev", "dependencies": ["research"]},
        {"id": "other", "name": "Other", "agentId": "dev"}
    ]);
    // ignore: the failure is recorded, the run finishes.
    let repo = repo();
    let mut w = agent_workflow(tasks.clone());
    w["settings"] = serde_json::json!({"failurePolicy": "ignore"});
    let wf = write_workflow(repo.path(), "wf.json", &w);
    let out = bin.prflow(&["run", s(&wf), "--repo", s(repo.path())]);
    assert!(out.status.success(), "{}", text(&out));
    let b = only_branch(repo.path());
    let mut t: Vec<String> = commits(repo.path(), &b).into_iter().map(|c| c.0).collect();
    t.sort();
    assert_eq!(t, ["after", "other"]);
    // continue: what does not need the failed task runs; the phase fails at the end.
    let repo = self::repo();
    let mut w = agent_workflow(tasks);
    w["settings"] = serde_json::json!({"failurePolicy": "continue"});
    let wf = write_workflow(repo.path(), "wf.json", &w);
    let out = bin.prflow(&["run", s(&wf), "--repo", s(repo.path())]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("task `research` failed"),
        "{}",
        text(&out)
    );
    let b = only_branch(repo.path());
    let t: Vec<String> = commits(repo.path(), &b).into_iter().map(|c| c.0).collect();
    assert_eq!(t, ["other"]);
}

/// A stand-in for `claude -p` in the richer files: writes the prompt, answers the
/// outputs their conditions and loops read, and fails `research-task` when a
/// `fail-research` file sits beside it.
const RICHER_CLAUDE: &str = r#"#!/bin/sh
last=""
for a in "$@"; do last="$a"; done
printf '%s\n' "$last" > "$PRFLOW_TASK_ID.md"
case "$PRFLOW_TASK_ID" in
  research-task)
    if [ -e "$(dirname "$0")/fail-research" ]; then echo "search API unreachable" >&2; exit 3; fi
    echo '{"sources": ["s1", "s2", "s3"], "word_count": 2500, "findings": "f", "summary": "s"}' > "$PRFLOW_OUTPUT_FILE" ;;
  unit-tests)
    echo run >> unit-tests.runs
    if [ "$(wc -l < unit-tests.runs)" -ge 2 ]; then echo '{"passed": true, "coverage": 95}' > "$PRFLOW_OUTPUT_FILE";
    else echo '{"passed": false, "coverage": 40}' > "$PRFLOW_OUTPUT_FILE"; fi ;;
  integration-tests) echo '{"passed": true}' > "$PRFLOW_OUTPUT_FILE" ;;
  security-scan) echo '{"passed": true, "vulnerabilities": 0}' > "$PRFLOW_OUTPUT_FILE" ;;
esac
"#;

/// A stand-in for `npx` (the richer files' hooks call `npx claude-flow@alpha hooks …`):
/// logs its arguments in the task's checkout, one file per task (parallel tasks
/// writing one file would conflict, as any two tasks would).
const FAKE_NPX: &str = "#!/bin/sh\necho \"$*\" >> \"claude-flow-hooks.$PRFLOW_TASK_ID.log\"\n";

/// Runs `wf` to its end, approving every checkpoint; the last output.
fn run_to_end(bin: &FakeBin, wf: &Path, repo: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", s(wf), "--repo", s(repo)];
    args.extend_from_slice(extra);
    let mut out = bin.prflow(&args);
    for _ in 0..20 {
        if !out.status.success() || !text(&out).contains("waiting-for-review") {
            break;
        }
        out = bin.prflow(&["approve", "--repo", s(repo)]);
    }
    out
}

/// (task, iteration) of every task commit of the run's last phase branch, oldest first.
fn all_commits(repo: &Path) -> Vec<(String, String)> {
    let b = git(
        repo,
        &[
            "for-each-ref",
            "--sort=refname",
            "--format=%(refname:short)",
            "refs/heads/prflow",
        ],
    );
    let last = b.lines().last().unwrap().to_string();
    commits(repo, &last)
}

fn count(c: &[(String, String)], task: &str) -> Vec<String> {
    c.iter()
        .filter(|(t, _)| t == task)
        .map(|(_, i)| i.clone())
        .collect()
}

fn richer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-flow/richer")
        .join(name)
}

#[test]
fn the_richer_claude_flow_files_run_with_command_runners_standing_in_for_the_agents() {
    let bin = FakeBin::new();
    bin.add("claude", RICHER_CLAUDE);
    bin.add("npx", FAKE_NPX);
    let claude = ["--runner", "claude -p"];

    // research-workflow.yaml (its one defect fixed: quality-check gets an agent):
    // a foreach over the research's sources, an onSuccess handler, conditions.
    let yaml = std::fs::read_to_string(richer("research-workflow.yaml")).unwrap();
    let mut w = common::yaml::one(&yaml).unwrap();
    for t in w["tasks"].as_array_mut().unwrap() {
        if t["id"] == "quality-check" {
            t["assignTo"] = serde_json::json!("summarizer");
        }
    }
    let repo = repo();
    let r = repo.path();
    let wf = write_workflow(r, "research.json", &w);
    let out = run_to_end(&bin, &wf, r, &claude);
    assert!(out.status.success(), "{}", text(&out));
    let c = all_commits(r);
    assert_eq!(count(&c, "validate-source"), ["1", "2", "3"], "{c:?}");
    assert_eq!(count(&c, "validate-results"), [""], "{c:?}");
    let st = text(&bin.prflow(&["status", "--repo", s(r)]));
    assert!(
        st.contains("research-fallback  (skipped: a handler (onFailure of `research-task`) that nothing triggered)"),
        "{st}"
    );

    // The same file when the research fails: its onFailure handler handles it, and
    // the summary (its condition reads the research's word count) is skipped, so the
    // quality check that reads the summary's output fails, naming both (the file's
    // failurePolicy is `continue`: the rest ran).
    std::fs::write(bin.dir.path().join("fail-research"), "").unwrap();
    let repo = self::repo();
    let r = repo.path();
    let wf = write_workflow(r, "research.json", &w);
    let out = run_to_end(&bin, &wf, r, &claude);
    std::fs::remove_file(bin.dir.path().join("fail-research")).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("task `quality-check` refers to ${generate-summary.output.executive_summary}, but task `generate-summary` was skipped"),
        "{}",
        text(&out)
    );
    let c = all_commits(r);
    assert_eq!(count(&c, "research-fallback"), [""], "{c:?}");
    assert!(count(&c, "research-task").is_empty());
    let st = text(&bin.prflow(&["status", "--repo", s(r)]));
    assert!(
        st.contains("research-task  (failed, handled by onFailure"),
        "{st}"
    );
    assert!(
        st.contains("validate-source  (skipped: loop `source-validation` ran no iteration)"),
        "{st}"
    );

    // development-workflow.json (its four references to undeclared outputs pointed at
    // outputs that exist): conditions, and a while loop that retries the tests.
    let text_of = std::fs::read_to_string(richer("development-workflow.json"))
        .unwrap()
        .replace("${deployment.staging_url}", "${devops-setup.staging_url}")
        .replace(
            "${e2e-tests.performance_bottlenecks}",
            "${e2e-tests.performance_metrics}",
        )
        .replace(
            "${devops-setup.deployment_guide}",
            "${devops-setup.ci_cd_pipeline}",
        )
        .replace(
            "${performance-optimization.optimized_frontend}",
            "${performance-optimization.optimizations_applied}",
        );
    // Template packs serve some of its tasks; the workflow's own default runner
    // (`settings.runner`) comes before them, so the fake CLI answers every task.
    let mut w: serde_json::Value = serde_json::from_str(&text_of).unwrap();
    w["settings"]["runner"] =
        serde_json::json!({"command": "claude -p \"$(cat \"$PRFLOW_PROMPT_FILE\")\""});
    let repo = self::repo();
    let r = repo.path();
    let wf = write_workflow(r, "development.json", &w);
    let out = run_to_end(&bin, &wf, r, &claude);
    assert!(out.status.success(), "{}", text(&out));
    let c = all_commits(r);
    assert_eq!(
        count(&c, "unit-tests"),
        ["1", "2"],
        "tests retried until they pass: {c:?}"
    );
    assert_eq!(count(&c, "fix-failing-tests"), ["1", "2"], "{c:?}");
    assert_eq!(count(&c, "e2e-tests"), [""], "coverage 95 >= 90: {c:?}");
    assert_eq!(count(&c, "deployment"), [""], "ready-for-deployment: {c:?}");

    // The two automation files: iterative tasks, and hooks that call claude-flow
    // (here the fake npx) in each task's checkout, so their effect is in each commit.
    let repo = self::repo();
    let r = repo.path();
    let out = run_to_end(
        &bin,
        &richer("automation-mle-star-workflow.json"),
        r,
        &claude,
    );
    assert!(out.status.success(), "{}", text(&out));
    let c = all_commits(r);
    assert_eq!(
        count(&c, "ablation-study"),
        ["1", "2", "3", "4", "5"],
        "{c:?}"
    );
    assert_eq!(count(&c, "targeted-refinement").len(), 10, "{c:?}");
    let b = git(
        r,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/prflow",
        ],
    );
    let hooks = git(
        r,
        &[
            "show",
            &format!(
                "{}:claude-flow-hooks.deployment-package.log",
                b.lines().last().unwrap()
            ),
        ],
    );
    assert!(
        hooks.contains("claude-flow@alpha hooks pre-task --description"),
        "{hooks}"
    );
    assert!(
        hooks.contains("hooks post-task --task-id deployment-package"),
        "{hooks}"
    );

    let repo = self::repo();
    let r = repo.path();
    let out = run_to_end(
        &bin,
        &richer("automation-research-workflow.json"),
        r,
        &claude,
    );
    assert!(out.status.success(), "{}", text(&out));
    let b = git(
        r,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/prflow",
        ],
    );
    let hooks = git(
        r,
        &[
            "show",
            &format!(
                "{}:claude-flow-hooks.report-generation.log",
                b.lines().last().unwrap()
            ),
        ],
    );
    assert!(
        hooks.contains("hooks post-task --task-id report-generation"),
        "{hooks}"
    );
}

// ----- claude-flow v3's dual-mode file, pipeline mode, and dry runs on GitHub -----

/// A stand-in for `claude` or `codex` (named by `$1` of the script's own line): writes
/// `<task>.<cli>.txt` with the files it found in its checkout, then each argument it
/// got, one per block.
fn recording_cli(cli: &str) -> String {
    format!(
        r#"#!/bin/sh
saw=$(ls | tr '\n' ' ')
out="$PRFLOW_TASK_ID.{cli}.txt"
{{ printf 'saw: %s\n---\n' "$saw"; for a in "$@"; do printf '%s\n---\n' "$a"; done; }} > "$out"
"#
    )
}

/// claude-flow v3's dual-mode file runs as written: each worker one commit, done by
/// its platform's CLI, which gets the prompt (with the task context) in the place
/// claude-flow gives it; `dependsOn` orders the commits and each worker sees the work
/// of those it depends on.
#[test]
fn a_dual_mode_file_runs_each_worker_through_its_platforms_cli() {
    let bin = FakeBin::new();
    bin.add("claude", &recording_cli("claude"));
    bin.add("codex", &recording_cli("codex"));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-flow/v3/feature-development.json");

    let v = bin.prflow(&["validate", "--strict", s(&fixture)]);
    assert!(v.status.success(), "{}", text(&v));
    let summary = String::from_utf8_lossy(&v.stdout);
    assert!(
        summary.contains("tasks (4): architect, coder, tester, reviewer"),
        "{summary}"
    );
    let p = bin.prflow(&["plan", s(&fixture)]);
    assert!(p.status.success(), "{}", text(&p));
    let plan = String::from_utf8_lossy(&p.stdout);
    for id in ["architect", "coder", "tester", "reviewer"] {
        assert!(plan.contains(id), "{plan}");
    }
    // Without the CLIs, validate says which worker cannot run, at its place.
    let bare = prflow()
        .args(["validate", "--strict", s(&fixture)])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(1), "{}", text(&bare));
    assert!(
        text(&bare).contains("feature-development.json:4:5: error: task `architect` cannot run here: command `claude` was not found on PATH"),
        "{}",
        text(&bare)
    );

    let repo = repo();
    let r = repo.path();
    let run = bin.prflow(&["run", s(&fixture), "--repo", s(r)]);
    assert!(run.status.success(), "{}", text(&run));
    let branch = only_branch(r);
    let tasks: Vec<String> = commits(r, &branch).into_iter().map(|c| c.0).collect();
    assert_eq!(tasks, ["architect", "coder", "tester", "reviewer"]);

    let context = "Add OAuth login (GitHub and Google) to the web app; sessions stay server-side.";
    let args = |file: &str| -> Vec<String> {
        // `git` trims the file's last newline.
        (git(r, &["show", &format!("{branch}:{file}")]) + "\n")
            .split("\n---\n")
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect()
    };
    let architect = args("architect.claude.txt");
    assert_eq!(architect[1], "-p");
    assert!(architect[2].contains(context), "{architect:?}");
    assert!(
        architect[2].contains("Design the architecture for: Add OAuth."),
        "{architect:?}"
    );
    assert_eq!(
        architect[3..],
        ["--output-format", "text", "--max-turns", "10"]
    );
    let coder = args("coder.codex.txt");
    assert_eq!(
        coder[1..5],
        [
            "exec",
            "--sandbox",
            "workspace-write",
            "--skip-git-repo-check"
        ]
    );
    assert!(coder[5].contains(context), "{coder:?}");
    assert!(coder[5].contains("Implement the feature"), "{coder:?}");
    assert!(
        coder[0].contains("architect.claude.txt"),
        "coder ran after the architect: {coder:?}"
    );
    let reviewer = args("reviewer.claude.txt");
    assert!(
        reviewer[0].contains("coder.codex.txt") && reviewer[0].contains("tester.codex.txt"),
        "the reviewer ran after the coder and the tester: {reviewer:?}"
    );
}

/// `execution.mode: pipeline`: one task after the other in file order, whatever the
/// priorities say.
#[test]
fn a_pipeline_runs_its_tasks_in_file_order() {
    let bin = FakeBin::new();
    let repo = repo();
    let r = repo.path();
    let wf = write_workflow(
        r,
        "etl.json",
        &serde_json::json!({
            "name": "ETL",
            "execution": {"mode": "pipeline"},
            "agents": [{"id": "dev", "runner": {"command": "ls > \"$PRFLOW_TASK_ID.saw\""}}],
            "tasks": [
                {"id": "extract", "agentId": "dev", "priority": "low"},
                {"id": "transform", "agentId": "dev"},
                {"id": "load", "agentId": "dev", "priority": "critical"}
            ]
        }),
    );
    let run = bin.prflow(&["run", s(&wf), "--repo", s(r)]);
    assert!(run.status.success(), "{}", text(&run));
    let branch = only_branch(r);
    let tasks: Vec<String> = commits(r, &branch).into_iter().map(|c| c.0).collect();
    assert_eq!(tasks, ["extract", "transform", "load"]);
    let saw = git(r, &["show", &format!("{branch}:load.saw")]);
    assert!(saw.contains("transform.saw"), "{saw}");
}

/// `prflow run --github --dry-run` exits 1 where a real run would refuse, as the local
/// `--dry-run` does, and writes nothing to GitHub either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_github_exits_1_where_a_real_run_would_refuse() {
    let bin = FakeBin::new();
    let src = repo();
    let wf = research_workflow().to_string();
    commit_files(src.path(), &[(".prflow/workflow.json", &wf)], "workflow");
    let sim = sim_serving("acme/app", src.path()).await;
    let token = sim.create_user("prflow-bot", "write").unwrap();
    let work = tempfile::tempdir().unwrap();
    let dry_run = |extra: &'static [&'static str]| {
        let mut args = vec![
            "run".to_string(),
            ".prflow/workflow.json".into(),
            "--github".into(),
            "acme/app".into(),
            "--dry-run".into(),
            "--api-url".into(),
            sim.api_url(),
            "--repo".into(),
            s(work.path()).into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut cmd = bin.command(&[]);
        cmd.args(&args)
            .env("GITHUB_TOKEN", &token)
            .env("PRFLOW_GITHUB_RETRY_BASE_MS", "5");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let refused = dry_run(&[]).await.unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let t = text(&refused);
    assert!(t.contains("dry-run"), "{t}");
    assert!(t.contains("a real run would refuse to start"), "{t}");
    assert!(t.contains("task `gather`"), "{t}");

    let served = dry_run(&["--runner", "claude -p"]).await.unwrap();
    assert!(served.status.success(), "{}", text(&served));
    assert!(!text(&served).contains("would refuse"), "{}", text(&served));

    let heads = git(
        src.path(),
        &["for-each-ref", "--format=%(refname)", "refs/heads"],
    );
    assert_eq!(heads, "refs/heads/main", "a dry run pushes nothing");
    sim.shutdown().await;
}
