//! Applying a task that ran in isolation onto a branch that moved meanwhile.
//!
//! A task started from commit `start`; other tasks may have been committed since
//! (`tip`). For each path the task changed: if nobody else touched it since `start`,
//! the task's version wins; if the branch already holds exactly the task's version,
//! nothing is to do; if both changed the same text file, a three-way merge of the
//! contents is tried; anything else is a conflict naming the path and the other task.
//! Only paths the task changed are looked at, so the cost is O(changes), not O(repo).

use crate::agents::FileChange;
use crate::gitops::{trailers, Repo};
use git2::Oid;

#[derive(Debug)]
pub struct Conflict {
    pub path: String,
    /// The task whose commit changed the path since the task started, if prflow made it.
    pub other_task: Option<String>,
}

#[derive(Debug)]
pub enum Error {
    Conflict(Conflict),
    Git(anyhow::Error),
}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::Git(e.into())
    }
}
impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Git(e)
    }
}

/// The changes to apply on `tip` so that the result holds both the branch's work and
/// the task's.
pub fn onto_tip(
    repo: &Repo,
    run_id: &str,
    start: Oid,
    tip: Oid,
    changes: &[FileChange],
) -> Result<Vec<FileChange>, Error> {
    if start == tip {
        return Ok(changes.to_vec());
    }
    let start_tree = repo.tree_of(start)?;
    let tip_tree = repo.tree_of(tip)?;
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let at_start = repo.entry(start_tree, &change.path);
        let at_tip = repo.entry(tip_tree, &change.path);
        if at_start == at_tip {
            out.push(change.clone());
            continue;
        }
        let ours = match &change.content {
            Some(bytes) => Some(Repo::hash_blob(bytes)?),
            None => None,
        };
        if ours == at_tip.map(|(id, _)| id) {
            continue; // The branch already has exactly this.
        }
        // Both sides changed an existing file: try a content merge.
        if let (Some((base_id, _)), Some((tip_id, mode)), Some(bytes)) =
            (at_start, at_tip, change.content.as_ref())
        {
            if let Some(merged) = merge_text(repo, base_id, tip_id, bytes)? {
                out.push(FileChange {
                    path: change.path.clone(),
                    content: Some(merged),
                    executable: mode == 0o100755,
                    symlink: mode == 0o120000,
                });
                continue;
            }
        }
        return Err(Error::Conflict(Conflict {
            path: change.path.clone(),
            other_task: who_changed(repo, run_id, start, tip, &change.path)?,
        }));
    }
    Ok(out)
}

/// A clean three-way merge of file contents, or `None` on conflict.
fn merge_text(repo: &Repo, base: Oid, ours: Oid, theirs: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let base_blob = repo.git.find_blob(base)?;
    let ours_blob = repo.git.find_blob(ours)?;
    if base_blob.is_binary() || ours_blob.is_binary() || theirs.contains(&0) {
        return Ok(None);
    }
    let theirs = repo.git.blob(theirs)?;
    let entry = |id: Oid| git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path: b"file".to_vec(),
    };
    let result =
        repo.git
            .merge_file_from_index(&entry(base), &entry(ours), &entry(theirs), None)?;
    Ok(result.is_automergeable().then(|| result.content().to_vec()))
}

/// The task whose commit (between `start` and `tip`) changed `path`.
fn who_changed(
    repo: &Repo,
    run_id: &str,
    start: Oid,
    tip: Oid,
    path: &str,
) -> Result<Option<String>, Error> {
    for id in repo.first_parent_log(tip, start)? {
        let commit = repo.git.find_commit(id)?;
        let parent = commit.parent_id(0)?;
        let now = repo.entry(commit.tree_id(), path);
        let before = repo.entry(repo.tree_of(parent)?, path);
        if now != before {
            let t = trailers::parse(commit.message().unwrap_or(""));
            if trailers::get(&t, trailers::RUN) == Some(run_id) {
                return Ok(trailers::get(&t, trailers::TASK).map(str::to_string));
            }
            return Ok(None);
        }
    }
    Ok(None)
}
