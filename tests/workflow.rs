//! The workflow layer: every claude-flow dialect, diagnostics with exact positions,
//! variables and output references, the phase rule, and the `validate` / `plan` CLI.

mod common;

use prflow::workflow::{self, plan, vars, CommandLine, Diagnostics, Loaded, RunnerSpec, Severity};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn claude_flow(name: &str) -> PathBuf {
    fixtures().join("claude-flow").join(name)
}

fn load(path: &Path) -> Loaded {
    match workflow::load(path) {
        Ok(l) => l,
        Err(d) => panic!("{} should be valid, got:\n{d}", path.display()),
    }
}

/// Parses inline text under a short file name so messages are stable.
fn parse(name: &str, text: &str) -> Result<Loaded, Diagnostics> {
    workflow::parse(Path::new(name), text)
}

fn errors(name: &str, text: &str) -> Vec<String> {
    match parse(name, text) {
        Ok(_) => panic!("{name} should be invalid"),
        Err(d) => {
            d.0.iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.to_string())
                .collect()
        }
    }
}

fn phases(l: &Loaded) -> Vec<Vec<String>> {
    plan::plan(&l.workflow)
        .phases
        .into_iter()
        .map(|p| p.tasks)
        .collect()
}

// ----- every claude-flow file -----

#[test]
fn every_claude_flow_workflow_validates() {
    let mut checked = 0;
    let mut dirs = vec![fixtures().join("claude-flow")];
    // The upstream copies in ../shared, when this checkout has them beside it.
    let shared = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/claude-flow"
    ));
    if shared.is_dir() {
        dirs.push(shared);
    }
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json")
                && !path.ends_with("production-config.json")
            {
                let l = load(&path);
                assert!(!l.workflow.tasks.is_empty());
                assert!(!plan::plan(&l.workflow).phases.is_empty());
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} workflow files found");
}

#[test]
fn fixture_copies_match_upstream_when_present() {
    let shared = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/claude-flow"
    ));
    if !shared.is_dir() {
        return;
    }
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let ours =
                std::fs::read(claude_flow(path.file_name().unwrap().to_str().unwrap())).unwrap();
            assert_eq!(
                ours,
                std::fs::read(&path).unwrap(),
                "{} differs from the fixture",
                path.display()
            );
        }
    }
}

#[test]
fn production_config_is_recognised_as_a_configuration() {
    let err = workflow::load(&claude_flow("production-config.json")).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    let line = err.0[0].to_string();
    assert!(line.ends_with(".json:1:1: error: production-config.json is a claude-flow configuration file, not a workflow: a workflow has `tasks` (and `agents`), while this file configures claude-flow itself (`orchestrator`, `terminal`, `memory`, `coordination`, `loadBalancing`, `logging`, `monitoring` and `security`); give prflow a workflow file instead"), "{line}");
}

#[test]
fn files_that_are_not_workflows_say_what_they_are() {
    let cases = [
        (
            "coder.yaml",
            "name: coder\ntype: developer\ncapabilities: [code]\nsystemPrompt: You write code\n",
            "a claude-flow agent definition",
        ),
        (
            "settings.json",
            r#"{"permissions": {"allow": []}, "env": {}}"#,
            "a Claude Code settings file (settings.json)",
        ),
        (
            "sparc-modes.json",
            r#"{"customModes": [{"slug": "architect", "roleDefinition": "…"}]}"#,
            "a claude-flow SPARC modes file (sparc-modes.json)",
        ),
        (
            "report.json",
            r#"{"swarmId": "s1", "results": []}"#,
            "a claude-flow swarm report",
        ),
    ];
    for (name, text, what) in cases {
        let e = errors(name, text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains(&format!("error: {name} is {what}"))
                && e[0].contains("not a workflow; a workflow has `tasks`"),
            "{}",
            e[0]
        );
    }
}

#[test]
fn agent_dialects() {
    // agents[].assignedTasks
    let l = load(&claude_flow("claude-workflow.json"));
    let by_task: Vec<(&str, &str)> = l
        .workflow
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.agent.as_str()))
        .collect();
    assert_eq!(
        by_task,
        [
            ("research-task", "research-agent"),
            ("backend-task", "backend-agent"),
            ("frontend-task", "frontend-agent"),
            ("testing-task", "test-agent")
        ]
    );
    // Agents without a name are named by id; unknown keys are kept for agents.
    assert_eq!(l.workflow.agents[0].name, "research-agent");
    assert_eq!(l.workflow.tasks[0].extra["config"], ".roo/mcp.json");
    assert_eq!(l.workflow.tasks[0].extra["skipPermissions"], true);
    // assignTo (string), numeric priority, timeouts in ms, depends.
    let l = load(&claude_flow("research-workflow.json"));
    let t = l.workflow.task("deep-dive-research").unwrap();
    assert_eq!(
        (t.agent.as_str(), t.priority, t.timeout_ms),
        ("researcher", 8, Some(600_000))
    );
    assert_eq!(t.dependencies, ["initial-research"]);
    // `output:task.key` strings are claude-flow text, kept literally.
    assert_eq!(t.input["focus_areas"], "output:initial-research.key_areas");
    assert_eq!(
        l.workflow.settings.failure_policy,
        workflow::FailurePolicy::Continue
    );
    assert_eq!(l.workflow.settings.timeout_ms, Some(1_800_000));
    // `configuration` is seen as `config` too.
    let l = load(&claude_flow("hello-world-workflow.json"));
    assert_eq!(
        l.workflow.agents[0].extra["config"],
        json!({"temperature": 0.7})
    );
}

#[test]
fn assign_to_list_takes_the_first_and_warns() {
    let l = parse(
        "w.json",
        r#"{"agents": [{"id": "a"}, {"id": "b"}],
  "tasks": [{"id": "t", "assignTo": ["b", "a"]}]}"#,
    )
    .unwrap();
    assert_eq!(l.workflow.tasks[0].agent, "b");
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(
        l.warnings[0].to_string(),
        "w.json:2:37: warning: task `t` is assigned to 2 agents (b, a); a task is done by one agent, so prflow uses the first (at /tasks/0/assignTo)"
    );
}

#[test]
fn dependency_dialects_merge() {
    let l = parse(
        "w.json",
        r#"{"agents": [{"id": "a"}],
  "tasks": [{"id": "x", "agentId": "a"}, {"id": "y", "agentId": "a"},
            {"id": "z", "agentId": "a", "dependencies": ["x"], "depends": ["x", "y"]},
            {"id": "w", "agentId": "a"}],
  "dependencies": {"w": ["z"]}}"#,
    )
    .unwrap();
    assert_eq!(l.workflow.task("z").unwrap().dependencies, ["x", "y"]);
    assert_eq!(l.workflow.task("w").unwrap().dependencies, ["z"]);
    assert_eq!(phases(&l), [["x", "y", "z", "w"]]);
}

#[test]
fn concurrency_from_every_dialect() {
    let cases = [
        ("microservices-workflow.json", 4),   // execution.parallelism.max
        ("hello-world-workflow.json", 1),     // execution.mode sequential
        ("blog-platform-workflow.json", 1),   // sequential
        ("data-processing-workflow.json", 3), // execution.maxConcurrency
        ("research-workflow.json", 3),        // settings.maxConcurrency
        ("api-development-workflow.json", 3),
        ("claude-workflow.json", 4), // parallel: true, nothing else: the default
        ("machine-learning-workflow.json", 1), // execution.mode pipeline: one after the other
    ];
    for (file, n) in cases {
        assert_eq!(load(&claude_flow(file)).workflow.concurrency, n, "{file}");
    }
    let l = parse(
        "w.json",
        r#"{"parallel": false, "agents": [{"id": "a"}], "tasks": [{"id": "t", "agentId": "a"}]}"#,
    )
    .unwrap();
    assert_eq!(l.workflow.concurrency, 1);
}

