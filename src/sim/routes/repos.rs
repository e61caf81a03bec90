//! Repositories and their git data: repo, contents, git refs, branches,
//! commits, compare (commit statuses are in statuses.rs).

use super::super::auth::{self, Actor};
use super::super::git::{self, Content};
use super::super::http::{created, no_content, ok, req_str, ApiError, ApiResult, JsonBody};
use super::super::media;
use super::super::paging::Paging;
use super::super::shapes;
use super::super::Inner;
use super::access::{ReadContents, ReadMetadata, RepoAccess, WriteAdministration, WriteContents};
use super::{authorize, full, S};
use axum::extract::{Path, Query, State};
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use base64::Engine;
use git2::Oid;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/repos/{owner}/{repo}", get(get_repo).patch(update_repo))
        .route("/repos/{owner}/{repo}/contents", get(contents_root))
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(contents).put(super::contents::put_contents),
        )
        .route("/repos/{owner}/{repo}/git/ref/{*name}", get(get_ref))
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*name}",
            get(matching_refs),
        )
        .route("/repos/{owner}/{repo}/git/refs", post(create_ref))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*name}",
            patch(update_ref).delete(delete_ref).get(get_ref),
        )
        .route("/repos/{owner}/{repo}/branches", get(list_branches))
        .route("/repos/{owner}/{repo}/branches/{*branch}", get(get_branch))
        .route(
            "/repos/{owner}/{repo}/commits/{*rest}",
            get(commits_dispatch),
        )
        .route("/repos/{owner}/{repo}/compare/{*basehead}", get(compare))
}

type Q = Query<HashMap<String, String>>;

/// The repository JSON of `full` (with its current default branch), with the
/// `permissions` of `viewer` when there is one.
pub fn repo_json(inner: &Inner, full: &str, viewer: Option<&Actor>) -> ApiResult<Value> {
    let db = git::default_branch(&inner.bare(full));
    let st = inner.st.lock().unwrap();
    let r = st.repos.get(full).ok_or_else(ApiError::not_found)?;
    let perms = viewer.map(|a| match a {
        Actor::Person(l) => auth::role_permissions(&auth::role(&st, full, l)),
        Actor::Installation { permissions, .. } => auth::token_permissions(permissions),
        Actor::App => auth::role_permissions("none"),
    });
    Ok(shapes::repo(&inner.base, &st, r, &db, perms))
}

pub fn open(inner: &Inner, full: &str) -> ApiResult<git2::Repository> {
    git::open(&inner.bare(full)).map_err(|_| ApiError::not_found())
}

async fn get_repo(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<ReadMetadata>,
) -> ApiResult {
    ok(repo_json(&inner, &f, Some(&actor))?)
}

/// `PATCH /repos/{o}/{r}`: only `delete_branch_on_merge` is kept.
async fn update_repo(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteAdministration>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    if let Some(on) = b["delete_branch_on_merge"].as_bool() {
        if let Some(repo) = inner.st.lock().unwrap().repos.get_mut(&f) {
            repo.delete_branch_on_merge = on;
        }
        inner.persist();
    }
    ok(repo_json(&inner, &f, Some(&actor))?)
}

async fn contents_root(
    s: S,
    Path((o, r)): Path<(String, String)>,
    access: RepoAccess<ReadContents>,
    q: Q,
    h: axum::http::HeaderMap,
) -> ApiResult {
    contents(s, Path((o, r, String::new())), access, q, h).await
}

