//! The bare repositories behind the simulated repos: import, read refs, trees,
//! commits and diffs, and write the merge commits `PUT /pulls/{n}/merge` makes.

use anyhow::{anyhow, bail, Context, Result};
use git2::{Oid, Repository, Signature};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `owner/name` lives under the git root.
pub fn bare_path(root: &Path, full_name: &str) -> PathBuf {
    root.join(format!("{full_name}.git"))
}

/// The pre-receive hook that makes protected branches refuse pushes the way
/// GitHub does (the client sees `[remote rejected] … (pre-receive hook declined)`).
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Written by `prflow sim`: refuse pushes to the branches listed in prflow-protected.
f="${GIT_DIR:-.}/prflow-protected"
[ -f "$f" ] || exit 0
rc=0
while read old new ref; do
  b="${ref#refs/heads/}"
  if grep -Fxq -- "$b" "$f"; then
    echo "error: GH006: Protected branch update failed for $ref."
    echo "error: Changes must be made through a pull request."
    rc=1
  fi
done
exit $rc
"#;

fn git(args: &[&str], dir: &Path) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running git {} (is git installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates an empty bare repository with the protection hook, if absent.
pub fn init_bare(path: &Path) -> Result<()> {
    if !path.join("HEAD").exists() {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        git(&["init", "--bare", "--quiet", "-b", "main"], path)?;
    }
    git(&["config", "http.receivepack", "true"], path)?;
    // GitHub's pull request refs are read-only: a push to them is refused
    // with "deny updating a hidden ref" (they stay advertised to fetches).
    git(&["config", "receive.hideRefs", "refs/pull"], path)?;
    let hook = path.join("hooks/pre-receive");
    std::fs::create_dir_all(path.join("hooks"))?;
    std::fs::write(&hook, PRE_RECEIVE)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Copies every branch and tag of the repository at `src` into the bare repository
/// `dest`, and points its HEAD at `src`'s current branch (the default branch).
pub fn import(src: &Path, dest: &Path) -> Result<()> {
    let src = src
        .canonicalize()
        .with_context(|| format!("{} does not exist (--repo OWNER/NAME=PATH)", src.display()))?;
    Repository::open(&src).with_context(|| {
        format!(
            "{} is not a git repository (--repo OWNER/NAME=PATH)",
            src.display()
        )
    })?;
    init_bare(dest)?;
    let s = src.to_string_lossy().to_string();
    git(
        &[
            "fetch",
            "--quiet",
            "--force",
            &s,
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ],
        dest,
    )?;
    let src_repo = Repository::open(&src)?;
    let head = src_repo
        .find_reference("HEAD")
        .ok()
        .and_then(|r| r.symbolic_target().map(str::to_string));
    let repo = Repository::open_bare(dest)?;
    let branches: Vec<String> = branch_names(&repo);
    let pick = head
        .filter(|h| branches.iter().any(|b| format!("refs/heads/{b}") == *h))
        .or_else(|| {
            ["main", "master"]
                .iter()
                .find(|b| branches.iter().any(|x| x == *b))
                .map(|b| format!("refs/heads/{b}"))
        })
        .or_else(|| branches.first().map(|b| format!("refs/heads/{b}")));
    if let Some(h) = pick {
        repo.set_head(&h)?;
    }
    Ok(())
}

fn branch_names(repo: &Repository) -> Vec<String> {
    let mut v = vec![];
    if let Ok(refs) = repo.references_glob("refs/heads/*") {
        for r in refs.flatten() {
            if let Some(n) = r.name() {
                v.push(n.trim_start_matches("refs/heads/").to_string());
            }
        }
    }
    v
}

/// The default branch (HEAD's target), `main` when HEAD is unborn elsewhere.
pub fn default_branch(path: &Path) -> String {
    Repository::open_bare(path)
        .ok()
        .and_then(|r| {
            r.find_reference("HEAD").ok().and_then(|h| {
                h.symbolic_target()
                    .map(|s| s.trim_start_matches("refs/heads/").to_string())
            })
        })
        .unwrap_or_else(|| "main".into())
}

/// Every ref under refs/heads and refs/tags, name → sha.
pub fn refs(path: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Ok(repo) = Repository::open_bare(path) {
        if let Ok(refs) = repo.references() {
            for r in refs.flatten() {
                if let (Some(n), Some(t)) = (r.name(), r.target()) {
                    if n.starts_with("refs/heads/") || n.starts_with("refs/tags/") {
                        m.insert(n.to_string(), t.to_string());
                    }
                }
            }
        }
    }
    m
}

pub fn open(path: &Path) -> Result<Repository> {
    Repository::open_bare(path).with_context(|| format!("opening {}", path.display()))
}

/// A branch name, full ref, tag or sha → commit sha.
pub fn resolve(repo: &Repository, rev: &str) -> Option<Oid> {
    for cand in [
        format!("refs/heads/{rev}"),
        format!("refs/tags/{rev}"),
        format!("refs/{rev}"),
        rev.to_string(),
    ] {
        if let Ok(r) = repo.find_reference(&cand) {
            if let Ok(c) = r.peel_to_commit() {
                return Some(c.id());
            }
        }
    }
    if rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        if let Ok(o) = repo.revparse_single(rev) {
            if let Ok(c) = o.peel_to_commit() {
                return Some(c.id());
            }
        }
    }
    None
}

/// Commits in `head` not in `base`, and the reverse.
pub fn ahead_behind(repo: &Repository, base: Oid, head: Oid) -> (usize, usize) {
    repo.graph_ahead_behind(head, base).unwrap_or((0, 0))
}

pub fn is_ancestor(repo: &Repository, ancestor: Oid, of: Oid) -> bool {
    ancestor == of || repo.graph_descendant_of(of, ancestor).unwrap_or(false)
}

/// Whether `head` merges into `base` without conflicts.
pub fn mergeable(repo: &Repository, base: Oid, head: Oid) -> bool {
    let (Ok(b), Ok(h)) = (repo.find_commit(base), repo.find_commit(head)) else {
        return false;
    };
    repo.merge_commits(&b, &h, None)
        .map(|i| !i.has_conflicts())
        .unwrap_or(false)
}

/// One changed file of a pull request.
pub struct FileChange {
    pub path: String,
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
    pub patch: String,
    pub blob: String,
}

/// The files `head` changes relative to its merge base with `base` (GitHub's three-dot diff).
pub fn changed_files(repo: &Repository, base: Oid, head: Oid) -> Result<Vec<FileChange>> {
    let mb = repo.merge_base(base, head).unwrap_or(base);
    let old = repo.find_commit(mb)?.tree()?;
    let new = repo.find_commit(head)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let mut out = vec![];
    for (i, d) in diff.deltas().enumerate() {
        let status = match d.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "removed",
            git2::Delta::Renamed => "renamed",
            _ => "modified",
        };
        let path = d
            .new_file()
            .path()
            .or(d.old_file().path())
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        let (mut add, mut del, mut patch) = (0, 0, String::new());
        if let Ok(Some(mut p)) = git2::Patch::from_diff(&diff, i) {
            if let Ok((_, a, r)) = p.line_stats() {
                add = a;
                del = r;
            }
            if let Ok(buf) = p.to_buf() {
                let text = String::from_utf8_lossy(&buf).to_string();
                // GitHub's `patch` starts at the first hunk header.
                patch = text
                    .find("@@")
                    .map(|i| text[i..].to_string())
                    .unwrap_or_default();
            }
        }
        out.push(FileChange {
            path,
            status,
            additions: add,
            deletions: del,
            patch,
            blob: d.new_file().id().to_string(),
        });
    }
    Ok(out)
}

