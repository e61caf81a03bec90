//! The template runner: pack selection, the pack format's errors, repository packs,
//! determinism, and what the architecture pack derives from the microservices workflow.

mod common;
mod render;

use prflow::agents::template::TemplateRunner;
use prflow::agents::{FileChange, Runner, TaskRequest};
use prflow::workflow::{RunnerSpec, Workflow};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn microservices_text() -> String {
    std::fs::read_to_string(root().join("examples/microservices-workflow.json")).unwrap()
}

/// The workflow as prflow's parser reads it.
fn load(text: &str) -> Workflow {
    match prflow::workflow::parse(Path::new("workflow.json"), text) {
        Ok(loaded) => loaded.workflow,
        Err(d) => panic!("the workflow does not parse: {d:?}"),
    }
}

/// The microservices workflow with `edit` applied to its JSON first.
fn microservices_with(edit: impl FnOnce(&mut Value)) -> Workflow {
    let mut v: Value = serde_json::from_str(&microservices_text()).unwrap();
    edit(&mut v);
    load(&serde_json::to_string_pretty(&v).unwrap())
}

fn task_mut<'a>(v: &'a mut Value, id: &str) -> &'a mut Value {
    v["tasks"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["id"] == id)
        .unwrap()
}

fn run(runner: &TemplateRunner, w: &Workflow, task: &str) -> prflow::agents::AgentOutput {
    render::run_task(runner, w, task, 1).unwrap_or_else(|e| panic!("task {task}: {e}"))
}

fn files(out: &[FileChange]) -> BTreeMap<String, String> {
    out.iter()
        .map(|f| {
            (
                f.path.clone(),
                String::from_utf8(f.content.clone().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn runner() -> TemplateRunner {
    TemplateRunner::new(None).expect("the embedded packs load")
}

#[test]
fn embedded_packs_load_and_architecture_is_there() {
    let r = runner();
    assert!(r.packs().iter().any(|p| p.name == "architecture"));
    assert!(r.packs().iter().any(|p| p.name == "example-readme"));
    assert_eq!(r.kind(), "template");
    assert!(!r.needs_workdir());
}

#[test]
fn design_task_selects_architecture_pack() {
    let r = runner();
    let w = load(&microservices_text());
    let pack = r
        .select(&w, w.task("design-architecture").unwrap())
        .unwrap();
    assert_eq!(pack.name, "architecture");
    assert!(r.check(&w, w.task("design-architecture").unwrap()).is_ok());
}

/// Every task of the microservices workflow that an embedded pack claims gets exactly
/// one pack, and the packs the other engineer ships are chosen for their own tasks.
#[test]
fn microservices_tasks_select_their_packs() {
    let r = runner();
    let w = load(&microservices_text());
    let expected = [
        ("design-architecture", "architecture"),
        ("create-auth-service", "auth-service"),
        ("create-user-service", "user-service"),
        ("create-product-service", "product-service"),
        ("create-api-gateway", "api-gateway"),
        ("create-frontend", "react-frontend"),
        ("containerize-services", "deployment"),
        ("integration-tests", "integration-tests"),
    ];
    for (task, pack) in expected {
        if r.pack(pack).is_none() {
            continue; // that pack is not in the tree yet
        }
        let got = r.select(&w, w.task(task).unwrap());
        assert_eq!(got.map(|p| p.name.as_str()), Ok(pack), "task {task}");
    }
}

#[test]
fn unsupported_feature_names_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("auth-lite");
    std::fs::create_dir_all(pack.join("files")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "name: auth-lite\npriority: 50\nmatch:\n  capabilities: [authentication]\nsupports:\n  features: [jwt, refresh-tokens]\nfiles:\n  - src: files/a.txt\n    dest: a.txt\n",
    )
    .unwrap();
    std::fs::write(pack.join("files/a.txt"), "a").unwrap();
    let r = TemplateRunner::new(Some(dir.path())).unwrap();
    let w = load(&microservices_text());
    let err = r
        .check(&w, w.task("create-auth-service").unwrap())
        .unwrap_err();
    assert!(err.contains("oauth2"), "{err}");
    assert!(err.contains("supported: jwt, refresh-tokens"), "{err}");
    assert!(err.contains("auth-lite"), "{err}");
    assert!(err.contains("create-auth-service"), "{err}");
}

#[test]
fn no_match_lists_packs_and_what_the_task_asked_for() {
    let r = runner();
    let w = microservices_with(|v| {
        let t = task_mut(v, "integration-tests");
        t["type"] = json!("chaos-engineering");
    });
    let err = r
        .check(&w, w.task("integration-tests").unwrap())
        .unwrap_err();
    assert!(
        err.contains("no template pack matches task `integration-tests`"),
        "{err}"
    );
    assert!(err.contains("task type chaos-engineering"), "{err}");
    assert!(err.contains("type tester"), "{err}");
    let packs = err
        .split("Packs: ")
        .nth(1)
        .unwrap()
        .split(". ")
        .next()
        .unwrap();
    assert!(
        packs.contains("architecture") && packs.contains("example-readme"),
        "{err}"
    );
    // The closest pack says exactly which rule failed.
    assert!(err.contains("Closest: `"), "{err}");
    assert!(
        err.contains("task type `chaos-engineering` is not"),
        "{err}"
    );
}

#[test]
fn pinned_pack_that_does_not_exist_is_an_error() {
    let r = runner();
    let mut w = load(&microservices_text());
    w.tasks[0].runner = Some(RunnerSpec::Template {
        pack: Some("nope".into()),
    });
    let err = r.check(&w, &w.tasks[0]).unwrap_err();
    assert!(
        err.contains("`nope`") && err.contains("architecture"),
        "{err}"
    );
}

fn write_pack(dir: &Path, name: &str, manifest: &str, files: &[(&str, &str)]) {
    let p = dir.join(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("pack.yaml"), manifest).unwrap();
    for (rel, text) in files {
        let f = p.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
}

#[test]
fn repo_pack_overrides_embedded_pack() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "architecture",
        "name: architecture\ndescription: ours\nmatch:\n  task_type: [design]\nfiles:\n  - src: files/notes.md.j2\n    dest: \"docs/{{ task.id }}.md\"\n",
        &[("files/notes.md.j2", "# {{ workflow.name }}\n")],
    );
    let r = TemplateRunner::new(Some(dir.path())).unwrap();
    let p = r.pack("architecture").unwrap();
    assert_eq!(p.description, "ours");
    assert_eq!(
        r.packs()
            .iter()
            .filter(|p| p.name == "architecture")
            .count(),
        1
    );
    let w = load(&microservices_text());
    let out = run(&r, &w, "design-architecture");
    let f = files(&out.files);
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec!["docs/design-architecture.md"]
    );
    assert_eq!(
        f["docs/design-architecture.md"],
        "# Microservices Architecture Workflow\n"
    );
}

#[test]
fn broken_manifest_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "broken",
        "name: broken\ndescription: x\nprority: 3\nfiles: []\n",
        &[],
    );
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    let manifest = dir.path().join("broken/pack.yaml").display().to_string();
    assert!(err.starts_with(&format!("{manifest}:3:")), "{err}");
    assert!(err.contains("prority"), "{err}");
}