/// `GET /contents/{path}`: a file (base64, or raw bytes with
/// `Accept: application/vnd.github.raw`) or a directory listing.
async fn contents(
    State(inner): S,
    Path((_, _, path)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadContents>,
    Query(q): Q,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let raw = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("vnd.github.raw") || v.contains("vnd.github.v3.raw"));
    let repo = open(&inner, &f)?;
    let rev = q
        .get("ref")
        .cloned()
        .unwrap_or_else(|| git::default_branch(&inner.bare(&f)));
    let commit = git::resolve(&repo, &rev).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            &format!("No commit found for the ref {rev}"),
        )
    })?;
    let base = &inner.base;
    let entry = |p: &str, kind: &str, sha: &str, size: usize| {
        let name = p.rsplit('/').next().unwrap_or(p);
        let url = format!("{base}/repos/{f}/contents/{p}?ref={rev}");
        let git_url = format!(
            "{base}/repos/{f}/git/{}/{sha}",
            if kind == "dir" { "trees" } else { "blobs" }
        );
        let html = format!("{base}/{f}/blob/{rev}/{p}");
        json!({"type": kind, "name": name, "path": p, "sha": sha, "size": size, "url": url, "git_url": git_url,
               "html_url": html, "download_url": if kind == "file" { json!(format!("{base}/{f}/raw/{rev}/{p}")) } else { Value::Null },
               "_links": {"self": url, "git": git_url, "html": html}})
    };
    match git::contents(&repo, commit, &path) {
        None => Err(ApiError::not_found()),
        Some(Content::File { bytes, .. }) if raw => {
            use axum::response::IntoResponse;
            Ok((
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/vnd.github.raw",
                )],
                bytes,
            )
                .into_response())
        }
        Some(Content::File { sha, bytes }) => {
            let p = path.trim_matches('/');
            let mut v = entry(p, "file", &sha, bytes.len());
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            // GitHub wraps the base64 at 60 columns.
            let wrapped: Vec<&str> = b64
                .as_bytes()
                .chunks(60)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect();
            v["content"] = json!(wrapped.join("\n") + "\n");
            v["encoding"] = json!("base64");
            ok(v)
        }
        Some(Content::Dir(items)) => {
            let p = path.trim_matches('/');
            let v: Vec<Value> = items
                .iter()
                .map(|(name, kind, sha, size)| {
                    let child = if p.is_empty() {
                        name.clone()
                    } else {
                        format!("{p}/{name}")
                    };
                    entry(&child, kind, sha, *size)
                })
                .collect();
            ok(Value::Array(v))
        }
    }
}

fn ref_json(base: &str, f: &str, name: &str, sha: &str) -> Value {
    json!({"ref": name, "node_id": shapes::node_id("Ref", name.len() as u64), "url": format!("{base}/repos/{f}/git/{name}"),
           "object": {"type": "commit", "sha": sha, "url": format!("{base}/repos/{f}/git/commits/{sha}")}})
}

async fn get_ref(
    State(inner): S,
    Path((_, _, name)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadContents>,
) -> ApiResult {
    let name = ref_name(&name);
    match git::refs(&inner.bare(&f)).get(&name) {
        Some(sha) => ok(ref_json(&inner.base, &f, &name, sha)),
        None => Err(ApiError::not_found()),
    }
}

async fn matching_refs(
    State(inner): S,
    Path((_, _, name)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadContents>,
) -> ApiResult {
    let prefix = ref_name(&name);
    let v: Vec<Value> = git::refs(&inner.bare(&f))
        .iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, s)| ref_json(&inner.base, &f, n, s))
        .collect();
    ok(Value::Array(v))
}

/// `refs/…` of a ref path, which may or may not start with `refs/`.
fn ref_name(path: &str) -> String {
    format!("refs/{}", path.trim_start_matches("refs/"))
}

/// Where ref `name` points, or GitHub's 422 when there is no such ref.
fn existing_ref(repo: &git2::Repository, name: &str) -> ApiResult<Oid> {
    repo.find_reference(name)
        .ok()
        .and_then(|r| r.target())
        .ok_or_else(|| ApiError::unprocessable("Reference does not exist"))
}

pub(super) fn commit_exists(repo: &git2::Repository, sha: &str) -> Option<Oid> {
    let oid = Oid::from_str(sha).ok()?;
    repo.find_commit(oid).ok().map(|c| c.id())
}

async fn create_ref(
    State(inner): S,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let name = req_str(&b, "ref")?.to_string();
    let sha = req_str(&b, "sha")?.to_string();
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return Err(ApiError::unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes.",
        ));
    }
    if !git2::Reference::is_valid_name(&name) {
        return Err(ApiError::unprocessable(&format!(
            "{name} is not a valid ref name."
        )));
    }
    let repo = open(&inner, &f)?;
    let oid = commit_exists(&repo, &sha)
        .ok_or_else(|| ApiError::unprocessable("Object does not exist"))?;
    if repo.find_reference(&name).is_ok() {
        return Err(ApiError::unprocessable("Reference already exists"));
    }
    git::set_ref(&repo, &name, oid).map_err(|e| ApiError::unprocessable(&e.to_string()))?;
    let login = inner.login_of(&actor);
    let change = vec![(name.clone(), None, Some(sha.clone()))];
    inner.refs_moved(&f, &login, change).await;
    created(ref_json(&inner.base, &f, &name, &sha))
}