#[test]
fn unknown_execution_mode_is_a_warning() {
    let l = load(&claude_flow("machine-learning-workflow.json"));
    assert!(l.warnings.is_empty(), "pipeline is known: {:?}", l.warnings);
    let l = parse(
        "m.json",
        r#"{"execution": {"mode": "turbo"}, "agents": [{"id": "a"}], "tasks": [{"id": "t", "agentId": "a"}]}"#,
    )
    .unwrap();
    let w = l.warnings[0].to_string();
    assert!(w.ends_with(":1:24: warning: unknown execution mode \"turbo\" (claude-flow's modes are sequential, parallel, smart and pipeline); prflow runs it as \"smart\": each task as soon as its dependencies are done (at /execution/mode)"), "{w}");
}

#[test]
fn quality_becomes_gates() {
    let l = load(&claude_flow("microservices-workflow.json"));
    let w = &l.workflow;
    let names: Vec<&str> = w.gates.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["code-review", "security-scan", "performance"]);
    let perf = w.quality.performance.as_ref().unwrap();
    assert_eq!((perf.response_time_ms, perf.throughput), (200, 1000));
    assert_eq!(w.task("design-architecture").unwrap().priority, 75);
    assert_eq!(
        w.task("design-architecture").unwrap().output_keys,
        ["artifacts"]
    );
    assert!(
        w.extra.contains_key("execution"),
        "execution.rollback stays available"
    );
}

// ----- phases -----

#[test]
fn microservices_plans_to_the_three_phases_of_the_design() {
    let l = load(&claude_flow("microservices-workflow.json"));
    let p = plan::plan(&l.workflow);
    let got: Vec<(String, Vec<String>, Option<String>)> = p
        .phases
        .iter()
        .map(|ph| (ph.name.clone(), ph.tasks.clone(), ph.checkpoint.clone()))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            (
                "design-architecture".into(),
                s(&["design-architecture"]),
                Some("design-architecture".into())
            ),
            (
                "create-api-gateway".into(),
                s(&[
                    "create-auth-service",
                    "create-user-service",
                    "create-product-service",
                    "create-api-gateway"
                ]),
                Some("create-api-gateway".into())
            ),
            (
                "integration-tests".into(),
                s(&[
                    "create-frontend",
                    "containerize-services",
                    "integration-tests"
                ]),
                Some("integration-tests".into())
            ),
        ]
    );
    assert_eq!(
        p.phases.iter().map(|p| p.index).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(p.phases[1].slug, "create-api-gateway");
    assert_eq!(p.concurrency, 4);
}

#[test]
fn yaml_and_json_plan_alike() {
    let y = load(&fixtures().join("workflows/microservices.yaml"));
    let j = load(&claude_flow("microservices-workflow.json"));
    assert_eq!(
        serde_json::to_value(plan::plan(&y.workflow)).unwrap(),
        serde_json::to_value(plan::plan(&j.workflow)).unwrap()
    );
    assert_eq!(y.workflow.tasks[4].input, j.workflow.tasks[4].input);
}

const RULE: &str = r#"{"name": "Rule", "agents": [{"id": "a"}],
  "tasks": [
    {"id": "t1", "agentId": "a"},
    {"id": "t2", "agentId": "a", "dependencies": ["t1"]},
    {"id": "t3", "agentId": "a"},
    {"id": "t4", "agentId": "a", "dependencies": ["t2"]},
    {"id": "t5", "agentId": "a", "dependencies": ["t3"], "priority": "low"},
    {"id": "t6", "agentId": "a", "priority": "critical"}
  ],
  "execution": {"checkpoints": ["t2", "t4"]}}"#;

#[test]
fn checkpoints_cut_the_run_and_leftovers_form_a_final_phase() {
    let l = parse("rule.json", RULE).unwrap();
    let p = plan::plan(&l.workflow);
    let names: Vec<&str> = p.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["t2", "t4", "final"]);
    assert_eq!(
        phases(&l),
        vec![vec!["t1", "t2"], vec!["t4"], vec!["t6", "t3", "t5"]]
    );
    assert_eq!(p.phases[2].checkpoint, None);
}

