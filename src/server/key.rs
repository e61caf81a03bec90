//! Which run an event belongs to: the serialization key, read from the event
//! alone, before it is journalled. (Whether it may be trusted is the event's
//! own answer: [`WebhookEvent::untrusted_because`].)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::naming;
use crate::github::WebhookEvent;

/// The key of run `run` of `owner/name`: every delivery about the run shares it.
pub fn key_of_run(full_name: &str, run: &str) -> String {
    format!("{}@run:{run}", full_name.to_ascii_lowercase())
}

/// The run id inside a phase branch name `prflow/<run-id>/<NN>-<slug>`.
fn run_of_branch(branch: &str) -> Option<&str> {
    naming::run_of_branch(branch).map(|(run, _)| run)
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
            Some(run) => key_of_run(&repo, run),
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

/// In-process locks by run key. The queue serializes deliveries by the key
/// known when they arrive, but a comment knows only its issue number: the
/// handler resolves it to its run and holds that run's lock, which every
/// delivery of the run holds too, so a command and a review of one run never
/// act at once while different runs still proceed in parallel.
#[derive(Default)]
pub struct RunLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RunLocks {
    /// Wait for and hold the lock of `key` until the guard drops.
    pub async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            // Forget locks nobody holds or waits for, so the map stays small.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
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
        assert_eq!(key_of_run("Acme/Shop", "ab12cd"), "acme/shop@run:ab12cd");
    }

    #[tokio::test]
    async fn a_run_lock_serializes_its_holders_only() {
        let locks = Arc::new(RunLocks::default());
        let held = locks.lock("a@run:1").await;
        // Another run is not held up.
        let other = tokio::time::timeout(std::time::Duration::from_secs(1), locks.lock("a@run:2"))
            .await
            .expect("a different run's lock is free");
        drop(other);
        // The same run waits until the holder lets go.
        let l = locks.clone();
        let waiter = tokio::spawn(async move { l.lock("a@run:1").await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the second holder of a run waits");
        drop(held);
        let _g = tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("released")
            .unwrap();
        assert_eq!(locks.locks.lock().unwrap().len(), 1);
    }
}
