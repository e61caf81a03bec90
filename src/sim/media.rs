//! GitHub's `diff` and `patch` media types: `Accept: application/vnd.github.diff`
//! (or `.patch`, or the `v3.` spellings) on `GET …/pulls/{n}` and
//! `GET …/commits/{ref}` answers text made by the real `git` (`git diff`,
//! `git format-patch`), as GitHub does, instead of JSON.

use super::http::{ApiError, ApiResult};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::Path;
use std::process::Command;

/// A text media type a client asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Text {
    Diff,
    Patch,
}

impl Text {
    fn name(self) -> &'static str {
        match self {
            Text::Diff => "diff",
            Text::Patch => "patch",
        }
    }
}

/// The text media type in `Accept`, if any.
pub fn wanted(headers: &HeaderMap) -> Option<Text> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|t| {
        let t = t.split(';').next().unwrap_or("").trim();
        match t.strip_prefix("application/vnd.github")? {
            ".diff" | ".v3.diff" => Some(Text::Diff),
            ".patch" | ".v3.patch" => Some(Text::Patch),
            _ => None,
        }
    })
}

fn git(bare: &Path, args: &[&str]) -> ApiResult<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(bare)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("running git: {e}"),
            )
        })?;
    if !out.status.success() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A pull request's text: the three-dot diff of `base...head`, or one
/// `format-patch` mail per commit of `base..head`.
pub fn pull(bare: &Path, kind: Text, base: &str, head: &str) -> ApiResult {
    let text = match kind {
        Text::Diff => git(bare, &["diff", &format!("{base}...{head}")])?,
        Text::Patch => git(
            bare,
            &["format-patch", "--stdout", &format!("{base}..{head}")],
        )?,
    };
    Ok(respond(kind, text))
}

/// One commit's text: its diff against its first parent (`parent`; the whole
/// tree for a root commit), or its `format-patch` mail.
pub fn commit(bare: &Path, kind: Text, sha: &str, parent: Option<&str>) -> ApiResult {
    let text = match (kind, parent) {
        (Text::Diff, Some(p)) => git(bare, &["diff", p, sha])?,
        (Text::Diff, None) => git(bare, &["diff-tree", "-p", "--root", "--no-commit-id", sha])?,
        (Text::Patch, _) => git(bare, &["format-patch", "--stdout", "-1", sha])?,
    };
    Ok(respond(kind, text))
}

fn respond(kind: Text, text: String) -> Response {
    let mut r = (StatusCode::OK, text).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "application/vnd.github.{}; charset=utf-8",
        kind.name()
    )) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("github.v3; param={}", kind.name())) {
        h.insert("x-github-media-type", v);
    }
    r
}