/// What `GET /contents/{path}` finds.
pub enum Content {
    File { sha: String, bytes: Vec<u8> },
    Dir(Vec<(String, &'static str, String, usize)>),
}

pub fn contents(repo: &Repository, commit: Oid, path: &str) -> Option<Content> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    let path = path.trim_matches('/');
    let obj = if path.is_empty() {
        tree.into_object()
    } else {
        tree.get_path(Path::new(path)).ok()?.to_object(repo).ok()?
    };
    if let Some(b) = obj.as_blob() {
        return Some(Content::File {
            sha: b.id().to_string(),
            bytes: b.content().to_vec(),
        });
    }
    let t = obj.as_tree()?;
    let mut v = vec![];
    for e in t.iter() {
        let name = e.name().unwrap_or("").to_string();
        let (kind, size) = match e.kind() {
            Some(git2::ObjectType::Tree) => ("dir", 0),
            Some(git2::ObjectType::Commit) => ("submodule", 0),
            _ => (
                "file",
                repo.find_blob(e.id()).map(|b| b.size()).unwrap_or(0),
            ),
        };
        v.push((name, kind, e.id().to_string(), size));
    }
    Some(Content::Dir(v))
}

/// Commits reachable from `to` but not from `from` (oldest first), at most `max`.
pub fn commits_between(repo: &Repository, from: Option<Oid>, to: Oid, max: usize) -> Vec<Oid> {
    let Ok(mut walk) = repo.revwalk() else {
        return vec![];
    };
    let _ = walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE);
    if walk.push(to).is_err() {
        return vec![];
    }
    if let Some(f) = from {
        let _ = walk.hide(f);
    }
    let v: Vec<Oid> = walk.flatten().collect();
    let skip = v.len().saturating_sub(max);
    v.into_iter().skip(skip).collect()
}