#[test]
fn missing_src_names_manifest_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "nosrc",
        "name: nosrc\nfiles:\n  - src: files/a.j2\n    dest: a\n  - src: files/missing.j2\n    dest: b\n",
        &[("files/a.j2", "a")],
    );
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosrc/pack.yaml:5:"), "{err}");
    assert!(
        err.contains("files/missing.j2") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn template_syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "badsyntax",
        "name: badsyntax\nfiles:\n  - src: files/x.txt.j2\n    dest: x.txt\n",
        &[("files/x.txt.j2", "line one\nline two\n{% if %}\n")],
    );
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    let file = dir
        .path()
        .join("badsyntax/files/x.txt.j2")
        .display()
        .to_string();
    assert!(err.starts_with(&format!("{file}:3:")), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn folder_and_name_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(dir.path(), "folder", "name: other\n", &[]);
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("folder/pack.yaml:1:") && err.contains("`other`"),
        "{err}"
    );
}

#[test]
fn undefined_variable_at_render_names_template_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "typo",
        "name: typo\npriority: 99\nmatch:\n  task_type: [design]\nfiles:\n  - src: files/x.j2\n    dest: x\n",
        &[("files/x.j2", "ok\n{{ workflow.name }}\n{{ wokflow.name }}\n")],
    );
    let r = TemplateRunner::new(Some(dir.path())).unwrap();
    let w = load(&microservices_text());
    let task = w.task("design-architecture").unwrap();
    let req = TaskRequest {
        run_id: "r",
        workflow: &w,
        task,
        agent: w.agent(&task.agent).unwrap(),
        phase: 1,
        feedback: None,
        base: &render::EmptyTree,
        workdir: None,
        output_dir: ".",
    };
    let err = r.run(&req).unwrap_err().to_string();
    let file = dir.path().join("typo/files/x.j2").display().to_string();
    assert!(err.contains(&format!("{file}:3:")), "{err}");
    assert!(err.contains("undefined"), "{err}");
}

