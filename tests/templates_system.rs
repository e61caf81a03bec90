//! The packs that wire the whole system together, driven by the system model for every
//! example workflow (issue 15): the deployment pack runs one container per database the
//! services use and gives each service the variable its store reads; the gateway's and
//! the integration tests' routes come from the model's resources.

mod common;
mod render;

use render::{example, render_example, render_pack, system_of, EXAMPLES};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn yaml_docs(files: &BTreeMap<String, String>, path: &str) -> Vec<Value> {
    let text = files
        .get(path)
        .unwrap_or_else(|| panic!("{path} not written; wrote {:?}", files.keys()));
    common::yaml::docs(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The variables that point a service at a database, and the container each names.
const DB_VARS: [(&str, &str); 4] = [
    ("DATABASE_URL", "postgres"),
    ("MYSQL_URL", "mysql"),
    ("REDIS_URL", "redis"),
    ("MONGO_URL", "mongo"),
];
const DB_CONTAINERS: [&str; 4] = ["postgres", "mysql", "redis", "mongo"];

/// The database variables in a compose `environment` map: name → value.
fn db_env(environment: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, _) in DB_VARS {
        if let Some(v) = environment.get(name) {
            out.insert(name.to_string(), v.as_str().unwrap().to_string());
        }
    }
    for stray in ["MONGO_DB", "REDIS_PREFIX"] {
        assert!(environment.get(stray).is_none(), "{stray} in {environment}");
    }
    out
}

/// Whether the rendered service `name` reads variable `var` from the environment.
fn reads(services: &BTreeMap<String, String>, name: &str, var: &str) -> bool {
    let config = &services[&format!("services/{name}/src/config.js")];
    config.contains(&format!("env.{var}"))
}

#[test]
fn ecommerce_deployment_runs_each_of_its_four_databases_and_points_each_service_at_its_own() {
    let f = render_pack("ecommerce-workflow.json", "deployment");
    let services = render_example("ecommerce-workflow.json", |id| id.ends_with("-service"));
    let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
    for c in DB_CONTAINERS {
        let container = &compose["services"][c];
        assert!(
            container["healthcheck"]["test"].is_array(),
            "compose has no healthy {c}: {container}"
        );
        assert!(
            compose["volumes"]
                .as_object()
                .is_some_and(|v| v.contains_key(&format!("{c}-data"))),
            "no volume for {c}"
        );
    }
    for (service, var, url) in [
        ("cart-service", "REDIS_URL", "redis://redis:6379/"),
        ("payment-service", "DATABASE_URL", "@postgres:5432/"),
        ("inventory-service", "MYSQL_URL", "@mysql:3306/"),
        ("shipping-service", "MONGO_URL", "mongodb://mongo:27017/"),
    ] {
        let s = &compose["services"][service];
        let env = db_env(&s["environment"]);
        assert_eq!(
            env.keys().collect::<Vec<_>>(),
            [var],
            "{service} must get exactly {var}"
        );
        assert!(env[var].contains(url), "{service}: {var}={}", env[var]);
        assert!(
            reads(&services, service, var),
            "{service}'s store does not read {var}"
        );
        let host = DB_VARS.iter().find(|(v, _)| *v == var).unwrap().1;
        assert_eq!(
            s["depends_on"][host]["condition"], "service_healthy",
            "{service}"
        );
    }

    // Kubernetes: a StatefulSet and a Service per database, each probed.
    let dbs = yaml_docs(&f, "deployment/k8s/10-databases.yaml");
    for c in DB_CONTAINERS {
        let set = dbs
            .iter()
            .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == c)
            .unwrap_or_else(|| panic!("no StatefulSet {c}"));
        let container = &set["spec"]["template"]["spec"]["containers"][0];
        assert!(
            container["readinessProbe"].is_object() && container["livenessProbe"].is_object(),
            "{c}"
        );
        assert!(dbs
            .iter()
            .any(|d| d["kind"] == "Service" && d["metadata"]["name"] == c));
    }
    let secret = &yaml_docs(&f, "deployment/k8s/02-secrets.template.yaml")[0];
    let deployments = yaml_docs(&f, "deployment/k8s/20-deployments.yaml");
    for (service, var) in [
        ("cart-service", "REDIS_URL"),
        ("payment-service", "DATABASE_URL"),
        ("inventory-service", "MYSQL_URL"),
        ("shipping-service", "MONGO_URL"),
    ] {
        let d = deployments
            .iter()
            .find(|d| d["metadata"]["name"] == service)
            .unwrap_or_else(|| panic!("no Deployment {service}"));
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        let db: Vec<&Value> = env
            .iter()
            .filter(|e| DB_VARS.iter().any(|(v, _)| e["name"] == *v))
            .collect();
        assert_eq!(db.len(), 1, "{service}: {db:?}");
        assert_eq!(db[0]["name"], var, "{service}");
        // A value from the Secret names a key the Secret template has.
        if let Some(key) = db[0]["valueFrom"]["secretKeyRef"]["key"].as_str() {
            assert!(secret["stringData"][key].is_string(), "{service}: {key}");
        } else {
            assert!(db[0]["value"].is_string(), "{service}: {db:?}");
        }
    }
}