fn check_protected(inner: &Inner, f: &str, name: &str) -> ApiResult<()> {
    let st = inner.st.lock().unwrap();
    if let Some(b) = name.strip_prefix("refs/heads/") {
        if st.repos.get(f).is_some_and(|r| r.protected.contains(b)) {
            return Err(ApiError::unprocessable(&format!(
                "Protected branch update failed for {name}."
            )));
        }
    }
    Ok(())
}

async fn update_ref(
    State(inner): S,
    Path((_, _, name)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
    JsonBody(b): JsonBody,
) -> ApiResult {
    let sha = req_str(&b, "sha")?.to_string();
    let force = b["force"].as_bool().unwrap_or(false);
    let name = ref_name(&name);
    let repo = open(&inner, &f)?;
    let old = existing_ref(&repo, &name)?;
    let new = commit_exists(&repo, &sha)
        .ok_or_else(|| ApiError::unprocessable("Object does not exist"))?;
    if !force && !git::is_ancestor(&repo, old, new) {
        return Err(ApiError::unprocessable("Update is not a fast forward"));
    }
    check_protected(&inner, &f, &name)?;
    if old != new {
        git::set_ref(&repo, &name, new).map_err(|e| ApiError::unprocessable(&e.to_string()))?;
        let login = inner.login_of(&actor);
        let change = vec![(name.clone(), Some(old.to_string()), Some(new.to_string()))];
        inner.refs_moved(&f, &login, change).await;
    }
    ok(ref_json(&inner.base, &f, &name, &sha))
}

async fn delete_ref(
    State(inner): S,
    Path((_, _, name)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<WriteContents>,
) -> ApiResult {
    let name = ref_name(&name);
    let repo = open(&inner, &f)?;
    let old = existing_ref(&repo, &name)?;
    check_protected(&inner, &f, &name)?;
    git::delete_ref(&repo, &name).map_err(|e| ApiError::unprocessable(&e.to_string()))?;
    let login = inner.login_of(&actor);
    inner
        .refs_moved(&f, &login, vec![(name, Some(old.to_string()), None)])
        .await;
    no_content()
}

/// Whether branch `name` of `f` is protected (`/_sim/repos/{o}/{r}/protect`).
pub fn is_protected(inner: &Inner, f: &str, name: &str) -> bool {
    inner
        .st
        .lock()
        .unwrap()
        .repos
        .get(f)
        .is_some_and(|r| r.protected.contains(name))
}

fn branch_json(inner: &Inner, f: &str, name: &str, sha: &str) -> Value {
    let protected = is_protected(inner, f, name);
    let base = &inner.base;
    json!({"name": name, "commit": {"sha": sha, "url": format!("{base}/repos/{f}/commits/{sha}")},
           "protected": protected, "protection_url": format!("{base}/repos/{f}/branches/{name}/protection"),
           "_links": {"self": format!("{base}/repos/{f}/branches/{name}"), "html": format!("{base}/{f}/tree/{name}")}})
}

async fn list_branches(
    State(inner): S,
    RepoAccess { full: f, .. }: RepoAccess<ReadContents>,
    paging: Paging,
) -> ApiResult {
    let v: Vec<Value> = git::refs(&inner.bare(&f))
        .iter()
        .filter_map(|(n, s)| {
            n.strip_prefix("refs/heads/")
                .map(|b| branch_json(&inner, &f, b, s))
        })
        .collect();
    paging.array(v)
}

async fn get_branch(
    State(inner): S,
    Extension(a): Extension<Actor>,
    Path((o, r, b)): Path<(String, String, String)>,
) -> ApiResult {
    let f = full(&o, &r);
    // Branch names may hold `/`, so `…/branches/{b}/protection` arrives here too; it
    // asks for `administration`, not `contents`, so no `RepoAccess` here.
    if let Some(b) = b.strip_suffix("/protection") {
        return protection(&inner, &a, &f, b);
    }
    authorize(&inner, &a, &f, "contents", false)?;
    let refs = git::refs(&inner.bare(&f));
    let sha = refs
        .get(&format!("refs/heads/{b}"))
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, "Branch not found"))?;
    let mut v = branch_json(&inner, &f, &b, sha);
    v["commit"] = commit_json(
        &inner,
        &f,
        &open(&inner, &f)?,
        Oid::from_str(sha).map_err(|_| ApiError::not_found())?,
    );
    ok(v)
}

