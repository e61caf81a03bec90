//! `prflow sim` answers the way GitHub does where real clients notice: inline
//! review comments placed in the diff (GitHub's 422s), per-user `permissions`,
//! the diff/patch media types, `refs/pull/N/*` over git, the endpoints bots use,
//! the `status`/`create`/`pull_request_review_comment` webhooks, and deliveries
//! that survive a receiver closing its connection. Shapes are checked against
//! GitHub's OpenAPI description; payloads against GitHub's captured examples.

mod common;
#[path = "sim_support/mod.rs"]
mod support;

use common::{git, git_in};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use support::{app_jwt, installation_token, person, serve, Api};

/// `main` with a 20-line src/lib.rs; `feature` changes lines 2 and 18 (two
/// hunks) and adds src/new.rs; `conflict` changes line 2 differently.
fn fixture() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(d.join("src")).unwrap();
    let lines: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
    std::fs::write(d.join("src/lib.rs"), lines.join("\n") + "\n").unwrap();
    std::fs::write(d.join("README.md"), "# shop\n").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "initial"]);
    git(d, &["checkout", "-qb", "feature"]);
    let mut changed = lines.clone();
    changed[1] = "LINE 2".into();
    changed[17] = "LINE 18".into();
    std::fs::write(d.join("src/lib.rs"), changed.join("\n") + "\n").unwrap();
    std::fs::write(d.join("src/new.rs"), "a\nb\nc\n").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "Shout two lines"]);
    git(d, &["checkout", "-q", "main"]);
    git(d, &["checkout", "-qb", "conflict"]);
    let mut other = lines;
    other[1] = "other 2".into();
    std::fs::write(d.join("src/lib.rs"), other.join("\n") + "\n").unwrap();
    git(d, &["commit", "-qam", "other"]);
    git(d, &["checkout", "-q", "main"]);
    t
}