#[test]
fn no_checkpoints_one_phase_named_after_the_workflow_ordered_by_priority() {
    let l = parse(
        "rule.json",
        &RULE.replace(r#""checkpoints": ["t2", "t4"]"#, r#""mode": "smart""#),
    )
    .unwrap();
    let p = plan::plan(&l.workflow);
    assert_eq!(p.phases.len(), 1);
    assert_eq!(
        (p.phases[0].name.as_str(), p.phases[0].slug.as_str()),
        ("Rule", "rule")
    );
    // Ready tasks: higher priority first, then file order; dependencies always first.
    assert_eq!(p.phases[0].tasks, ["t6", "t1", "t2", "t3", "t4", "t5"]);
}

#[test]
fn checkpoints_listed_out_of_run_order_are_an_error() {
    let text = RULE.replace(r#"["t2", "t4"]"#, r#"["t4", "t2"]"#);
    assert_eq!(
        errors("rule.json", &text),
        ["rule.json:10:39: error: checkpoint `t2` runs before checkpoint `t4`, which depends on it, yet is listed after it: list checkpoints in run order (at /execution/checkpoints/1)"]
    );
}

const PHASED: &str = r#"{"name": "Phased", "agents": [{"id": "a"}],
  "tasks": [
    {"id": "design", "agentId": "a"},
    {"id": "build", "agentId": "a", "dependencies": ["design"]},
    {"id": "docs", "agentId": "a"}
  ],
  "phases": [
    {"name": "Design & Docs", "tasks": ["docs", "design"], "checkpoint": true},
    {"name": "Build", "tasks": ["build"]}
  ]}"#;

#[test]
fn explicit_phases_are_the_phases() {
    let l = parse("p.json", PHASED).unwrap();
    let p = plan::plan(&l.workflow);
    assert_eq!(phases(&l), vec![vec!["design", "docs"], vec!["build"]]);
    assert_eq!(p.phases[0].slug, "design-docs");
    assert_eq!(p.phases[0].checkpoint.as_deref(), Some("docs"));
    assert_eq!(p.phases[1].checkpoint, None);
}

#[test]
fn explicit_phases_must_cover_each_task_once_and_respect_dependencies() {
    let text = PHASED
        .replace(r#"["docs", "design"]"#, r#"["build", "docs"]"#)
        .replace(
            r#""tasks": ["build"]"#,
            r#""tasks": ["design", "docs", "biuld"]"#,
        );
    assert_eq!(
        errors("p.json", &text),
        [
            "p.json:8:41: error: task `build` (phase 1) depends on `design`, but `design` is in the later phase 2: move `design` to phase 1 or earlier, or `build` later (at /phases/0/tasks/0)",
            "p.json:9:43: error: task `docs` is already in phase 1: each task belongs to exactly one phase (at /phases/1/tasks/1)",
            "p.json:9:51: error: phase 2 lists `biuld`, which is not a task (did you mean `build`?) (at /phases/1/tasks/2)",
        ]
    );
    let missing = PHASED
        .replace(r#"["docs", "design"]"#, r#"["design"]"#)
        .replace(r#""tasks": ["build"]"#, r#""tasks": ["design"]"#);
    assert_eq!(
        errors("p.json", &missing),
        [
            "p.json:7:13: error: every task must be in one phase, and `build` and `docs` are in none: add them to `phases` (at /phases)",
            "p.json:9:33: error: task `design` is already in phase 1: each task belongs to exactly one phase (at /phases/1/tasks/0)",
        ]
    );
}

// ----- every error kind, with exact positions -----

#[test]
fn every_error_is_reported_with_line_column_and_pointer() {
    let path = fixtures().join("workflows/errors.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let got: Vec<String> = parse("errors.json", &text)
        .unwrap_err()
        .0
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        got,
        [
            "errors.json:6:12: error: duplicate agent id `dev` (the first is on line 5): give each agent its own id (at /agents/1/id)",
            "errors.json:7:82: error: unknown key `enviroment` in a command runner: it takes `command`, `timeout` and `env` (at /agents/2/runner/enviroment)",
            "errors.json:11:31: error: task `test` is assigned to agent `tester`, which is not defined: agents are `dev` and `ops` (at /tasks/1/agentId)",
            "errors.json:12:12: error: duplicate task id `build` (the first is on line 10): give each task its own id (at /tasks/2/id)",
            "errors.json:13:57: error: task `deploy` depends on `tset`, which is not a task (did you mean `test`?) (at /tasks/3/dependencies/0)",
            "errors.json:14:5: error: task `lonely` has no agent: add \"agentId\": \"…\" naming one of the agents, or list the task in an agent's `assignedTasks` (agents are `dev` and `ops`) (at /tasks/4)",
            "errors.json:15:52: error: dependency cycle: a -> b -> a (each task depends on the next): remove one of these dependencies (at /tasks/5/dependencies/0)",
            "errors.json:17:66: error: unknown provider \"openia\": use \"openai\" (also for Ollama, vLLM, llama.cpp with `baseUrl`) or \"anthropic\" (did you mean `openai`?) (at /tasks/7/runner/llm/provider)",
            "errors.json:19:42: error: checkpoint `deploy-all` names no task: a checkpoint is the id of the task after which the run waits for approval (at /execution/checkpoints/1)",
            "errors.json:3:3: warning: unknown key `gate` in the workflow; did you mean `gates`? (kept and passed to agents as is) (at /gate)",
            "errors.json:5:40: warning: unknown key `runer` in agent `dev`; did you mean `runner`? (kept and passed to agents as is) (at /agents/0/runer)",
        ]
    );
}

#[test]
fn yaml_errors_have_yaml_positions_and_cycles_print_as_cycles() {
    let path = fixtures().join("workflows/cycle.yaml");
    let err = workflow::load(&path).unwrap_err();
    assert_eq!(err.0.len(), 1);
    let line = err.0[0].to_string();
    assert!(
        line.ends_with("cycle.yaml:7:20: error: dependency cycle: one -> three -> two -> one (each task depends on the next): remove one of these dependencies (at /tasks/0/dependencies/0)"),
        "{line}"
    );
    let yaml = "name: y\nagents:\n  - id: dev\ntasks:\n  - id: t\n    agentId: deev\n    dependecies: [x]\n";
    let err = parse("y.yml", yaml).unwrap_err();
    let got: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        got,
        [
            "y.yml:6:14: error: task `t` is assigned to agent `deev`, which is not defined (did you mean `dev`?): agents are `dev` (at /tasks/0/agentId)",
            "y.yml:7:5: warning: unknown key `dependecies` in task `t`; did you mean `dependencies`? (kept and passed to agents as is) (at /tasks/0/dependecies)",
        ]
    );
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(
        errors("s.json", "{\n  \"tasks\": [],\n}\n"),
        ["s.json:3:1: error: trailing comma before `}`: JSON does not allow one"]
    );
    let e = errors("s.yaml", "tasks:\n  - id: a\n   bad: [1\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("s.yaml:3:"), "{}", e[0]);
    // No extension: sniffed from the content.
    assert_eq!(
        errors("wf", "{\"tasks\": [1,]}"),
        ["wf:1:14: error: trailing comma before `]`: JSON does not allow one"]
    );
}

#[test]
fn did_you_mean_inside_prflow_objects_is_an_error() {
    let text = r#"{"agents": [{"id": "a"}], "tasks": [{"id": "t", "agentId": "a"}],
  "gates": [{"name": "unit", "rnu": "cargo test"}],
  "phases": [{"name": "all", "tasks": ["t"], "checkpiont": true}]}"#;
    assert_eq!(
        errors("g.json", text),
        [
            "g.json:2:13: error: gate `unit` has no `run` and is not a built-in gate (`code-review`, `security-scan`, `performance` and `coverage`): add \"run\": \"<shell command>\" (at /gates/0)",
            "g.json:2:30: error: unknown key `rnu` in a gate: did you mean `run`? (at /gates/0/rnu)",
            "g.json:3:46: error: unknown key `checkpiont` in a phase: did you mean `checkpoint`? (at /phases/0/checkpiont)",
        ]
    );
}

#[test]
fn runners_parse_or_fail_loudly() {
    let text = r#"{"agents": [
    {"id": "t", "runner": "template"},
    {"id": "p", "runner": {"template": "microservices"}},
    {"id": "c", "runner": {"command": "claude -p \"$(cat $PRFLOW_PROMPT_FILE)\" ${HOME}", "timeout": 600, "env": {"A": "1"}}},
    {"id": "v", "runner": {"command": ["codex", "exec"]}},
    {"id": "l", "runner": {"llm": {"provider": "anthropic", "model": "claude-sonnet-4-5", "apiKeyEnv": "ANTHROPIC_API_KEY"}}}
  ], "tasks": [{"id": "x", "agentId": "t", "runner": {"command": "make"}}]}"#;
    let l = parse("r.json", text).unwrap();
    let r: Vec<Option<RunnerSpec>> = l.workflow.agents.iter().map(|a| a.runner.clone()).collect();
    assert_eq!(r[0], Some(RunnerSpec::Template { pack: None }));
    assert_eq!(
        r[1],
        Some(RunnerSpec::Template {
            pack: Some("microservices".into())
        })
    );
    match &r[2] {
        Some(RunnerSpec::Command {
            command: CommandLine::Shell(s),
            timeout_s: Some(600),
            env,
        }) => {
            // `${HOME}` in a command belongs to the shell, not to `variables`.
            assert!(s.ends_with("${HOME}"));
            assert_eq!(env["A"], "1");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&r[3], Some(RunnerSpec::Command { command: CommandLine::Argv(a), .. }) if a == &["codex", "exec"])
    );
    assert!(
        matches!(&r[4], Some(RunnerSpec::Llm { provider, api_key_env: Some(k), .. }) if provider == "anthropic" && k == "ANTHROPIC_API_KEY")
    );
    let task = &l.workflow.tasks[0];
    assert!(matches!(
        l.workflow.runner_for(task),
        RunnerSpec::Command { .. }
    ));

    let bad = r#"{"agents": [
    {"id": "a", "runner": "docker"},
    {"id": "b", "runner": {"command": ""}},
    {"id": "c", "runner": {"command": "x", "llm": {}}},
    {"id": "d", "runner": {"llm": {"provider": "openai", "apiKeyEnv": "sk-live-123"}}},
    {"id": "e", "runner": 7}
  ], "tasks": [{"id": "x", "agentId": "a"}]}"#;
    let got = errors("r.json", bad);
    assert_eq!(
        got,
        [
            "r.json:2:27: error: unknown runner \"docker\"; use \"template\", {\"template\": \"pack\"}, {\"command\": \"…\"} or {\"llm\": {\"provider\": …, \"model\": …}} (at /agents/0/runner)",
            "r.json:3:39: error: `command` is a shell command (a non-empty string) or an argv list such as [\"claude\", \"-p\"] (at /agents/1/runner/command)",
            "r.json:4:27: error: a runner is one kind: it has `command` and `llm`; keep one (at /agents/2/runner)",
            "r.json:5:35: error: an llm runner needs `model`, e.g. \"gpt-4o-mini\" or \"claude-sonnet-4-5\" (at /agents/3/runner/llm)",
            "r.json:5:71: error: `apiKeyEnv` names the environment variable that holds the key (like OPENAI_API_KEY), not the key itself (at /agents/3/runner/llm/apiKeyEnv)",
            "r.json:6:27: error: a runner is a string or an object; use \"template\", {\"template\": \"pack\"}, {\"command\": \"…\"} or {\"llm\": {\"provider\": …, \"model\": …}} (at /agents/4/runner)",
        ]
    );
    assert!(
        !got.iter().any(|e| e.contains("sk-live")),
        "a pasted key must never be echoed"
    );
}

