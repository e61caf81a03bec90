//! `prflow app manifest`: the GitHub App manifest to register prflow with
//! (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest).
//! The permissions are the least prflow needs; `actions: write` only when
//! phases are dispatched to Actions runners.

use serde_json::{json, Value};

/// The manifest for a service reachable at `url` (e.g. `https://prflow.example.com`).
pub fn manifest(url: &str, name: &str, actions_executor: bool) -> Value {
    let base = url.trim_end_matches('/');
    let mut permissions = json!({
        "contents": "write",
        "pull_requests": "write",
        "checks": "write",
        "statuses": "write",
        "issues": "write",
        "metadata": "read",
    });
    if actions_executor {
        permissions["actions"] = json!("write");
    }
    json!({
        "name": name,
        "url": base,
        "description": "Runs multi-agent workflow files as reviewable git history: a branch per phase, a commit per task, a PR per phase, checkpoints as reviews, gates as check runs.",
        "hook_attributes": { "url": format!("{base}/webhook"), "active": true },
        "redirect_url": format!("{base}/"),
        "public": false,
        "default_permissions": permissions,
        "default_events": [
            "check_run",
            "issue_comment",
            "pull_request",
            "pull_request_review",
            "push",
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_permissions() {
        let m = manifest("https://x.example/", "prflow", false);
        assert_eq!(m["hook_attributes"]["url"], "https://x.example/webhook");
        assert!(m["default_permissions"].get("actions").is_none());
        let m = manifest("https://x.example", "prflow", true);
        assert_eq!(m["default_permissions"]["actions"], "write");
    }
}
