//! The resources a backend service owns: given in the task's input (`resources` or
//! `entities`, a small prflow extension), or inferred from the service's name and
//! features through one table ([`KNOWN`], [`FEATURE_ADDS`]).
//!
//! Inference is a table rather than heuristics spread over the packs so a user can read
//! (templates/README.md, "Resources") exactly what a workflow will generate, and so
//! every pack (service, gateway, frontend, tests, docs) names the same things.

use serde::Serialize;
use serde_json::Value;

/// The field types a resource may use; every adapter and validator knows these.
pub const FIELD_TYPES: &[&str] = &["string", "number", "integer", "boolean", "date", "json"];

/// Every path a generated service serves is under this prefix (the gateway forwards it).
pub const API_PREFIX: &str = "/api";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Action {
    pub name: String,
    pub method: String,
    /// The full path through the gateway, `/api/payments/:id/refund`.
    pub path: String,
    /// `item` (the path has `:id`) or `collection`.
    pub scope: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    /// PascalCase singular: `Payment`.
    pub name: String,
    /// lower-case plural, the collection's name: `payments`.
    pub plural: String,
    /// `/api/payments`.
    pub path: String,
    pub fields: Vec<Field>,
    pub actions: Vec<Action>,
}

/// One row of the inference table: a service whose name or features contain one of
/// `words` owns `name` with `fields` (name, type, required) and `actions`.
struct Known {
    words: &'static [&'static str],
    name: &'static str,
    fields: &'static [(&'static str, &'static str, bool)],
    actions: &'static [ActionSpec],
}

/// (name, method, `item` or `collection`).
type ActionSpec = (&'static str, &'static str, &'static str);

const KNOWN: &[Known] = &[
    Known {
        words: &[
            "user", "users", "account", "accounts", "profile", "profiles",
        ],
        name: "User",
        fields: &[("email", "string", true), ("name", "string", true)],
        actions: &[],
    },
    Known {
        words: &["product", "products", "catalog", "catalogue"],
        name: "Product",
        fields: &[
            ("name", "string", true),
            ("description", "string", false),
            ("price", "number", true),
            ("category", "string", false),
        ],
        actions: &[],
    },
    Known {
        words: &["cart", "carts", "basket"],
        name: "Cart",
        fields: &[
            ("userId", "string", true),
            ("items", "json", true),
            ("total", "number", false),
            ("status", "string", false),
        ],
        actions: &[],
    },
    Known {
        words: &["order", "orders"],
        name: "Order",
        fields: &[
            ("userId", "string", true),
            ("items", "json", true),
            ("total", "number", true),
            ("status", "string", false),
        ],
        actions: &[],
    },
    Known {
        words: &["payment", "payments", "billing"],
        name: "Payment",
        fields: &[
            ("orderId", "string", true),
            ("amount", "number", true),
            ("currency", "string", true),
            ("provider", "string", false),
            ("status", "string", false),
        ],
        actions: &[],
    },
    Known {
        words: &["inventory", "stock", "warehouse"],
        name: "Item",
        fields: &[
            ("sku", "string", true),
            ("name", "string", true),
            ("quantity", "integer", true),
        ],
        actions: &[],
    },
    Known {
        words: &["shipping", "shipment", "shipments", "delivery"],
        name: "Shipment",
        fields: &[
            ("orderId", "string", true),
            ("address", "string", true),
            ("carrier", "string", false),
            ("status", "string", false),
        ],
        actions: &[],
    },
    Known {
        words: &["post", "posts", "content", "feed"],
        name: "Post",
        fields: &[
            ("authorId", "string", true),
            ("title", "string", true),
            ("body", "string", true),
        ],
        actions: &[],
    },
    Known {
        words: &["comment", "comments"],
        name: "Comment",
        fields: &[
            ("postId", "string", true),
            ("authorId", "string", true),
            ("body", "string", true),
        ],
        actions: &[],
    },
    Known {
        words: &["notification", "notifications"],
        name: "Notification",
        fields: &[
            ("userId", "string", true),
            ("message", "string", true),
            ("read", "boolean", false),
        ],
        actions: &[("read", "POST", "item")],
    },
    Known {
        words: &["messaging", "message", "messages", "chat"],
        name: "Message",
        fields: &[
            ("senderId", "string", true),
            ("recipientId", "string", true),
            ("body", "string", true),
        ],
        actions: &[],
    },
    Known {
        words: &["device", "devices", "device-management"],
        name: "Device",
        fields: &[
            ("name", "string", true),
            ("model", "string", true),
            ("status", "string", false),
            ("lastSeenAt", "date", false),
        ],
        actions: &[],
    },
    Known {
        words: &[
            "ingestion",
            "data-ingestion",
            "telemetry",
            "reading",
            "readings",
            "sensor",
        ],
        name: "Reading",
        fields: &[
            ("deviceId", "string", true),
            ("metric", "string", true),
            ("value", "number", true),
            ("recordedAt", "date", true),
        ],
        actions: &[("batch", "POST", "collection")],
    },
    Known {
        words: &["analytics", "report", "reports"],
        name: "Report",
        fields: &[
            ("metric", "string", true),
            ("period", "string", true),
            ("value", "number", false),
        ],
        actions: &[("summary", "GET", "collection")],
    },
];

/// A feature that adds to a resource the service owns: (feature, resource, fields, actions).
/// `*` is the service's first resource.
type FeatureAdds = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
    &'static [ActionSpec],
);

