//! The system model the template packs render from (issue 15): what `prflow plan`
//! shows for the example workflows, resources declared or inferred, and the errors a
//! user gets for what prflow cannot generate.

mod render;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn prflow() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("prflow").unwrap()
}

use render::{example, system_of};

fn service<'a>(system: &'a Value, name: &str) -> &'a Value {
    system["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {system:#}"))
}

fn action_paths(resource: &Value) -> Vec<String> {
    resource["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["method"].as_str().unwrap(),
                a["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_seeds_payment_customization_is_a_service_without_a_task_type() {
    let system = system_of(&example("payment-service-workflow.json"));
    let names: Vec<&str> = system["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["payment-service"]);
    let payment = service(&system, "payment-service");
    assert_eq!(payment["kind"], "backend");
    assert_eq!(payment["framework"], "fastify");
    assert_eq!(payment["database"], "memory");
    assert_eq!(payment["integrations"], json!(["stripe", "paypal"]));
    assert_eq!(payment["port"], 3001);
    let resources = payment["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert_eq!(resources[0]["name"], "Payment");
    assert_eq!(resources[0]["path"], "/api/payments");
    assert_eq!(
        action_paths(&resources[0]),
        [
            "POST /api/payments/checkout",
            "POST /api/payments/:id/refund",
            "POST /api/payments/webhook"
        ]
    );
    assert_eq!(system["gateway"], Value::Null);
    assert_eq!(system["frontend"], Value::Null);
}

#[test]
fn ecommerce_has_its_four_services_routes_and_pages_and_no_products() {
    let system = system_of(&example("ecommerce-workflow.json"));
    let backends: Vec<(&str, &str, &str)> = system["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["framework"].as_str().unwrap(),
                s["database"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backends,
        [
            ("cart-service", "express", "redis"),
            ("payment-service", "fastify", "postgresql"),
            ("inventory-service", "express", "mysql"),
            ("shipping-service", "fastify", "mongodb"),
        ]
    );
    let shipping = service(&system, "shipping-service");
    assert_eq!(shipping["resources"][0]["name"], "Shipment");
    assert_eq!(
        action_paths(&shipping["resources"][0]),
        ["GET /api/shipments/:id/tracking"]
    );
    let cart = service(&system, "cart-service");
    assert_eq!(
        action_paths(&cart["resources"][0]),
        ["POST /api/carts/:id/checkout"]
    );
    let inventory = service(&system, "inventory-service");
    assert_eq!(inventory["resources"][0]["name"], "Item");
    let routes: Vec<(String, u64)> = system["gateway"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["prefix"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("/api/carts".to_string(), 3001),
            ("/api/payments".to_string(), 3002),
            ("/api/items".to_string(), 3003),
            ("/api/shipments".to_string(), 3004),
        ]
    );
    assert_eq!(system["frontend"]["framework"], "react");
    assert_eq!(system["frontend"]["ui"], "mui");
    assert_eq!(system["frontend"]["auth"], false);
    let pages: Vec<&str> = system["frontend"]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plural"].as_str().unwrap())
        .collect();
    assert_eq!(pages, ["carts", "payments", "items", "shipments"]);
    assert_eq!(
        system["databases"],
        json!(["mongodb", "mysql", "postgresql", "redis"])
    );
    let text = system.to_string().to_lowercase();
    assert!(
        !text.contains("product"),
        "the e-commerce model names products: {system:#}"
    );
}

#[test]
fn social_and_iot_variants_infer_their_resources() {
    let social = system_of(&example("social-workflow.json"));
    let auth = service(&social, "auth-service");
    assert_eq!(auth["role"], "auth");
    assert_eq!(auth["provides_auth"], true);
    assert_eq!(auth["resources"], json!([]));
    let content: Vec<&str> = service(&social, "content-service")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(content, ["Post", "Comment"]);
    assert_eq!(
        service(&social, "notification-service")["resources"][0]["name"],
        "Notification"
    );
    assert_eq!(
        service(&social, "messaging-service")["resources"][0]["name"],
        "Message"
    );
    assert_eq!(social["frontend"]["framework"], "vue");
    assert_eq!(social["frontend"]["ui"], "tailwind");
    assert_eq!(social["frontend"]["auth"], true);
    assert_eq!(social["gateway"]["routes"][0]["prefix"], "/api/auth");

    let iot = system_of(&example("iot-workflow.json"));
    let names: Vec<&str> = iot["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["resources"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Device", "Reading", "Report"]);
    assert_eq!(iot["frontend"]["framework"], "svelte");
    assert_eq!(iot["frontend"]["ui"], "bootstrap");
}

#[test]
fn the_microservices_example_keeps_auth_as_a_feature() {
    let system = system_of(&example("microservices-workflow.json"));
    let auth = service(&system, "auth-service");
    assert_eq!(auth["provides_auth"], true);
    assert_eq!(auth["features"], json!(["jwt", "oauth2", "refresh-tokens"]));
    assert_eq!(
        service(&system, "user-service")["resources"][0]["name"],
        "User"
    );
    let product = &service(&system, "product-service")["resources"][0];
    assert_eq!(product["name"], "Product");
    assert!(action_paths(product).contains(&"PATCH /api/products/:id/inventory".to_string()));
    assert_eq!(system["gateway"]["port"], 8080);
    assert_eq!(system["frontend"]["ui"], "mui");
}

#[test]
fn plan_text_summarises_the_system() {
    let out = prflow()
        .arg("plan")
        .arg(example("payment-service-workflow.json"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("payment-service :3001 backend fastify memory [stripe, paypal] Payment /api/payments (checkout, refund, webhook)"),
        "{out}"
    );
}

fn write_workflow(dir: &Path, input: Value) -> PathBuf {
    let w = json!({
        "name": "orders",
        "agents": [{"id": "dev", "type": "developer", "capabilities": ["backend"]}],
        "tasks": [{"id": "create-order-service", "name": "Build orders", "agentId": "dev", "input": input}]
    });
    let path = dir.join("workflow.json");
    std::fs::write(&path, serde_json::to_string_pretty(&w).unwrap()).unwrap();
    path
}

#[test]
fn declared_resources_replace_the_inferred_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_workflow(
        dir.path(),
        json!({"framework": "express", "resources": [
            {"name": "Order", "fields": {"total": "number", "note": {"type": "string"}}, "actions": ["cancel"]},
            "Coupon"
        ]}),
    );
    let system = system_of(&path);
    let rs = &service(&system, "order-service")["resources"];
    assert_eq!(
        rs[0]["fields"],
        json!([
            {"name": "total", "type": "number", "required": true},
            {"name": "note", "type": "string", "required": false}
        ])
    );
    assert_eq!(action_paths(&rs[0]), ["POST /api/orders/:id/cancel"]);
    assert_eq!(rs[1]["name"], "Coupon");
    assert_eq!(rs[1]["path"], "/api/coupons");
}

#[test]
fn a_declared_field_of_an_unknown_type_is_a_validate_error_naming_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_workflow(
        dir.path(),
        json!({"framework": "express", "resources": [{"name": "Order", "fields": {"total": "money"}}]}),
    );
    let out = prflow().arg("validate").arg(&path).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("create-order-service")
            && text.contains("input.resources[0]")
            && text.contains("`money`")
            && text.contains("string, number, integer, boolean, date, json"),
        "{text}"
    );
}

// ---- the generic backend-service pack ----------------------------------------------

use prflow::agents::template::TemplateRunner;
use render::load;
use std::collections::BTreeMap;

/// Every service task of an example rendered with the embedded packs: path → text.
fn render_services(file: &str) -> BTreeMap<String, String> {
    render::render_example(file, |id| id.ends_with("-service"))
}

fn pack_of(file: &str, task: &str) -> String {
    let w = load(&example(file));
    let runner = TemplateRunner::new(None).unwrap();
    runner
        .select(&w, w.task(task).unwrap())
        .unwrap()
        .name
        .clone()
}

#[test]
fn service_tasks_without_a_type_get_the_generic_backend_pack() {
    assert_eq!(
        pack_of("payment-service-workflow.json", "create-payment-service"),
        "backend-service"
    );
    assert_eq!(
        pack_of("payment-service-workflow.json", "containerize-services"),
        "deployment"
    );
    assert_eq!(
        pack_of("payment-service-workflow.json", "integration-tests"),
        "integration-tests"
    );
    assert_eq!(
        pack_of("social-workflow.json", "create-auth-service"),
        "auth-service"
    );
    assert_eq!(
        pack_of("iot-workflow.json", "create-ingestion-service"),
        "backend-service"
    );
}

#[test]
fn each_database_gets_its_store_adapter_and_driver() {
    let f = render_services("ecommerce-workflow.json");
    for (service, store, driver) in [
        ("cart-service", "redis", "\"redis\""),
        ("payment-service", "postgres", "\"pg\""),
        ("inventory-service", "mysql", "\"mysql2\""),
        ("shipping-service", "mongodb", "\"mongodb\""),
    ] {
        let dir = format!("services/{service}");
        assert!(
            f.contains_key(&format!("{dir}/src/stores/{store}.js")),
            "{service}: {:?}",
            f.keys()
        );
        assert!(f.contains_key(&format!("{dir}/src/stores/memory.js")));
        assert!(
            f[&format!("{dir}/package.json")].contains(driver),
            "{service}"
        );
        let others = ["redis", "postgres", "mysql", "mongodb"]
            .iter()
            .filter(|s| **s != store);
        for other in others {
            assert!(
                !f.contains_key(&format!("{dir}/src/stores/{other}.js")),
                "{service} has {other}"
            );
        }
        let integration = &f[&format!("{dir}/integration/store.integration.js")];
        assert!(integration.contains("storeContract"), "{integration}");
    }
    // The MongoDB store is unit-tested on the in-process fake of the driver.
    assert!(f.contains_key("services/shipping-service/test/fake-mongo.js"));
    assert!(f["services/shipping-service/test/stores.test.js"].contains("mongodb (fake driver)"));
    let memory = render_services("payment-service-workflow.json");
    assert!(!memory
        .keys()
        .any(|k| k.contains("stores/postgres") || k.contains("stores/mysql")));
}

#[test]
fn express_or_fastify_as_the_workflow_says() {
    let f = render_services("ecommerce-workflow.json");
    let cart = &f["services/cart-service/package.json"];
    assert!(
        cart.contains("\"express\"") && !cart.contains("\"fastify\""),
        "{cart}"
    );
    let payment = &f["services/payment-service/package.json"];
    assert!(
        payment.contains("\"fastify\"") && !payment.contains("\"express\""),
        "{payment}"
    );
    assert!(f["services/payment-service/src/lib/http.js"].contains("require('fastify')"));
    assert!(f["services/cart-service/src/lib/http.js"].contains("require('express')"));
}

#[test]
fn payments_get_provider_adapters_and_signed_webhooks() {
    let f = render_services("payment-service-workflow.json");
    let providers = &f["services/payment-service/src/payments/providers.js"];
    for p in [
        "function testProvider",
        "function stripeProvider",
        "function paypalProvider",
    ] {
        assert!(providers.contains(p), "{p}");
    }
    assert!(f["services/payment-service/src/payments/signature.js"].contains("createHmac('sha256'"));
    let tests = &f["services/payment-service/test/payments.test.js"];
    assert!(
        tests.contains("a signed webhook updates the payment"),
        "{tests}"
    );
    assert!(
        tests.contains("fakeApi"),
        "the providers are tested against loopback fakes"
    );
    // A cart service has no payments code.
    let e = render_services("ecommerce-workflow.json");
    assert!(!e
        .keys()
        .any(|k| k.starts_with("services/cart-service/src/payments")));
}

#[test]
fn ecommerce_output_names_no_product() {
    let f = render_services("ecommerce-workflow.json");
    let product = regex::Regex::new(r"(?i)\bproducts?\b").unwrap();
    for (path, text) in &f {
        assert!(
            !product.is_match(text) && !path.contains("product"),
            "{path} names products, which the e-commerce workflow does not imply"
        );
    }
}

#[test]
fn generated_services_are_byte_identical_on_rerun() {
    for file in [
        "ecommerce-workflow.json",
        "social-workflow.json",
        "iot-workflow.json",
    ] {
        assert_eq!(render_services(file), render_services(file), "{file}");
    }
}
