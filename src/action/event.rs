//! Event payload → the flow's [`Trigger`]. This module only translates: which
//! run to start or continue, and what happens then, is decided by the flow.

use super::env::ActionEnv;
use crate::flow::Trigger;
use crate::github::{parse_event, WebhookEvent};
use serde_json::Value;

/// The events the Action acts on; anything else gets a notice and exit 0.
pub const SUPPORTED: [&str; 5] = [
    "workflow_dispatch",
    "issue_comment",
    "pull_request_review",
    "pull_request",
    "repository_dispatch",
];

/// What the step should do with this event.
#[derive(Debug)]
pub enum Mapped {
    /// A supported event that asks nothing of prflow (a review that only
    /// comments, a comment without a `/prflow` command): a notice, exit 0.
    NothingToDo { why: String },
    /// Hand this trigger to the flow.
    Go(Box<Go>),
}

/// A trigger for the flow and what the step must know around it.
#[derive(Debug)]
pub struct Go {
    pub trigger: Trigger,
    /// False for events from forks ([`WebhookEvent::untrusted_because`]).
    pub trusted: bool,
    /// Why the event is not trusted, to tell the person reading the log.
    pub untrusted_because: Option<String>,
    /// The workflow file to check in `GITHUB_WORKSPACE` before the flow runs
    /// (`workflow_dispatch`), so its problems land as file annotations.
    pub workflow_path: Option<String>,
}

/// The payload cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError(pub String);

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MapError {}

/// True when the Action handles `event_name`.
pub fn is_supported(event_name: &str) -> bool {
    SUPPORTED.contains(&event_name)
}