async fn open_pr(api: &Api, head: &str) -> Value {
    let r = api
        .call(
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": format!("PR from {head}"), "head": head, "base": "main"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn review_errors(r: &support::Resp) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_review_comments_are_placed_in_the_diff_like_github() {
    let repo = fixture();
    let sim = serve(repo.path(), None).await;
    let alice = person(&sim, "alice", "write");
    let bob = person(&sim, "bob", "write");
    let pr = open_pr(&alice, "feature").await;
    let head = pr["head"]["sha"].as_str().unwrap().to_string();
    let reviews = "/repos/acme/shop/pulls/1/reviews";
    let c = |extra: Value| {
        let mut v = json!({"path": "src/lib.rs", "body": "look"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };

    // A line the diff does not show: GitHub's 422, and the whole review is dropped.
    for (comments, text) in [
        (vec![c(json!({"line": 10}))], "Line could not be resolved"),
        (
            vec![c(json!({"line": 18})), c(json!({"line": 10}))],
            "Line could not be resolved",
        ),
        (
            vec![
                c(json!({"line": 2, "side": "LEFT"})),
                c(json!({"position": 7})),
            ],
            "Line could not be resolved",
        ),
        (
            vec![c(json!({"position": 15}))],
            "Line could not be resolved",
        ),
        (
            vec![
                c(json!({"line": 3, "side": "LEFT"})),
                c(json!({"line": 10, "side": "LEFT"})),
            ],
            "Line could not be resolved",
        ),
        (
            vec![c(json!({"start_line": 2, "line": 18}))],
            "Pull request review thread start line must be part of the same hunk as the line.",
        ),
        (
            vec![c(json!({"start_line": 19, "line": 17}))],
            "Pull request review thread start line must precede the end line.",
        ),
        (
            vec![c(json!({"path": "README.md", "line": 1}))],
            "Path could not be resolved",
        ),
    ] {
        let r = bob
            .call(
                "POST",
                reviews,
                Some(json!({"event": "COMMENT", "body": "b", "comments": comments})),
            )
            .await;
        assert_eq!(r.status, 422, "{comments:?}: {}", r.body);
        assert_eq!(r.body["message"], "Unprocessable Entity");
        assert_eq!(review_errors(&r), vec![text.to_string()], "{comments:?}");
    }
    let r = bob.call("GET", reviews, None).await;
    let before = r.body.as_array().unwrap().len();

    // Every way of naming a place: line/side (both sides), position, a range.
    let r = bob
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            reviews,
            Some(
                json!({"event": "REQUEST_CHANGES", "body": "four things", "comments": [
                    c(json!({"line": 18, "side": "RIGHT"})),
                    c(json!({"line": 2, "side": "LEFT"})),
                    c(json!({"position": 3})),
                    c(json!({"start_line": 15, "line": 18})),
                    {"path": "src/new.rs", "line": 3, "body": "new file"},
                ]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let review_id = r.body["id"].as_u64().unwrap();
    let r = bob
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            "/repos/acme/shop/pulls/1/comments",
            None,
        )
        .await;
    let got = r.body.as_array().unwrap();
    let placed: Vec<(u64, u64, &str, Option<u64>)> = got
        .iter()
        .map(|c| {
            (
                c["position"].as_u64().unwrap(),
                c["line"].as_u64().unwrap(),
                c["side"].as_str().unwrap(),
                c["start_line"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        placed,
        vec![
            (12, 18, "RIGHT", None),
            (2, 2, "LEFT", None),
            (3, 2, "RIGHT", None),
            (12, 18, "RIGHT", Some(15)),
            (3, 3, "RIGHT", None),
        ]
    );
    for c in got {
        assert_eq!(c["original_position"], c["position"]);
        assert_eq!(c["original_line"], c["line"]);
        assert_eq!(c["commit_id"], head.as_str());
        assert_eq!(c["pull_request_review_id"], review_id);
        assert!(c.get("in_reply_to_id").is_none());
    }
    let hunk2 = got[0]["diff_hunk"].as_str().unwrap();
    assert!(hunk2.starts_with("@@ -15,6 +15,6 @@"), "{hunk2}");
    assert!(
        hunk2.ends_with("\n line 15\n line 16\n line 17\n-line 18\n+LINE 18"),
        "{hunk2}"
    );
    assert_eq!(got[1]["diff_hunk"], "@@ -1,5 +1,5 @@\n line 1\n-line 2");
    assert_eq!(
        got[2]["diff_hunk"],
        "@@ -1,5 +1,5 @@\n line 1\n-line 2\n+LINE 2"
    );
    assert_eq!(got[4]["diff_hunk"], "@@ -0,0 +1,3 @@\n+a\n+b\n+c");
    let r = bob.call("GET", reviews, None).await;
    assert_eq!(
        r.body.as_array().unwrap().len(),
        before + 1,
        "refused reviews left nothing"
    );

    let r = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments",
            &format!("{reviews}/{review_id}/comments"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    let r = alice
        .call("GET", &format!("{reviews}/999999/comments"), None)
        .await;
    assert_eq!(r.status, 404);

    // One comment at a time: GitHub's "Validation Failed" naming the field.
    let comments = "/repos/acme/shop/pulls/1/comments";
    let r = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            comments,
            Some(json!({"commit_id": head, "path": "src/lib.rs", "line": 9, "body": "?"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["message"], "Validation Failed");
    assert_eq!(
        r.body["errors"][0]["field"],
        "pull_request_review_thread.line"
    );
    assert_eq!(r.body["errors"][0]["message"], "could not be resolved");
    let first = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            comments,
            Some(json!({"commit_id": head, "path": "src/lib.rs", "line": 2, "side": "LEFT", "body": "why?"})),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        (first.body["position"].as_u64(), first.body["side"].as_str()),
        (Some(2), Some("LEFT"))
    );
    let first_id = first.body["id"].as_u64().unwrap();
    assert_eq!(
        first.header("location"),
        format!(
            "{}/repos/acme/shop/pulls/comments/{first_id}",
            sim.api_url()
        )
    );

    // Replies: `in_reply_to` on the create call, or the replies endpoint; a
    // reply to a reply joins the thread of its first comment.
    let reply = bob
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            comments,
            Some(json!({"in_reply_to": first_id, "body": "because"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["in_reply_to_id"], first_id);
    assert_eq!(reply.body["diff_hunk"], first.body["diff_hunk"]);
    assert_eq!(reply.body["line"], 2);
    let reply_id = reply.body["id"].as_u64().unwrap();
    let again = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
            &format!("{comments}/{reply_id}/replies"),
            Some(json!({"body": "ok"})),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["in_reply_to_id"], first_id);
    let missing = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
            &format!("{comments}/424242/replies"),
            Some(json!({"body": "ok"})),
        )
        .await;
    assert_eq!(missing.status, 404);
    let one = bob
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/comments/{comment_id}",
            &format!("/repos/acme/shop/pulls/comments/{reply_id}"),
            None,
        )
        .await;
    assert_eq!(one.body["body"], "because");

    // Each comment was announced, replies with their thread.
    let hooks: Vec<Value> = sim
        .deliveries()
        .into_iter()
        .filter(|d| d.event == "pull_request_review_comment")
        .map(|d| d.payload)
        .collect();
    assert_eq!(hooks.len(), 8, "5 in the review, 1 single, 2 replies");
    assert!(hooks
        .iter()
        .all(|h| h["action"] == "created" && h["pull_request"]["number"] == 1));
    assert_eq!(hooks[7]["comment"]["in_reply_to_id"], first_id);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_permissions_follow_the_callers_role() {
    let repo = fixture();
    let sim = serve(repo.path(), None).await;
    let expect = [
        ("ada", "admin", [true, true, true, true, true]),
        ("max", "maintain", [false, true, true, true, true]),
        ("wes", "write", [false, false, true, true, true]),
        ("tia", "triage", [false, false, false, true, true]),
        ("rey", "read", [false, false, false, false, true]),
    ];
    for (login, role, [admin, maintain, push, triage, pull]) in expect {
        let api = person(&sim, login, role);
        let r = api
            .checked("GET", "/repos/{owner}/{repo}", "/repos/acme/shop", None)
            .await;
        assert_eq!(
            r.body["permissions"],
            json!({"admin": admin, "maintain": maintain, "push": push, "triage": triage, "pull": pull}),
            "{login} ({role})"
        );
    }
    let bot = Api::new(&sim, Some(&installation_token(&sim).await));
    let r = bot.call("GET", "/repos/acme/shop", None).await;
    assert_eq!(r.body["permissions"]["push"], true);
    assert_eq!(r.body["permissions"]["admin"], false);

    // A reader cannot push, over REST or git; a collaborator role given by an admin can.
    let rey_token = sim.create_user("rey", "read").unwrap();
    let rey = Api::new(&sim, Some(&rey_token));
    let r = rey
        .call(
            "POST",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/rey", "sha": git(repo.path(), &["rev-parse", "main"])})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let clone = tempfile::tempdir().unwrap();
    let url = format!(
        "http://x-access-token:{rey_token}@{}/acme/shop.git",
        sim.api_url().trim_start_matches("http://")
    );
    git(clone.path(), &["clone", "-q", &url, "c"]);
    let c = clone.path().join("c");
    git(&c, &["checkout", "-qb", "rey"]);
    let (ok, out) = git_in(&c, &["push", "origin", "rey"]);
    assert!(
        !ok && out.contains("Permission to acme/shop.git denied to rey"),
        "{out}"
    );
    let wes = person(&sim, "wes", "write");
    let r = wes
        .call(
            "PUT",
            "/repos/acme/shop/collaborators/rey",
            Some(json!({"permission": "push"})),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "only admins manage collaborators: {}",
        r.body
    );
    let ada = person(&sim, "ada", "admin");
    let r = ada
        .call(
            "PUT",
            "/repos/acme/shop/collaborators/rey",
            Some(json!({"permission": "push"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = rey.call("GET", "/repos/acme/shop", None).await;
    assert_eq!(r.body["permissions"]["push"], true);
    let (ok, out) = git_in(&c, &["push", "origin", "rey"]);
    assert!(ok, "{out}");
    let r = ada
        .call("GET", "/repos/acme/shop/collaborators/tia/permission", None)
        .await;
    assert_eq!(
        (r.body["permission"].as_str(), r.body["role_name"].as_str()),
        (Some("read"), Some("triage"))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_and_commits_answer_diff_and_patch_media_types() {
    let repo = fixture();
    let sim = serve(repo.path(), None).await;
    let alice = person(&sim, "alice", "write");
    let pr = open_pr(&alice, "feature").await;
    let head = pr["head"]["sha"].as_str().unwrap();
    let expected_diff = git(repo.path(), &["diff", "main...feature"]);
    for accept in [
        "application/vnd.github.diff",
        "application/vnd.github.v3.diff",
    ] {
        let r = alice
            .call_as("GET", "/repos/acme/shop/pulls/1", None, accept)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            "application/vnd.github.diff; charset=utf-8"
        );
        assert_eq!(r.text.trim_end(), expected_diff);
        assert!(
            r.text.starts_with("diff --git a/src/lib.rs b/src/lib.rs\n"),
            "{}",
            r.text
        );
        assert!(!r.header("etag").is_empty());
    }
    let r = alice
        .call_as(
            "GET",
            "/repos/acme/shop/pulls/1",
            None,
            "application/vnd.github.patch",
        )
        .await;
    assert_eq!(
        r.header("content-type"),
        "application/vnd.github.patch; charset=utf-8"
    );
    assert!(r.text.starts_with(&format!("From {head} ")), "{}", r.text);
    assert!(
        r.text.contains("Subject: [PATCH] Shout two lines\n"),
        "{}",
        r.text
    );
    let r = alice
        .call_as(
            "GET",
            &format!("/repos/acme/shop/commits/{head}"),
            None,
            "application/vnd.github.diff",
        )
        .await;
    assert_eq!(
        r.text.trim_end(),
        git(repo.path(), &["diff", "main", "feature"])
    );
    let root = git(repo.path(), &["rev-parse", "main"]);
    let r = alice
        .call_as(
            "GET",
            &format!("/repos/acme/shop/commits/{root}"),
            None,
            "application/vnd.github.diff",
        )
        .await;
    assert!(r.text.contains("new file mode 100644"), "{}", r.text);
    let r = alice
        .call_as(
            "GET",
            &format!("/repos/acme/shop/commits/{head}"),
            None,
            "application/vnd.github.patch",
        )
        .await;
    assert!(r.text.starts_with(&format!("From {head} ")));
    // JSON stays the default.
    let r = alice.call("GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(r.body["number"], 1);
    let r = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/commits/{ref}",
            &format!("/repos/acme/shop/commits/{head}"),
            None,
        )
        .await;
    assert_eq!(r.body["files"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

fn ls_remote(dir: &Path, url: &str) -> std::collections::BTreeMap<String, String> {
    git(dir, &["ls-remote", url])
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, name)| (name.to_string(), sha.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refs_are_advertised_fetchable_updated_and_read_only() {
    let repo = fixture();
    let sim = serve(repo.path(), None).await;
    let token = sim.create_user("alice", "write").unwrap();
    let alice = Api::new(&sim, Some(&token));
    open_pr(&alice, "feature").await;
    open_pr(&alice, "conflict").await;
    let r = alice
        .call("PUT", "/repos/acme/shop/pulls/2/merge", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let host = sim.api_url().trim_start_matches("http://").to_string();
    let url = format!("http://x-access-token:{token}@{host}/acme/shop.git");
    let work = tempfile::tempdir().unwrap();
    let refs = ls_remote(work.path(), &url);
    let main = refs["refs/heads/main"].clone();
    let feature = refs["refs/heads/feature"].clone();
    assert_eq!(refs["refs/pull/1/head"], feature);
    assert!(
        refs.contains_key("refs/pull/2/head"),
        "kept after merging: {refs:?}"
    );
    assert!(
        !refs.contains_key("refs/pull/2/merge"),
        "no merge ref once merged"
    );
    // PR 1 now conflicts with main (PR 2 changed line 2): no test merge.
    assert!(!refs.contains_key("refs/pull/1/merge"), "{refs:?}");

    // A mergeable PR has a merge ref whose parents are base and head.
    let mut lines: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
    lines[1] = "other 2".into();
    lines[9] = "TEN".into();
    let c = work.path().join("c");
    git(work.path(), &["clone", "-q", &url, "c"]);
    git(&c, &["checkout", "-qb", "ten"]);
    std::fs::write(c.join("src/lib.rs"), lines.join("\n") + "\n").unwrap();
    git(&c, &["commit", "-qam", "ten"]);
    git(&c, &["push", "-q", "origin", "ten"]);
    open_pr(&alice, "ten").await;
    git(
        &c,
        &[
            "fetch",
            "-q",
            "origin",
            "refs/pull/3/merge:pr3-merge",
            "refs/pull/3/head:pr3-head",
        ],
    );
    let parents = git(&c, &["rev-list", "--parents", "-n1", "pr3-merge"]);
    let ten = git(&c, &["rev-parse", "ten"]);
    assert_eq!(
        parents.split(' ').skip(1).collect::<Vec<_>>(),
        vec![main.as_str(), ten.as_str()]
    );
    assert_eq!(git(&c, &["rev-parse", "pr3-head"]), ten);

    // A push to the head branch moves refs/pull/N/head (and the merge ref).
    std::fs::write(c.join("extra.txt"), "x\n").unwrap();
    git(&c, &["add", "."]);
    git(&c, &["commit", "-qm", "more"]);
    git(&c, &["push", "-q", "origin", "ten"]);
    let refs = ls_remote(work.path(), &url);
    let ten2 = git(&c, &["rev-parse", "ten"]);
    assert_eq!(refs["refs/pull/3/head"], ten2);
    git(
        &c,
        &["fetch", "-q", "origin", "+refs/pull/3/merge:pr3-merge"],
    );
    let parents = git(&c, &["rev-list", "--parents", "-n1", "pr3-merge"]);
    assert!(parents.ends_with(&ten2), "{parents}");

    // Pull request refs cannot be pushed, as on GitHub.
    let (ok, out) = git_in(&c, &["push", "origin", "HEAD:refs/pull/3/head"]);
    assert!(!ok, "{out}");
    assert!(out.contains("deny updating a hidden ref"), "{out}");

    // The URL without `.git` works for clone and push.
    let bare_url = format!("http://x-access-token:{token}@{host}/acme/shop");
    git(work.path(), &["clone", "-q", &bare_url, "d"]);
    let d = work.path().join("d");
    git(&d, &["checkout", "-qb", "no-dot-git"]);
    git(&d, &["push", "-q", "origin", "no-dot-git"]);
    assert!(ls_remote(work.path(), &url).contains_key("refs/heads/no-dot-git"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_endpoints_match_githubs_description() {
    let repo = fixture();
    let sim = serve(repo.path(), None).await;
    let alice = person(&sim, "alice", "write");
    let ada = person(&sim, "ada", "admin");
    let bot = Api::new(&sim, Some(&installation_token(&sim).await));

    let r = bot
        .checked(
            "GET",
            "/installation/repositories",
            "/installation/repositories",
            None,
        )
        .await;
    assert_eq!(r.body["total_count"], 1);
    assert_eq!(r.body["repositories"][0]["full_name"], "acme/shop");
    let r = alice.call("GET", "/installation/repositories", None).await;
    assert_eq!(r.status, 403);

    // Issues (pull requests included, newest first), filtered and paged.
    for i in 0..3 {
        let r = alice
            .call(
                "POST",
                "/repos/acme/shop/issues",
                Some(json!({"title": format!("issue {i}")})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    open_pr(&alice, "feature").await;
    let r = alice
        .call(
            "PATCH",
            "/repos/acme/shop/issues/1",
            Some(json!({"state": "closed"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/issues",
            "/repos/acme/shop/issues?per_page=2",
            None,
        )
        .await;
    let numbers: Vec<u64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![4, 3]);
    assert!(r.header("link").contains("rel=\"next\""), "{:?}", r.headers);
    assert!(r.body[0]["pull_request"].is_object());
    let r = alice
        .call("GET", "/repos/acme/shop/issues?state=all", None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 4);
    let r = alice
        .call("GET", "/repos/acme/shop/issues?state=closed", None)
        .await;
    assert_eq!(r.body[0]["number"], 1);

    // Labels: create, list, add to an issue (an unknown one is created), filter by them.
    let r = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/labels",
            "/repos/acme/shop/labels",
            Some(json!({"name": "bug", "color": "#D73A4A", "description": "broken"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["color"], "d73a4a");
    let r = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/labels",
            "/repos/acme/shop/labels",
            Some(json!({"name": "BUG"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["code"], "already_exists");
    let r = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            "/repos/acme/shop/issues/2/labels",
            Some(json!({"labels": ["bug", "triaged"]})),
        )
        .await;
    assert_eq!(r.body[0]["description"], "broken");
    let r = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/labels",
            "/repos/acme/shop/labels",
            None,
        )
        .await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["bug", "triaged"]);
    let r = alice
        .call("GET", "/repos/acme/shop/issues?labels=bug,triaged", None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["number"], 2);

    // Branch protection, for admins.
    let r = sim_admin(
        &sim,
        "/_sim/repos/acme/shop/protect",
        json!({"branch": "main"}),
    )
    .await;
    assert!(r < 300, "{r}");
    let r = ada
        .checked(
            "GET",
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            "/repos/acme/shop/branches/main/protection",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enforce_admins"]["enabled"], true);
    let r = ada
        .checked(
            "GET",
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            "/repos/acme/shop/branches/feature/protection",
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (404, Some("Branch not protected"))
    );
    assert_eq!(
        alice
            .call("GET", "/repos/acme/shop/branches/main/protection", None)
            .await
            .status,
        404
    );
    assert_eq!(
        bot.call("GET", "/repos/acme/shop/branches/main/protection", None)
            .await
            .status,
        403
    );

    // Files and blobs over REST.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let put = "/repos/acme/shop/contents/docs/notes.md";
    let r = bot
        .checked(
            "PUT",
            "/repos/{owner}/{repo}/contents/{path}",
            put,
            Some(json!({"message": "Add notes", "content": b64("hello\n"), "branch": "feature"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let blob = r.body["content"]["sha"].as_str().unwrap().to_string();
    let tip = r.body["commit"]["sha"].as_str().unwrap().to_string();
    let r = bot.call("GET", "/repos/acme/shop/pulls/4", None).await;
    assert_eq!(
        r.body["head"]["sha"],
        tip.as_str(),
        "the PR head moved with the commit"
    );
    let r = bot
        .checked(
            "PUT",
            "/repos/{owner}/{repo}/contents/{path}",
            put,
            Some(json!({"message": "Again", "content": b64("bye\n"), "branch": "feature"})),
        )
        .await;
    assert_eq!(r.status, 422, "an existing file needs its sha: {}", r.body);
    // (GitHub's description of this 409 is a `oneOf` of two schemas any error
    // body matches, so only the status and message are checked.)
    let r = bot
        .call("PUT", put, Some(json!({"message": "Again", "content": b64("bye\n"), "branch": "feature", "sha": "0000000000000000000000000000000000000000"})))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.body["message"],
        "docs/notes.md does not match 0000000000000000000000000000000000000000"
    );
    let r = bot
        .checked("PUT", "/repos/{owner}/{repo}/contents/{path}", put, Some(json!({"message": "Update notes", "content": b64("bye\n"), "branch": "feature", "sha": blob})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["commit"]["parents"][0]["sha"], tip.as_str());
    assert_eq!(r.body["commit"]["message"], "Update notes");
    let r = bot
        .call_as(
            "GET",
            "/repos/acme/shop/contents/docs/notes.md?ref=feature",
            None,
            "application/vnd.github.raw",
        )
        .await;
    assert_eq!(r.text, "bye\n");
    let r = bot
        .call(
            "PUT",
            "/repos/acme/shop/contents/x.md",
            Some(json!({"message": "m", "content": b64("x")})),
        )
        .await;
    assert_eq!(r.status, 409, "main is protected: {}", r.body);
    let r = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/git/blobs",
            "/repos/acme/shop/git/blobs",
            Some(json!({"content": "hello\n", "encoding": "utf-8"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["sha"],
        blob.as_str(),
        "the same bytes are the same blob"
    );
    let r = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/git/blobs",
            "/repos/acme/shop/git/blobs",
            Some(json!({"content": b64("hello\n"), "encoding": "base64"})),
        )
        .await;
    assert_eq!(r.body["sha"], blob.as_str());
    sim.shutdown().await;
}

async fn sim_admin(sim: &prflow::sim::Sim, path: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}{path}", sim.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The top-level keys of every captured GitHub example of `event` whose file
/// name starts with `prefix` (the action).
fn example_keys(event: &str, prefix: &str) -> std::collections::BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sim/webhooks")
        .join(event);
    let mut keys = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = e.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(prefix)
        {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        keys.extend(v.as_object().unwrap().keys().cloned());
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_create_delete_and_review_comment_webhooks_carry_githubs_keys() {
    let repo = fixture();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let sim = serve(repo.path(), Some(url)).await;
    let token = sim.create_user("alice", "write").unwrap();
    let alice = Api::new(&sim, Some(&token));
    let bot = Api::new(&sim, Some(&installation_token(&sim).await));
    let pr = open_pr(&alice, "feature").await;
    let head = pr["head"]["sha"].as_str().unwrap();
    let r = bot
        .call(
            "POST",
            &format!("/repos/acme/shop/statuses/{head}"),
            Some(json!({"state": "success", "context": "ci"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = alice
        .call(
            "POST",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/topic", "sha": head})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = alice
        .call("DELETE", "/repos/acme/shop/git/refs/heads/topic", None)
        .await;
    assert_eq!(r.status, 204);
    let bob = person(&sim, "bob", "write");
    let r = bob
        .call(
            "POST",
            "/repos/acme/shop/pulls/1/comments",
            Some(json!({"commit_id": head, "path": "src/new.rs", "line": 1, "body": "hm"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let d = sim.deliveries();
    let find = |e: &str| {
        d.iter()
            .find(|x| x.event == e)
            .unwrap_or_else(|| panic!("no {e} delivery"))
            .payload
            .clone()
    };
    for (event, prefix) in [
        ("status", ""),
        ("create", ""),
        ("delete", ""),
        ("pull_request_review_comment", "created."),
    ] {
        let ours = find(event);
        let have: std::collections::BTreeSet<String> =
            ours.as_object().unwrap().keys().cloned().collect();
        let missing: Vec<_> = example_keys(event, prefix)
            .difference(&have)
            .cloned()
            .collect();
        assert!(missing.is_empty(), "{event} lacks {missing:?}");
    }
    let status = find("status");
    assert_eq!(
        (
            status["sha"].as_str(),
            status["state"].as_str(),
            status["context"].as_str()
        ),
        (Some(head), Some("success"), Some("ci"))
    );
    assert_eq!(status["branches"][0]["name"], "feature");
    assert_eq!(status["name"], "acme/shop");
    let create = find("create");
    assert_eq!(
        (
            create["ref"].as_str(),
            create["ref_type"].as_str(),
            create["master_branch"].as_str()
        ),
        (Some("topic"), Some("branch"), Some("main"))
    );
    assert_eq!(find("delete")["ref"], "topic");
    let inst = find("installation");
    assert!(
        inst["installation"]["created_at"].is_i64(),
        "{}",
        inst["installation"]
    );
    let comment = find("pull_request_review_comment");
    let ex_keys: std::collections::BTreeSet<String> = {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(
                "tests/fixtures/sim/webhooks/pull_request_review_comment/created.payload.json",
            ))
            .unwrap(),
        )
        .unwrap();
        v["comment"].as_object().unwrap().keys().cloned().collect()
    };
    let ours: std::collections::BTreeSet<String> = comment["comment"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(
        ex_keys.is_subset(&ours),
        "comment lacks {:?}",
        ex_keys.difference(&ours).collect::<Vec<_>>()
    );
    sim.shutdown().await;
}

/// A receiver whose first connection closes without answering (as a kept-alive
/// connection the receiver had dropped does), then answers 200 on new ones.
async fn flaky_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = l.accept().await {
            n += 1;
            let first = n == 1;
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let _ = sock.read(&mut buf).await;
                if first {
                    return; // closed without a word
                }
                s.fetch_add(1, Ordering::SeqCst);
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (url, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_before_an_answer_is_retried_on_a_new_connection() {
    let repo = fixture();
    let (url, served) = flaky_receiver().await;
    let sim = serve(repo.path(), Some(url)).await;
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let d = sim.deliveries();
    assert!(!d.is_empty());
    for x in &d {
        assert_eq!(x.status, "OK", "{:?}", x.attempts);
        assert_eq!(x.status_code, Some(200));
    }
    let first = &d[0];
    assert_eq!(first.attempts.len(), 2, "{:?}", first.attempts);
    assert_eq!(
        first.attempts[0].status,
        "connection closed before a response"
    );
    assert!(!first.attempts[0].fresh_connection);
    assert!(first.attempts[1].fresh_connection);
    assert_eq!(first.attempts[1].status, "OK");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), d.len());

    // Nobody listening: the one retry fails too, and the log says why.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", gone.local_addr().unwrap());
    drop(gone);
    sim.set_webhook_url(Some(dead));
    let alice = person(&sim, "alice", "write");
    open_pr(&alice, "feature").await;
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let last = sim.deliveries().pop().unwrap();
    assert_eq!(last.status, "failed to connect to host");
    assert_eq!(last.attempts.len(), 2);
    sim.shutdown().await;
}

/// The App's webhook deliveries API (what `serve`'s redelivery sweep reads):
/// a delivery to an App that is down is listed as GitHub lists it (no answer:
/// `status_code` 0, `status` not `OK`), newest first, paged by cursor;
/// redelivering it sends the same `guid` again as a new delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_webhook_deliveries_are_listed_and_redelivered_like_githubs() {
    let repo = fixture();
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", gone.local_addr().unwrap());
    drop(gone);
    let sim = serve(repo.path(), Some(dead)).await;
    let alice = person(&sim, "alice", "write");
    open_pr(&alice, "feature").await;
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let sent = sim.deliveries();
    assert!(sent.len() >= 2, "{sent:?}");
    let app = Api::new(&sim, Some(&app_jwt(&sim)));

    // Newest first, one a page, the next page's cursor in `Link`.
    let r = app
        .checked(
            "GET",
            "/app/hook/deliveries",
            "/app/hook/deliveries?per_page=1",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let newest = &r.body[0];
    let last = sent.last().unwrap();
    assert_eq!(newest["id"], last.id);
    assert_eq!(newest["guid"], last.guid.as_str());
    assert_eq!(newest["event"], "pull_request");
    assert_eq!(newest["action"], "opened");
    assert_eq!(newest["status_code"], 0);
    assert_eq!(newest["status"], "failed to connect to host");
    assert_eq!(newest["redelivery"], false);
    let link = r.header("link").to_string();
    assert!(link.contains("rel=\"next\""), "{link}");
    let next = link
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split(['&', '>'])
        .next()
        .unwrap()
        .to_string();
    let r = app
        .checked(
            "GET",
            "/app/hook/deliveries",
            &format!("/app/hook/deliveries?per_page=1&cursor={next}"),
            None,
        )
        .await;
    assert_eq!(r.body[0]["id"], sent[sent.len() - 2].id);
    // Every delivery on one page; `failure` is 400–599, so an App that never
    // answered is not among them (GitHub's filter works the same way).
    let r = app
        .checked("GET", "/app/hook/deliveries", "/app/hook/deliveries", None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), sent.len());
    let r = app
        .checked(
            "GET",
            "/app/hook/deliveries",
            "/app/hook/deliveries?status=failure",
            None,
        )
        .await;
    assert_eq!(r.body, json!([]));
    app.expect(400, "GET", "/app/hook/deliveries?cursor=bogus", None)
        .await;
    let bot = Api::new(&sim, Some(&installation_token(&sim).await));
    bot.expect(401, "GET", "/app/hook/deliveries", None).await;

    // One delivery in full, then sent again: same guid, a new id, a redelivery.
    let r = app
        .checked(
            "GET",
            "/app/hook/deliveries/{delivery_id}",
            &format!("/app/hook/deliveries/{}", last.id),
            None,
        )
        .await;
    assert_eq!(
        r.body["request"]["headers"]["X-GitHub-Delivery"],
        last.guid.as_str()
    );
    assert_eq!(r.body["request"]["payload"]["action"], "opened");
    let r = app
        .checked(
            "POST",
            "/app/hook/deliveries/{delivery_id}/attempts",
            &format!("/app/hook/deliveries/{}/attempts", last.id),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    app.expect(404, "POST", "/app/hook/deliveries/999999/attempts", None)
        .await;
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let r = app
        .checked(
            "GET",
            "/app/hook/deliveries",
            "/app/hook/deliveries?per_page=1",
            None,
        )
        .await;
    assert_eq!(r.body[0]["guid"], last.guid.as_str());
    assert_eq!(r.body[0]["redelivery"], true);
    assert!(r.body[0]["id"].as_u64().unwrap() > last.id);
    sim.shutdown().await;
}
