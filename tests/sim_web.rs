//! The simulator's web pages (issue 18): every `html_url` the REST API hands
//! out is a page showing what GitHub would show, and a person acting from a
//! page (comment, review with inline comments, merge) goes through the REST
//! API's code, so webhooks fire. Real HTTP on loopback with reqwest; the
//! browser-level test (Mermaid drawn, a click-through) is tests/web/.

mod common;
#[path = "sim_support/mod.rs"]
mod sim_support;

use common::{commit_files, git, repo_with, sim_serving};
use prflow::sim::Sim;
use serde_json::{json, Value};

/// `main` with a README and src/lib.rs; `feature` changes lib.rs and adds a file.
fn repo() -> tempfile::TempDir {
    let t = repo_with(&[
        ("README.md", "# shop\n\nThe **shop** readme.\n"),
        ("src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n"),
    ]);
    let d = t.path();
    git(d, &["checkout", "-qb", "feature"]);
    commit_files(
        d,
        &[
            ("src/lib.rs", "pub fn one() -> u32 {\n    1 + 0\n}\n"),
            ("src/two.rs", "pub fn two() -> u32 {\n    2\n}\n"),
        ],
        "add two",
    );
    git(d, &["checkout", "-q", "main"]);
    t
}

struct World {
    sim: Sim,
    http: reqwest::Client,
    base: String,
    alice: String,
    bot: String,
    n: u64,
    head: String,
    _repo: tempfile::TempDir,
}