/// Translates the payload of a supported event.
pub fn map_event(env: &ActionEnv, payload: &[u8]) -> Result<Mapped, MapError> {
    let raw: Value = serde_json::from_slice(payload).map_err(|e| {
        MapError(format!(
            "the event payload {} is not JSON (line {}, column {}): {e}",
            env.event_path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let event = parse_event(&env.event_name, "actions", payload).map_err(|e| {
        MapError(format!(
            "the `{}` payload in {} cannot be read: {}",
            env.event_name,
            env.event_path.display(),
            e.message
        ))
    })?;
    let Some(event) = event else {
        return Ok(Mapped::NothingToDo {
            why: nothing_to_do(&env.event_name, &raw),
        });
    };
    if let Some(repo) = event.repo() {
        let want = format!("{}/{}", env.owner, env.repo);
        if !repo.full_name().eq_ignore_ascii_case(&want) {
            return Err(MapError(format!(
                "the event payload is about {}, but GITHUB_REPOSITORY is {want}; \
                 GITHUB_EVENT_PATH must be this job's own event",
                repo.full_name()
            )));
        }
    }
    let untrusted_because = event.untrusted_because();
    // Which file a dispatch runs is the flow's decision; the step only asks which,
    // so that file's problems land as annotations before the flow starts.
    let workflow_path = match &event {
        WebhookEvent::WorkflowDispatch(d) => {
            Some(crate::flow::dispatched(d, env.inputs.workflow.as_deref()).workflow_path)
        }
        _ => None,
    };
    let event = match event {
        // The runner's actor, when the payload names no sender.
        WebhookEvent::WorkflowDispatch(mut d) if d.sender.is_empty() => {
            d.sender = env.actor.clone();
            WebhookEvent::WorkflowDispatch(d)
        }
        other => other,
    };
    Ok(Mapped::Go(Box::new(Go {
        trigger: Trigger::Webhook(Box::new(event)),
        trusted: untrusted_because.is_none(),
        untrusted_because,
        workflow_path,
    })))
}

/// Why a supported event asks nothing of prflow, in words.
fn nothing_to_do(event_name: &str, raw: &Value) -> String {
    let action = raw.get("action").and_then(Value::as_str).unwrap_or("");
    match event_name {
        "pull_request_review" => {
            let state = raw
                .pointer("/review/state")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!(
                "a review `{action}` with state `{state}` is not a checkpoint verdict \
                 (only submitted approvals and change requests are)"
            )
        }
        "issue_comment" => {
            format!("the comment (`{action}`) holds no `/prflow` command, or was written by a bot")
        }
        _ => format!("prflow does not act on `{event_name}` with action `{action}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::env::Inputs;
    use serde_json::json;
    use std::path::PathBuf;

    fn env(event: &str, workflow_input: Option<&str>) -> ActionEnv {
        ActionEnv {
            event_name: event.into(),
            event_path: PathBuf::from("/tmp/event.json"),
            owner: "acme".into(),
            repo: "shop".into(),
            api_url: "http://127.0.0.1:1".into(),
            server_url: "https://github.com".into(),
            workspace: PathBuf::from("/w"),
            output_file: None,
            summary_file: None,
            actor: "octocat".into(),
            run_id: None,
            inputs: Inputs {
                workflow: workflow_input.map(str::to_string),
                token: "t".into(),
                ..Default::default()
            },
        }
    }

    fn repo() -> Value {
        json!({"name": "shop", "full_name": "acme/shop", "owner": {"login": "acme"},
               "default_branch": "main", "private": false, "fork": false})
    }

    fn review(head_repo: Value, state: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "action": "submitted",
            "review": {"id": 1, "state": state, "user": {"login": "rev"}, "commit_id": "abc", "body": ""},
            "pull_request": {"number": 5, "head": {"ref": "prflow/x/01-a", "sha": "abc", "repo": head_repo},
                             "base": {"ref": "main", "sha": "def", "repo": repo()}},
            "repository": repo(),
            "sender": {"login": "rev"}
        }))
        .unwrap()
    }

    #[test]
    fn dispatch_with_a_workflow_input_in_the_payload_goes_to_the_flow_as_is() {
        let body = serde_json::to_vec(&json!({"ref": "refs/heads/main", "workflow": ".github/workflows/prflow.yml",
            "inputs": {"workflow": "flows/shop.json"}, "repository": repo(), "sender": {"login": "alice"}}))
        .unwrap();
        let Mapped::Go(go) =
            map_event(&env("workflow_dispatch", Some("other.json")), &body).unwrap()
        else {
            panic!("expected a trigger")
        };
        assert!(matches!(
            &go.trigger,
            Trigger::Webhook(e) if matches!(**e, WebhookEvent::WorkflowDispatch(_))
        ));
        assert_eq!(go.workflow_path.as_deref(), Some("flows/shop.json"));
        assert!(go.trusted);
    }

    #[test]
    fn dispatch_without_it_checks_the_action_input_or_the_flow_default() {
        let body = serde_json::to_vec(&json!({"ref": "refs/heads/dev", "inputs": {},
            "repository": repo(), "sender": {"login": "alice"}}))
        .unwrap();
        for (input, checked) in [
            (Some("./flows/shop.json"), "flows/shop.json"),
            (None, ".prflow/workflow.json"),
        ] {
            let Mapped::Go(go) = map_event(&env("workflow_dispatch", input), &body).unwrap() else {
                panic!("expected a trigger")
            };
            assert!(matches!(
                &go.trigger,
                Trigger::Webhook(e) if matches!(**e, WebhookEvent::WorkflowDispatch(_))
            ));
            assert_eq!(go.workflow_path.as_deref(), Some(checked));
        }
    }

    #[test]
    fn a_review_from_a_fork_is_not_trusted() {
        let fork =
            json!({"name": "shop", "full_name": "mallory/shop", "owner": {"login": "mallory"}});
        let Mapped::Go(go) =
            map_event(&env("pull_request_review", None), &review(fork, "approved")).unwrap()
        else {
            panic!("expected a trigger")
        };
        assert!(!go.trusted);
        assert!(go.untrusted_because.unwrap().contains("mallory/shop"));
        let Mapped::Go(go) = map_event(
            &env("pull_request_review", None),
            &review(repo(), "approved"),
        )
        .unwrap() else {
            panic!("expected a trigger")
        };
        assert!(go.trusted);
        let Mapped::Go(go) = map_event(
            &env("pull_request_review", None),
            &review(Value::Null, "approved"),
        )
        .unwrap() else {
            panic!("expected a trigger")
        };
        assert!(go.untrusted_because.unwrap().contains("deleted fork"));
    }

    #[test]
    fn a_commenting_review_is_nothing_to_do() {
        match map_event(
            &env("pull_request_review", None),
            &review(repo(), "commented"),
        )
        .unwrap()
        {
            Mapped::NothingToDo { why } => assert!(why.contains("`commented`"), "{why}"),
            m => panic!("unexpected {m:?}"),
        }
    }

    #[test]
    fn a_payload_about_another_repository_is_refused() {
        let mut e = env("pull_request_review", None);
        e.repo = "other".into();
        let err = map_event(&e, &review(repo(), "approved")).unwrap_err();
        assert!(err.0.contains("GITHUB_REPOSITORY is acme/other"), "{err}");
    }

    #[test]
    fn broken_json_names_the_file_and_place() {
        let err = map_event(&env("issue_comment", None), b"{\n  nope").unwrap_err();
        assert!(err.0.contains("/tmp/event.json"), "{err}");
        assert!(err.0.contains("line 2"), "{err}");
    }
}
