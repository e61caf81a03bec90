//! The frontend packs (react-, vue-, svelte-frontend and their shared `frontend`):
//! for each framework, the files a user would open name the workflow's resources and
//! nothing else, the styling library asked for is the one in package.json and the
//! imports, and what no pack generates (next.js, angular, ant-design, Material UI on
//! Vue or Svelte, ssr/pwa/i18n) is refused naming what is supported.
//! Building the apps and running their vitest and Playwright tests is
//! scripts/verify-frontend.sh's job.

mod render;

use prflow::agents::template::TemplateRunner;
use prflow::agents::Runner;
use prflow::workflow::Workflow;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// A workflow with an auth service (when `auth`), one backend per `(task id, input)`
/// and a frontend task with `frontend_input`.
fn system(backends: &[(&str, Value)], auth: bool, frontend_input: Value) -> Workflow {
    let text = system_json(backends, auth, frontend_input);
    match prflow::workflow::parse(Path::new("workflow.json"), &text) {
        Ok(loaded) => loaded.workflow,
        Err(d) => panic!("the workflow does not parse: {d:?}"),
    }
}

/// The workflow file of [`system`].
fn system_json(backends: &[(&str, Value)], auth: bool, frontend_input: Value) -> String {
    let mut tasks = Vec::new();
    if auth {
        tasks.push(json!({
            "id": "create-auth-service", "name": "Auth", "agentId": "backend-dev", "type": "development",
            "input": {"framework": "express", "database": "postgresql", "features": ["jwt", "refresh-tokens"]}
        }));
    }
    for (id, input) in backends {
        tasks.push(json!({"id": id, "name": id, "agentId": "backend-dev", "type": "development", "input": input}));
    }
    tasks.push(json!({
        "id": "create-frontend", "name": "Build the frontend", "agentId": "frontend-dev",
        "type": "development", "input": frontend_input
    }));
    tasks.push(json!({
        "id": "containerize-services", "name": "Containers", "agentId": "devops", "type": "devops",
        "dependencies": ["create-frontend"]
    }));
    json!({
        "name": "Frontend check",
        "agents": [
            {"id": "backend-dev", "name": "Backend", "type": "developer", "capabilities": ["backend"]},
            {"id": "frontend-dev", "name": "Frontend", "type": "developer", "capabilities": ["frontend", "ui-design"]},
            {"id": "devops", "name": "DevOps", "type": "devops", "capabilities": ["docker", "kubernetes"]}
        ],
        "tasks": tasks
    })
    .to_string()
}

/// Renders the frontend task with the embedded packs: path → text.
fn render(w: &Workflow) -> BTreeMap<String, String> {
    render_task(w, "create-frontend")
}

fn render_task(w: &Workflow, id: &str) -> BTreeMap<String, String> {
    render::render_in(w, id, 1)
}

/// Why the packs refuse the frontend task (panics when they accept it).
fn refusal(w: &Workflow) -> String {
    let runner = TemplateRunner::new(None).unwrap();
    match runner.check(w, w.task("create-frontend").unwrap()) {
        Ok(()) => panic!("the frontend task was accepted"),
        Err(e) => e,
    }
}

fn package(files: &BTreeMap<String, String>, app: &str) -> Value {
    let path = format!("{app}/package.json");
    let text = files
        .get(&path)
        .unwrap_or_else(|| panic!("{path} not written; wrote {:?}", files.keys()));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}\n{text}"))
}

/// Every dependency name in package.json (runtime and dev).
fn dependencies(pkg: &Value) -> Vec<String> {
    ["dependencies", "devDependencies"]
        .iter()
        .flat_map(|k| {
            pkg[k]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys().cloned())
        })
        .collect()
}

/// The files of the app a user reads and edits (tests and docs aside).
fn sources<'f>(files: &'f BTreeMap<String, String>, app: &str) -> Vec<(&'f String, &'f String)> {
    files
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{app}/src/")))
        .collect()
}

fn payments_and_devices() -> Vec<(&'static str, Value)> {
    vec![
        (
            "create-payment-service",
            json!({"framework": "fastify", "database": "postgresql", "integrations": ["stripe"]}),
        ),
        (
            "create-device-service",
            json!({"framework": "express", "database": "mongodb"}),
        ),
    ]
}

