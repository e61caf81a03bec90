//! The one GitHub call of App registration: trading the manifest flow's
//! temporary `code` for the new App's credentials
//! (`POST /app-manifests/{code}/conversions`, no token; the code works once
//! and for an hour).

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// What GitHub answers about the App it created (the fields prflow keeps).
#[derive(Deserialize)]
pub struct NewApp {
    pub id: u64,
    pub slug: Option<String>,
    pub name: String,
    pub html_url: String,
    pub pem: String,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for NewApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApp")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("html_url", &self.html_url)
            .finish_non_exhaustive()
    }
}

/// Converts `code` at `api_url` (e.g. `https://api.github.com`, or GHES's `/api/v3`).
pub async fn convert(api_url: &str, code: &str) -> Result<NewApp> {
    if code.is_empty()
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("the callback's code {code:?} is not a manifest code");
    }
    let url = format!(
        "{}/app-manifests/{code}/conversions",
        api_url.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", "prflow")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let msg = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_default();
        bail!("GitHub refused the manifest code ({status} {msg}): codes work once and for one hour; register again");
    }
    serde_json::from_str(&text).context("GitHub's answer to the manifest conversion is not an App")
}
