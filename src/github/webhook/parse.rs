//! A verified delivery → a domain [`WebhookEvent`], or `None` for what prflow ignores.

use serde_json::Value;

use super::super::commands::parse_commands;
use super::super::events::*;
use super::payload::*;

/// A delivery whose body could not be read as the event it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook delivery {delivery_id} (`{event}`): {message}")]
pub struct ParseError {
    pub event: String,
    pub delivery_id: String,
    pub message: String,
}

/// Turn a verified delivery into a domain event. `Ok(None)`: an event or
/// action prflow does not act on (acknowledge it and do nothing).
pub fn parse_event(
    event_name: &str,
    delivery_id: &str,
    body: &[u8],
) -> Result<Option<WebhookEvent>, ParseError> {
    let err = |message: String| ParseError {
        event: event_name.to_string(),
        delivery_id: delivery_id.to_string(),
        message,
    };
    const HANDLED: &[&str] = &[
        "ping",
        "pull_request_review",
        "issue_comment",
        "pull_request",
        "check_run",
        "push",
        "installation",
        "installation_repositories",
        "repository_dispatch",
        "workflow_dispatch",
    ];
    let handled = HANDLED.contains(&event_name);
    let not_json = |e: serde_json::Error| {
        err(format!(
            "the body is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    };
    // GitHub sends an object; a struct would also accept a JSON array
    // (positionally), so look at the first byte before anything else.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some() && first != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Err(err("the body is not a JSON object".into()));
    }
    if !handled {
        // Still refuse a malformed body (400), without building it.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Ok(None);
    }
    // Straight into the few fields prflow reads: the rest of a 30 KB
    // payload is skipped, never allocated (this is most of the webhook
    // endpoint's CPU time).
    let p: Payload = serde_json::from_slice(body).map_err(|e| {
        // Tell "not JSON" apart from "JSON of the wrong shape".
        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Err(syntax) => not_json(syntax),
            Ok(_) => err(e.to_string()),
        }
    })?;
    let need = |what: &str| err(format!("the payload has no `{what}`"));
    let action = p.action.as_deref().unwrap_or("");
    let installation_id = p.installation.as_ref().map(|i| i.id);
    let sender = p
        .sender
        .as_ref()
        .map(|s| s.login.clone())
        .unwrap_or_default();

    let event = match event_name {
        "ping" => WebhookEvent::Ping {
            zen: p.zen.unwrap_or_default(),
            hook_id: p.hook_id,
            app_id: p.hook.and_then(|h| h.app_id),
        },
        "pull_request_review" => {
            if action != "submitted" {
                return Ok(None);
            }
            let review = p.review.ok_or_else(|| need("review"))?;
            let verdict = match review.state.to_ascii_lowercase().as_str() {
                "approved" => Verdict::Approved,
                "changes_requested" => Verdict::ChangesRequested,
                _ => return Ok(None), // plain comments are not verdicts
            };
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let pull = p.pull_request.ok_or_else(|| need("pull_request"))?;
            WebhookEvent::CheckpointReviewed(CheckpointReviewed {
                from_fork: is_fork(&pull, &repo),
                fork_repo: fork_repo(&pull, &repo),
                installation_id,
                pull_number: pull.number,
                head_ref: pull.head.git_ref,
                head_sha: pull.head.sha,
                base_ref: pull.base.git_ref,
                review_id: review.id,
                verdict,
                reviewer: review.user.map(|u| u.login).unwrap_or(sender),
                commit_id: review.commit_id.unwrap_or_default(),
                body: review.body.unwrap_or_default(),
                inline_comments: vec![],
                repo,
            })
        }
        "issue_comment" => {
            if action != "created" {
                return Ok(None);
            }
            let comment = p.comment.ok_or_else(|| need("comment"))?;
            let user = comment.user.unwrap_or_default();
            // Bots (ours included) never command prflow: our own status
            // comment quotes commands.
            if user.kind.as_deref() == Some("Bot") {
                return Ok(None);
            }
            let commands = parse_commands(comment.body.as_deref().unwrap_or(""));
            if commands.is_empty() {
                return Ok(None);
            }
            let issue = p.issue.ok_or_else(|| need("issue"))?;
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::CommentCommand(CommentCommand {
                repo,
                installation_id,
                issue_number: issue.number,
                is_pull_request: issue.pull_request.is_some(),
                comment_id: comment.id,
                author: user.login,
                author_association: comment.author_association.unwrap_or_default(),
                commands,
            })
        }
        "pull_request" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let pull = p.pull_request.ok_or_else(|| need("pull_request"))?;
            match action {
                "closed" => WebhookEvent::PullClosed(PullClosed {
                    installation_id,
                    number: pull.number,
                    head_ref: pull.head.git_ref,
                    head_sha: pull.head.sha,
                    base_ref: pull.base.git_ref,
                    merged: pull.merged.unwrap_or(false) || pull.merged_at.is_some(),
                    body: pull.body.unwrap_or_default(),
                    sender,
                    repo,
                }),
                "synchronize" => WebhookEvent::PullSynchronize(PullSynchronize {
                    from_fork: is_fork(&pull, &repo),
                    fork_repo: fork_repo(&pull, &repo),
                    installation_id,
                    number: pull.number,
                    head_ref: pull.head.git_ref,
                    before: p.before.unwrap_or_default(),
                    after: p.after.unwrap_or(pull.head.sha),
                    body: pull.body.unwrap_or_default(),
                    sender,
                    repo,
                }),
                _ => return Ok(None),
            }
        }
        "check_run" => {
            if action != "rerequested" {
                return Ok(None);
            }
            let run = p.check_run.ok_or_else(|| need("check_run"))?;
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::CheckRunRerequested(CheckRunRerequested {
                repo,
                installation_id,
                check_run_id: run.id,
                name: run.name,
                head_sha: run.head_sha,
                head_branch: run.check_suite.and_then(|s| s.head_branch),
                external_id: run.external_id.filter(|s| !s.is_empty()),
                sender,
            })
        }
        "push" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let mut changed: Vec<String> = Vec::new();
            for c in p.commits.iter().chain(p.head_commit.iter()) {
                for path in c.added.iter().chain(&c.modified).chain(&c.removed) {
                    if !changed.contains(path) {
                        changed.push(path.clone());
                    }
                }
            }
            WebhookEvent::Push(Push {
                repo,
                installation_id,
                git_ref: p.git_ref.ok_or_else(|| need("ref"))?,
                before: p.before.unwrap_or_default(),
                after: p.after.unwrap_or_default(),
                created: p.created.unwrap_or(false),
                deleted: p.deleted.unwrap_or(false),
                forced: p.forced.unwrap_or(false),
                changed_paths: changed,
                sender: if sender.is_empty() {
                    p.pusher.and_then(|u| u.name).unwrap_or_default()
                } else {
                    sender
                },
            })
        }
        "installation" | "installation_repositories" => {
            let inst = p.installation.ok_or_else(|| need("installation"))?;
            let action = match (event_name, action) {
                ("installation", "created") => InstallationAction::Created,
                ("installation", "deleted") => InstallationAction::Deleted,
                ("installation", "suspend") => InstallationAction::Suspended,
                ("installation", "unsuspend") => InstallationAction::Unsuspended,
                ("installation", "new_permissions_accepted") => {
                    InstallationAction::NewPermissionsAccepted
                }
                ("installation_repositories", "added") => InstallationAction::RepositoriesAdded,
                ("installation_repositories", "removed") => InstallationAction::RepositoriesRemoved,
                _ => return Ok(None),
            };
            let names = |v: &[MiniRepo]| v.iter().map(|r| r.full_name.clone()).collect::<Vec<_>>();
            let mut added = names(&p.repositories_added);
            if action == InstallationAction::Created {
                added.extend(names(&p.repositories));
            }
            let mut removed = names(&p.repositories_removed);
            if action == InstallationAction::Deleted {
                removed.extend(names(&p.repositories));
            }
            WebhookEvent::Installation(Installation {
                action,
                installation_id: inst.id,
                account: inst.account.map(|a| a.login).unwrap_or_default(),
                repositories_added: added,
                repositories_removed: removed,
            })
        }
        "repository_dispatch" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::RepositoryDispatch(RepositoryDispatch {
                repo,
                installation_id,
                event_type: action.to_string(),
                branch: p.branch,
                client_payload: p.client_payload.unwrap_or(Value::Null),
                sender,
            })
        }
        "workflow_dispatch" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::WorkflowDispatch(WorkflowDispatch {
                repo,
                installation_id,
                git_ref: p.git_ref.unwrap_or_default(),
                workflow: p.workflow.unwrap_or_default(),
                inputs: p.inputs.unwrap_or(Value::Null),
                sender,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn event_repo(r: Option<&PRepo>) -> Option<EventRepo> {
    let r = r?;
    let (owner, name) = match (&r.owner, &r.full_name) {
        (Some(o), _) if !o.login.is_empty() || o.name.is_some() => (
            if o.login.is_empty() {
                o.name.clone().unwrap_or_default()
            } else {
                o.login.clone()
            },
            r.name.clone(),
        ),
        (_, Some(full)) => {
            let (o, n) = full.split_once('/')?;
            (o.to_string(), n.to_string())
        }
        _ => return None,
    };
    Some(EventRepo {
        owner,
        name,
        default_branch: r
            .default_branch
            .clone()
            .or_else(|| r.master_branch.clone())
            .unwrap_or_else(|| "main".into()),
        private: r.private.unwrap_or(false),
        fork: r.fork.unwrap_or(false),
    })
}

fn is_fork(pull: &PPull, repo: &EventRepo) -> bool {
    match pull.head.repo.as_ref().and_then(|r| r.full_name.as_deref()) {
        Some(head) => !head.eq_ignore_ascii_case(&repo.full_name()),
        // A deleted fork leaves `head.repo` null: treat it as a fork.
        None => pull.head.repo_is_null,
    }
}

/// The head repository's name when the pull comes from a fork.
fn fork_repo(pull: &PPull, repo: &EventRepo) -> Option<String> {
    let head = pull.head.repo.as_ref()?.full_name.as_deref()?;
    (!head.eq_ignore_ascii_case(&repo.full_name())).then(|| head.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_is_a_parse_error_naming_the_delivery() {
        let e = parse_event("push", "d-1", b"{not json").unwrap_err();
        assert!(e.to_string().contains("d-1"), "{e}");
        assert_eq!(parse_event("star", "d-2", b"{}").unwrap(), None);
        // Unknown events are still checked for JSON (400, not 202).
        assert!(parse_event("star", "d-3", b"{nope").is_err());
        let e = parse_event("ping", "d-4", b" [1, 2]").unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
        let e = parse_event("ping", "d-5", b"[1, ").unwrap_err();
        assert!(e.message.contains("not JSON"), "{e}");
        // Valid JSON of the wrong shape says what is wrong, not "not JSON".
        let e = parse_event("ping", "d-6", br#"{"hook_id": "seven"}"#).unwrap_err();
        assert!(!e.message.contains("not JSON"), "{e}");
    }

    fn review_with_head_repo(repo: &str) -> Option<WebhookEvent> {
        let body = format!(
            r#"{{"action":"submitted","review":{{"id":1,"state":"approved","user":{{"login":"bob"}}}},
            "pull_request":{{"number":3,"head":{{"ref":"prflow/r/01-a","sha":"abc"{repo}}},"base":{{"ref":"main","sha":"def"}}}},
            "repository":{{"name":"app","full_name":"acme/app","owner":{{"login":"acme"}}}}}}"#
        );
        parse_event("pull_request_review", "d", body.as_bytes()).unwrap()
    }

    #[test]
    fn forks_are_told_by_the_head_repository() {
        let fork = |ev: Option<WebhookEvent>| {
            let ev = ev.expect("a review");
            let why = ev.untrusted_because();
            match ev {
                WebhookEvent::CheckpointReviewed(r) => assert_eq!(r.from_fork, why.is_some()),
                other => panic!("{other:?}"),
            }
            why.is_some()
        };
        let why = review_with_head_repo(r#","repo":{"full_name":"eve/app"}"#)
            .unwrap()
            .untrusted_because()
            .unwrap();
        assert_eq!(
            why,
            "pull request #3 comes from the fork eve/app, not from acme/app"
        );
        let why = review_with_head_repo(r#","repo":null"#)
            .unwrap()
            .untrusted_because()
            .unwrap();
        assert!(why.contains("deleted fork"), "{why}");
        assert!(!fork(review_with_head_repo(
            r#","repo":{"full_name":"acme/app"}"#
        )));
        assert!(!fork(review_with_head_repo(
            r#","repo":{"full_name":"ACME/App"}"#
        )));
        assert!(fork(review_with_head_repo(
            r#","repo":{"full_name":"eve/app"}"#
        )));
        // A deleted fork leaves `head.repo` null.
        assert!(fork(review_with_head_repo(r#","repo":null"#)));
        // No `head.repo` at all (a trimmed payload): not evidence of a fork.
        assert!(!fork(review_with_head_repo("")));
    }
}