#[test]
fn wrong_types_where_prflow_needs_a_type() {
    let text = r#"{"agents": [{"id": "a"}],
  "tasks": [{"id": "t", "agentId": "a", "timeout": "5m", "retries": -1, "priority": []}],
  "execution": {"maxConcurrency": 0}, "allowSelfApproval": "yes", "outputDir": "../out"}"#;
    assert_eq!(
        errors("t.json", text),
        [
            "t.json:2:52: error: `timeout` must be a number of milliseconds, e.g. 300000 for five minutes (at /tasks/0/timeout)",
            "t.json:2:69: error: `retries` must be a whole number of retries, e.g. 2 (at /tasks/0/retries)",
            "t.json:2:85: error: `priority` is a number or one of critical, high, medium, low (at /tasks/0/priority)",
            "t.json:3:35: error: `maxConcurrency` must be a whole number of tasks above 0 (at /execution/maxConcurrency)",
            "t.json:3:60: error: `allowSelfApproval` must be true or false (at /allowSelfApproval)",
            "t.json:3:80: error: `outputDir` is a folder inside the repository: relative, without `..`, not under .git (e.g. \"services\") (at /outputDir)",
        ]
    );
}

#[test]
fn retries_and_timeouts_have_ceilings() {
    let text = r#"{"agents": [{"id": "a", "runner": {"command": "true", "timeout": 86401}}],
  "tasks": [{"id": "t", "agentId": "a", "timeout": 86400001, "retries": 4294967296}],
  "settings": {"timeout": 90000000}}"#;
    assert_eq!(
        errors("c.json", text),
        [
            "c.json:1:66: error: `timeout` of a command runner is a whole number of seconds from 1 to 86400 (one day) (at /agents/0/runner/timeout)",
            "c.json:2:52: error: `timeout` is 86400001, over prflow's ceiling of 86400000: use a smaller value (at /tasks/0/timeout)",
            "c.json:2:73: error: `retries` is 4294967296, over prflow's ceiling of 10: use a smaller value (at /tasks/0/retries)",
            "c.json:3:27: error: `timeout` is 90000000, over prflow's ceiling of 86400000: use a smaller value (at /settings/timeout)",
        ]
    );
    use prflow::workflow::RetryPolicy;
    let secs = |p: RetryPolicy| (1..=8).map(|n| p.delay(n).as_secs()).collect::<Vec<_>>();
    assert_eq!(secs(RetryPolicy::Exponential), [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(secs(RetryPolicy::Linear), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(secs(RetryPolicy::Fixed), [1; 8]);
    assert_eq!(secs(RetryPolicy::Immediate), [0; 8]);
}

// ----- variables and output references -----

#[test]
fn variables_are_substituted_on_parsed_values() {
    let text = r#"{"variables": {"features": ["jwt", "oauth2"], "db": {"kind": "postgres"}, "port": 3000, "name": "api"},
  "agents": [{"id": "a"}],
  "tasks": [{"id": "t", "agentId": "a", "description": "build ${name} on ${port} with ${features}",
    "input": {"features": "${features}", "db": "${db}", "port": "${port}", "literal": "$${name}"}}]}"#;
    let l = parse("v.json", text).unwrap();
    let t = &l.workflow.tasks[0];
    assert_eq!(
        t.input,
        json!({"features": ["jwt", "oauth2"], "db": {"kind": "postgres"}, "port": 3000, "literal": "${name}"})
    );
    assert_eq!(
        t.description.as_deref(),
        Some("build api on 3000 with [\"jwt\",\"oauth2\"]")
    );
    assert_eq!(l.workflow.variables["port"], 3000);

    let undeclared = text.replace(r#""${port}""#, r#""${prot}""#);
    assert_eq!(
        errors("v.json", &undeclared),
        ["v.json:4:65: error: `${prot}` is not a declared variable: did you mean `${port}`? (at /tasks/0/input/port)"]
    );
}

#[test]
fn api_development_reference_implies_a_dependency() {
    let l = load(&claude_flow("api-development-workflow.json"));
    let w = &l.workflow;
    let fc = w.task("frontend-client").unwrap();
    // Declared `depends: [api-design]`; `${backend-implementation.output.endpoints}` adds the other.
    assert_eq!(fc.dependencies, ["api-design", "backend-implementation"]);
    assert_eq!(
        fc.input["endpoints"],
        "${backend-implementation.output.endpoints}"
    );
    let be = w.task("backend-implementation").unwrap();
    assert_eq!(
        be.input["port"], 3000,
        "a variable that is a number stays a number"
    );
    assert!(be.extra["claudePrompt"]
        .as_str()
        .unwrap()
        .starts_with("Implement the express REST API"));
    assert_eq!(
        phases(&l),
        [[
            "api-design",
            "backend-implementation",
            "frontend-client",
            "testing-suite",
            "deployment-setup"
        ]]
    );
    // At run time the references resolve from the outputs of earlier tasks.
    let mut outs = HashMap::new();
    outs.insert(
        "backend-implementation".to_string(),
        json!({"endpoints": ["/users"]})
            .as_object()
            .unwrap()
            .clone(),
    );
    outs.insert(
        "api-design".to_string(),
        json!({"api_spec": {"openapi": "3.1"}})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert_eq!(
        vars::resolve_outputs(&fc.input, &outs),
        json!({"api_spec": {"openapi": "3.1"}, "endpoints": ["/users"]})
    );
    assert_eq!(vars::output_refs(&fc.input).len(), 2);
}

const REFS: &str = r#"{"agents": [{"id": "a"}],
  "tasks": [
    {"id": "spec", "agentId": "a", "output": {"api": "object"}},
    {"id": "list", "agentId": "a", "output": ["files"]},
    {"id": "bare", "agentId": "a"},
    {"id": "use", "agentId": "a", "input": {"x": "REF"}}
  ]}"#;

fn refs(reference: &str) -> Result<Loaded, Diagnostics> {
    parse("refs.json", &REFS.replace("REF", reference))
}

#[test]
fn output_references_are_checked() {
    let l = refs("${spec.output.api} and ${list.output.files}").unwrap();
    assert_eq!(
        l.workflow.task("use").unwrap().dependencies,
        ["spec", "list"]
    );
    let msg = |r: &str| refs(r).unwrap_err().0[0].to_string();
    assert_eq!(
        msg("${spec.output.apis}"),
        "refs.json:6:50: error: `${spec.output.apis}`: task `spec` does not declare output `apis` (did you mean `api`?); it declares `api` (add `apis` to its `output`) (at /tasks/3/input/x)"
    );
    assert_eq!(
        msg("${spek.output.api}"),
        "refs.json:6:50: error: `${spek.output.api}` refers to task `spek`, which does not exist (did you mean `spec`?) (at /tasks/3/input/x)"
    );
    assert_eq!(
        msg("${bare.output.x}"),
        "refs.json:6:50: error: `${bare.output.x}`: task `bare` declares no `output`; add \"output\": {\"x\": \"…\"} to `bare` so it is known to produce `x` (at /tasks/3/input/x)"
    );
    assert_eq!(
        msg("${use.output.x}"),
        "refs.json:6:50: error: `${use.output.x}`: task `use` cannot use its own output; only outputs of earlier tasks (at /tasks/3/input/x)"
    );
}

#[test]
fn a_reference_that_closes_a_cycle_or_points_to_a_later_phase_is_an_error() {
    let cyc = REFS.replace(
        r#"{"id": "spec", "agentId": "a", "output""#,
        r#"{"id": "spec", "agentId": "a", "dependencies": ["use"], "output""#,
    );
    let got = errors("refs.json", &cyc.replace("REF", "${spec.output.api}"));
    assert_eq!(
        got,
        ["refs.json:3:53: error: dependency cycle: spec -> use -> spec (each task depends on the next) (`use` needs `spec` because it uses `${spec.output.api}`): remove one of these dependencies (at /tasks/0/dependencies/0)"]
    );
    let phased = REFS.replace("REF", "${spec.output.api}").replace(
        "\n  ]}",
        "\n  ], \"phases\": [{\"tasks\": [\"use\", \"list\", \"bare\"]}, {\"tasks\": [\"spec\"]}]}",
    );
    assert_eq!(
        errors("refs.json", &phased),
        ["refs.json:7:28: error: task `use` (phase 1) uses `${spec.output.api}`, but `spec` is in the later phase 2: move `spec` to phase 1 or earlier, or `use` later (at /phases/0/tasks/0)"]
    );
}

// ----- claude-flow's richer dialect -----

fn richer(name: &str) -> PathBuf {
    claude_flow("richer").join(name)
}

#[test]
fn richer_fixture_copies_match_upstream_when_present() {
    let shared = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/claude-flow/richer"
    ));
    if !shared.is_dir() {
        return;
    }
    for name in [
        "development-workflow.json",
        "research-workflow.yaml",
        "automation-mle-star-workflow.json",
        "automation-research-workflow.json",
    ] {
        assert_eq!(
            std::fs::read(richer(name)).unwrap(),
            std::fs::read(shared.join(name)).unwrap(),
            "{name} differs from the fixture"
        );
    }
}

