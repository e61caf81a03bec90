//! Renders tasks of the example workflows with the embedded template packs, as the
//! template runner does in `prflow run`, without git: path → text of every file a task
//! writes. Shared by the tests of the packs (generate, templates*, hostile_input).
#![allow(dead_code)] // each test binary uses only part of it

use prflow::agents::template::TemplateRunner;
use prflow::agents::{AgentError, AgentOutput, Runner, TaskRequest, TreeView};
use prflow::workflow::Workflow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every example workflow that builds a system (the GitHub Action file is not one).
pub const EXAMPLES: [&str; 5] = [
    "microservices-workflow.json",
    "payment-service-workflow.json",
    "ecommerce-workflow.json",
    "social-workflow.json",
    "iot-workflow.json",
];

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

pub fn load(path: &Path) -> Workflow {
    let text = std::fs::read_to_string(path).unwrap();
    match prflow::workflow::parse(path, &text) {
        Ok(loaded) => loaded.workflow,
        Err(d) => panic!("{} does not parse: {d:?}", path.display()),
    }
}

/// `prflow plan FILE --format json`'s `system`: the model every pack renders from.
pub fn system_of(file: &Path) -> serde_json::Value {
    let out = assert_cmd::Command::cargo_bin("prflow")
        .unwrap()
        .arg("plan")
        .arg(file)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    plan["system"].clone()
}

/// A base tree with nothing in it: the packs render from the workflow alone.
pub struct EmptyTree;
impl TreeView for EmptyTree {
    fn read(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn list(&self, _: &str) -> Vec<String> {
        vec![]
    }
}

/// Task `task` of `w` run by `runner` in phase `phase`, on an empty tree, with no
/// review to answer.
pub fn run_task(
    runner: &TemplateRunner,
    w: &Workflow,
    task: &str,
    phase: usize,
) -> Result<AgentOutput, AgentError> {
    let task = w.task(task).unwrap_or_else(|| panic!("no task {task}"));
    runner.run(&TaskRequest {
        run_id: "abc123",
        workflow: w,
        task,
        agent: w.agent(&task.agent).unwrap(),
        phase,
        feedback: None,
        base: &EmptyTree,
        workdir: None,
        output_dir: &w.output_dir,
    })
}

/// Path → text of every file `out` writes.
pub fn texts(out: AgentOutput) -> BTreeMap<String, String> {
    out.files
        .into_iter()
        .map(|f| (f.path, String::from_utf8(f.content.unwrap()).unwrap()))
        .collect()
}

/// The files task `task` of `w` writes (phase `phase`), with the embedded packs.
pub fn render_in(w: &Workflow, task: &str, phase: usize) -> BTreeMap<String, String> {
    let runner = TemplateRunner::new(None).expect("the embedded packs load");
    texts(run_task(&runner, w, task, phase).unwrap_or_else(|e| panic!("task {task}: {e}")))
}

/// The files task `task` of `w` writes.
pub fn render(w: &Workflow, task: &str) -> BTreeMap<String, String> {
    render_in(w, task, 2)
}

/// The files of every task of example `file` whose id `pick` accepts.
pub fn render_example(file: &str, pick: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
    let w = load(&example(file));
    let mut out = BTreeMap::new();
    for task in w.tasks.iter().filter(|t| pick(&t.id)) {
        out.extend(render(&w, &task.id));
    }
    out
}

/// The ids of the tasks of `w` the embedded pack `pack` serves.
pub fn tasks_of_pack(w: &Workflow, pack: &str) -> Vec<String> {
    let runner = TemplateRunner::new(None).expect("the embedded packs load");
    w.tasks
        .iter()
        .filter(|t| runner.select(w, t).is_ok_and(|p| p.name == pack))
        .map(|t| t.id.clone())
        .collect()
}

/// The files the tasks served by `pack` write for example `file` (empty when none is).
pub fn render_pack(file: &str, pack: &str) -> BTreeMap<String, String> {
    let w = load(&example(file));
    let mut out = BTreeMap::new();
    for id in tasks_of_pack(&w, pack) {
        out.extend(render(&w, &id));
    }
    out
}
