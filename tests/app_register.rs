//! `prflow app register` (issue 18): the manifest flow against the simulator,
//! over real HTTP as a browser would send it: the local page's form goes to
//! the simulator's `/settings/apps/new`, "Create GitHub App" redirects to the
//! callback with a code, prflow trades it (`POST /app-manifests/{code}/conversions`)
//! and writes the credentials (mode 0600) where `prflow serve` reads them; then
//! `serve`, given no credentials, accepts a webhook the simulator signs.
//! The same flow clicked through in chromium: tests/web/register.test.mjs.

mod common;
#[path = "sim_support/mod.rs"]
mod sim_support;

use common::{free_port, git_repo, prflow, record_handler, serve_command, sim_serving};
use prflow::sim::Sim;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

fn attr(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in:\n{html}"))
        + marker.len();
    let v = &html[start..];
    unescape(&v[..v.find('"').unwrap()])
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The simulator with `acme/shop` imported.
async fn sim_with_a_repository() -> (Sim, tempfile::TempDir) {
    let repo = git_repo();
    (sim_serving("acme/shop", repo.path()).await, repo)
}

/// A browser that stays on the page it is sent to (redirects are what the tests read).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The page at `url`.
async fn get_page(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Clicks "Create GitHub App" on the simulator's creation page `created_page`, with
/// `state`: the simulator's answer (a redirect to the callback with a code).
async fn click_create(
    http: &reqwest::Client,
    sim: &Sim,
    created_page: &str,
    state: &str,
) -> reqwest::Response {
    let action = attr(created_page, "<form method=\"post\" action=\"");
    http.post(format!("{}{action}", sim.api_url()))
        .header("origin", sim.api_url())
        .form(&[
            ("manifest", attr(created_page, "name=\"manifest\" value=\"")),
            ("state", state.to_string()),
        ])
        .send()
        .await
        .unwrap()
}

/// The `code` parameter of a callback URL.
fn code_of(callback: &str) -> &str {
    callback
        .split("code=")
        .nth(1)
        .and_then(|c| c.split('&').next())
        .unwrap_or_else(|| panic!("no code in {callback}"))
}

/// POST /app-manifests/{code}/conversions: what GitHub answers the App's owner for `code`.
async fn convert(http: &reqwest::Client, sim: &Sim, code: &str) -> reqwest::Response {
    http.post(format!(
        "{}/app-manifests/{code}/conversions",
        sim.api_url()
    ))
    .send()
    .await
    .unwrap()
}

/// `prflow serve` with no App credentials on `port`, data in `data`, GitHub at the
/// simulator, then `args`; its stdout, read line by line. Killed when dropped.
fn serve_without_credentials(
    sim: &Sim,
    data: &Path,
    port: u16,
    args: &[&str],
) -> (Serve, BufReader<ChildStdout>) {
    let mut child = serve_command(data)
        .args(["--port", &port.to_string()])
        .args(["--github-api-url", &sim.api_url()])
        .args(["--handler", &record_handler(data)])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (Serve(child), out)
}

/// A running `prflow serve`; killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens an issue as bob and waits for the simulator's `issues` delivery to be answered.
async fn an_issue_is_delivered(sim: &Sim, http: &reqwest::Client) -> prflow::sim::state::Delivery {
    let bob = sim.create_user("bob", "write").unwrap();
    let issue = http
        .post(format!("{}/repos/acme/shop/issues", sim.api_url()))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"title": "hello App"}))
        .send()
        .await
        .unwrap();
    assert_eq!(issue.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        sim.wait_deliveries(Duration::from_secs(5)).await;
        let d = sim.deliveries();
        if let Some(x) = d
            .iter()
            .find(|d| d.event == "issues" && d.status_code.is_some())
        {
            return x.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no issues delivery: {:?}",
            d.iter().map(|d| (&d.event, &d.status)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn register_writes_credentials_that_serve_uses_to_accept_the_apps_webhooks() {
    let (sim, _repo) = sim_with_a_repository().await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let service = format!("http://127.0.0.1:{port}");

    let mut reg = prflow()
        .args([
            "app",
            "register",
            "--url",
            &service,
            "--org",
            "acme",
            "--github-url",
            &sim.api_url(),
            "--github-api-url",
            &sim.api_url(),
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(reg.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let page = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the page's URL")
        .to_string();

    let http = browser();
    // The local page: a form posting the manifest to the organisation's creation page.
    let html = get_page(&http, &page).await;
    let action = attr(&html, "<form method=\"post\" action=\"");
    assert!(
        action.starts_with(&format!(
            "{}/organizations/acme/settings/apps/new?state=",
            sim.api_url()
        )),
        "{action}"
    );
    let manifest = attr(&html, "name=\"manifest\" value=\"");
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["hook_attributes"]["url"], format!("{service}/webhook"));
    assert_eq!(m["redirect_url"], format!("{}callback", page));

    // GitHub's (the simulator's) creation page, then its button.
    let r = http
        .post(&action)
        .header("origin", page.trim_end_matches('/'))
        .form(&[("manifest", &manifest)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created_page = r.text().await.unwrap();
    assert!(
        created_page.contains("Create GitHub App for acme"),
        "{created_page}"
    );
    let state = attr(&created_page, "name=\"state\" value=\"");
    let r = click_create(&http, &sim, &created_page, &state).await;
    assert_eq!(r.status(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        callback.starts_with(&format!("{page}callback?code="))
            && callback.ends_with(&format!("state={state}")),
        "{callback}"
    );

    // The conversion's answer is GitHub's shape (a second code from the same page).
    let r = click_create(&http, &sim, &created_page, "x").await;
    let other = code_of(r.headers()["location"].to_str().unwrap()).to_string();
    let conv = convert(&http, &sim, &other).await;
    assert_eq!(conv.status(), 201);
    let body: serde_json::Value = conv.json().await.unwrap();
    sim_support::contract().check("POST", "/app-manifests/{code}/conversions", 201, &body);
    assert_eq!(body["name"], "prflow");

    // A callback with another state is refused and writes nothing.
    let forged = callback.replace(&format!("state={state}"), "state=forged");
    let html = get_page(&http, &forged).await;
    assert!(html.contains("does not match"), "{html}");
    assert!(!data.path().join("app.env").exists());

    let done = get_page(&http, &callback).await;
    assert!(
        done.contains(&format!("<code id=\"app-id\">{}</code>", sim.app_id())),
        "{done}"
    );
    assert!(
        done.contains("/apps/prflow-sim/installations/new"),
        "{done}"
    );
    let status = reg.wait().unwrap();
    assert!(
        status.success(),
        "register exits once the App is registered"
    );
    // The code worked once.
    let again = convert(&http, &sim, code_of(&callback)).await;
    assert_eq!(again.status(), 404);
    let gone: serde_json::Value = again.json().await.unwrap();
    sim_support::contract().check("POST", "/app-manifests/{code}/conversions", 404, &gone);

    // The credentials, private to their owner.
    let env = std::fs::read_to_string(data.path().join("app.env")).unwrap();
    assert!(env.contains(&format!("APP_ID={}\n", sim.app_id())), "{env}");
    assert!(
        env.contains(&format!("WEBHOOK_SECRET={}\n", sim.webhook_secret())),
        "{env}"
    );
    let key = data.path().join("app-private-key.pem");
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        sim.private_key_pem()
    );
    for f in [&key, &data.path().join("app.env")] {
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }

    // serve, given no credentials, takes them from there and accepts the App's signed webhooks.
    let (serve, mut out) = serve_without_credentials(&sim, data.path(), port, &[]);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "serve printed {first:?}");
    let delivered = an_issue_is_delivered(&sim, &http).await;
    drop(serve);
    assert!(
        delivered
            .status_code
            .is_some_and(|c| (200..300).contains(&c)),
        "serve refused the App's webhook: {delivered:?}"
    );
}

/// `prflow serve` started with no App credentials and a public URL first serves the
/// registration page on its own address, then starts with the App GitHub created and
/// accepts that App's signed webhooks.
#[tokio::test(flavor = "multi_thread")]
async fn serve_without_credentials_registers_the_app_first() {
    let (sim, _repo) = sim_with_a_repository().await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let service = format!("http://127.0.0.1:{port}");
    let github = sim.api_url();
    let args = ["--public-url", &service, "--github-url", &github];
    let (serve, mut out) = serve_without_credentials(&sim, data.path(), port, &args);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("Open {service}/ in a browser")),
        "serve printed {line:?}"
    );
    let http = browser();
    // The page on serve's address, GitHub's creation page, its button, the callback.
    let html = get_page(&http, &service).await;
    let action = attr(&html, "<form method=\"post\" action=\"");
    assert!(
        action.starts_with(&format!("{}/settings/apps/new?state=", sim.api_url())),
        "{action}"
    );
    let manifest = attr(&html, "name=\"manifest\" value=\"");
    let created_page = http
        .post(&action)
        .header("origin", &service)
        .form(&[("manifest", &manifest)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let state = attr(&created_page, "name=\"state\" value=\"");
    let r = click_create(&http, &sim, &created_page, &state).await;
    assert_eq!(r.status(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    let done = get_page(&http, &callback).await;
    assert!(
        done.contains(&format!("<code id=\"app-id\">{}</code>", sim.app_id())),
        "{done}"
    );
    // Then serve says what it registered and starts with those credentials.
    let mut said = String::new();
    while !said.contains("\"listening\"") {
        assert!(
            out.read_line(&mut said).unwrap() > 0 && said.lines().count() < 6,
            "serve printed {said:?}"
        );
    }
    assert!(said.contains("Registered the GitHub App prflow"), "{said}");
    let delivered = an_issue_is_delivered(&sim, &http).await;
    drop(serve);
    assert!(
        delivered
            .status_code
            .is_some_and(|c| (200..300).contains(&c)),
        "serve refused the App's webhook: {delivered:?}"
    );
}