/// The two automation files validate; the other two only for their own real defects,
/// each named with its place (and nothing for what prflow now reads).
#[test]
fn richer_files_validate_except_for_their_own_defects() {
    for name in [
        "automation-mle-star-workflow.json",
        "automation-research-workflow.json",
    ] {
        let l = load(&richer(name));
        assert!(!l.workflow.hooks.is_empty(), "{name}: hooks are read");
    }
    let errors_of = |name: &str| -> Vec<String> {
        let err = workflow::load(&richer(name)).unwrap_err();
        err.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string().rsplit_once(name).unwrap().1.to_string())
            .collect()
    };
    assert_eq!(
        errors_of("research-workflow.yaml"),
        [":222:7: error: task `quality-check` has no agent: add \"agentId\": \"…\" naming one of the agents, or list the task in an agent's `assignedTasks` (agents are `primary-researcher`, `data-analyst` and `summarizer`) (at /tasks/7)"]
    );
    let dev = errors_of("development-workflow.json");
    assert_eq!(dev.len(), 4, "{dev:#?}");
    assert!(dev[0].starts_with(":340:28: error: `${deployment.output.staging_url}`: task `deployment` does not declare output `staging_url`"), "{}", dev[0]);
    // `${deployment.staging_url}` meant the staging URL devops-setup declares.
    assert!(
        dev[0].ends_with("(add `staging_url` to its `output`, or use `${devops-setup.output.staging_url}`: task `devops-setup` declares it) (at /tasks/8/input/application_url)"),
        "{}",
        dev[0]
    );
    assert!(
        dev[1].contains("`${e2e-tests.output.performance_bottlenecks}`"),
        "{}",
        dev[1]
    );
    assert!(
        dev[2].contains("`${devops-setup.output.deployment_guide}`"),
        "{}",
        dev[2]
    );
    assert!(
        dev[3].contains("`${performance-optimization.output.optimized_frontend}`"),
        "{}",
        dev[3]
    );
}

#[test]
fn every_reference_form_is_read_with_its_meaning() {
    let text = r#"{"variables": {"tech_stack": {"frontend": "React"}, "target": 90},
  "agents": [{"id": "a"}],
  "tasks": [
    {"id": "design", "agentId": "a", "output": ["spec", "metrics"]},
    {"id": "build", "agentId": "a", "depends": ["design"], "output": {"artifact": "string"}},
    {"id": "use", "agentId": "a",
     "input": {"spec": "${design.spec}", "all": "${build.output}", "acc": "${design.output.metrics.accuracy}",
               "fw": "${tech_stack.frontend}", "t": "${variables.target}", "o": "${outputs.build.artifact}",
               "who": "${task.id} ${task.name} ${workflow.name} ${loop.current_item} ${iteration} ${error.message}"}}],
  "integrations": [{"auth": {"token": "${JIRA_TOKEN}"}}],
  "metadata": {"by": "${AUTHOR}"},
  "settings": {"notifications": {"templates": {"done": "${variables.missing} ${outputs.x.y}"}}}}"#;
    let l = parse("refs.json", text).unwrap();
    let u = l.workflow.task("use").unwrap();
    assert_eq!(
        u.input,
        json!({"spec": "${design.output.spec}", "all": "${build.output}", "acc": "${design.output.metrics.accuracy}",
               "fw": "React", "t": 90, "o": "${build.output.artifact}",
               "who": "${task.id} ${task.name} ${workflow.name} ${loop.current_item} ${iteration} ${error.message}"})
    );
    assert_eq!(u.dependencies, ["design", "build"]);
    // Sections prflow does not own are kept as written.
    assert_eq!(
        l.workflow.extra["integrations"][0]["auth"]["token"],
        "${JIRA_TOKEN}"
    );
    assert_eq!(l.workflow.extra["metadata"]["by"], "${AUTHOR}");
    assert_eq!(
        l.workflow.extra["settings"]["notifications"]["templates"]["done"],
        "${variables.missing} ${outputs.x.y}"
    );

    let mut outputs = HashMap::new();
    outputs.insert(
        "design".to_string(),
        json!({"spec": "s", "metrics": {"accuracy": 0.9}})
            .as_object()
            .unwrap()
            .clone(),
    );
    outputs.insert(
        "build".to_string(),
        json!({"artifact": "a.tgz"}).as_object().unwrap().clone(),
    );
    let resolved = vars::resolve_outputs(&u.input, &outputs);
    assert_eq!(resolved["acc"], 0.9);
    assert_eq!(resolved["all"], json!({"artifact": "a.tgz"}));
    assert_eq!(resolved["spec"], "s");

    let bad = text.replace("${tech_stack.frontend}", "${tech_stack.mobile}");
    assert_eq!(
        errors("refs.json", &bad),
        ["refs.json:8:22: error: `${tech_stack.mobile}`: variable `tech_stack` has no `mobile`: it has `frontend` (at /tasks/2/input/fw)"]
    );
}