const FEATURE_ADDS: &[FeatureAdds] = &[
    (
        "refunds",
        "Payment",
        &[("refundedAmount", "number", false)],
        &[("refund", "POST", "item")],
    ),
    (
        "checkout",
        "Payment",
        &[],
        &[("checkout", "POST", "collection")],
    ),
    (
        "webhooks",
        "Payment",
        &[],
        &[("webhook", "POST", "collection")],
    ),
    ("checkout", "Cart", &[], &[("checkout", "POST", "item")]),
    (
        "tracking",
        "Shipment",
        &[("trackingNumber", "string", false)],
        &[("tracking", "GET", "item")],
    ),
    (
        "inventory",
        "Product",
        &[("quantity", "integer", false)],
        &[("inventory", "PATCH", "item")],
    ),
    ("reservations", "Item", &[], &[("reserve", "POST", "item")]),
    (
        "categories",
        "Product",
        &[],
        &[("categories", "GET", "collection")],
    ),
    (
        "profile-management",
        "User",
        &[
            ("displayName", "string", false),
            ("bio", "string", false),
            ("avatarUrl", "string", false),
        ],
        &[],
    ),
    (
        "preferences",
        "User",
        &[("preferences", "json", false)],
        &[],
    ),
    ("commands", "Device", &[], &[("command", "POST", "item")]),
    ("search", "*", &[], &[("search", "GET", "collection")]),
];

/// The words of a service that the table matches: the name's stem, each of its
/// hyphenated parts, then each feature.
fn service_words(stem: &str, features: &[String]) -> Vec<String> {
    let mut words = vec![stem.to_ascii_lowercase()];
    words.extend(stem.split('-').map(str::to_ascii_lowercase));
    words.extend(features.iter().map(|f| f.to_ascii_lowercase()));
    words
}

/// Naive English plural (`user` → `users`, `category` → `categories`).
pub fn plural(word: &str) -> String {
    let w = word;
    if w.is_empty() || w.ends_with('s') {
        return w.to_string();
    }
    if let Some(stem) = w.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if w.ends_with('x') || w.ends_with("ch") || w.ends_with("sh") {
        return format!("{w}es");
    }
    format!("{w}s")
}