/// `GET …/branches/{b}/protection`, for admins (installations: `administration`).
/// The simulator's protection (`POST /_sim/repos/{o}/{r}/protect`) is GitHub's
/// "require a pull request before merging", enforced for admins too.
fn protection(inner: &Inner, a: &Actor, f: &str, b: &str) -> ApiResult {
    authorize(inner, a, f, "administration", false)?;
    let st = inner.st.lock().unwrap();
    if let Actor::Person(l) = a {
        if auth::role(&st, f, l) != "admin" {
            return Err(ApiError::not_found());
        }
    }
    let rp = st.repos.get(f).ok_or_else(ApiError::not_found)?;
    if !git::refs(&inner.bare(f)).contains_key(&format!("refs/heads/{b}")) {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Branch not found",
        ));
    }
    if !rp.protected.contains(b) {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Branch not protected",
        ));
    }
    let u = format!("{}/repos/{f}/branches/{b}/protection", inner.base);
    let off = json!({"enabled": false});
    ok(json!({
        "url": u,
        "required_pull_request_reviews": {"url": format!("{u}/required_pull_request_reviews"), "dismiss_stale_reviews": false,
            "require_code_owner_reviews": false, "required_approving_review_count": 0, "require_last_push_approval": false},
        "enforce_admins": {"url": format!("{u}/enforce_admins"), "enabled": true},
        "required_signatures": {"url": format!("{u}/required_signatures"), "enabled": false},
        "required_linear_history": off, "allow_force_pushes": off, "allow_deletions": off, "block_creations": off,
        "required_conversation_resolution": off, "lock_branch": off, "allow_fork_syncing": off,
    }))
}

fn sig_json(s: &git2::Signature) -> Value {
    let ts = time::OffsetDateTime::from_unix_timestamp(s.when().seconds())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    json!({"name": s.name().unwrap_or(""), "email": s.email().unwrap_or(""), "date": ts.format(&f).unwrap_or_default()})
}