#[test]
fn pack_features_render_variables_dirs_modes_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "svc",
        r#"name: svc
priority: 99
match:
  task_id: create-user-service
  input:
    database: [postgresql]
variables:
  service_name: {default: "{{ task.id | replace('create-', '') }}"}
  port: 1234
files:
  - src: files/tree
    dest: "services/{{ service_name }}"
  - src: files/run.sh
    dest: "services/{{ service_name }}/bin/"
    mode: "0755"
  - src: files/oauth.txt
    dest: oauth.txt
    when: "'oauth2' in features"
outputs:
  url: "http://localhost:{{ port }}"
  list: "{{ [service_name, ui_thing] | tojson }}"
"#,
        &[
            ("files/tree/a.js.j2", "// {{ service_name | pascal }} {{ port }} {{ 'user-service' | camel }} {{ 'UserService' | snake }}\n"),
            ("files/tree/{{ service_name }}.txt", "raw {{ not rendered }}\n"),
            ("files/run.sh", "#!/bin/sh\n"),
            ("files/oauth.txt", "x"),
        ],
    );
    let r = TemplateRunner::new(Some(dir.path())).unwrap();
    let mut w = microservices_with(|v| {
        let t = task_mut(v, "create-user-service");
        t["output"] = json!({"url": "string", "list": "array"});
        t["input"]["ui-thing"] = json!("mui");
    });
    w.output_dir = "out".into();
    let out = run(&r, &w, "create-user-service");
    let f = files(&out.files);
    assert_eq!(
        out.files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        vec![
            "out/services/user-service/a.js",
            "out/services/user-service/user-service.txt",
            "out/services/user-service/bin/run.sh"
        ]
    );
    assert_eq!(
        f["out/services/user-service/a.js"],
        "// UserService 1234 userService user_service\n"
    );
    assert_eq!(
        f["out/services/user-service/user-service.txt"],
        "raw {{ not rendered }}\n"
    );
    let exe: Vec<bool> = out.files.iter().map(|f| f.executable).collect();
    assert_eq!(exe, vec![false, false, true]);
    assert_eq!(out.outputs["url"], json!("http://localhost:1234"));
    assert_eq!(out.outputs["list"], json!(["user-service", "mui"]));
}

/// Every task of the microservices workflow that a pack serves, rendered by two
/// runners from two parses: byte-identical files and outputs.
#[test]
fn rendering_is_deterministic() {
    let (r1, r2) = (runner(), runner());
    let (w1, w2) = (load(&microservices_text()), load(&microservices_text()));
    let mut rendered = 0;
    for t in &w1.tasks {
        if r1.select(&w1, t).is_err() {
            continue;
        }
        let a = run(&r1, &w1, &t.id);
        let b = run(&r2, &w2, &t.id);
        assert!(!a.files.is_empty(), "{}", t.id);
        assert_eq!(a.files, b.files, "task {}", t.id);
        assert_eq!(a.outputs, b.outputs, "task {}", t.id);
        rendered += 1;
    }
    assert!(rendered >= 1);
}

fn openapi(out: &prflow::agents::AgentOutput) -> serde_json::Value {
    let f = files(&out.files);
    common::yaml::one(&f["architecture/api-specs.yaml"]).expect("api-specs.yaml is YAML")
}