/// Every example: the database containers are exactly those some service points at, and
/// every service that keeps data points at one (the auth provider, which names no
/// database, at PostgreSQL).
#[test]
fn every_example_deploys_only_the_databases_its_services_use() {
    for file in EXAMPLES {
        let f = render_pack(file, "deployment");
        if f.is_empty() {
            continue;
        }
        let compose = &yaml_docs(&f, "deployment/docker-compose.yml")[0];
        let all = compose["services"].as_object().unwrap();
        let containers: BTreeSet<&str> = DB_CONTAINERS
            .into_iter()
            .filter(|c| all.contains_key(*c))
            .collect();
        let mut pointed = BTreeSet::new();
        for (name, s) in all {
            for (var, value) in db_env(&s["environment"]) {
                let host = DB_VARS.iter().find(|(v, _)| *v == var).unwrap().1;
                assert!(
                    value.contains(&format!("{host}:")),
                    "{file}: {name}: {var}={value}"
                );
                pointed.insert(host);
            }
        }
        assert_eq!(containers, pointed, "{file}");
        let k8s = f["deployment/k8s/10-databases.yaml"].clone();
        for c in DB_CONTAINERS {
            assert_eq!(
                k8s.contains(&format!("kind: StatefulSet\nmetadata:\n  name: {c}\n")),
                containers.contains(c),
                "{file}: StatefulSet {c}"
            );
        }
    }
}

/// The MongoDB driver fake is kept once, in the backend-service pack: the microservices
/// example's product-service gets the same file as any MongoDB-backed service.
#[test]
fn product_service_tests_on_the_backend_packs_mongodb_fake() {
    let micro = render_example("microservices-workflow.json", |id| {
        id == "create-product-service"
    });
    let shop = render_example("ecommerce-workflow.json", |id| {
        id == "create-shipping-service"
    });
    assert_eq!(
        micro["services/product-service/test/fake-mongo.js"],
        shop["services/shipping-service/test/fake-mongo.js"]
    );
}

/// The gateway's own unit test and the integration tests through the gateway call only
/// the routes the workflow's services own, every one of them, and name no product where
/// the workflow has none (the old packs hard-coded /api/users and /api/products).
#[test]
fn gateway_and_integration_tests_follow_the_workflows_routes() {
    let api = regex::Regex::new(r"/api/[a-z][a-z0-9-]*").unwrap();
    let product = regex::Regex::new(r"(?i)\bproducts?\b").unwrap();
    let prefix = regex::Regex::new(r#""prefix": "(/api/[a-z0-9-]+)""#).unwrap();
    let mut checked = 0;
    for file in EXAMPLES {
        let system = system_of(&example(file));
        let routes: BTreeSet<String> = system["gateway"]["routes"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r["prefix"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let has_products = system["services"].as_array().unwrap().iter().any(|s| {
            s["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["plural"] == "products"))
        });
        let mut files = render_pack(file, "api-gateway");
        // What the gateway serves: the model's routes (and the microservices example's
        // product-service adds /api/categories).
        let mut served = routes.clone();
        for (path, text) in &files {
            if path.ends_with("/src/config.js") {
                served.extend(prefix.captures_iter(text).map(|c| c[1].to_string()));
            }
        }
        files.extend(render_pack(file, "integration-tests"));
        for (path, text) in &files {
            for m in api.find_iter(text) {
                assert!(
                    served.contains(m.as_str()) || m.as_str() == "/api/no-such-route",
                    "{file}: {path} calls {}, which no service of the workflow owns ({served:?})",
                    m.as_str()
                );
            }
            if !has_products {
                assert!(
                    !product.is_match(text) && !path.contains("product"),
                    "{file}: {path} names products, which the workflow does not imply"
                );
            }
        }
        if let Some(it) = files.get("tests/integration/gateway.test.js") {
            for route in routes.iter().filter(|r| *r != "/api/auth") {
                assert!(
                    it.contains(&format!("'{route}'")) || it.contains(&format!("`{route}")),
                    "{file}: the integration tests never call {route}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "only {checked} examples have integration tests"
    );
}