#[test]
fn control_flow_is_read_and_its_ids_checked() {
    let text = r#"{"agents": [{"id": "a"}],
  "conditions": [{"id": "ok", "expression": "outputs['t.passed'] === true", "type": "javascript"}],
  "loops": [{"id": "each", "type": "foreach", "condition": "outputs['t.items']", "tasks": ["per-item"], "maxIterations": 5, "continueOnError": true}],
  "hooks": {"pre-task": "echo ${task.id} > .pre", "on-error": "npx claude-flow@alpha hooks notify"},
  "settings": {"failurePolicy": "ignore", "retryPolicy": "linear", "runner": {"command": "claude -p"}},
  "tasks": [
    {"id": "t", "agentId": "a", "output": ["passed", "items"], "onSuccess": ["next"], "onFailure": ["fallback"], "retries": 2},
    {"id": "next", "agentId": "a", "dependsOn": ["t"], "condition": "ok"},
    {"id": "per-item", "agentId": "a", "input": {"item": "${loop.current_item}"}},
    {"id": "fallback", "assignedTo": "a", "iterative": true, "maxIterations": 3}]}"#;
    let l = parse("cf.json", text).unwrap();
    let w = &l.workflow;
    assert_eq!(w.conditions[0].id, "ok");
    assert_eq!(w.loops[0].kind, workflow::LoopKind::Foreach);
    assert_eq!(w.loops[0].tasks, ["per-item"]);
    assert_eq!(w.loops[0].max_iterations, 5);
    assert_eq!(w.hooks.pre_task.as_deref(), Some("echo ${task.id} > .pre"));
    assert_eq!(w.settings.failure_policy, workflow::FailurePolicy::Ignore);
    assert_eq!(w.settings.retry_policy, workflow::RetryPolicy::Linear);
    assert!(matches!(
        w.settings.runner,
        Some(RunnerSpec::Command { .. })
    ));
    let t = w.task("t").unwrap();
    assert_eq!(
        (t.control.on_success.clone(), t.control.on_failure.clone()),
        (vec!["next".to_string()], vec!["fallback".to_string()])
    );
    assert_eq!(w.task("next").unwrap().dependencies, ["t"]);
    assert_eq!(
        w.task("next").unwrap().control.condition.as_deref(),
        Some("ok")
    );
    let f = w.task("fallback").unwrap();
    assert_eq!(
        (
            f.agent.as_str(),
            f.control.iterative,
            f.control.max_iterations
        ),
        ("a", true, Some(3))
    );
    assert!(
        l.warnings.iter().any(|d| d
            .to_string()
            .contains("hook `on-error` calls claude-flow itself")),
        "{:?}",
        l.warnings
    );

    let bad = text
        .replace(
            r#""onFailure": ["fallback"]"#,
            r#""onFailure": ["fallbak"]"#,
        )
        .replace(r#""condition": "ok""#, r#""condition": "is-ok""#)
        .replace(r#""type": "foreach""#, r#""type": "until""#);
    assert_eq!(
        errors("cf.json", &bad),
        [
            "cf.json:3:36: error: loop `each` has type \"until\": use \"foreach\" (once per item) or \"while\" (while `condition` holds) (at /loops/0/type)",
            "cf.json:7:101: error: `onFailure` of task `t` names task `fallbak`, which does not exist (did you mean `fallback`?) (at /tasks/0/onFailure/0)",
            "cf.json:8:69: error: task `next` has condition `is-ok`, which is no condition id: declare it under `conditions` or write an expression (at /tasks/1/condition)",
        ]
    );
}

// ----- claude-flow v3's dual-mode file and pipeline mode -----

fn v3(name: &str) -> PathBuf {
    claude_flow("v3").join(name)
}

/// Each worker is a task and an agent whose runner is its platform's CLI with the
/// prompt; `dependsOn` orders them; `taskContext` is the workflow's shared context.
#[test]
fn a_dual_mode_file_is_a_workflow_of_workers() {
    let l = load(&v3("feature-development.json"));
    let w = &l.workflow;
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(w.name, "feature-development");
    assert_eq!(
        w.context.as_deref(),
        Some("Add OAuth login (GitHub and Google) to the web app; sessions stay server-side.")
    );
    assert_eq!(w.tasks_at, "/workers");
    let ids: Vec<&str> = w.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["architect", "coder", "tester", "reviewer"]);
    let reviewer = w.task("reviewer").unwrap();
    assert_eq!(
        (
            reviewer.agent.as_str(),
            reviewer.name.as_str(),
            reviewer.dependencies.clone()
        ),
        (
            "reviewer",
            "reviewer",
            vec!["coder".to_string(), "tester".to_string()]
        )
    );
    assert_eq!(
        reviewer.description.as_deref(),
        Some("Review the code and tests for quality, security, and best practices.")
    );
    let command = |id: &str| match w.runner_for(w.task(id).unwrap()) {
        RunnerSpec::Command {
            command: CommandLine::Shell(s),
            ..
        } => s,
        other => panic!("{id}: {other:?}"),
    };
    assert_eq!(
        command("architect"),
        r#"claude -p "$(cat "$PRFLOW_PROMPT_FILE")" --output-format text --max-turns 10"#
    );
    assert_eq!(
        command("coder"),
        r#"codex exec --sandbox workspace-write --skip-git-repo-check "$(cat "$PRFLOW_PROMPT_FILE")""#
    );
    let p = plan::plan(w);
    assert_eq!(p.phases.len(), 1);
    assert_eq!(
        p.phases[0].tasks,
        ["architect", "coder", "tester", "reviewer"]
    );

    // The smallest file claude-flow's own tests load.
    let l = load(&v3("workers.json"));
    assert_eq!(l.workflow.context.as_deref(), Some("JSON collaboration"));
    assert_eq!(l.workflow.tasks[0].id, "reader");
}

#[test]
fn a_dual_mode_files_mistakes_name_the_worker_and_the_fix() {
    let text = r#"{"taskContext": "ctx",
  "workers": [
    {"id": "a", "platform": "gemini", "role": "r", "prompt": "p"},
    {"id": "b", "platform": "codex", "role": "r"},
    {"id": "c", "platform": "claude", "prompt": "p", "dependsOn": ["d"], "maxTurn": 3}]}"#;
    let err = parse("w.json", text).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "w.json:3:29: error: worker `a` has platform \"gemini\": a worker runs on \"claude\" (claude -p) or \"codex\" (codex exec) (at /workers/0/platform)",
            "w.json:4:5: error: worker `b` has no `prompt`: add \"prompt\": \"…\", what its CLI is asked to do (at /workers/1)",
            "w.json:5:68: error: task `c` depends on `d`, which is not a task (at /workers/2/dependsOn/0)",
            "w.json:5:74: warning: unknown key `maxTurn` in worker `c`; did you mean `maxTurns`? (kept and passed to agents as is) (at /workers/2/maxTurn)",
        ]
    );
    assert_eq!(
        errors(
            "w.json",
            r#"{"tasks": [{"id": "t", "agentId": "a"}], "agents": [{"id": "a"}], "workers": []}"#
        ),
        ["w.json:1:67: error: this file has both `tasks` and claude-flow v3's `workers`: a workflow lists its work in one of them; move each worker into `tasks` (at /workers)"]
    );
}

