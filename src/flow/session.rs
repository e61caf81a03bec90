//! A connection to one repository for one trigger: the API client, the token git uses,
//! and a local clone fetched fresh, whose `prflow/*` branches and `refs/prflow/*` refs
//! agree with the remote before anything is decided.

use super::remote::Remote;
use super::FlowContext;
use crate::engine::naming;
use crate::github::auth::Secret;
use crate::github::RepoClient;
use crate::gitops::Repo;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// A prepared connection: client, token for git, a fresh fetch.
pub struct Session<'a> {
    pub fc: &'a FlowContext,
    pub client: RepoClient,
    token: Option<Secret>,
    pub default_branch: String,
}

impl<'a> Session<'a> {
    /// Authenticates, makes sure the clone exists and fetches.
    pub async fn open(fc: &'a FlowContext) -> Result<Session<'a>> {
        let client = fc.github.repo(&fc.owner, &fc.repo);
        let token = fc.github.token().await?;
        let default_branch = client.default_branch().await?;
        let s = Session {
            fc,
            client,
            token,
            default_branch,
        };
        s.blocking(|dir, remote| {
            remote.ensure_clone(dir)?;
            remote.fetch(dir)?;
            sync_branches(&Repo::open(dir)?)
        })?;
        Ok(s)
    }

    fn remote(&self) -> Remote<'_> {
        Remote {
            url: &self.fc.git_url,
            token: self.token.as_ref(),
        }
    }

    /// Runs blocking git work (the engine, fetch, push) off the async runtime's
    /// reactor when there is one to spare; plain call otherwise.
    pub fn blocking<T>(&self, f: impl FnOnce(&Path, &Remote<'_>) -> Result<T>) -> Result<T> {
        let dir = self.fc.workdir.clone();
        let remote = self.remote();
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| f(&dir, &remote))
            }
            _ => f(&dir, &remote),
        }
    }

    pub fn repo(&self) -> Result<Repo> {
        Repo::open(&self.fc.workdir)
    }

    /// Pushes exact `local:remote` refspecs (an empty local deletes the remote ref).
    pub fn push_refspecs(&self, specs: &[(String, String)]) -> Result<()> {
        self.blocking(|dir, remote| remote.push(dir, specs))
    }

    /// Pushes the run's refs that differ from the remote's.
    pub fn push_run(&self, run: &str) -> Result<()> {
        self.blocking(|dir, remote| {
            let repo = Repo::open(dir)?;
            let mut specs = Vec::new();
            for name in repo.ref_names(&format!("refs/heads/{}{run}/*", naming::BRANCH_PREFIX))? {
                let branch = name.trim_start_matches("refs/heads/");
                // A landed phase's branch is the person's to keep or delete.
                if naming::run_of_branch(branch).is_some_and(|(_, index)| {
                    repo.ref_target(&naming::landed_ref(run, index)).is_some()
                }) {
                    continue;
                }
                let remote_ref = format!("refs/remotes/origin/{branch}");
                if repo.ref_target(&name) != repo.ref_target(&remote_ref) {
                    specs.push((name.clone(), name.clone()));
                }
            }
            for name in [naming::meta_ref(run)]
                .into_iter()
                .chain(repo.ref_names(&naming::approvals_glob(run))?)
                .chain(repo.ref_names(&naming::landed_glob(run))?)
                .chain(repo.ref_names(&naming::closed_glob(run))?)
                .chain(repo.ref_names(&naming::control_glob(run))?)
                .chain(repo.ref_names(&naming::aborted_ref(run))?)
            {
                if repo.ref_target(&name).is_some()
                    && repo.ref_target(&tracking(&name)) != repo.ref_target(&name)
                {
                    specs.push((name.clone(), name.clone()));
                }
            }
            remote.push(dir, &specs)?;
            // Remember what the remote has now, so the next push skips it.
            for (local, _) in &specs {
                if let Some(t) = repo.ref_target(local) {
                    repo.git
                        .reference(&tracking(local), t, true, "prflow: pushed")?;
                }
            }
            Ok(())
        })
    }
}

/// The remote-tracking name of a local ref: `refs/heads/x` → `refs/remotes/origin/x`,
/// `refs/prflow/x` → `refs/remotes/origin-prflow/x`.
pub fn tracking(name: &str) -> String {
    if let Some(b) = name.strip_prefix("refs/heads/") {
        format!("refs/remotes/origin/{b}")
    } else {
        format!(
            "refs/remotes/origin-prflow/{}",
            name.trim_start_matches("refs/prflow/")
        )
    }
}

/// Makes local `prflow/*` branches agree with the remote: the remote wins unless the
/// local branch only has commits on top of it (work not pushed yet).
fn sync_branches(repo: &Repo) -> Result<()> {
    for name in repo.ref_names(&format!("refs/remotes/origin/{}*", naming::BRANCH_PREFIX))? {
        let Some(remote_tip) = repo.ref_target(&name) else {
            continue;
        };
        let local = format!(
            "refs/heads/{}",
            name.trim_start_matches("refs/remotes/origin/")
        );
        match repo.ref_target(&local) {
            Some(l) if l == remote_tip || repo.is_ancestor(remote_tip, l) => {}
            _ => {
                repo.git
                    .reference(&local, remote_tip, true, "prflow: sync with remote")?;
            }
        }
    }
    // The remote's metadata, approvals and aborts are the truth.
    for name in repo.ref_names("refs/remotes/origin-prflow/*")? {
        if let Some(t) = repo.ref_target(&name) {
            let local = format!(
                "refs/prflow/{}",
                name.trim_start_matches("refs/remotes/origin-prflow/")
            );
            if repo.ref_target(&local) != Some(t) {
                repo.git
                    .reference(&local, t, true, "prflow: sync with remote")?;
            }
        }
    }
    Ok(())
}

/// Where the clone for `owner/repo` lives when the front end names none.
pub fn default_workdir(owner: &str, repo: &str) -> PathBuf {
    let base = std::env::var_os("PRFLOW_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|p| PathBuf::from(p).join("prflow")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/prflow")))
        .unwrap_or_else(|| std::env::temp_dir().join("prflow"));
    base.join("repos").join(owner).join(repo)
}
