//! A person's page, the App's page and its installation's.

use super::{pull_state, W};
use crate::sim::web::{not_found, render};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

pub async fn user(State(web): W, Path(login): Path<String>, h: HeaderMap, uri: Uri) -> Response {
    let (acct, repos, prs) = {
        let st = web.inner.st.lock().unwrap();
        let Some(a) = st.accounts.get(&login).cloned() else {
            drop(st);
            return not_found(&web, &h, uri.path());
        };
        let repos: Vec<String> = st.repos.keys().cloned().collect();
        let prs: Vec<Value> = st
            .repos
            .values()
            .flat_map(|r| {
                r.issues
                    .values()
                    .filter(|i| i.user == login)
                    .map(|i| {
                        json!({"full": r.full_name(), "number": i.number,
                "title": i.title, "pull": i.pull.is_some(), "state": pull_state(i)})
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        (a, repos, prs)
    };
    let ctx = json!({"title": login, "heading": login, "avatar": login,
        "text": format!("{} · {} permission on every repository of this simulator", acct.kind, acct.permission),
        "repos": repos, "authored": prs});
    render(&web, &h, uri.path(), "simple.html", ctx)
}

pub async fn app(State(web): W, Path(slug): Path<String>, h: HeaderMap, uri: Uri) -> Response {
    let (app, inst) = {
        let st = web.inner.st.lock().unwrap();
        (
            crate::sim::shapes::app(&web.inner.base, &st),
            st.installation_id,
        )
    };
    if app["slug"].as_str() != Some(slug.as_str()) {
        return not_found(&web, &h, uri.path());
    }
    let rows = vec![
        json!(["App ID", app["id"]]),
        json!(["Client ID", app["client_id"]]),
        json!([
            "Events",
            app["events"].as_array().map(|e| e
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
        ]),
        json!([
            "Permissions",
            app["permissions"].as_object().map(|m| m
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "))
        ]),
    ];
    let ctx = json!({"title": app["name"], "heading": app["name"], "text": app["description"], "rows": rows,
                     "links": [{"href": format!("/settings/installations/{inst}"), "text": "Installation"}]});
    render(&web, &h, uri.path(), "simple.html", ctx)
}

pub async fn installation(
    State(web): W,
    Path(id): Path<String>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    let (inst, repos) = {
        let st = web.inner.st.lock().unwrap();
        (
            crate::sim::shapes::installation(&web.inner.base, &st),
            st.repos.keys().cloned().collect::<Vec<_>>(),
        )
    };
    if inst["id"].as_u64().map(|i| i.to_string()).as_deref() != Some(id.as_str()) {
        return not_found(&web, &h, uri.path());
    }
    let ctx = json!({"title": "Installation", "heading": format!("Installation {id} of {}", inst["app_slug"].as_str().unwrap_or("")),
        "text": format!("Installed on {} with access to every repository of this simulator.", inst["account"]["login"].as_str().unwrap_or("")),
        "repos": repos});
    render(&web, &h, uri.path(), "simple.html", ctx)
}