fn paths(doc: &serde_json::Value) -> Vec<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn architecture_outputs_for_the_microservices_workflow() {
    let r = runner();
    let w = load(&microservices_text());
    let out = run(&r, &w, "design-architecture");
    let f = files(&out.files);
    assert_eq!(
        out.files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        vec![
            "architecture/architecture.md",
            "architecture/api-specs.yaml",
            "architecture/database-schema.sql"
        ]
    );
    assert_eq!(
        out.outputs["artifacts"],
        json!([
            "architecture/architecture.md",
            "architecture/api-specs.yaml",
            "architecture/database-schema.sql"
        ])
    );

    let doc = openapi(&out);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let p = paths(&doc);
    for expected in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/auth/oauth2/authorize",
        "/api/auth/oauth2/callback",
        "/api/users",
        "/api/users/{id}",
        "/api/users/{id}/profile",
        "/api/users/{id}/preferences",
        "/api/products",
        "/api/products/{id}",
        "/api/products/search",
        "/api/categories",
        "/api/categories/{name}/products",
        "/api/products/{id}/inventory",
    ] {
        assert!(
            p.contains(&expected.to_string()),
            "missing {expected} in {p:?}"
        );
    }
    // Every $ref points at a component that exists.
    let text = &f["architecture/api-specs.yaml"];
    for cap in text.split("$ref: \"#/components/").skip(1) {
        let r = cap.split('"').next().unwrap();
        let (kind, name) = r.split_once('/').unwrap();
        assert!(
            !doc["components"][kind][name].is_null(),
            "dangling $ref {r}"
        );
    }
    // operationIds are unique.
    let mut ids = Vec::new();
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId");

    let md = &f["architecture/architecture.md"];
    assert!(md.contains("```mermaid"));
    for s in [
        "auth-service",
        "user-service",
        "product-service",
        "api-gateway",
        "frontend",
    ] {
        assert!(md.contains(s), "architecture.md lacks {s}");
    }
    assert!(md.contains("user_service --> user_service_db"), "{md}");
    assert!(md.contains("product_service_db[(\"mongodb"), "{md}");
    assert!(md.contains("frontend -->|HTTPS /api| api_gateway"), "{md}");
    assert!(
        md.contains("design_architecture --> create_auth_service"),
        "{md}"
    );

    let sql = &f["architecture/database-schema.sql"];
    for t in [
        "users",
        "profiles",
        "preferences",
        "refresh_tokens",
        "credentials",
    ] {
        assert!(
            sql.contains(&format!("CREATE TABLE IF NOT EXISTS {t} (")),
            "no table {t}:\n{sql}"
        );
    }
    assert!(
        !sql.contains("products"),
        "MongoDB products must not be in the SQL:\n{sql}"
    );
}

#[test]
fn features_not_listed_give_no_route() {
    let r = runner();
    let w = microservices_with(|v| {
        task_mut(v, "create-auth-service")["input"]["features"] = json!(["jwt"]);
        task_mut(v, "create-user-service")["input"]["features"] = json!(["crud"]);
        task_mut(v, "create-product-service")["input"]["features"] = json!(["crud", "inventory"]);
    });
    let out = run(&r, &w, "design-architecture");
    let p = paths(&openapi(&out));
    for absent in [
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/oauth2/authorize",
        "/api/users/{id}/profile",
        "/api/users/{id}/preferences",
        "/api/products/search",
        "/api/categories",
    ] {
        assert!(
            !p.contains(&absent.to_string()),
            "{absent} should be absent: {p:?}"
        );
    }
    for present in [
        "/api/auth/login",
        "/api/users/{id}",
        "/api/products/{id}/inventory",
    ] {
        assert!(p.contains(&present.to_string()), "{present} missing: {p:?}");
    }
    let f = files(&out.files);
    let sql = &f["architecture/database-schema.sql"];
    assert!(sql.contains("TABLE IF NOT EXISTS users ("));
    assert!(
        !sql.contains("profiles")
            && !sql.contains("preferences")
            && !sql.contains("refresh_tokens"),
        "{sql}"
    );
}

#[test]
fn architecture_for_a_workflow_without_services() {
    let r = runner();
    let text = r#"{
      "name": "Research", "description": "Look things up",
      "agents": [{"id": "lead", "name": "Lead", "type": "architect", "capabilities": ["system-design"]},
                 {"id": "r", "name": "Researcher", "type": "researcher", "capabilities": ["search"]}],
      "tasks": [{"id": "plan", "name": "Plan the study", "agentId": "lead", "type": "design"},
                {"id": "dig", "name": "Dig", "agentId": "r", "type": "research", "dependencies": ["plan"],
                 "input": {"topic": "ai", "sources": ["a", "b"]}}],
      "execution": {"checkpoints": ["plan"]}
    }"#;
    let w = load(text);
    let out = run(&r, &w, "plan");
    let f = files(&out.files);
    assert_eq!(
        f.keys().cloned().collect::<Vec<_>>(),
        vec!["architecture/architecture.md"]
    );
    let md = &f["architecture/architecture.md"];
    assert!(md.starts_with("# Research — architecture\n"), "{md}");
    assert!(md.contains("builds no network services"));
    assert!(md.contains("plan --> dig"));
    assert!(
        md.contains("topic: ai; sources: a, b") || md.contains("sources: a, b; topic: ai"),
        "{md}"
    );
}