async fn api(w: &World, token: &str, method: &str, path: &str, body: Value) -> Value {
    let r = w
        .http
        .request(method.parse().unwrap(), format!("{}{path}", w.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// alice opened PR 1 (feature → main) with a Markdown body; the App reported a
/// failing check run with an annotation; bob exists.
async fn world() -> World {
    let repo = repo();
    let sim = sim_serving("acme/shop", repo.path()).await;
    let alice = sim.create_user("alice", "write").unwrap();
    sim.create_user("bob", "write").unwrap();
    let mut w = World {
        base: sim.api_url(),
        bot: sim_support::installation_token(&sim).await,
        sim,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        alice,
        n: 0,
        head: String::new(),
        _repo: repo,
    };
    let body = "### Tasks\n\n| task | agent |\n|---|---|\n| `build` | coder |\n\n- [x] planned\n- [ ] reviewed\n\n```mermaid\ngraph TD\n  a-->b\n```\n<!-- prflow:run=r1 phase=1 -->\n<script>alert(1)</script>";
    let pr = api(
        &w,
        &w.alice.clone(),
        "POST",
        "/repos/acme/shop/pulls",
        json!({"title": "Add two", "head": "feature", "base": "main", "body": body}),
    )
    .await;
    w.n = pr["number"].as_u64().unwrap();
    w.head = pr["head"]["sha"].as_str().unwrap().to_string();
    api(&w, &w.bot.clone(), "POST", "/repos/acme/shop/check-runs", json!({
        "name": "prflow/code-review", "head_sha": w.head, "status": "completed", "conclusion": "failure",
        "output": {"title": "1 problem", "summary": "Found **one** problem.",
                   "annotations": [{"path": "src/two.rs", "start_line": 2, "end_line": 2,
                                    "annotation_level": "failure", "message": "two is hard-coded"}]}
    })).await;
    w
}

async fn page(w: &World, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = w.http.get(format!("{}{path}", w.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form as a browser on the simulator's page would (`Origin` set).
async fn form(
    w: &World,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
    origin: &str,
) -> reqwest::Response {
    let mut req = w
        .http
        .post(format!("{}{path}", w.base))
        .header("origin", origin)
        .form(fields);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// A person logged in on the simulator's pages: the session cookie and the page's
/// CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Session {
    /// Submits a form of the simulator's pages at `path` as this person would: from
    /// the simulator's origin, with the page's CSRF token.
    async fn submit(&self, w: &World, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        form(w, path, Some(&self.cookie), &all, &w.base).await
    }
}

/// Acts as `login`: logs in on the simulator's pages.
async fn act_as(w: &World, login: &str) -> Session {
    let r = form(
        w,
        "/_sim/web/session",
        None,
        &[("login", login), ("back", "/acme/shop/pull/1")],
        &w.base,
    )
    .await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let (_, html) = page(w, "/acme/shop/pull/1", Some(&cookie)).await;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a logged-in page carries the CSRF token")
        .to_string();
    Session { cookie, csrf }
}

#[tokio::test]
async fn every_html_url_the_api_hands_out_is_a_page() {
    let w = world().await;
    let pr = api(&w, &w.alice, "GET", "/repos/acme/shop/pulls/1", json!(null)).await;
    let issue = api(
        &w,
        &w.alice,
        "POST",
        "/repos/acme/shop/issues",
        json!({"title": "Bug", "body": "It *breaks*."}),
    )
    .await;
    let comment = api(
        &w,
        &w.alice,
        "POST",
        &format!("/repos/acme/shop/issues/{}/comments", issue["number"]),
        json!({"body": "me too"}),
    )
    .await;
    let runs = api(
        &w,
        &w.alice,
        "GET",
        &format!("/repos/acme/shop/commits/{}/check-runs", w.head),
        json!(null),
    )
    .await;
    let repo = api(&w, &w.alice, "GET", "/repos/acme/shop", json!(null)).await;
    let commit = api(
        &w,
        &w.alice,
        "GET",
        &format!("/repos/acme/shop/commits/{}", w.head),
        json!(null),
    )
    .await;
    let file = api(
        &w,
        &w.alice,
        "GET",
        "/repos/acme/shop/contents/README.md",
        json!(null),
    )
    .await;
    let urls = [
        (repo["html_url"].clone(), "Pull requests"),
        (repo["owner"]["html_url"].clone(), "acme"),
        (pr["html_url"].clone(), "Add two"),
        (pr["user"]["html_url"].clone(), "alice"),
        (issue["html_url"].clone(), "It <em>breaks</em>."),
        (comment["html_url"].clone(), "me too"),
        (
            runs["check_runs"][0]["html_url"].clone(),
            "two is hard-coded",
        ),
        (runs["check_runs"][0]["app"]["html_url"].clone(), "App ID"),
        (commit["html_url"].clone(), "add two"),
        (
            file["html_url"].clone(),
            "The <strong>shop</strong> readme.",
        ),
        (file["download_url"].clone(), "The **shop** readme."),
    ];
    for (url, want) in urls {
        let url = url
            .as_str()
            .unwrap_or_else(|| panic!("no html_url for {want}"))
            .to_string();
        let r = w.http.get(&url).send().await.unwrap();
        let r = if r.status() == 303 {
            let to = r.headers()["location"].to_str().unwrap().to_string();
            w.http.get(format!("{}{to}", w.base)).send().await.unwrap()
        } else {
            r
        };
        assert_eq!(r.status(), 200, "{url}");
        let html = r.text().await.unwrap();
        assert!(html.contains(want), "{url} does not show {want:?}:\n{html}");
    }
    let (s, _) = page(&w, "/acme/shop/pull/99", None).await;
    assert_eq!(s, 404);
    let (s, diff) = page(&w, "/acme/shop/pull/1.diff", None).await;
    assert_eq!(s, 200);
    assert!(
        diff.contains("+++ b/src/two.rs") && diff.contains("+    1 + 0"),
        "{diff}"
    );
}

#[tokio::test]
async fn pull_request_pages_show_body_checks_and_diff() {
    let w = world().await;
    let (_, html) = page(&w, "/acme/shop/pull/1", None).await;
    // The body as GitHub-flavoured Markdown: a table, a task list, the graph; no raw HTML.
    assert!(html.contains("<td><code>build</code></td>"), "{html}");
    assert!(html.contains("type=\"checkbox\""), "{html}");
    assert!(
        html.contains("<pre class=\"mermaid\">graph TD\n  a--&gt;b\n</pre>"),
        "{html}"
    );
    assert!(html.contains("/_sim/assets/mermaid.min.js"), "{html}");
    assert!(
        !html.contains("<script>alert(1)</script>") && !html.contains("prflow:run=r1"),
        "{html}"
    );
    // The merge box lists the failing check; the timeline the pushed commit.
    assert!(
        html.contains("Some checks were not successful") && html.contains("prflow/code-review"),
        "{html}"
    );
    assert!(html.contains("add two"), "{html}");
    assert!(
        html.contains("Pick who you are"),
        "read-only without a user: {html}"
    );

    let (_, files) = page(&w, "/acme/shop/pull/1/files", None).await;
    assert!(
        files.contains("src/two.rs") && files.contains("src/lib.rs"),
        "{files}"
    );
    assert!(files.contains("@@ -1,3 +1,3 @@"), "hunk header: {files}");
    assert!(files.contains("1 + 0"), "{files}");

    let (_, checks) = page(&w, "/acme/shop/pull/1/checks", None).await;
    assert!(
        checks.contains("Found <strong>one</strong> problem."),
        "{checks}"
    );
    assert!(
        checks.contains("src/two.rs</span>#L2"),
        "the annotation's place: {checks}"
    );
    assert!(checks.contains("two is hard-coded"), "{checks}");
    // The annotated line of the file itself.
    assert!(
        checks.contains("<td class=\"num\">2</td><td class=\"code\">    2</td>"),
        "{checks}"
    );

    let (_, list) = page(&w, "/acme/shop/pulls", None).await;
    assert!(
        list.contains("Add two") && list.contains("1 Open"),
        "{list}"
    );
    let (_, home) = page(&w, "/acme/shop", None).await;
    assert!(
        home.contains("feature") && home.contains("#1 Add two"),
        "{home}"
    );

    let r = w
        .http
        .get(format!("{}/_sim/assets/mermaid.min.js", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let js = r.bytes().await.unwrap();
    assert!(
        js.len() > 1_000_000,
        "Mermaid is served from the binary: {} bytes",
        js.len()
    );
}

#[tokio::test]
async fn acting_from_the_page_goes_through_the_api_and_fires_webhooks() {
    let w = world().await;
    let session = act_as(&w, "bob").await;
    let (_, html) = page(&w, "/acme/shop/pull/1", Some(&session.cookie)).await;
    assert!(
        html.contains("Review as <a class=\"author\" href=\"/bob\">bob</a>"),
        "{html}"
    );

    // Request changes with an inline comment on the new file's line 2 (right side).
    let inline = "src/two.rs\u{1f}RIGHT\u{1f}2";
    let r = session
        .submit(
            &w,
            "/acme/shop/pull/1/reviews",
            &[
                ("commit_id", &w.head),
                ("body", "Please compute it."),
                ("event", "REQUEST_CHANGES"),
                ("inline", inline),
                ("inline_body", "why **2**?"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let reviews = api(
        &w,
        &w.alice,
        "GET",
        "/repos/acme/shop/pulls/1/reviews",
        json!(null),
    )
    .await;
    assert_eq!(reviews[0]["state"], "CHANGES_REQUESTED");
    assert_eq!(reviews[0]["user"]["login"], "bob");
    let comments = api(
        &w,
        &w.alice,
        "GET",
        "/repos/acme/shop/pulls/1/comments",
        json!(null),
    )
    .await;
    assert_eq!(comments[0]["path"], "src/two.rs");
    assert_eq!(comments[0]["line"], 2);
    let (_, html) = page(&w, "/acme/shop/pull/1", None).await;
    assert!(
        html.contains("requested changes") && html.contains("why <strong>2</strong>?"),
        "{html}"
    );
    let (_, files) = page(&w, "/acme/shop/pull/1/files", None).await;
    assert!(
        files.contains("why <strong>2</strong>?"),
        "the comment sits on its line: {files}"
    );

    // A comment, then approve, then merge.
    let r = session
        .submit(
            &w,
            "/acme/shop/issues/1/comments",
            &[("body", "fixed?"), ("back", "/acme/shop/pull/1")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = session
        .submit(
            &w,
            "/acme/shop/pull/1/reviews",
            &[("commit_id", &w.head), ("event", "APPROVE"), ("body", "")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = session
        .submit(
            &w,
            "/acme/shop/pull/1/merge",
            &[("sha", &w.head), ("merge_method", "squash")],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let pr = api(&w, &w.alice, "GET", "/repos/acme/shop/pulls/1", json!(null)).await;
    assert_eq!(pr["merged"], true);
    assert_eq!(pr["merged_by"]["login"], "bob");
    let (_, html) = page(&w, "/acme/shop/pull/1", None).await;
    assert!(
        html.contains("State--merged") && html.contains("fixed?"),
        "{html}"
    );

    // Every action was announced like the REST call it is.
    w.sim
        .wait_deliveries(std::time::Duration::from_secs(5))
        .await;
    let events: Vec<(String, Option<String>)> = w
        .sim
        .deliveries()
        .iter()
        .map(|d| (d.event.clone(), d.action.clone()))
        .collect();
    for want in [
        ("pull_request_review", "submitted"),
        ("issue_comment", "created"),
        ("pull_request", "closed"),
    ] {
        assert!(
            events
                .iter()
                .any(|(e, a)| e == want.0 && a.as_deref() == Some(want.1)),
            "{want:?} not in {events:?}"
        );
    }
}

#[tokio::test]
async fn forms_are_refused_from_elsewhere_and_errors_are_shown() {
    let w = world().await;
    let bob = act_as(&w, "bob").await;
    let approve = |csrf| [("csrf", csrf), ("event", "APPROVE")];
    let reviews = "/acme/shop/pull/1/reviews";
    // Another origin, even with the session cookie and token: refused.
    let cookie = Some(bob.cookie.as_str());
    let r = form(
        &w,
        reviews,
        cookie,
        &approve(&bob.csrf),
        "http://evil.example",
    )
    .await;
    assert_eq!(r.status(), 403);
    // The right origin without the page's token: refused.
    let r = form(&w, reviews, cookie, &approve("csrf_wrong"), &w.base).await;
    assert_eq!(r.status(), 403);
    // No session: told to pick a user.
    let r = form(
        &w,
        "/acme/shop/pull/1/reviews",
        None,
        &[("csrf", &bob.csrf), ("event", "APPROVE")],
        &w.base,
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Pick a user first"));
    assert_eq!(
        api(
            &w,
            &w.alice,
            "GET",
            "/repos/acme/shop/pulls/1/reviews",
            json!(null)
        )
        .await,
        json!([])
    );
    // Unknown person.
    let r = form(
        &w,
        "/_sim/web/session",
        None,
        &[("login", "mallory")],
        &w.base,
    )
    .await;
    assert_eq!(r.status(), 422);
    // The API's refusal is shown: approving your own pull request.
    let session = act_as(&w, "alice").await;
    let r = session
        .submit(&w, "/acme/shop/pull/1/reviews", &[("event", "APPROVE")])
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("Review not submitted") && text.contains("own pull request"),
        "{text}"
    );
}