/// The `commit` object of `GET /commits/{sha}`.
pub fn commit_json(inner: &Inner, f: &str, repo: &git2::Repository, oid: Oid) -> Value {
    let base = &inner.base;
    let Ok(c) = repo.find_commit(oid) else {
        return Value::Null;
    };
    let sha = oid.to_string();
    let parents: Vec<Value> = c
        .parent_ids()
        .map(|p| json!({"sha": p.to_string(), "url": format!("{base}/repos/{f}/commits/{p}"), "html_url": format!("{base}/{f}/commit/{p}")}))
        .collect();
    json!({
        "sha": sha, "node_id": shapes::node_id("Commit", 0), "url": format!("{base}/repos/{f}/commits/{sha}"),
        "html_url": format!("{base}/{f}/commit/{sha}"), "comments_url": format!("{base}/repos/{f}/commits/{sha}/comments"),
        "commit": {"author": sig_json(&c.author()), "committer": sig_json(&c.committer()), "message": c.message().unwrap_or(""),
                   "tree": {"sha": c.tree_id().to_string(), "url": format!("{base}/repos/{f}/git/trees/{}", c.tree_id())},
                   "url": format!("{base}/repos/{f}/git/commits/{sha}"), "comment_count": 0,
                   "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}},
        "author": null, "committer": null, "parents": parents,
    })
}

/// `/commits/{ref}`, `/commits/{ref}/check-runs`, `/check-suites`, `/status`, `/statuses` (refs may contain `/`).
async fn commits_dispatch(
    s: S,
    Path((_, _, rest)): Path<(String, String, String)>,
    RepoAccess { actor, full: f, .. }: RepoAccess<ReadContents>,
    q: Q,
    paging: Paging,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let State(inner) = s;
    for (suffix, kind) in [
        ("/check-runs", 1),
        ("/check-suites", 2),
        ("/status", 3),
        ("/statuses", 4),
    ] {
        if let Some(rf) = rest.strip_suffix(suffix) {
            let perm = if kind <= 2 { "checks" } else { "statuses" };
            authorize(&inner, &actor, &f, perm, false)?;
            let repo = open(&inner, &f)?;
            let oid = git::resolve(&repo, rf).ok_or_else(|| {
                ApiError::unprocessable(&format!("No commit found for SHA: {rf}"))
            })?;
            return match kind {
                1 => super::checks::list_for_sha(&inner, &f, &oid.to_string(), &q.0, &paging),
                2 => super::checks::suites_for_sha(&inner, &f, &oid.to_string(), &paging),
                3 => super::statuses::combined(&inner, &f, &oid.to_string()),
                _ => super::statuses::list(&inner, &f, &oid.to_string(), &paging),
            };
        }
    }
    let repo = open(&inner, &f)?;
    let oid = git::resolve(&repo, &rest)
        .ok_or_else(|| ApiError::unprocessable(&format!("No commit found for SHA: {rest}")))?;
    let mut v = commit_json(&inner, &f, &repo, oid);
    let c = repo.find_commit(oid).map_err(|_| ApiError::not_found())?;
    if let Some(kind) = media::wanted(&headers) {
        let first = c.parent_ids().next().map(|p| p.to_string());
        return media::commit(&inner.bare(&f), kind, &oid.to_string(), first.as_deref());
    }
    let parent = c.parent_ids().next().unwrap_or(oid);
    let files = if c.parent_count() > 0 {
        git::changed_files(&repo, parent, oid).unwrap_or_default()
    } else {
        vec![]
    };
    let (adds, dels): (usize, usize) = files
        .iter()
        .fold((0, 0), |(a, d), x| (a + x.additions, d + x.deletions));
    v["stats"] = json!({"total": adds + dels, "additions": adds, "deletions": dels});
    v["files"] = files_json(&inner.base, &f, &oid.to_string(), &files);
    ok(v)
}

pub fn files_json(base: &str, f: &str, sha: &str, files: &[git::FileChange]) -> Value {
    Value::Array(file_list(base, f, sha, files))
}

/// The `diff-entry` objects of `files` at `sha` (PR files, a commit's files).
pub fn file_list(base: &str, f: &str, sha: &str, files: &[git::FileChange]) -> Vec<Value> {
    files
            .iter()
            .map(|x| json!({"sha": x.blob, "filename": x.path, "status": x.status, "additions": x.additions,
                            "deletions": x.deletions, "changes": x.additions + x.deletions,
                            "blob_url": format!("{base}/{f}/blob/{sha}/{}", x.path),
                            "raw_url": format!("{base}/{f}/raw/{sha}/{}", x.path),
                            "contents_url": format!("{base}/repos/{f}/contents/{}?ref={sha}", x.path), "patch": x.patch}))
            .collect()
}

async fn compare(
    State(inner): S,
    Path((_, _, bh)): Path<(String, String, String)>,
    RepoAccess { full: f, .. }: RepoAccess<ReadContents>,
) -> ApiResult {
    let (b, h) = bh.split_once("...").ok_or_else(ApiError::not_found)?;
    let repo = open(&inner, &f)?;
    let (bo, ho) = match (git::resolve(&repo, b), git::resolve(&repo, h)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(ApiError::not_found()),
    };
    let (ahead, behind) = git::ahead_behind(&repo, bo, ho);
    let status = match (ahead, behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let mb = repo.merge_base(bo, ho).unwrap_or(bo);
    let commits: Vec<Value> = git::commits_between(&repo, Some(bo), ho, 250)
        .into_iter()
        .map(|c| commit_json(&inner, &f, &repo, c))
        .collect();
    let files = git::changed_files(&repo, bo, ho).unwrap_or_default();
    let base = &inner.base;
    ok(json!({
        "url": format!("{base}/repos/{f}/compare/{bh}"), "html_url": format!("{base}/{f}/compare/{bh}"),
        "permalink_url": format!("{base}/{f}/compare/{bo}...{ho}"), "diff_url": format!("{base}/{f}/compare/{bh}.diff"),
        "patch_url": format!("{base}/{f}/compare/{bh}.patch"), "base_commit": commit_json(&inner, &f, &repo, bo),
        "merge_base_commit": commit_json(&inner, &f, &repo, mb), "status": status, "ahead_by": ahead, "behind_by": behind,
        "total_commits": ahead, "commits": commits, "files": files_json(base, &f, &ho.to_string(), &files),
    }))
}