#[test]
fn example_pack_renders() {
    let r = runner();
    let text = r#"{
      "name": "Docs", "agents": [{"id": "w", "name": "Writer", "type": "writer", "capabilities": []},
                                 {"id": "x", "name": "Other", "type": "x", "capabilities": []}],
      "tasks": [{"id": "write-guide", "name": "Write the guide", "agentId": "w", "type": "documentation",
                 "input": {"topics": ["install", "use"]}, "output": {"document": "string"}}]
    }"#;
    let w = load(text);
    let out = run(&r, &w, "write-guide");
    let f = files(&out.files);
    assert_eq!(
        f["docs/write-guide.md"],
        "# Write the guide\n\nWritten by the Writer agent.\n\nPart of **Docs**, phase 1.\n\n## Topics\n\n- install\n- use\n"
    );
    assert_eq!(f["docs/CONTRIBUTORS"], "Writer (writer)\nOther (x)\n");
    assert_eq!(out.outputs["document"], json!("docs/write-guide.md"));
}

use predicates::prelude::PredicateBooleanExt as _;

fn prflow() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("prflow").unwrap()
}

#[test]
fn cli_list_and_show() {
    let out = prflow()
        .args(["templates", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("PACK"), "{out}");
    assert!(
        out.contains("architecture") && out.contains("task_type=design|architecture|system-design"),
        "{out}"
    );

    let out = prflow()
        .args(["templates", "show", "architecture"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("task type is one of: design"), "{out}");
    assert!(out.contains("docs_dir = architecture"), "{out}");
    assert!(
        out.contains(
            "{{ docs_dir }}/api-specs.yaml  <- files/api-specs.yaml.j2  when system.backends"
        ),
        "{out}"
    );

    prflow()
        .args(["templates", "show", "nope"])
        .assert()
        .code(1)
        .stderr(
            predicates::str::contains("no template pack named `nope`; packs: ")
                .and(predicates::str::contains("architecture,")),
        );
}

#[test]
fn cli_repo_packs() {
    let dir = tempfile::tempdir().unwrap();
    let packs = dir.path().join(".prflow/templates");
    write_pack(
        &packs,
        "mine",
        "name: mine\ndescription: my pack\nmatch:\n  task_type: release\nfiles:\n  - src: files/x.j2\n    dest: x\n",
        &[("files/x.j2", "x")],
    );
    let out = prflow()
        .args(["templates", "list", "--repo"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("mine") && out.contains("[repo: "), "{out}");

    write_pack(
        &packs,
        "bad",
        "name: bad\nfiles:\n  - src: files/none.j2\n    dest: x\n",
        &[],
    );
    prflow()
        .args(["templates", "list", "--repo"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "bad/pack.yaml:3: files[0]: src `files/none.j2` does not exist",
        ));
}

/// Every design task in claude-flow's own example workflows renders with the
/// architecture pack, and any api-specs.yaml it writes is OpenAPI 3.1 YAML.
#[test]
fn architecture_renders_for_every_example_workflow() {
    let r = runner();
    let dir = root().join("tests/fixtures/claude-flow");
    let mut rendered = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(loaded) = prflow::workflow::parse(&path, &text) else {
            continue;
        };
        let w = loaded.workflow;
        for t in &w.tasks {
            if r.select(&w, t).map(|p| p.name.as_str()) != Ok("architecture") {
                continue;
            }
            let out = run(&r, &w, &t.id);
            let f = files(&out.files);
            assert!(
                f.contains_key("architecture/architecture.md"),
                "{}",
                path.display()
            );
            if let Some(spec) = f.get("architecture/api-specs.yaml") {
                let doc = common::yaml::one(spec).unwrap();
                assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
            }
            rendered += 1;
        }
    }
    // microservices, blog-platform (database-design) and api-development (api-design).
    assert!(rendered >= 3, "only {rendered} design tasks rendered");
}

#[cfg(unix)]
#[test]
fn symlinks_in_repo_packs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "leak",
        "name: leak\nfiles:\n  - src: files\n    dest: out\n",
        &[("files/ok.txt", "ok")],
    );
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("leak/files/secret")).unwrap();
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("leak/files/secret") && err.contains("symbolic link"),
        "{err}"
    );
}

