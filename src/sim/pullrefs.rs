//! `refs/pull/N/head` and `refs/pull/N/merge` in the bare repositories, as
//! GitHub keeps them: `head` follows the pull request's head (and stays after it
//! closes), `merge` is a test merge of the head into the base while the pull
//! request is open and mergeable. Both are advertised and fetchable
//! (`actions/checkout` of a `pull_request` event fetches them); pushes to them
//! are refused by `receive.hideRefs` ("deny updating a hidden ref"), see `git::init_bare`.

use super::git;
use super::state::Issue;
use super::Inner;
use git2::{Oid, Repository, Signature};

/// Brings every `refs/pull/*` of `full` up to date with its pull requests.
/// Cheap when nothing moved: a merge ref whose parents are still (base, head) is kept.
pub fn sync(inner: &Inner, full: &str) {
    let pulls: Vec<Issue> = {
        let st = inner.st.lock().unwrap();
        let Some(r) = st.repos.get(full) else { return };
        r.issues
            .values()
            .filter(|i| i.pull.is_some())
            .cloned()
            .collect()
    };
    let Ok(repo) = git::open(&inner.bare(full)) else {
        return;
    };
    for i in pulls {
        let p = i.pull.as_ref().expect("filtered");
        let Ok(head) = Oid::from_str(&p.head_sha) else {
            continue;
        };
        let head_ref = format!("refs/pull/{}/head", i.number);
        let merge_ref = format!("refs/pull/{}/merge", i.number);
        if repo.refname_to_id(&head_ref).ok() != Some(head) {
            let _ = git::set_ref(&repo, &head_ref, head);
        }
        let base = git::resolve(&repo, &p.base_ref);
        let merge = match base {
            Some(base) if i.state == "open" => test_merge(&repo, &merge_ref, base, head),
            _ => None,
        };
        match merge {
            Some(m) => {
                if repo.refname_to_id(&merge_ref).ok() != Some(m) {
                    let _ = git::set_ref(&repo, &merge_ref, m);
                }
            }
            None => {
                let _ = git::delete_ref(&repo, &merge_ref);
            }
        }
    }
}

/// The test merge commit of `head` into `base` (reusing the current one when its
/// parents are still `base` and `head`); `None` when they conflict.
fn test_merge(repo: &Repository, merge_ref: &str, base: Oid, head: Oid) -> Option<Oid> {
    if let Ok(c) = repo
        .find_reference(merge_ref)
        .and_then(|r| r.peel_to_commit())
    {
        let parents: Vec<Oid> = c.parent_ids().collect();
        if parents == [base, head] {
            return Some(c.id());
        }
    }
    let (b, h) = (repo.find_commit(base).ok()?, repo.find_commit(head).ok()?);
    let mut idx = repo.merge_commits(&b, &h, None).ok()?;
    if idx.has_conflicts() {
        return None;
    }
    let tree = repo.find_tree(idx.write_tree_to(repo).ok()?).ok()?;
    // A fixed author and time, so the same merge is the same commit.
    let sig = Signature::new("GitHub", "noreply@github.com", &h.committer().when()).ok()?;
    let msg = format!("Merge {head} into {base}\n");
    repo.commit(None, &sig, &sig, &msg, &tree, &[&b, &h]).ok()
}
