//! Whole commits are made in memory (a mempack) and written as one pack with one ref
//! update per batch: the ref update stays the commit point, so a crash loses at most a
//! batch of whole tasks, which the next run redoes.

use crate::gitops::Repo;
use git2::Oid;
use std::time::{Duration, Instant};

/// Tasks committed in memory since the last flush, at most.
const FLUSH_BATCH: usize = 32;
/// How long a committed task may wait in memory before it is written.
const FLUSH_AFTER: Duration = Duration::from_millis(25);

/// The phase branch as committed in memory and as written.
pub(super) struct Batch<'m, 'odb> {
    mempack: &'m git2::Mempack<'odb>,
    branch_ref: &'m str,
    /// The last commit made (in memory or written).
    pub tip: Oid,
    /// Where the branch ref points: the last commit written.
    pub durable_tip: Oid,
    /// Tasks finished since the last flush; they count as durable once it is written.
    unflushed: Vec<String>,
    oldest_unflushed: Instant,
}

impl<'m, 'odb> Batch<'m, 'odb> {
    pub fn new(mempack: &'m git2::Mempack<'odb>, branch_ref: &'m str, tip: Oid) -> Self {
        Batch {
            mempack,
            branch_ref,
            tip,
            durable_tip: tip,
            unflushed: Vec::new(),
            oldest_unflushed: Instant::now(),
        }
    }

    /// A commit was made in memory on top of the tip.
    pub fn committed(&mut self, tip: Oid) {
        if !self.has_unwritten() {
            self.oldest_unflushed = Instant::now();
        }
        self.tip = tip;
    }

    /// `task` is finished; it becomes durable with the next flush.
    pub fn finished(&mut self, task: String) {
        self.unflushed.push(task);
    }

    /// Commits were made that the branch ref does not point at yet.
    pub fn has_unwritten(&self) -> bool {
        self.tip != self.durable_tip
    }

    /// Anything not yet durable: unwritten commits or finished tasks not yet settled.
    pub fn has_pending(&self) -> bool {
        self.has_unwritten() || !self.unflushed.is_empty()
    }

    /// How long the scheduler may wait for a task before the batch is due.
    pub fn patience(&self) -> Duration {
        if self.has_unwritten() {
            FLUSH_AFTER.saturating_sub(self.oldest_unflushed.elapsed())
        } else {
            Duration::from_secs(3600)
        }
    }

    /// Writes the batch when it is due (`pressed`: work waits for it, or nothing else
    /// runs; or it is full, or old). Returns the tasks that became durable, or `None`
    /// when nothing settled.
    pub fn settle(&mut self, repo: &Repo, pressed: bool) -> Result<Option<Vec<String>>, String> {
        let due = pressed
            || self.unflushed.len() >= FLUSH_BATCH
            || self.oldest_unflushed.elapsed() >= FLUSH_AFTER;
        if self.has_unwritten() {
            return if due {
                self.flush(repo).map(Some)
            } else {
                Ok(None)
            };
        }
        if self.unflushed.is_empty() {
            return Ok(None);
        }
        // Finished without a commit of their own (a loop's tasks): nothing to write.
        Ok(Some(std::mem::take(&mut self.unflushed)))
    }

    /// Writes the in-memory objects as one pack and moves the branch from `durable_tip`
    /// to `tip` (compare-and-swap: the commit point of every task in the batch).
    /// Returns the tasks that became durable.
    pub fn flush(&mut self, repo: &Repo) -> Result<Vec<String>, String> {
        if !self.has_unwritten() {
            return Ok(Vec::new());
        }
        // Pack exactly the objects the batch created (commits, and the trees and blobs
        // that differ from each parent's): O(files changed), never a walk of the whole tree.
        let mut pb = repo.git.packbuilder().map_err(|e| e.to_string())?;
        pb.set_threads(1);
        let mut cur = self.tip;
        while cur != self.durable_tip {
            let commit = repo.git.find_commit(cur).map_err(|e| e.to_string())?;
            pb.insert_object(cur, None).map_err(|e| e.to_string())?;
            let parent = commit.parent(0).map_err(|e| e.to_string())?;
            insert_changed(repo, &mut pb, Some(parent.tree_id()), commit.tree_id())
                .map_err(|e| format!("cannot pack the phase's commits: {e}"))?;
            cur = parent.id();
        }
        let mut buf = git2::Buf::new();
        pb.write_buf(&mut buf)
            .map_err(|e| format!("cannot pack the phase's commits: {e}"))?;
        let odb = repo.git.odb().map_err(|e| e.to_string())?;
        let mut writer = odb.packwriter().map_err(|e| e.to_string())?;
        std::io::Write::write_all(&mut writer, &buf).map_err(|e| e.to_string())?;
        writer
            .commit()
            .map_err(|e| format!("cannot write the phase's commits: {e}"))?;
        self.mempack.reset().map_err(|e| e.to_string())?;
        repo.cas_ref(
            self.branch_ref,
            self.tip,
            Some(self.durable_tip),
            "prflow: tasks committed",
        )
        .map_err(|_| {
            format!(
                "branch {} moved while prflow was committing to it; run the same command again \
                 (committed tasks are kept, the rest run again)",
                self.branch_ref
            )
        })?;
        self.durable_tip = self.tip;
        Ok(std::mem::take(&mut self.unflushed))
    }
}

/// Adds `new` and everything under it that differs from `old` to the pack.
fn insert_changed(
    repo: &Repo,
    pb: &mut git2::PackBuilder<'_>,
    old: Option<Oid>,
    new: Oid,
) -> Result<(), git2::Error> {
    if old == Some(new) {
        return Ok(());
    }
    pb.insert_object(new, None)?;
    let new_tree = repo.git.find_tree(new)?;
    let old_tree = match old {
        Some(o) => Some(repo.git.find_tree(o)?),
        None => None,
    };
    for entry in new_tree.iter() {
        let before = old_tree
            .as_ref()
            .and_then(|t| entry.name().and_then(|n| t.get_name(n)))
            .map(|e| (e.id(), e.kind()));
        if before.map(|(id, _)| id) == Some(entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                let old_sub = before
                    .filter(|(_, k)| *k == Some(git2::ObjectType::Tree))
                    .map(|(id, _)| id);
                insert_changed(repo, pb, old_sub, entry.id())?;
            }
            _ => pb.insert_object(entry.id(), None)?,
        }
    }
    Ok(())
}