#[test]
fn review_feedback_reaches_the_architecture_document() {
    let r = runner();
    let w = load(&microservices_text());
    let task = w.task("design-architecture").unwrap();
    let feedback = prflow::agents::Feedback {
        reviewer: Some("octocat".into()),
        body: "Split the gateway.\nAnd add caching.".into(),
        comments: vec![prflow::agents::InlineComment {
            path: "architecture/api-specs.yaml".into(),
            line: Some(12),
            body: "Version 2?".into(),
        }],
    };
    let req = TaskRequest {
        run_id: "r",
        workflow: &w,
        task,
        agent: w.agent(&task.agent).unwrap(),
        phase: 1,
        feedback: Some(&feedback),
        base: &render::EmptyTree,
        workdir: None,
        output_dir: ".",
    };
    let out = r.run(&req).unwrap();
    let md = &files(&out.files)["architecture/architecture.md"];
    assert!(
        md.ends_with("## Review notes to address\n\noctocat asked for changes:\n\n> Split the gateway.\n> And add caching.\n\n- `architecture/api-specs.yaml:12`: Version 2?\n"),
        "{md}"
    );
    let plain = run(&r, &w, "design-architecture");
    assert!(!files(&plain.files)["architecture/architecture.md"].contains("Review notes"));
}

/// One runner, two versions of a workflow that differ only in one task's features:
/// the cached workflow-level context must not leak from the first into the second.
#[test]
fn cached_context_follows_the_workflow() {
    let r = runner();
    let paths_for = |features: Value| {
        let w = microservices_with(|v| {
            task_mut(v, "create-product-service")["input"]["features"] = features;
        });
        paths(&openapi(&run(&r, &w, "design-architecture")))
    };
    let with = paths_for(json!(["crud", "search"]));
    let without = paths_for(json!(["crud"]));
    assert!(with.contains(&"/api/products/search".to_string()));
    assert!(!without.contains(&"/api/products/search".to_string()));
}

/// `match` as a list: an architect without design capabilities, and a coordinator
/// with one, both get the architecture pack; a developer's design task does not.
#[test]
fn match_alternatives() {
    let r = runner();
    let text = |agent_type: &str, caps: &str| {
        format!(
            r#"{{"name": "Alt", "agents": [{{"id": "a", "name": "A", "type": "{agent_type}", "capabilities": [{caps}]}}],
                "tasks": [{{"id": "d", "name": "Design", "agentId": "a", "type": "design"}}]}}"#
        )
    };
    for (ty, caps, ok) in [
        ("architect", "", true),
        ("coordinator", r#""api-design""#, true),
        ("developer", r#""frontend""#, false),
    ] {
        let w = load(&text(ty, caps));
        let got = r.select(&w, &w.tasks[0]).map(|p| p.name.clone());
        assert_eq!(got.is_ok(), ok, "{ty} [{caps}]: {got:?}");
        if ok {
            assert_eq!(got.unwrap(), "architecture");
        } else {
            let err = got.unwrap_err();
            assert!(
                err.contains("`architecture` (agent type `developer` is not architect)"),
                "{err}"
            );
        }
    }
}

#[test]
fn typo_inside_match_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "typo",
        "name: typo\nmatch:\n  - task_type: [a]\n  - agnet_type: [b]\n",
        &[],
    );
    let err = TemplateRunner::new(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("typo/pack.yaml:4: match: unknown field `agnet_type`"),
        "{err}"
    );
}

#[test]
fn a_pack_borrows_files_of_another_pack_and_a_bad_borrow_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        "borrower",
        "name: borrower\nmatch:\n  task_type: [design]\npriority: 99\nvariables:\n  title: {default: \"Borrowed\"}\n  docs_dir: {default: docs}\nfiles:\n  - src: \"@example-readme/files/doc.md.j2\"\n    dest: \"docs/borrowed.md\"\n",
        &[],
    );
    let r = TemplateRunner::new(Some(dir.path())).unwrap();
    let w = load(&microservices_text());
    let out = run(&r, &w, "design-architecture");
    let f = files(&out.files);
    assert_eq!(f.keys().collect::<Vec<_>>(), vec!["docs/borrowed.md"]);
    assert!(
        f["docs/borrowed.md"].starts_with("# Borrowed\n\nWritten by the System Architect agent."),
        "{f:?}"
    );

    let bad = tempfile::tempdir().unwrap();
    write_pack(
        bad.path(),
        "borrower",
        "name: borrower\nfiles:\n  - src: \"@example-readme/files/nope.j2\"\n    dest: x\n",
        &[],
    );
    let err = TemplateRunner::new(Some(bad.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("borrower/pack.yaml:3:"), "{err}");
    assert!(err.contains("has no file `files/nope.j2`"), "{err}");
}
