//! git2 plumbing: trees built from changes, commits with trailers, compare-and-swap
//! ref updates, isolated checkouts. Nothing here touches a working tree or HEAD:
//! prflow writes objects and refs only, so a person's checkout is never disturbed.

pub mod trailers;

use crate::agents::FileChange;
use anyhow::{anyhow, Context, Result};
use git2::{build::TreeUpdateBuilder, FileMode, ObjectType, Oid, Repository, Signature};
use std::path::{Path, PathBuf};

/// The largest file a task may commit: GitHub refuses bigger files at push time.
pub const MAX_FILE_BYTES: u64 = 100 << 20;

/// A repository prflow works in.
pub struct Repo {
    pub git: Repository,
}

impl Repo {
    /// Opens the repository containing `dir` (a work tree or a bare repository).
    pub fn open(dir: &Path) -> Result<Repo> {
        let git = Repository::discover(dir).with_context(|| {
            format!(
                "{} is not inside a git repository: run `git init` there, or pass --repo DIR",
                dir.display()
            )
        })?;
        Ok(Repo { git })
    }

    /// The work tree root, or the git dir for a bare repository.
    pub fn root(&self) -> PathBuf {
        self.git
            .workdir()
            .unwrap_or_else(|| self.git.path())
            .to_path_buf()
    }

    /// Resolves a revision (`HEAD`, a branch, a sha) to a commit id.
    pub fn resolve_commit(&self, rev: &str) -> Result<Oid> {
        let obj = self.git.revparse_single(rev).with_context(|| {
            format!("cannot resolve `{rev}` to a commit: does the branch exist and have a commit?")
        })?;
        let commit = obj
            .peel_to_commit()
            .with_context(|| format!("`{rev}` does not point at a commit"))?;
        Ok(commit.id())
    }

    /// The commit a ref points at, if the ref exists.
    pub fn ref_target(&self, name: &str) -> Option<Oid> {
        self.git
            .find_reference(name)
            .ok()
            .and_then(|r| r.resolve().ok())
            .and_then(|r| r.target())
    }

    /// Points `name` at `new` only if it still points at `expected` (`None`: must not
    /// exist). This compare-and-swap is the commit point of every task.
    pub fn cas_ref(&self, name: &str, new: Oid, expected: Option<Oid>, log: &str) -> Result<()> {
        match expected {
            None => {
                self.git
                    .reference(name, new, false, log)
                    .with_context(|| format!("cannot create {name}: it exists already"))?;
            }
            Some(old) => {
                self.git
                    .reference_matching(name, new, true, old, log)
                    .with_context(|| {
                        format!("{name} moved while prflow was writing it (expected {old})")
                    })?;
            }
        }
        Ok(())
    }

