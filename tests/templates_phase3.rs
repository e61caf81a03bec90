//! The phase-3 packs of the microservices workflow (deployment, integration-tests;
//! the frontend packs are tests/templates_frontend.rs's): features present or absent, services derived from the workflow,
//! thresholds taken from `performanceThreshold`, valid JSON/YAML, determinism.
//! Running the generated system itself is scripts/verify-frontend.sh's job.

mod common;
mod render;

use prflow::workflow::Workflow;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn microservices_text() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("examples/microservices-workflow.json")).unwrap()
}

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

/// Drops task `id` and every dependency on it.
fn without_task(v: &mut Value, id: &str) {
    let tasks = v["tasks"].as_array_mut().unwrap();
    tasks.retain(|t| t["id"] != id);
    for t in tasks.iter_mut() {
        if let Some(deps) = t["dependencies"].as_array_mut() {
            deps.retain(|d| d != id);
        }
    }
    if let Some(cps) = v["execution"]["checkpoints"].as_array_mut() {
        cps.retain(|c| c != id);
    }
}

/// Renders one task with the embedded packs: path → text.
fn render(w: &Workflow, task: &str) -> BTreeMap<String, String> {
    render::render_in(w, task, 3)
}

fn json_of(files: &BTreeMap<String, String>, path: &str) -> Value {
    let text = files
        .get(path)
        .unwrap_or_else(|| panic!("{path} not written; wrote {:?}", files.keys()));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}\n{text}"))
}