struct Case {
    framework: &'static str,
    ui: &'static str,
    app: &'static str,
    entry: &'static str,
    /// Dependencies the choice must bring.
    brings: &'static [&'static str],
    /// Dependencies of the other choices, which must be absent.
    not: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        framework: "react",
        ui: "material-ui",
        app: "frontend/react-app",
        entry: "src/App.jsx",
        brings: &["react", "react-dom", "@mui/material", "@emotion/react"],
        not: &["vue", "svelte", "tailwindcss", "bootstrap"],
    },
    Case {
        framework: "react",
        ui: "tailwind",
        app: "frontend/react-app",
        entry: "src/App.jsx",
        brings: &["react", "tailwindcss", "@tailwindcss/vite"],
        not: &["@mui/material", "bootstrap", "vue"],
    },
    Case {
        framework: "vue",
        ui: "tailwind",
        app: "frontend/vue-app",
        entry: "src/App.vue",
        brings: &[
            "vue",
            "@vitejs/plugin-vue",
            "tailwindcss",
            "@tailwindcss/vite",
        ],
        not: &["react", "@mui/material", "bootstrap", "svelte"],
    },
    Case {
        framework: "svelte",
        ui: "bootstrap",
        app: "frontend/svelte-app",
        entry: "src/App.svelte",
        brings: &["svelte", "@sveltejs/vite-plugin-svelte", "bootstrap"],
        not: &["react", "vue", "@mui/material", "tailwindcss"],
    },
];

#[test]
fn each_framework_renders_pages_for_the_workflows_resources_with_the_chosen_styling() {
    for c in CASES {
        let w = system(
            &payments_and_devices(),
            true,
            json!({"framework": c.framework, "ui-library": c.ui, "features": ["dashboard"]}),
        );
        let f = render(&w);
        let case = format!("{} + {}", c.framework, c.ui);
        assert!(
            f.contains_key(&format!("{}/{}", c.app, c.entry)),
            "{case}: {:?}",
            f.keys()
        );
        for required in [
            "src/api.js",
            "src/resources.js",
            "test/api.test.js",
            "e2e/pages.test.js",
            "vite.config.js",
            "index.html",
        ] {
            assert!(
                f.contains_key(&format!("{}/{required}", c.app)),
                "{case}: {required} missing"
            );
        }
        assert!(
            f.keys().all(|p| p.starts_with(&format!("{}/", c.app))),
            "{case}: files outside {}: {:?}",
            c.app,
            f.keys()
        );

        let pkg = package(&f, c.app);
        let deps = dependencies(&pkg);
        for d in c.brings {
            assert!(deps.iter().any(|x| x == d), "{case}: {d} missing: {pkg}");
        }
        for d in c.not {
            assert!(!deps.iter().any(|x| x == d), "{case}: stray {d}: {pkg}");
        }
        for d in ["vite", "vitest", "playwright-core"] {
            assert!(deps.iter().any(|x| x == d), "{case}: {d} missing: {pkg}");
        }
        assert_eq!(pkg["scripts"]["test"], "vitest run", "{case}");

        // The pages: one per resource, through the gateway's /api paths, and the
        // microservices example's products and users nowhere.
        let resources = &f[&format!("{}/src/resources.js", c.app)];
        for needle in [
            "route: \"payments\"",
            "path: \"/api/payments\"",
            "route: \"devices\"",
            "path: \"/api/devices\"",
            "export const AUTH = true;",
            "export const DASHBOARD = true;",
        ] {
            assert!(resources.contains(needle), "{case}: {needle}\n{resources}");
        }
        for (path, text) in sources(&f, c.app) {
            let lower = text.to_ascii_lowercase();
            for stray in ["product", "/api/users", "listusers", "catalog"] {
                assert!(!lower.contains(stray), "{case}: {path} names `{stray}`");
            }
        }
        let main = f
            .iter()
            .find(|(p, _)| p.starts_with(&format!("{}/src/main.", c.app)))
            .map(|(_, t)| t.as_str())
            .unwrap();
        match c.ui {
            "material-ui" => {
                assert!(main.contains("@mui/material/styles"), "{case}: {main}");
                assert!(
                    f[&format!("{}/src/ui.jsx", c.app)].contains("from '@mui/material/TextField'")
                );
                assert!(
                    !f.contains_key(&format!("{}/src/style.css", c.app)),
                    "{case}"
                );
            }
            "tailwind" => {
                let css = &f[&format!("{}/src/style.css", c.app)];
                assert!(css.contains("@import \"tailwindcss\";"), "{case}: {css}");
                assert!(f[&format!("{}/vite.config.js", c.app)].contains("tailwindcss()"));
                let classes = &f[&format!("{}/src/ui-classes.js", c.app)];
                assert!(classes.contains("bg-blue-700"), "{case}: {classes}");
            }
            "bootstrap" => {
                assert!(
                    main.contains("import 'bootstrap/dist/css/bootstrap.min.css';"),
                    "{case}: {main}"
                );
                let classes = &f[&format!("{}/src/ui-classes.js", c.app)];
                assert!(classes.contains("btn btn-primary"), "{case}: {classes}");
            }
            other => panic!("no expectations for {other}"),
        }
        // Rendering is deterministic.
        assert_eq!(render(&w), f, "{case}: a second render differs");
    }
}

