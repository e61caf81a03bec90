//! Which repositories the App serves, learned from `installation` and
//! `installation_repositories` events and kept in `DATA_DIR/installations.json`.
//!
//! Why keep it: an event that does not name its installation (a resumed
//! run, a `workflow_dispatch` relayed by the Action) finds it here without
//! an API call; a repository the App lost is *forgotten* — its work trees are
//! deleted and its cached tokens dropped, so nothing of a repository that
//! was taken away stays on the server; and a suspended installation's
//! repositories are refused with a reason instead of failing on a 403.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::github::events::{Installation, InstallationAction};

/// The registry's file inside the data directory.
pub const FILE: &str = "installations.json";

/// What the App is installed on, as far as webhooks told us.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installations {
    /// `owner/name`, lower-cased → installation id.
    repositories: BTreeMap<String, u64>,
    /// Installations suspended by their owner.
    suspended: BTreeSet<u64>,
}

/// What one installation event changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Change {
    /// Repositories served from now on (`owner/name` as GitHub spells them).
    pub learned: Vec<String>,
    /// Repositories no longer served: their local state is to be deleted.
    pub forgotten: Vec<String>,
}

fn key(full_name: &str) -> String {
    full_name.to_ascii_lowercase()
}

impl Installations {
    /// Read `dir/installations.json`; an absent file is an empty registry.
    pub fn load(dir: &Path) -> Result<Installations> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a registry prflow wrote; delete it and prflow relearns \
                     installations from the next events (or from the API)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Installations::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write atomically (a temporary file renamed over the old one).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))
    }

    /// Apply an installation event.
    pub fn apply(&mut self, ev: &Installation) -> Change {
        let id = ev.installation_id;
        let mut change = Change::default();
        match ev.action {
            InstallationAction::Suspended => {
                self.suspended.insert(id);
            }
            InstallationAction::Unsuspended => {
                self.suspended.remove(&id);
            }
            InstallationAction::Deleted => {
                self.suspended.remove(&id);
                // Everything of this installation, named in the event or not.
                let mut gone: Vec<String> = ev.repositories_removed.clone();
                for (repo, inst) in &self.repositories {
                    if *inst == id && !gone.iter().any(|g| key(g) == *repo) {
                        gone.push(repo.clone());
                    }
                }
                self.repositories.retain(|_, inst| *inst != id);
                change.forgotten = gone;
            }
            _ => {}
        }
        for repo in &ev.repositories_added {
            if self.repositories.insert(key(repo), id) != Some(id) {
                change.learned.push(repo.clone());
            }
        }
        if ev.action != InstallationAction::Deleted {
            // Forgotten even when unknown here: a work tree may predate the registry.
            for repo in &ev.repositories_removed {
                self.repositories.remove(&key(repo));
                if !change.forgotten.contains(repo) {
                    change.forgotten.push(repo.clone());
                }
            }
        }
        change
    }

    /// Remember an installation found another way (the event or the API).
    /// True when this is news.
    pub fn learn(&mut self, full_name: &str, installation_id: u64) -> bool {
        self.repositories.insert(key(full_name), installation_id) != Some(installation_id)
    }

    /// The installation serving `owner/name`, if known.
    pub fn installation_of(&self, full_name: &str) -> Option<u64> {
        self.repositories.get(&key(full_name)).copied()
    }

    /// True when the installation was suspended by its owner.
    pub fn is_suspended(&self, installation_id: u64) -> bool {
        self.suspended.contains(&installation_id)
    }

    /// How many repositories are known.
    pub fn len(&self) -> usize {
        self.repositories.len()
    }

    /// True when no repository is known.
    pub fn is_empty(&self) -> bool {
        self.repositories.is_empty()
    }
}

/// Where the work trees of `owner/name` live: `DATA_DIR/work/<owner>/<name>`.
pub fn work_dir(data_dir: &Path, owner: &str, name: &str) -> PathBuf {
    data_dir.join("work").join(safe(owner)).join(safe(name))
}

/// A file-name-safe form of a key or name.
pub fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: InstallationAction, added: &[&str], removed: &[&str]) -> Installation {
        Installation {
            action,
            installation_id: 7,
            account: "acme".into(),
            repositories_added: added.iter().map(|s| s.to_string()).collect(),
            repositories_removed: removed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn learns_forgets_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Installations::load(dir.path()).unwrap();
        assert!(reg.is_empty());
        let c = reg.apply(&ev(
            InstallationAction::Created,
            &["acme/Shop", "acme/web"],
            &[],
        ));
        assert_eq!(c.learned, ["acme/Shop", "acme/web"]);
        assert_eq!(reg.installation_of("ACME/shop"), Some(7));
        // A redelivery changes nothing.
        let c = reg.apply(&ev(
            InstallationAction::Created,
            &["acme/Shop", "acme/web"],
            &[],
        ));
        assert_eq!(c, Change::default());
        let c = reg.apply(&ev(
            InstallationAction::RepositoriesRemoved,
            &[],
            &["acme/web"],
        ));
        assert_eq!(c.forgotten, ["acme/web"]);
        assert_eq!(reg.installation_of("acme/web"), None);
        reg.apply(&ev(InstallationAction::Suspended, &[], &[]));
        assert!(reg.is_suspended(7));
        reg.save(dir.path()).unwrap();
        let mut back = Installations::load(dir.path()).unwrap();
        assert_eq!(back, reg);
        back.apply(&ev(InstallationAction::Unsuspended, &[], &[]));
        assert!(!back.is_suspended(7));
        // Uninstalling forgets every repository of the installation, named or not.
        back.learn("acme/api", 7);
        back.learn("other/x", 9);
        let c = back.apply(&ev(InstallationAction::Deleted, &[], &[]));
        assert_eq!(c.forgotten, ["acme/api", "acme/shop"]);
        assert_eq!(back.len(), 1);
        assert_eq!(back.installation_of("other/x"), Some(9));
    }

    #[test]
    fn a_damaged_file_names_itself_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{oops").unwrap();
        let e = format!("{:#}", Installations::load(dir.path()).unwrap_err());
        assert!(e.contains(FILE) && e.contains("delete it"), "{e}");
    }
}