/// `execution.mode: pipeline` runs the tasks one after the other in file order, each
/// after the one before it, whatever their priorities.
#[test]
fn pipeline_mode_runs_each_task_after_the_one_before_it() {
    let text = r#"{"execution": {"mode": "pipeline"}, "agents": [{"id": "a"}],
  "tasks": [
    {"id": "extract", "agentId": "a", "priority": "low"},
    {"id": "transform", "agentId": "a"},
    {"id": "load", "agentId": "a", "priority": "critical"}]}"#;
    let l = parse("p.json", text).unwrap();
    let w = &l.workflow;
    assert_eq!(w.concurrency, 1);
    assert_eq!(w.task("transform").unwrap().dependencies, ["extract"]);
    assert_eq!(w.task("load").unwrap().dependencies, ["transform"]);
    assert_eq!(phases(&l), [["extract", "transform", "load"]]);
    // Without pipeline, priority orders independent tasks.
    let l = parse("p.json", &text.replace("pipeline", "sequential")).unwrap();
    assert_eq!(phases(&l), [["load", "transform", "extract"]]);
    // A declared dependency against file order closes a cycle, and says where.
    let bad = text.replace(
        r#"{"id": "extract", "agentId": "a", "priority": "low"}"#,
        r#"{"id": "extract", "agentId": "a", "dependsOn": ["load"]}"#,
    );
    assert_eq!(
        errors("p.json", &bad),
        ["p.json:3:53: error: dependency cycle: extract -> load -> transform -> extract (each task depends on the next) \
          (`load` needs `transform` because it comes after it in a pipeline (`execution.mode: pipeline`); \
          `transform` needs `extract` because it comes after it in a pipeline (`execution.mode: pipeline`)): \
          remove one of these dependencies (at /tasks/0/dependsOn/0)"]
    );
}

// ----- the CLI -----