#[test]
fn a_system_without_auth_has_no_sign_in_and_no_dashboard_unless_asked() {
    let w = system(
        &payments_and_devices(),
        false,
        json!({"framework": "vue", "styling": "tailwind"}),
    );
    let f = render(&w);
    let resources = &f["frontend/vue-app/src/resources.js"];
    assert!(
        resources.contains("export const AUTH = false;"),
        "{resources}"
    );
    assert!(
        resources.contains("export const DASHBOARD = false;"),
        "{resources}"
    );
    let readme = &f["frontend/vue-app/README.md"];
    assert!(!readme.contains("Sign in"), "{readme}");
    assert!(readme.contains("`/api/payments`"), "{readme}");
}

#[test]
fn a_frontend_with_no_framework_is_react_and_plain_css_when_no_ui_is_named() {
    let w = system(
        &payments_and_devices(),
        true,
        json!({"features": ["dashboard"]}),
    );
    let f = render(&w);
    let pkg = package(&f, "frontend/react-app");
    let deps = dependencies(&pkg);
    assert!(deps.iter().any(|d| d == "react"), "{pkg}");
    assert!(
        !deps
            .iter()
            .any(|d| d == "@mui/material" || d == "tailwindcss" || d == "bootstrap"),
        "{pkg}"
    );
    assert!(f["frontend/react-app/src/style.css"].contains(".app-nav {"));
}

#[test]
fn unsupported_frameworks_libraries_and_features_are_refused_naming_the_supported_ones() {
    let backends = payments_and_devices();
    let cases: &[(Value, &[&str])] = &[
        (
            json!({"framework": "angular"}),
            &["framework angular", "react, vue, svelte"],
        ),
        (
            json!({"framework": "next.js", "features": ["ssr"]}),
            &["framework next.js", "react, vue, svelte"],
        ),
        (
            json!({"framework": "react", "ui-library": "ant-design"}),
            &[
                "ui-library ant-design",
                "material-ui",
                "tailwind",
                "bootstrap",
            ],
        ),
        (
            json!({"framework": "vue", "ui-library": "material-ui"}),
            &["ui-library material-ui", "supported: tailwind", "bootstrap"],
        ),
        (
            json!({"framework": "svelte", "ui-library": "mui"}),
            &["ui-library mui", "supported: tailwind"],
        ),
        (
            json!({"framework": "react", "ui-library": "mui", "features": ["dashboard", "ssr", "pwa", "i18n"]}),
            &["features ssr, pwa, i18n", "dashboard"],
        ),
        (
            json!({"framework": "svelte", "styling": "ant-design"}),
            &["styling ant-design", "bootstrap"],
        ),
    ];
    for (input, says) in cases {
        let w = system(&backends, true, input.clone());
        let err = refusal(&w);
        for s in *says {
            assert!(err.contains(s), "{input}: `{s}` not in: {err}");
        }
    }
}

#[test]
fn validate_fails_on_a_framework_no_pack_generates_unless_a_default_runner_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workflow.json");
    std::fs::write(
        &file,
        system_json(
            &payments_and_devices(),
            true,
            json!({"framework": "angular"}),
        ),
    )
    .unwrap();
    let validate = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_prflow"))
            .arg("validate")
            .arg(&file)
            .args(extra)
            .env_remove("PRFLOW_DEFAULT_RUNNER")
            .output()
            .unwrap()
    };
    let out = validate(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: task `create-frontend` asks for framework angular (supported: react, vue, svelte)"),
        "{err}"
    );
    assert!(
        err.contains("1 task asks for what the template packs do not generate"),
        "{err}"
    );
    // A coding agent as the default runner builds what the packs do not.
    let out = validate(&["--runner", "claude -p"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_frontend_image_builds_the_app_the_frontend_pack_wrote() {
    for (framework, app) in [
        ("react", "frontend/react-app"),
        ("vue.js", "frontend/vue-app"),
        ("svelte", "frontend/svelte-app"),
    ] {
        let w = system(
            &payments_and_devices(),
            true,
            json!({"framework": framework, "ui-library": "bootstrap"}),
        );
        assert!(
            render(&w).contains_key(&format!("{app}/package.json")),
            "{framework}"
        );
        let f = render_task(&w, "containerize-services");
        let dockerfile = &f["deployment/docker/frontend/Dockerfile"];
        assert!(
            dockerfile.contains(&format!("COPY {app}/package.json ./"))
                && dockerfile.contains(&format!("COPY {app}/ ./")),
            "{framework}: {dockerfile}"
        );
    }
}