/// Sets a ref (creating it) to `sha`.
pub fn set_ref(repo: &Repository, name: &str, sha: Oid) -> Result<()> {
    repo.reference(name, sha, true, "prflow sim")?;
    Ok(())
}

pub fn delete_ref(repo: &Repository, name: &str) -> Result<()> {
    repo.find_reference(name)?.delete()?;
    Ok(())
}

/// Merges `head` into branch `base_ref` with GitHub's `merge`, `squash` or `rebase`
/// method and moves the branch. Returns the new tip.
pub fn merge(
    repo: &Repository,
    base_ref: &str,
    head: Oid,
    method: &str,
    title: &str,
    message: &str,
    who: (&str, &str),
) -> Result<Oid> {
    let full = format!("refs/heads/{base_ref}");
    let base = repo.find_reference(&full)?.peel_to_commit()?;
    let head_c = repo.find_commit(head)?;
    let sig = Signature::now(who.0, who.1)?;
    let text = if message.is_empty() {
        title.to_string()
    } else {
        format!("{title}\n\n{message}")
    };
    let tip = match method {
        "merge" | "squash" => {
            let mut idx = repo.merge_commits(&base, &head_c, None)?;
            if idx.has_conflicts() {
                bail!("Merge conflict");
            }
            let tree = repo.find_tree(idx.write_tree_to(repo)?)?;
            let parents: Vec<&git2::Commit> = if method == "merge" {
                vec![&base, &head_c]
            } else {
                vec![&base]
            };
            repo.commit(None, &sig, &sig, &text, &tree, &parents)?
        }
        "rebase" => {
            let mut onto = base.clone();
            for oid in commits_between(repo, Some(base.id()), head, usize::MAX) {
                let c = repo.find_commit(oid)?;
                if c.parent_count() > 1 {
                    bail!("This branch can't be rebased");
                }
                let mut idx = repo.cherrypick_commit(&c, &onto, 0, None)?;
                if idx.has_conflicts() {
                    bail!("This branch can't be rebased");
                }
                let tree = repo.find_tree(idx.write_tree_to(repo)?)?;
                let id = repo.commit(
                    None,
                    &c.author(),
                    &sig,
                    c.message().unwrap_or(""),
                    &tree,
                    &[&onto],
                )?;
                onto = repo.find_commit(id)?;
            }
            onto.id()
        }
        other => return Err(anyhow!("unknown merge method {other}")),
    };
    repo.reference(&full, tip, true, "prflow sim: merge pull request")?;
    Ok(tip)
}