fn prflow(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path_str(p: PathBuf) -> String {
    p.to_str().unwrap().to_string()
}

/// `--strict` turns "cannot run here" into an error (exit 1); a default runner in
/// `settings.runner` serves every task nothing else does.
#[test]
fn cli_validate_strict_and_the_default_runner() {
    let hello = path_str(claude_flow("hello-world-workflow.json"));
    let (code, _, err) = prflow(&["validate", &hello]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: task `create-hello-world` cannot run here"),
        "{err}"
    );
    let (code, out, err) = prflow(&["validate", "--strict", &hello]);
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(":16:5: error: task `create-hello-world` cannot run here"),
        "{err}"
    );
    assert!(err.contains("1 task cannot run here (--strict)"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let mut v: Value = serde_json::from_str(
        &std::fs::read_to_string(claude_flow("hello-world-workflow.json")).unwrap(),
    )
    .unwrap();
    v["settings"] = json!({"runner": {"command": "true"}});
    let with_default = dir.path().join("hello.json");
    std::fs::write(&with_default, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, out, err) = prflow(&["validate", "--strict", &path_str(with_default.clone())]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid workflow"), "{out}");
    assert!(!err.contains("cannot run here"), "{err}");
    let l = load(&with_default);
    let t = &l.workflow.tasks[0];
    assert!(matches!(
        l.workflow.runner_for(t),
        RunnerSpec::Command { .. }
    ));
}

#[test]
fn cli_validate_exit_codes_and_output() {
    let good = path_str(claude_flow("microservices-workflow.json"));
    let (code, out, err) = prflow(&["validate", &good]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("valid workflow \"Microservices Architecture Workflow\""),
        "{out}"
    );
    assert!(out.contains("phases (3):"), "{out}");
    assert!(out.contains("2. create-api-gateway (4 tasks): create-auth-service, create-user-service, create-product-service, create-api-gateway; then waits for approval after `create-api-gateway`"), "{out}");
    assert!(
        out.contains("performance (p95 <= 200 ms, >= 1000 req/s)"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");

    let bad = path_str(fixtures().join("workflows/errors.json"));
    let (code, out, err) = prflow(&["validate", &bad]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 11, "{err}");
    let shape =
        regex::Regex::new(r"^.+errors\.json:\d+:\d+: (error|warning): .+ \(at /[^ ]*\)$").unwrap();
    for l in &lines {
        assert!(shape.is_match(l), "{l}");
    }
    assert_eq!(lines.iter().filter(|l| l.contains(": error: ")).count(), 9);

    let (code, _, err) = prflow(&["validate", &path_str(claude_flow("production-config.json"))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is a claude-flow configuration file, not a workflow"),
        "{err}"
    );

    let (code, _, err) = prflow(&["validate", "/nonexistent/wf.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read the workflow file"), "{err}");

    let (code, _, _) = prflow(&["validate"]);
    assert_eq!(code, 2, "usage errors exit 2");
    let (code, _, _) = prflow(&["plan", &good, "--format", "xml"]);
    assert_eq!(code, 2);
}

#[test]
fn cli_plan_json_is_exact() {
    let file = path_str(claude_flow("microservices-workflow.json"));
    let (code, out, err) = prflow(&["plan", &file, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let mut v: Value = serde_json::from_str(&out).unwrap();
    // The system model has its own tests (tests/generate.rs); here: that it is there.
    let system = v.as_object_mut().unwrap().remove("system").unwrap();
    assert_eq!(system["services"].as_array().unwrap().len(), 5, "{system}");
    assert_eq!(
        v,
        json!({"workflow": "Microservices Architecture Workflow", "concurrency": 4, "phases": [
            {"index": 1, "name": "design-architecture", "tasks": ["design-architecture"], "checkpoint": "design-architecture"},
            {"index": 2, "name": "create-api-gateway", "tasks": ["create-auth-service", "create-user-service", "create-product-service", "create-api-gateway"], "checkpoint": "create-api-gateway"},
            {"index": 3, "name": "integration-tests", "tasks": ["create-frontend", "containerize-services", "integration-tests"], "checkpoint": "integration-tests"}
        ], "unservable": []})
    );
    let (code, out, _) = prflow(&[
        "plan",
        &path_str(claude_flow("hello-world-workflow.json")),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["phases"][0]["checkpoint"], Value::Null);
    assert_eq!(v["concurrency"], 1);
}

#[test]
fn cli_plan_text_shows_the_graph() {
    let file = path_str(claude_flow("microservices-workflow.json"));
    let (code, out, err) = prflow(&["plan", &file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(
            "workflow: Microservices Architecture Workflow\nconcurrency: 4\nphases: 3\n"
        ),
        "{out}"
    );
    assert!(out.contains("phase 2: create-api-gateway [create-api-gateway] -- checkpoint: waits for approval after `create-api-gateway`"), "{out}");
    assert!(
        out.contains(
            "step  1  create-auth-service     [auth-dev]     <- design-architecture (phase 1)"
        ),
        "{out}"
    );
    assert!(out.contains("step  2  create-api-gateway      [gateway-dev]  <- create-auth-service, create-user-service, create-product-service"), "{out}");
    let (code, _, err) = prflow(&["plan", &path_str(fixtures().join("workflows/cycle.yaml"))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("dependency cycle: one -> three -> two -> one"),
        "{err}"
    );
}

#[test]
fn duplicate_keys_are_errors_in_json_and_yaml() {
    assert_eq!(
        errors("d.json", "{\"agents\": [{\"id\": \"a\"}],\n \"tasks\": [{\"id\": \"t\", \"agentId\": \"a\", \"agentId\": \"a\"}]}"),
        ["d.json:2:40: error: `agentId` appears twice in this object and only the last one would count: remove one (at /tasks/0/agentId)"]
    );
    assert_eq!(
        errors("d.yaml", "agents:\n  - id: a\ntasks:\n  - id: t\n    agentId: a\n    id: u\n"),
        ["d.yaml:6:5: error: `id` appears twice in this object and only the last one would count: remove one (at /tasks/0/id)"]
    );
}

#[test]
fn explicit_phases_take_their_checkpoint_from_execution_checkpoints() {
    let text = PHASED
        .replace(r#""checkpoint": true}"#, r#""checkpoint": false}"#)
        .replace(
            "\n  ]}",
            "\n  ], \"execution\": {\"checkpoints\": [\"design\"]}}",
        );
    let l = parse("p.json", &text).unwrap();
    let p = plan::plan(&l.workflow);
    assert_eq!(p.phases[0].checkpoint.as_deref(), Some("design"));
    assert_eq!(p.phases[1].checkpoint, None);
}

#[test]
fn cli_accepts_yaml() {
    let file = path_str(fixtures().join("workflows/microservices.yaml"));
    let (code, out, err) = prflow(&["plan", &file, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["phases"][2]["tasks"],
        json!([
            "create-frontend",
            "containerize-services",
            "integration-tests"
        ])
    );
    let (code, _, err) = prflow(&[
        "validate",
        &path_str(fixtures().join("workflows/cycle.yaml")),
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cycle.yaml:7:20: error: dependency cycle"),
        "{err}"
    );
}

#[test]
fn json_schema_accepts_the_examples_and_rejects_malformed_prflow_objects() {
    let (code, out, err) = prflow(&["schema"]);
    assert_eq!(code, 0, "{err}");
    let schema: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(schema, prflow::workflow::schema::json_schema());
    let validator = jsonschema::validator_for(&schema).unwrap();
    let read = |p: &Path| -> Value {
        let text = std::fs::read_to_string(p).unwrap();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            common::yaml::one(&text).unwrap()
        } else {
            serde_json::from_str(&text).unwrap()
        }
    };
    // Every claude-flow file (the fixtures, and the upstream copies beside this
    // checkout when present) and every valid fixture workflow.
    let mut dirs = vec![
        fixtures().join("claude-flow"),
        fixtures().join("claude-flow/richer"),
        fixtures().join("claude-flow/v3"),
        fixtures().join("workflows"),
    ];
    let shared = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/claude-flow"
    ));
    if shared.is_dir() {
        dirs.extend([shared.clone(), shared.join("richer")]);
    }
    let mut checked = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let workflow_file = path.extension().is_some_and(|e| e == "json" || e == "yaml");
            // errors.json and cycle.yaml are broken on purpose (for `validate`).
            if !workflow_file || path.ends_with("errors.json") || path.ends_with("cycle.yaml") {
                continue;
            }
            let v = read(&path);
            let problems: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            if path.ends_with("production-config.json") {
                assert!(!problems.is_empty(), "a configuration is not a workflow");
            } else {
                assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} files checked");
    let base = json!({"agents": [{"id": "a"}], "tasks": [{"id": "t", "agentId": "a"}]});
    assert!(validator.is_valid(&base));
    let mut rich = base.clone();
    rich["loops"] = json!([{"id": "l", "type": "foreach", "condition": "outputs['t.items']", "tasks": ["t"], "maxIterations": 3}]);
    rich["conditions"] = json!([{"id": "c", "expression": "true", "type": "simple"}]);
    rich["hooks"] = json!({"pre-task": "echo ${task.id}"});
    rich["settings"] = json!({"runner": {"command": "claude -p"}, "failurePolicy": "ignore", "retryPolicy": "linear"});
    rich["tasks"][0]["onFailure"] = json!(["t"]);
    rich["tasks"][0]["condition"] = json!("c");
    rich["tasks"][0]["dependsOn"] = json!(["t"]);
    rich["tasks"][0]["assignedTo"] = json!("a");
    rich["tasks"][0]["retries"] = json!(2);
    rich["tasks"][0]["timeout"] = json!(300000);
    rich["tasks"][0]["iterative"] = json!(true);
    rich["tasks"][0]["maxIterations"] = json!(3);
    rich["settings"]["hooks"] = json!({"on-error": "echo ${error.message}"});
    rich["execution"] = json!({"mode": "pipeline"});
    rich["x-owner"] = json!("team-a");
    assert!(
        validator.is_valid(&rich),
        "{:?}",
        validator
            .iter_errors(&rich)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    // A misspelt key is flagged wherever it is, as an editor shows it.
    for (pointer, key) in [
        ("", "agnets"),
        ("/tasks/0", "dependecies"),
        ("/agents/0", "capabilites"),
        ("/settings", "failurPolicy"),
        ("/execution", "checkpionts"),
        ("/loops/0", "continueOnErorr"),
        ("/conditions/0", "expresion"),
        ("/hooks", "pre-tsak"),
    ] {
        let mut v = rich.clone();
        v.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), json!(true));
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(
            errors.iter().any(|e| e.contains(key)),
            "`{key}` at {pointer} should be flagged: {errors:?}"
        );
    }
    let dual = read(&v3("feature-development.json"));
    assert!(validator.is_valid(&dual));
    for (pointer, bad) in [
        ("/workers/0/platform", json!("gemini")),
        ("/workers/0/maxTurn", json!(3)),
        ("/tasks", json!([{"id": "t"}])),
    ] {
        let mut v = dual.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), bad.clone());
        assert!(
            !validator.is_valid(&v),
            "{pointer} = {bad} should be rejected"
        );
    }
    for (pointer, bad) in [
        ("/agents/0/runner", json!({"command": "x", "timeout": "1m"})),
        (
            "/agents/0/runner",
            json!({"llm": {"provider": "openia", "model": "m"}}),
        ),
        ("/agents/0/runner", json!("docker")),
        ("/gates", json!([{"name": "g", "rnu": "x"}])),
        ("/phases", json!([{"tasks": ["t"], "checkpiont": true}])),
        ("/outputDir", json!("../up")),
        ("/loops", json!([{"type": "until", "tasks": ["t"]}])),
        ("/conditions", json!([{"id": "c"}])),
        ("/tasks/0/onFailure", json!("t")),
        ("/tasks/0/maxIterations", json!(0)),
        ("/settings", json!({"runner": "docker"})),
    ] {
        let mut v = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), bad.clone());
        assert!(
            !validator.is_valid(&v),
            "{pointer} = {bad} should be rejected"
        );
    }
}

#[test]
fn validate_warns_about_tasks_this_machine_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wf.json");
    std::fs::write(
        &file,
        r#"{"agents": [{"id": "a", "runner": {"command": ["prflow-no-such-program-xyz"]}}],
  "tasks": [{"id": "t", "agentId": "a"}]}"#,
    )
    .unwrap();
    let (code, out, err) = prflow(&["validate", &path_str(file)]);
    assert_eq!(
        code, 0,
        "the file is valid; the machine is not the file: {err}"
    );
    assert!(out.contains("1 warning (on stderr)"), "{out}");
    assert!(
        err.contains("wf.json:2:13: warning: task `t` cannot run here: command `prflow-no-such-program-xyz` was not found on PATH"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("(at /tasks/0)"), "{err}");
}