    /// Tree id of a commit.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid> {
        Ok(self.git.find_commit(commit)?.tree_id())
    }

    /// The blob id and mode at `path` in `tree`, if there is a file there.
    pub fn entry(&self, tree: Oid, path: &str) -> Option<(Oid, i32)> {
        let tree = self.git.find_tree(tree).ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        (entry.kind() == Some(ObjectType::Blob)).then(|| (entry.id(), entry.filemode()))
    }

    /// File contents at `path` in `tree`.
    pub fn read(&self, tree: Oid, path: &str) -> Option<Vec<u8>> {
        let (id, _) = self.entry(tree, path)?;
        self.git.find_blob(id).ok().map(|b| b.content().to_vec())
    }

    /// Every file path under `prefix` in `tree`, sorted.
    pub fn list(&self, tree: Oid, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(tree) = self.git.find_tree(tree) else {
            return out;
        };
        let prefix = prefix.trim_end_matches('/');
        let start = if prefix.is_empty() {
            Some(tree)
        } else {
            tree.get_path(Path::new(prefix))
                .ok()
                .and_then(|e| e.to_object(&self.git).ok())
                .and_then(|o| o.into_tree().ok())
        };
        if let Some(t) = start {
            let _ = t.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                if e.kind() == Some(ObjectType::Blob) {
                    let name = e.name().unwrap_or("");
                    let full = if prefix.is_empty() {
                        format!("{dir}{name}")
                    } else {
                        format!("{prefix}/{dir}{name}")
                    };
                    out.push(full);
                }
                git2::TreeWalkResult::Ok
            });
        }
        out.sort();
        out
    }

    /// Applies file changes to `base` and returns the new tree. Costs O(changes × depth),
    /// never O(repository): unchanged subtrees are reused by id.
    pub fn apply(&self, base: Oid, changes: &[FileChange]) -> Result<Oid> {
        let base_tree = self.git.find_tree(base)?;
        let mut builder = TreeUpdateBuilder::new();
        for change in changes {
            match &change.content {
                Some(bytes) => {
                    let blob = self.git.blob(bytes)?;
                    let mode = match (change.symlink, change.executable) {
                        (true, _) => FileMode::Link,
                        (false, true) => FileMode::BlobExecutable,
                        (false, false) => FileMode::Blob,
                    };
                    builder.upsert(&change.path, blob, mode);
                }
                None => {
                    builder.remove(&change.path);
                }
            }
        }
        Ok(builder.create_updated(&self.git, &base_tree)?)
    }

    /// Writes a commit without moving any ref.
    pub fn commit(
        &self,
        tree: Oid,
        parent: Oid,
        author: &Signature<'_>,
        committer: &Signature<'_>,
        message: &str,
    ) -> Result<Oid> {
        let tree = self.git.find_tree(tree)?;
        let parent = self.git.find_commit(parent)?;
        Ok(self
            .git
            .commit(None, author, committer, message, &tree, &[&parent])?)
    }

    /// Commits on `tip`'s first-parent line down to (not including) `stop`, newest first.
    pub fn first_parent_log(&self, tip: Oid, stop: Oid) -> Result<Vec<Oid>> {
        let mut out = Vec::new();
        let mut cur = tip;
        while cur != stop {
            out.push(cur);
            let c = self.git.find_commit(cur)?;
            match c.parent_ids().next() {
                Some(p) => cur = p,
                None => break,
            }
        }
        Ok(out)
    }

    /// Is `ancestor` reachable from `descendant` (or equal)?
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> bool {
        ancestor == descendant
            || self
                .git
                .graph_descendant_of(descendant, ancestor)
                .unwrap_or(false)
    }

    /// The commit message of `id`.
    pub fn message(&self, id: Oid) -> Result<String> {
        Ok(self
            .git
            .find_commit(id)?
            .message()
            .unwrap_or_default()
            .to_string())
    }

    /// Checks `tree` out into `dir` (which need not be a work tree of this repo), for
    /// runners that work on real files.
    pub fn checkout_into(&self, tree: Oid, dir: &Path) -> Result<()> {
        let tree = self.git.find_tree(tree)?;
        let mut opts = git2::build::CheckoutBuilder::new();
        // `update_index(false)`: the repository's own index is not ours to touch, and
        // parallel tasks would fight over its lock.
        opts.target_dir(dir)
            .force()
            .recreate_missing(true)
            .update_index(false);
        self.git
            .checkout_tree(tree.as_object(), Some(&mut opts))
            .with_context(|| format!("cannot check out the task's tree into {}", dir.display()))
    }

    /// What changed in `dir` relative to `tree`: every file written, changed or
    /// removed, as [`FileChange`]s. A path is unchanged only when its bytes *and* its
    /// mode are: symlinks stay symlinks (120000, their target text, never followed),
    /// executables stay executable; submodule entries (checked out as empty folders)
    /// are never reported, so they stay as they were.
    pub fn changes_in_dir(&self, tree: Oid, dir: &Path) -> Result<Vec<FileChange>> {
        let mut seen = std::collections::HashSet::new();
        let mut changes = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let abs = dir.join(&rel);
            for entry in
                std::fs::read_dir(&abs).with_context(|| format!("cannot read {}", abs.display()))?
            {
                let entry = entry?;
                let name = entry.file_name();
                let rel_path = rel.join(&name);
                let ft = entry.file_type()?;
                let rel_str = rel_path
                    .to_str()
                    .ok_or_else(|| anyhow!("path {} is not UTF-8", rel_path.display()))?
                    .to_string();
                if ft.is_dir() {
                    stack.push(rel_path);
                    continue;
                }
                let symlink = ft.is_symlink();
                let (content, executable) = if symlink {
                    use std::os::unix::ffi::OsStrExt;
                    let target = std::fs::read_link(entry.path())?;
                    (target.as_os_str().as_bytes().to_vec(), false)
                } else {
                    use std::os::unix::fs::PermissionsExt;
                    let meta = entry.metadata()?;
                    // Checked before reading: GitHub refuses the push anyway, and a
                    // runner must not make prflow hold gigabytes.
                    if meta.len() > MAX_FILE_BYTES {
                        anyhow::bail!(
                            "`{rel_str}` is {} MB, over GitHub's limit of {} MB per file: write it smaller, or keep it out of the repository",
                            meta.len().div_ceil(1 << 20),
                            MAX_FILE_BYTES >> 20
                        );
                    }
                    (
                        std::fs::read(entry.path())?,
                        meta.permissions().mode() & 0o111 != 0,
                    )
                };
                seen.insert(rel_str.clone());
                let id = Oid::hash_object(ObjectType::Blob, &content)?;
                let mode = match (symlink, executable) {
                    (true, _) => 0o120000,
                    (false, true) => 0o100755,
                    (false, false) => 0o100644,
                };
                match self.entry(tree, &rel_str) {
                    Some((old, old_mode)) if old == id && old_mode == mode => {}
                    _ => changes.push(FileChange {
                        path: rel_str,
                        content: Some(content),
                        executable,
                        symlink,
                    }),
                }
            }
        }
        for path in self.list(tree, "") {
            if !seen.contains(&path) {
                changes.push(FileChange {
                    path,
                    content: None,
                    executable: false,
                    symlink: false,
                });
            }
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(changes)
    }

    /// Writes `files` (name → bytes) as a tree, wraps it in a parentless commit (so the
    /// ref can be pushed to any git host) and points `refname` at it. Used for run
    /// metadata, which lives under `refs/prflow/` and never in a branch.
    pub fn write_tree_ref(&self, refname: &str, files: &[(&str, &[u8])]) -> Result<Oid> {
        let mut tb = self.git.treebuilder(None)?;
        for (name, bytes) in files {
            let blob = self.git.blob(bytes)?;
            tb.insert(name, blob, 0o100644)?;
        }
        let tree = self.git.find_tree(tb.write()?)?;
        let sig = prflow_signature()?;
        let commit = self
            .git
            .commit(None, &sig, &sig, "prflow run metadata", &tree, &[])?;
        self.git
            .reference(refname, commit, true, "prflow: run metadata")?;
        Ok(commit)
    }

    /// Reads a file from the tree a metadata ref points at.
    pub fn read_tree_ref(&self, refname: &str, name: &str) -> Option<Vec<u8>> {
        let r = self.git.find_reference(refname).ok()?;
        let tree = r.peel_to_tree().ok()?;
        let entry = tree.get_name(name)?;
        let blob = self.git.find_blob(entry.id()).ok()?;
        Some(blob.content().to_vec())
    }

    /// Names of refs matching a glob (`refs/prflow/runs/*`).
    pub fn ref_names(&self, glob: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in self.git.references_glob(glob)? {
            if let Some(name) = r?.name() {
                out.push(name.to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes a ref if it exists.
    pub fn delete_ref(&self, name: &str) -> Result<()> {
        if let Ok(mut r) = self.git.find_reference(name) {
            r.delete()?;
        }
        Ok(())
    }

    /// The blob id git would give `bytes`, without writing anything.
    pub fn hash_blob(bytes: &[u8]) -> Result<Oid> {
        Ok(Oid::hash_object(ObjectType::Blob, bytes)?)
    }
}

/// A signature for an agent: the commit is authored as the agent that did the task.
pub fn agent_signature(agent_id: &str, agent_name: &str) -> Result<Signature<'static>> {
    let name = if agent_name.is_empty() {
        agent_id
    } else {
        agent_name
    };
    Ok(Signature::now(
        name,
        &format!("{agent_id}@agents.prflow.invalid"),
    )?)
}

/// prflow itself, as committer.
pub fn prflow_signature() -> Result<Signature<'static>> {
    Ok(Signature::now("prflow", "prflow@prflow.invalid")?)
}
