//! `prflow app register`: GitHub's App manifest flow with a button, as Probot
//! does it. A page on 127.0.0.1 holds a form that posts prflow's manifest to
//! GitHub's `/settings/apps/new` (or the organisation's); GitHub creates the App
//! and sends the browser back to `/callback` with a one-time code, which is
//! traded for the App's id, private key and webhook secret. They are written
//! to the data directory (`app.env` and `app-private-key.pem`, both mode 0600),
//! where `prflow serve` finds them when it is given no credentials.

use crate::server::app_manifest::manifest;
use anyhow::{anyhow, bail, Context, Result};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// The file `prflow serve` reads credentials from when none are configured.
pub const ENV_FILE: &str = "app.env";
pub const KEY_FILE: &str = "app-private-key.pem";

#[derive(clap::Args)]
pub struct RegisterArgs {
    /// Public base URL of the `prflow serve` service (webhooks go to URL/webhook).
    #[arg(long)]
    pub url: String,
    /// Register the App for this organisation instead of your account.
    #[arg(long)]
    pub org: Option<String>,
    /// The App's name on GitHub (must be unique there).
    #[arg(long, default_value = "prflow")]
    pub name: String,
    /// GitHub's web address (GHES: https://ghe.example.com).
    #[arg(long, env = "GITHUB_URL", default_value = "https://github.com")]
    pub github_url: String,
    /// GitHub's API (GHES: https://ghe.example.com/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// Where to write the credentials (the directory `prflow serve` uses).
    #[arg(long, env = "PRFLOW_DATA_DIR", default_value = "./prflow-data")]
    pub data_dir: PathBuf,
    /// The local page's address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// `actions` adds `actions: write`, needed by `serve --executor actions`.
    #[arg(long, value_enum, default_value_t = crate::server::config::ExecutorKind::Local)]
    pub executor: crate::server::config::ExecutorKind,
}