/// `order-item` / `orderItem` / `Order Item` → `OrderItem`.
pub fn pascal(s: &str) -> String {
    crate::agents::template::render::words(s)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn kebab(s: &str) -> String {
    crate::agents::template::render::words(s).join("-")
}

fn new_resource(name: &str, plural_name: Option<&str>) -> Resource {
    let name = pascal(name);
    let plural = plural_name
        .map(kebab)
        .unwrap_or_else(|| plural(&kebab(&name)));
    Resource {
        path: format!("{API_PREFIX}/{plural}"),
        name,
        plural,
        fields: Vec::new(),
        actions: Vec::new(),
    }
}

fn add_action(r: &mut Resource, name: &str, method: &str, scope: &str) {
    if r.actions.iter().any(|a| a.name == name) {
        return;
    }
    let path = match scope {
        "item" => format!("{}/:id/{name}", r.path),
        _ => format!("{}/{name}", r.path),
    };
    r.actions.push(Action {
        name: name.into(),
        method: method.into(),
        path,
        scope: scope.into(),
    });
}

fn add_field(r: &mut Resource, name: &str, kind: &str, required: bool) {
    if !r.fields.iter().any(|f| f.name == name) {
        r.fields.push(Field {
            name: name.into(),
            kind: kind.into(),
            required,
        });
    }
}

/// The resources a backend owns, inferred (see the module docs). An auth provider owns
/// none: its routes are the auth feature's. A service no table row matches owns one
/// resource named after its stem, with a required `name` and a `description`.
pub fn infer(stem: &str, features: &[String], provides_auth: bool) -> Vec<Resource> {
    let words = service_words(stem, features);
    let mut out: Vec<Resource> = Vec::new();
    for word in &words {
        // A feature that adds to a resource the service already owns (`inventory` on
        // a product service) is that, not a resource of its own.
        let modifies_owned = FEATURE_ADDS
            .iter()
            .any(|(f, target, _, _)| f == word && out.iter().any(|r| r.name == *target));
        if modifies_owned {
            continue;
        }
        for k in KNOWN.iter().filter(|k| k.words.contains(&word.as_str())) {
            if out.iter().any(|r| r.name == k.name) {
                continue;
            }
            let mut r = new_resource(k.name, None);
            for (f, t, req) in k.fields {
                add_field(&mut r, f, t, *req);
            }
            for (name, method, scope) in k.actions {
                add_action(&mut r, name, method, scope);
            }
            out.push(r);
        }
    }
    if out.is_empty() && !provides_auth {
        let mut r = new_resource(stem, None);
        add_field(&mut r, "name", "string", true);
        add_field(&mut r, "description", "string", false);
        out.push(r);
    }
    apply_features(&mut out, features);
    out
}

/// Adds what each feature brings to the resources it concerns (see [`FEATURE_ADDS`]).
pub fn apply_features(resources: &mut [Resource], features: &[String]) {
    for feature in features {
        let feature = feature.to_ascii_lowercase();
        for (f, target, fields, actions) in FEATURE_ADDS {
            if *f != feature {
                continue;
            }
            let r = if *target == "*" {
                resources.first_mut()
            } else {
                resources.iter_mut().find(|r| r.name == *target)
            };
            if let Some(r) = r {
                for (n, t, req) in *fields {
                    add_field(r, n, t, *req);
                }
                for (name, method, scope) in *actions {
                    add_action(r, name, method, scope);
                }
            }
        }
    }
}

/// The resources a task's input declares (`resources` or `entities`), or `None`
/// when it declares none. The error says which entry is wrong and how to write it.
///
/// ```json
/// {"resources": [{"name": "Order", "plural": "orders",
///                 "fields": {"total": "number", "note": {"type": "string", "required": false}},
///                 "actions": [{"name": "cancel", "method": "POST"}]}]}
/// ```
/// A field given as a bare type is required; `actions` default to `POST …/:id/<name>`.
pub fn declared(input: &Value) -> Option<Result<Vec<Resource>, String>> {
    let (key, list) = ["resources", "entities"]
        .iter()
        .find_map(|k| input.get(*k).map(|v| (*k, v)))?;
    let Some(items) = list.as_array() else {
        return Some(Err(format!(
            "input.{key} must be a list of resources, e.g. [{{\"name\": \"Order\", \"fields\": {{\"total\": \"number\"}}}}]"
        )));
    };
    let mut out: Vec<Resource> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input.{key}[{i}]");
        let r = match item {
            Value::String(name) => {
                let mut r = new_resource(name, None);
                add_field(&mut r, "name", "string", true);
                Ok(r)
            }
            Value::Object(_) => declared_one(item, &at),
            _ => Err(format!(
                "{at} must be a name (\"Order\") or an object with `name` and `fields`"
            )),
        };
        let r = match r {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        if out.iter().any(|o| o.plural == r.plural) {
            return Some(Err(format!(
                "{at}: resource `{}` is declared twice; give each resource once",
                r.name
            )));
        }
        out.push(r);
    }
    Some(Ok(out))
}

fn declared_one(item: &Value, at: &str) -> Result<Resource, String> {
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !pascal(n).is_empty())
        .ok_or_else(|| format!("{at} has no `name`: add one, e.g. \"name\": \"Order\""))?;
    let mut r = new_resource(name, item.get("plural").and_then(Value::as_str));
    match item.get("fields") {
        None => add_field(&mut r, "name", "string", true),
        Some(Value::Object(fields)) => {
            for (fname, spec) in fields {
                let (kind, required) = match spec {
                    Value::String(t) => (t.as_str(), true),
                    Value::Object(o) => (
                        o.get("type").and_then(Value::as_str).unwrap_or(""),
                        o.get("required").and_then(Value::as_bool).unwrap_or(false),
                    ),
                    _ => ("", false),
                };
                check_field(at, fname, kind)?;
                add_field(&mut r, fname, &kind.to_ascii_lowercase(), required);
            }
        }
        Some(Value::Array(fields)) => {
            for f in fields {
                let fname = f.get("name").and_then(Value::as_str).unwrap_or("");
                let kind = f.get("type").and_then(Value::as_str).unwrap_or("");
                check_field(at, fname, kind)?;
                let required = f.get("required").and_then(Value::as_bool).unwrap_or(false);
                add_field(&mut r, fname, &kind.to_ascii_lowercase(), required);
            }
        }
        Some(_) => {
            return Err(format!(
                "{at}.fields must be an object of field name → type, e.g. {{\"total\": \"number\"}}"
            ))
        }
    }
    for a in item
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (name, method) = match a {
            Value::String(n) => (n.as_str(), "POST".to_string()),
            _ => (
                a.get("name").and_then(Value::as_str).unwrap_or(""),
                a.get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("POST")
                    .to_ascii_uppercase(),
            ),
        };
        let name = kebab(name);
        if name.is_empty() {
            return Err(format!("{at}.actions: an action has no `name`"));
        }
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
            return Err(format!(
                "{at}.actions `{name}`: method `{method}` is not one of GET, POST, PUT, PATCH, DELETE"
            ));
        }
        let scope = match a.get("scope").and_then(Value::as_str) {
            Some("collection") => "collection",
            _ => "item",
        };
        add_action(&mut r, &name, &method, scope);
    }
    Ok(r)
}