fn yaml_docs(files: &BTreeMap<String, String>, path: &str) -> Vec<Value> {
    let text = files
        .get(path)
        .unwrap_or_else(|| panic!("{path} not written"));
    common::yaml::docs(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn deployment_covers_every_service_of_the_workflow() {
    let w = load(&microservices_text());
    let f = render(&w, "containerize-services");
    let services = [
        "auth-service",
        "user-service",
        "product-service",
        "api-gateway",
        "frontend",
    ];
    for s in services {
        assert!(
            f.contains_key(&format!("deployment/docker/{s}/Dockerfile")),
            "{s}: {:?}",
            f.keys()
        );
    }
    let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
    let names: Vec<&str> = compose["services"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for s in services.iter().chain(&["postgres", "mongo"]) {
        assert!(names.contains(s), "compose lacks {s}: {names:?}");
    }
    for s in names.iter() {
        assert!(
            compose["services"][s]["healthcheck"]["test"].is_array(),
            "{s} has no healthcheck"
        );
    }
    let gw_env = &compose["services"]["api-gateway"]["environment"];
    assert_eq!(
        gw_env["PRODUCT_SERVICE_URL"].as_str(),
        Some("http://product-service:3003")
    );
    assert_eq!(
        compose["services"]["user-service"]["environment"]["PORT"].as_str(),
        Some("3002")
    );

    let deployments = yaml_docs(&f, "deployment/k8s/20-deployments.yaml");
    assert_eq!(deployments.len(), 5);
    for d in &deployments {
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert!(c["resources"]["limits"]["memory"].is_string(), "{d:?}");
        if d["metadata"]["name"] != "frontend" {
            assert_eq!(
                c["livenessProbe"]["httpGet"]["path"].as_str(),
                Some("/health/live")
            );
            assert_eq!(
                c["readinessProbe"]["httpGet"]["path"].as_str(),
                Some("/health/ready")
            );
        }
    }
    for k in [
        "00-namespace.yaml",
        "01-configmap.yaml",
        "02-secrets.template.yaml",
        "30-services.yaml",
        "40-ingress.yaml",
    ] {
        assert!(
            !yaml_docs(&f, &format!("deployment/k8s/{k}")).is_empty(),
            "{k} is empty"
        );
    }
    let secret = &f["deployment/k8s/02-secrets.template.yaml"];
    assert!(
        secret.contains("CHANGE_ME"),
        "the secrets template must hold placeholders only"
    );
}

#[test]
fn deployment_leaves_out_what_the_workflow_does_not_build() {
    let w = microservices_with(|v| without_task(v, "create-product-service"));
    let f = render(&w, "containerize-services");
    assert!(
        !f.contains_key("deployment/docker/product-service/Dockerfile"),
        "{:?}",
        f.keys()
    );
    let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
    assert!(
        compose["services"]["mongo"].is_null() && compose["services"]["product-service"].is_null()
    );
    assert!(
        compose["volumes"]["mongo-data"].is_null() && !compose["services"]["postgres"].is_null()
    );
    assert!(!f["deployment/k8s/10-databases.yaml"].contains("name: mongo"));
}

/// The names of the `env` entries of Deployment `name` in 20-deployments.yaml.
fn k8s_env_names(f: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    let deployments = yaml_docs(f, "deployment/k8s/20-deployments.yaml");
    let d = deployments
        .iter()
        .find(|d| d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no Deployment {name}"));
    d["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// auth-service runs with several replicas: without DATABASE_URL each replica keeps its
/// own accounts in memory and a login can reach one that never saw the registration.
#[test]
fn replicated_auth_service_gets_the_database() {
    let w = load(&microservices_text());
    let f = render(&w, "containerize-services");
    let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
    let auth = &compose["services"]["auth-service"];
    assert!(
        auth["environment"]["DATABASE_URL"]
            .as_str()
            .is_some_and(|u| u.contains("@postgres:5432/")),
        "{auth:?}"
    );
    assert!(!auth["depends_on"]["postgres"].is_null(), "{auth:?}");
    assert!(k8s_env_names(&f, "auth-service").contains(&"DATABASE_URL".to_string()));
    assert!(!k8s_env_names(&f, "product-service").contains(&"DATABASE_URL".to_string()));

    // Without user-service nothing else uses PostgreSQL: auth-service still brings it.
    let w = microservices_with(|v| without_task(v, "create-user-service"));
    let f = render(&w, "containerize-services");
    let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
    assert!(!compose["services"]["postgres"].is_null());
    assert!(compose["services"]["auth-service"]["environment"]["DATABASE_URL"].is_string());
    assert!(f["deployment/k8s/10-databases.yaml"].contains("name: postgres"));
    assert!(f["deployment/k8s/02-secrets.template.yaml"].contains("DATABASE_URL"));
    assert!(k8s_env_names(&f, "auth-service").contains(&"DATABASE_URL".to_string()));
}

#[test]
fn tests_pack_follows_test_types_and_performance_threshold() {
    let w = microservices_with(|v| {
        v["quality"]["performanceThreshold"] = json!({"responseTime": 150, "throughput": 2500});
    });
    let f = render(&w, "integration-tests");
    let pkg = json_of(&f, "tests/package.json");
    for s in [
        "test",
        "test:integration",
        "test:e2e",
        "test:load",
        "test:coverage",
    ] {
        assert!(pkg["scripts"][s].is_string(), "script {s} missing: {pkg}");
    }
    assert!(
        pkg["dependencies"]["playwright-core"].is_string()
            && pkg["dependencies"]["autocannon"].is_string()
    );
    let load = &f["tests/performance/load.js"];
    assert!(load.contains("process.env.LOAD_P95_MS || 150"), "{load}");
    assert!(load.contains("process.env.LOAD_MIN_RPS || 2500"), "{load}");
    assert!(f["tests/coverage-check.js"].contains("process.env.COVERAGE_MIN || 80"));
    let it = &f["tests/integration/gateway.test.js"];
    for must in [
        "a token signed with another secret is 401",
        "answered 429",
        "creates a user profile",
        "creates a product",
    ] {
        assert!(it.contains(must), "integration test lacks `{must}`");
    }
    let e2e = &f["tests/e2e/login-products.test.js"];
    assert!(
        e2e.contains("'/usr/bin/chromium'")
            && e2e.contains("'--disable-quic'")
            && e2e.contains("launchPersistentContext")
    );

    // Only API tests asked for, no performanceThreshold: no e2e, no load, still valid JSON.
    let w = microservices_with(|v| {
        task_mut(v, "integration-tests")["input"]["testTypes"] = json!(["api"]);
        v["quality"]
            .as_object_mut()
            .unwrap()
            .remove("performanceThreshold");
    });
    let f = render(&w, "integration-tests");
    let pkg = json_of(&f, "tests/package.json");
    assert!(
        pkg["scripts"]["test:e2e"].is_null() && pkg["scripts"]["test:load"].is_null(),
        "{pkg}"
    );
    assert_eq!(pkg["dependencies"], json!({}));
    assert!(!f
        .keys()
        .any(|k| k.starts_with("tests/e2e/") || k.starts_with("tests/performance/")));
    assert!(f.contains_key("tests/integration/gateway.test.js"));

    // e2e only, with the threshold: both dependencies, valid JSON.
    let w = microservices_with(|v| {
        task_mut(v, "integration-tests")["input"]["testTypes"] = json!(["e2e"]);
    });
    let pkg = json_of(&render(&w, "integration-tests"), "tests/package.json");
    assert!(pkg["scripts"]["test:integration"].is_null(), "{pkg}");
    assert!(
        pkg["dependencies"]["playwright-core"].is_string()
            && pkg["dependencies"]["autocannon"].is_string()
    );
}

#[test]
fn integration_tests_skip_services_the_workflow_does_not_build() {
    let w = microservices_with(|v| without_task(v, "create-user-service"));
    let it = render(&w, "integration-tests")["tests/integration/gateway.test.js"].clone();
    assert!(!it.contains("creates a user profile"), "{it}");
    assert!(it.contains("creates a product"));
}

#[test]
fn phase_three_rendering_is_deterministic() {
    let w = load(&microservices_text());
    for task in [
        "create-frontend",
        "containerize-services",
        "integration-tests",
    ] {
        assert_eq!(
            render(&w, task),
            render(&w, task),
            "{task} differs between two renders"
        );
    }
}