struct Page {
    args: RegisterArgs,
    base: String,
    state: String,
    done: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

pub fn run(args: RegisterArgs) -> ExitCode {
    if !(args.url.starts_with("https://") || args.url.starts_with("http://")) {
        eprintln!("prflow app register: --url `{}` must start with https:// (GitHub delivers webhooks to it)", args.url);
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prflow app register: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve_page(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prflow app register: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve_page(args: RegisterArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let page = Arc::new(Page {
        args,
        base: base.clone(),
        state: format!("{:032x}", rand::random::<u128>()),
        done: Mutex::new(Some(tx)),
    });
    let app = axum::Router::new()
        .route("/", get(start_page))
        .route("/callback", get(callback))
        .with_state(page);
    println!("Open {base}/ in a browser and press the button to register the App on GitHub.");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await?;
    Ok(())
}

/// HTML-escapes text for the two small pages.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page with the button: a form that posts the manifest to GitHub.
async fn start_page(State(p): State<Arc<Page>>) -> Html<String> {
    let mut m = manifest(
        &p.args.url,
        &p.args.name,
        p.args.executor == crate::server::config::ExecutorKind::Actions,
    );
    m["redirect_url"] = serde_json::json!(format!("{}/callback", p.base));
    let web = p.args.github_url.trim_end_matches('/');
    let action = match &p.args.org {
        Some(org) => format!(
            "{web}/organizations/{org}/settings/apps/new?state={}",
            p.state
        ),
        None => format!("{web}/settings/apps/new?state={}", p.state),
    };
    let owner = p.args.org.as_deref().unwrap_or("your account");
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Register prflow</title>\
         <style>body{{font:15px/1.5 sans-serif;max-width:720px;margin:40px auto}}button{{font:inherit;padding:8px 20px;background:#1f883d;color:#fff;border:0;border-radius:6px}}pre{{background:#f6f8fa;padding:12px;overflow:auto}}</style></head><body>\
         <h1>Register prflow as a GitHub App</h1>\
         <p>The button sends this manifest to GitHub ({}), which creates the App for {} after you confirm. \
         GitHub then sends you back here, and prflow writes the App's id, private key and webhook secret to <code>{}</code>.</p>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"manifest\" value=\"{}\">\
         <button type=\"submit\" id=\"register\">Register the GitHub App</button></form>\
         <h3>The manifest</h3><pre>{}</pre></body></html>",
        esc(web),
        esc(owner),
        esc(&p.args.data_dir.display().to_string()),
        esc(&action),
        esc(&m.to_string()),
        esc(&serde_json::to_string_pretty(&m).unwrap_or_default()),
    ))
}

/// GitHub's redirect: trade the code, write the credentials, show the install link.
async fn callback(
    State(p): State<Arc<Page>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = async {
        if q.get("state") != Some(&p.state) {
            bail!(
                "the callback's state does not match this page's: start again from {}/",
                p.base
            );
        }
        let code = q
            .get("code")
            .ok_or_else(|| anyhow!("GitHub sent no code"))?;
        let app = crate::github::manifest::convert(&p.args.github_api_url, code).await?;
        let env = write_credentials(&p.args.data_dir, &app)?;
        Ok((app, env))
    }
    .await;
    let html = match result {
        Ok((app, env)) => {
            println!("Registered the GitHub App {} (id {}); credentials in {}", app.name, app.id, env.display());
            println!("Install it: {}/installations/new", app.html_url);
            if let Some(tx) = p.done.lock().unwrap().take() {
                let _ = tx.send(());
            }
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>prflow registered</title></head><body style=\"font:15px/1.5 sans-serif;max-width:720px;margin:40px auto\">\
                 <h1 id=\"registered\">The GitHub App {} is registered</h1><p>App ID <code id=\"app-id\">{}</code>. Its private key and webhook secret are in <code>{}</code> (mode 0600); \
                 <code>prflow serve</code> reads them from there.</p>\
                 <p><a id=\"install\" href=\"{}/installations/new\">Install the App on your repositories</a></p></body></html>",
                esc(&app.name), app.id, esc(&env.display().to_string()), esc(&app.html_url)
            )
        }
        Err(e) => format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Registration failed</title></head><body><h1>Registration failed</h1><p id=\"error\">{}</p></body></html>",
            esc(&format!("{e:#}"))
        ),
    };
    Html(html).into_response()
}

/// Writes `app-private-key.pem` and `app.env` (APP_ID, PRIVATE_KEY_PATH, WEBHOOK_SECRET), both 0600.
fn write_credentials(dir: &Path, app: &crate::github::manifest::NewApp) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let key = dir.join(KEY_FILE);
    private_file(&key, app.pem.as_bytes())?;
    let secret = app.webhook_secret.as_deref().unwrap_or("");
    if secret.contains('\n') {
        bail!("GitHub's webhook secret has a line break; refusing to write it to {ENV_FILE}");
    }
    let env = dir.join(ENV_FILE);
    private_file(
        &env,
        format!(
            "# written by `prflow app register`; prflow serve reads it when given no credentials\nAPP_ID={}\nPRIVATE_KEY_PATH={}\nWEBHOOK_SECRET={secret}\n",
            app.id,
            key.display()
        )
        .as_bytes(),
    )?;
    Ok(env)
}

fn private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// Fills the credentials `serve` was not given from `DATA_DIR/app.env`, if
/// `prflow app register` wrote one. Returns whether it did.
pub fn fill_from_registration(args: &mut crate::server::ServeArgs) -> Result<bool, String> {
    let path = args.data_dir.join(ENV_FILE);
    if args.app_id.is_some() || !path.exists() {
        return Ok(false);
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "{}:{}: expected KEY=VALUE; run `prflow app register` again to rewrite it",
                path.display(),
                n + 1
            ));
        };
        match k {
            "APP_ID" => {
                args.app_id = Some(v.parse().map_err(|_| {
                    format!("{}:{}: APP_ID {v:?} is not a number", path.display(), n + 1)
                })?)
            }
            "PRIVATE_KEY_PATH" if args.private_key.is_none() && args.private_key_path.is_none() => {
                args.private_key_path = Some(PathBuf::from(v))
            }
            "WEBHOOK_SECRET" if args.webhook_secret.is_none() => {
                args.webhook_secret = Some(v.to_string())
            }
            _ => {}
        }
    }
    Ok(true)
}