fn check_field(at: &str, name: &str, kind: &str) -> Result<(), String> {
    let valid_name = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!(
            "{at}: field name `{name}` must start with a letter and hold only letters, digits and _"
        ));
    }
    if name == "id" || name == "createdAt" || name == "updatedAt" {
        return Err(format!(
            "{at}: field `{name}` is added to every resource by prflow; remove it"
        ));
    }
    if !FIELD_TYPES.contains(&kind.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{at}: field `{name}` has type `{kind}`; use one of {}",
            FIELD_TYPES.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rs: &[Resource]) -> Vec<&str> {
        rs.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn payment_with_refunds_gets_a_refund_action() {
        let rs = infer("payment", &["checkout".into(), "refunds".into()], false);
        assert_eq!(names(&rs), ["Payment"]);
        let paths: Vec<&str> = rs[0].actions.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/api/payments/checkout", "/api/payments/:id/refund"]
        );
    }

    #[test]
    fn shipping_with_tracking_gets_a_tracking_endpoint() {
        let rs = infer("shipping", &["tracking".into()], false);
        assert_eq!(names(&rs), ["Shipment"]);
        assert_eq!(rs[0].actions[0].path, "/api/shipments/:id/tracking");
        assert!(rs[0].fields.iter().any(|f| f.name == "trackingNumber"));
    }

    #[test]
    fn features_name_resources_too_and_unknown_services_get_their_stem() {
        let rs = infer("social", &["posts".into(), "comments".into()], false);
        assert_eq!(names(&rs), ["Post", "Comment"]);
        let rs = infer("ledger", &[], false);
        assert_eq!(names(&rs), ["Ledger"]);
        assert_eq!(rs[0].path, "/api/ledgers");
        assert!(infer("auth", &["jwt".into()], true).is_empty());
    }

    #[test]
    fn declared_resources_are_checked_with_their_place() {
        let ok = declared(&serde_json::json!({"resources": [
            {"name": "order line", "fields": {"total": "number", "note": {"type": "string"}},
             "actions": ["cancel"]}
        ]}))
        .unwrap()
        .unwrap();
        assert_eq!(ok[0].name, "OrderLine");
        assert_eq!(ok[0].path, "/api/order-lines");
        assert!(ok[0].fields[0].required && !ok[0].fields[1].required);
        assert_eq!(ok[0].actions[0].path, "/api/order-lines/:id/cancel");
        let bad = declared(
            &serde_json::json!({"entities": [{"name": "Order", "fields": {"total": "money"}}]}),
        )
        .unwrap()
        .unwrap_err();
        assert!(
            bad.contains("input.entities[0]") && bad.contains("`money`") && bad.contains("number"),
            "{bad}"
        );
        assert!(declared(&serde_json::json!({})).is_none());
    }
}
