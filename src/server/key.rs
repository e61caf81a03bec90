//! Which run an event belongs to: the serialization key, read from the event
//! alone, before it is journalled. (Whether it may be trusted is the event's
//! own answer: [`WebhookEvent::untrusted_because`].)

use crate::github::WebhookEvent;

/// The run id inside a phase branch name `prflow/<run-id>/<NN>-<slug>`.
fn run_of_branch(branch: &str) -> Option<&str> {
    let b = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    let rest = b.strip_prefix("prflow/")?;
    let (run, _) = rest.split_once('/')?;
    (!run.is_empty()).then_some(run)
}

/// The serialization key: `owner/name@run:<id>` when the event names a phase
/// branch (every PR of a run shares it), else `owner/name#<number>` for the
/// issue or pull request, `owner/name:<ref>` for pushes, and
/// `installation:<id>` / `ping` for the rest. Lower-cased: GitHub names are
/// case-insensitive.
pub fn run_key(ev: &WebhookEvent) -> String {
    let repo = ev.repo().map(|r| r.full_name().to_ascii_lowercase());
    let by_branch = |branch: &str, fallback: String| -> String {
        let repo = repo.clone().unwrap_or_default();
        match run_of_branch(branch) {
            Some(run) => format!("{repo}@run:{run}"),
            None => format!("{repo}{fallback}"),
        }
    };
    match ev {
        WebhookEvent::Ping { .. } => "ping".into(),
        WebhookEvent::Installation(i) => format!("installation:{}", i.installation_id),
        WebhookEvent::CheckpointReviewed(e) => {
            by_branch(&e.head_ref, format!("#{}", e.pull_number))
        }
        WebhookEvent::CommentCommand(e) => {
            format!("{}#{}", repo.unwrap_or_default(), e.issue_number)
        }
        WebhookEvent::PullClosed(e) => by_branch(&e.head_ref, format!("#{}", e.number)),
        WebhookEvent::PullSynchronize(e) => by_branch(&e.head_ref, format!("#{}", e.number)),
        WebhookEvent::CheckRunRerequested(e) => match e.head_branch.as_deref() {
            Some(b) => by_branch(b, format!("@{}", e.head_sha)),
            None => format!("{}@{}", repo.unwrap_or_default(), e.head_sha),
        },
        WebhookEvent::Push(e) => by_branch(&e.git_ref, format!(":{}", e.git_ref)),
        WebhookEvent::RepositoryDispatch(_) | WebhookEvent::WorkflowDispatch(_) => {
            format!("{}:dispatch", repo.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_branches_share_the_run_key() {
        assert_eq!(run_of_branch("prflow/ab12cd/02-services"), Some("ab12cd"));
        assert_eq!(
            run_of_branch("refs/heads/prflow/ab12cd/01-design"),
            Some("ab12cd")
        );
        assert_eq!(run_of_branch("feature/x"), None);
        assert_eq!(run_of_branch("prflow/"), None);
    }
}
