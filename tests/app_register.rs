//! `prflow app register` (issue 18): the manifest flow against the simulator,
//! over real HTTP as a browser would send it: the local page's form goes to
//! the simulator's `/settings/apps/new`, "Create GitHub App" redirects to the
//! callback with a code, prflow trades it (`POST /app-manifests/{code}/conversions`)
//! and writes the credentials (mode 0600) where `prflow serve` reads them; then
//! `serve`, given no credentials, accepts a webhook the simulator signs.
//! The same flow clicked through in chromium: tests/web/register.test.mjs.

#[path = "sim_support/mod.rs"]
mod sim_support;

use prflow::sim::{Sim, SimConfig};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The simulator with `acme/shop` imported (an empty first commit).
async fn sim_with_a_repository() -> (Sim, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@e.x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
    ] {
        assert!(Command::new("git")
            .args(args)
            .current_dir(r)
            .status()
            .unwrap()
            .success());
    }
    let sim = Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), r.to_path_buf())],
        ..Default::default()
    })
    .await
    .unwrap();
    (sim, repo)
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

    let mut reg = Command::new(env!("CARGO_BIN_EXE_prflow"))
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

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The local page: a form posting the manifest to the organisation's creation page.
    let html = http.get(&page).send().await.unwrap().text().await.unwrap();
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
    let create = attr(&created_page, "<form method=\"post\" action=\"");
    let state = attr(&created_page, "name=\"state\" value=\"");
    let r = http
        .post(format!("{}{create}", sim.api_url()))
        .header("origin", sim.api_url())
        .form(&[
            (
                "manifest",
                attr(&created_page, "name=\"manifest\" value=\""),
            ),
            ("state", state.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        callback.starts_with(&format!("{page}callback?code="))
            && callback.ends_with(&format!("state={state}")),
        "{callback}"
    );

    // The conversion's answer is GitHub's shape (a second code from the same page).
    let r = http
        .post(format!("{}{create}", sim.api_url()))
        .header("origin", sim.api_url())
        .form(&[
            (
                "manifest",
                attr(&created_page, "name=\"manifest\" value=\""),
            ),
            ("state", "x".into()),
        ])
        .send()
        .await
        .unwrap();
    let other = r.headers()["location"]
        .to_str()
        .unwrap()
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let conv = http
        .post(format!(
            "{}/app-manifests/{other}/conversions",
            sim.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(conv.status(), 201);
    let body: serde_json::Value = conv.json().await.unwrap();
    sim_support::contract().check("POST", "/app-manifests/{code}/conversions", 201, &body);
    assert_eq!(body["name"], "prflow");

    // A callback with another state is refused and writes nothing.
    let forged = callback.replace(&format!("state={state}"), "state=forged");
    let html = http
        .get(&forged)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("does not match"), "{html}");
    assert!(!data.path().join("app.env").exists());

    let done = http
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let again = http
        .post(format!(
            "{}/app-manifests/{code}/conversions",
            sim.api_url()
        ))
        .send()
        .await
        .unwrap();
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
    let mut serve = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--github-api-url",
            &sim.api_url(),
            "--data-dir",
        ])
        .arg(data.path())
        .args([
            "--handler",
            &format!("record:{}", data.path().join("record.jsonl").display()),
        ])
        .env_remove("APP_ID")
        .env_remove("PRIVATE_KEY")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("WEBHOOK_SECRET")
        .env_remove("PRFLOW_DATA_DIR")
        .env_remove("PORT")
        .env_remove("HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("listening"), "serve printed {first:?}");
    let delivered = an_issue_is_delivered(&sim, &http).await;
    let _ = serve.kill();
    let _ = serve.wait();
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
    let mut serve = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--public-url", &service, "--github-url", &sim.api_url()])
        .args(["--github-api-url", &sim.api_url(), "--data-dir"])
        .arg(data.path())
        .args([
            "--handler",
            &format!("record:{}", data.path().join("record.jsonl").display()),
        ])
        .env_remove("APP_ID")
        .env_remove("PRIVATE_KEY")
        .env_remove("PRIVATE_KEY_PATH")
        .env_remove("WEBHOOK_SECRET")
        .env_remove("PRFLOW_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(serve.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("Open {service}/ in a browser")),
        "serve printed {line:?}"
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The page on serve's address, GitHub's creation page, its button, the callback.
    let html = http
        .get(&service)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let r = http
        .post(format!(
            "{}{}",
            sim.api_url(),
            attr(&created_page, "<form method=\"post\" action=\"")
        ))
        .header("origin", sim.api_url())
        .form(&[
            (
                "manifest",
                attr(&created_page, "name=\"manifest\" value=\""),
            ),
            ("state", attr(&created_page, "name=\"state\" value=\"")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    let done = http
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        delivered
            .status_code
            .is_some_and(|c| (200..300).contains(&c)),
        "serve refused the App's webhook: {delivered:?}"
    );
}
