//! The GitHub layer (src/github/) end to end: retries against a tiny fake
//! server, webhook parsing of GitHub's real payloads, and every ensure
//! against the simulator started in-process. Everything stays on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

use common::{commit_files, git, repo_with};
use prflow::github::events::{InstallationAction, Verdict};
use prflow::github::webhook::sign;
use prflow::github::*;

// ---------------------------------------------------------------------------
// A fake API on 127.0.0.1:0 that answers from a script, to test retries.

mod fake {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};

    /// One scripted answer: status, extra headers, JSON body.
    #[derive(Clone)]
    pub struct Answer(pub u16, pub Vec<(&'static str, String)>, pub &'static str);

    pub struct Fake {
        pub url: String,
        pub hits: Arc<AtomicUsize>,
        pub seen_auth: Arc<std::sync::Mutex<Vec<String>>>,
    }

    #[derive(Clone)]
    struct St {
        script: Arc<Vec<Answer>>,
        hits: Arc<AtomicUsize>,
        seen_auth: Arc<std::sync::Mutex<Vec<String>>>,
    }

    async fn handler(State(st): State<St>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
        let i = st.hits.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let version = headers
            .get("x-github-api-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        st.seen_auth
            .lock()
            .unwrap()
            .push(format!("{auth}|{version}|{uri}"));
        let Answer(status, hdrs, body) = st.script[i.min(st.script.len() - 1)].clone();
        let mut r = (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response();
        // `BASE` in a scripted header stands for this server's URL (for
        // absolute `Link` URLs, as GitHub sends them).
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        for (k, v) in hdrs {
            let v = v.replace("BASE", &format!("http://{host}"));
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        r
    }

    pub async fn start(script: Vec<Answer>) -> Fake {
        let hits = Arc::new(AtomicUsize::new(0));
        let seen_auth = Arc::new(std::sync::Mutex::new(vec![]));
        let st = St {
            script: Arc::new(script),
            hits: hits.clone(),
            seen_auth: seen_auth.clone(),
        };
        let app = axum::Router::new().fallback(handler).with_state(st);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            url: format!("http://{addr}"),
            hits,
            seen_auth,
        }
    }
}

const REPO_JSON: &str =
    r#"{"full_name":"acme/shop","default_branch":"trunk","private":false,"fork":false}"#;
const SECRET_TOKEN: &str = "ghp_supersecret_token_value";

fn fast_client(url: &str) -> GitHub {
    let mut cfg = GitHubConfig::new(url);
    cfg.retry = RetryPolicy::fast();
    GitHub::new(cfg, Auth::Token(auth::Secret::new(SECRET_TOKEN))).unwrap()
}

#[tokio::test]
async fn retries_5xx_then_succeeds_and_counts_every_attempt() {
    use fake::Answer;
    let f = fake::start(vec![
        Answer(502, vec![], r#"{"message":"Server Error"}"#),
        Answer(503, vec![], r#"{"message":"Unavailable"}"#),
        Answer(
            200,
            vec![("x-ratelimit-remaining", "4999".into())],
            REPO_JSON,
        ),
    ])
    .await;
    let gh = fast_client(&f.url).with_phase("phase-1");
    let info = gh.repo("acme", "shop").info().await.unwrap();
    assert_eq!(info.default_branch, "trunk");
    assert_eq!(f.hits.load(Ordering::SeqCst), 3);
    let c = gh.calls().label("phase-1");
    assert_eq!((c.reads, c.writes, c.retries), (3, 0, 2));
    assert_eq!(gh.rate_limit_remaining(), Some(4999));
    let seen = f.seen_auth.lock().unwrap();
    assert_eq!(
        seen[0],
        format!("Bearer {SECRET_TOKEN}|2022-11-28|/repos/acme/shop")
    );
}

#[tokio::test]
async fn enterprise_base_path_and_link_pagination() {
    use fake::Answer;
    let f = fake::start(vec![
        Answer(
            200,
            vec![(
                "link",
                r#"<BASE/api/v3/repositories/1/issues/5/comments?per_page=100&page=2>; rel="next", <BASE/api/v3/repositories/1/issues/5/comments?per_page=100&page=2>; rel="last""#.into(),
            )],
            r#"[{"id":1,"user":{"login":"a"},"body":"one"}]"#,
        ),
        Answer(200, vec![], r#"[{"id":2,"user":{"login":"b"},"body":"two"}]"#),
    ])
    .await;
    let gh = fast_client(&format!("{}/api/v3", f.url));
    let comments = gh.repo("acme", "shop").list_comments(5).await.unwrap();
    assert_eq!(
        comments.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let seen = f.seen_auth.lock().unwrap();
    assert!(
        seen[0].ends_with("|/api/v3/repos/acme/shop/issues/5/comments?per_page=100"),
        "{}",
        seen[0]
    );
    assert!(
        seen[1].ends_with("|/api/v3/repositories/1/issues/5/comments?per_page=100&page=2"),
        "{}",
        seen[1]
    );
}

/// A 502 that arrives after the write was applied (a proxy timing out in
/// front of a server that finished): the status comment must still exist
/// exactly once.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_duplicated() {
    use axum::routing::get;
    use std::sync::Mutex;
    type Comments = Arc<Mutex<Vec<serde_json::Value>>>;
    let comments: Comments = Arc::default();
    let posts = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route(
            "/repos/acme/shop/issues/1/comments",
            get(|axum::extract::State((c, _)): axum::extract::State<(Comments, Arc<AtomicUsize>)>| async move {
                axum::Json(serde_json::Value::Array(c.lock().unwrap().clone()))
            })
            .post(
                |axum::extract::State((c, n)): axum::extract::State<(Comments, Arc<AtomicUsize>)>,
                 axum::Json(body): axum::Json<serde_json::Value>| async move {
                    let mut all = c.lock().unwrap();
                    let comment = serde_json::json!({"id": all.len() + 1, "user": {"login": "bot"}, "body": body["body"]});
                    all.push(comment.clone());
                    if n.fetch_add(1, Ordering::SeqCst) == 0 {
                        (axum::http::StatusCode::BAD_GATEWAY, axum::Json(serde_json::json!({"message": "Bad Gateway"})))
                    } else {
                        (axum::http::StatusCode::CREATED, axum::Json(comment))
                    }
                },
            ),
        )
        .with_state((comments.clone(), posts.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let gh = fast_client(&url);
    let (c, change) = gh
        .repo("acme", "shop")
        .ensure_status_comment(1, "<!-- prflow:status run=r -->", "hello")
        .await
        .unwrap();
    assert_eq!(
        change,
        Change::Unchanged,
        "found the comment the lost answer created"
    );
    assert_eq!(c.id, 1);
    assert_eq!(posts.load(Ordering::SeqCst), 1);
    assert_eq!(comments.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn secondary_rate_limit_403_waits_for_retry_after() {
    use fake::Answer;
    let f = fake::start(vec![
        Answer(
            403,
            vec![("retry-after", "1".into())],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        ),
        Answer(200, vec![], REPO_JSON),
    ])
    .await;
    let gh = fast_client(&f.url);
    let started = std::time::Instant::now();
    gh.repo("acme", "shop").info().await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(950));
    assert_eq!(f.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn primary_limit_with_a_far_reset_fails_fast_as_rate_limited() {
    use fake::Answer;
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3000)
        .to_string();
    let f = fake::start(vec![Answer(
        403,
        vec![
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", far),
        ],
        r#"{"message":"API rate limit exceeded"}"#,
    )])
    .await;
    let err = fast_client(&f.url)
        .repo("acme", "shop")
        .info()
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::RateLimited { retry_after_secs: Some(s), .. } if s > 2900),
        "{err:?}"
    );
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_errors_are_typed_and_not_retried() {
    use fake::Answer;
    let f = fake::start(vec![Answer(404, vec![], r#"{"message":"Not Found"}"#)]).await;
    let err = fast_client(&f.url)
        .repo("acme", "shop")
        .info()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);

    let f = fake::start(vec![Answer(
        403,
        vec![],
        r#"{"message":"Resource not accessible by integration"}"#,
    )])
    .await;
    let err = fast_client(&f.url)
        .repo("acme", "shop")
        .info()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GithubError::Forbidden { message, .. } if message.contains("not accessible"))
    );
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);

    let f = fake::start(vec![Answer(
        422,
        vec![],
        r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and feature"}]}"#,
    )])
    .await;
    let gh = fast_client(&f.url);
    let err = gh
        .repo("acme", "shop")
        .create_comment(1, "hi")
        .await
        .unwrap_err();
    match &err {
        GithubError::Validation {
            message, errors, ..
        } => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(
                errors,
                &vec!["No commits between main and feature".to_string()]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);
    assert_eq!(gh.calls().writes(), 1);
    // Messages are for people: the request, the status, GitHub's words; never the token.
    let text = err.to_string();
    assert!(
        text.contains("POST /repos/acme/shop/issues/1/comments"),
        "{text}"
    );
    assert!(!text.contains(SECRET_TOKEN));
    assert!(!format!("{err:?}{gh:?}").contains(SECRET_TOKEN));
}

#[tokio::test]
async fn unreachable_api_is_a_transport_error_after_retries() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gh = fast_client(&format!("http://127.0.0.1:{port}"));
    let err = gh.repo("acme", "shop").info().await.unwrap_err();
    assert!(matches!(err, GithubError::Transport { .. }), "{err:?}");
    assert_eq!(gh.calls().reads() as u32, RetryPolicy::fast().max_attempts);
}

// ---------------------------------------------------------------------------
// Webhooks: GitHub's real payloads (tests/fixtures/github/webhooks/, copied
// from octokit/webhooks, see PROVENANCE.md there).

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/webhooks")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn edited(rel: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture(rel)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn signature_over_a_real_payload_with_rotation() {
    let body = fixture("pull_request_review/submitted.payload.json");
    let secrets = vec!["old-secret".to_string(), "new-secret".to_string()];
    assert!(verify_signature(&secrets, &body, Some(&sign("old-secret", &body))).is_ok());
    assert!(verify_signature(&secrets, &body, Some(&sign("new-secret", &body))).is_ok());
    assert_eq!(
        verify_signature(&secrets, &body, Some(&sign("retired", &body))),
        Err(SignatureError::Mismatch)
    );
    // Re-serialized JSON is not the raw body: the signature must fail.
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    assert_eq!(
        verify_signature(&secrets, &reserialized, Some(&sign("new-secret", &body))),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn review_approved_and_changes_requested_become_checkpoint_events() {
    let body = edited("pull_request_review/submitted.payload.json", |v| {
        v["review"]["state"] = "approved".into();
        v["review"]["body"] = "LGTM".into();
    });
    let ev = parse_event("pull_request_review", "d1", &body)
        .unwrap()
        .unwrap();
    let WebhookEvent::CheckpointReviewed(r) = &ev else {
        panic!("{ev:?}")
    };
    assert_eq!(r.verdict, Verdict::Approved);
    assert_eq!(r.reviewer, "Codertocat");
    assert_eq!(r.commit_id, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(r.pull_number, 2);
    assert_eq!(r.head_ref, "changes");
    assert_eq!(r.body, "LGTM");
    assert!(!r.from_fork);
    assert_eq!(r.repo.full_name(), "Codertocat/Hello-World");
    assert_eq!(ev.installation_id(), Some(1));

    let body = edited("pull_request_review/submitted.payload.json", |v| {
        v["review"]["state"] = "changes_requested".into();
    });
    let ev = parse_event("pull_request_review", "d2", &body)
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev, WebhookEvent::CheckpointReviewed(ref r) if r.verdict == Verdict::ChangesRequested)
    );

    // The fixture as recorded is a plain comment review: not a verdict.
    let body = fixture("pull_request_review/submitted.payload.json");
    assert_eq!(
        parse_event("pull_request_review", "d3", &body).unwrap(),
        None
    );
}

#[test]
fn comments_with_commands_only() {
    let body = fixture("issue_comment/created.payload.json");
    assert_eq!(parse_event("issue_comment", "d", &body).unwrap(), None);

    let body = edited("issue_comment/created.payload.json", |v| {
        v["comment"]["body"] = "Ready.\n\n> /prflow abort\n\n/prflow land\n".into();
    });
    let ev = parse_event("issue_comment", "d", &body).unwrap().unwrap();
    let WebhookEvent::CommentCommand(c) = ev else {
        panic!()
    };
    assert_eq!(c.commands, vec![Command::Land]);
    assert_eq!(c.author, "Codertocat");
    assert_eq!(c.author_association, "OWNER");
    assert!(!c.is_pull_request);

    // Bots do not command prflow (our own status comment lists commands).
    let body = edited("issue_comment/created.payload.json", |v| {
        v["comment"]["body"] = "/prflow land".into();
        v["comment"]["user"]["type"] = "Bot".into();
    });
    assert_eq!(parse_event("issue_comment", "d", &body).unwrap(), None);

    let body = edited(
        "issue_comment/created.with-installation.payload.json",
        |v| {
            v["comment"]["body"] = "/prflow status".into();
            v["issue"]["pull_request"] = serde_json::json!({"url": "x"});
        },
    );
    let ev = parse_event("issue_comment", "d", &body).unwrap().unwrap();
    assert!(
        matches!(ev, WebhookEvent::CommentCommand(ref c) if c.is_pull_request && c.commands == vec![Command::Status])
    );
    assert!(ev.installation_id().is_some());
}

#[test]
fn pull_request_closed_and_synchronize() {
    let ev = parse_event(
        "pull_request",
        "d",
        &fixture("pull_request/closed.payload.json"),
    )
    .unwrap()
    .unwrap();
    assert!(
        matches!(ev, WebhookEvent::PullClosed(ref p) if !p.merged && p.number == 2 && p.head_ref == "changes")
    );

    let ev = parse_event(
        "pull_request",
        "d",
        &fixture("pull_request/synchronize.payload.json"),
    )
    .unwrap()
    .unwrap();
    let WebhookEvent::PullSynchronize(s) = ev else {
        panic!()
    };
    assert_eq!(s.before, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    assert_eq!(s.after, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");

    assert_eq!(
        parse_event(
            "pull_request",
            "d",
            &fixture("pull_request/opened.payload.json")
        )
        .unwrap(),
        None
    );
}

#[test]
fn check_run_push_installation_dispatch_ping() {
    let ev = parse_event(
        "check_run",
        "d",
        &fixture("check_run/rerequested.payload.json"),
    )
    .unwrap()
    .unwrap();
    assert!(
        matches!(ev, WebhookEvent::CheckRunRerequested(ref c) if c.name == "randscape" && c.head_sha == "d6fde92930d4715a2b49857d24b940956b26d2d3" && c.head_branch.as_deref() == Some("master"))
    );

    let ev = parse_event("push", "d", &fixture("push/with-new-branch.payload.json"))
        .unwrap()
        .unwrap();
    let WebhookEvent::Push(p) = ev else { panic!() };
    assert_eq!(p.branch(), Some("master"));
    assert!(p.is_default_branch() && p.created);
    assert_eq!(p.changed_paths, vec!["README.md".to_string()]);

    let ev = parse_event("push", "d", &fixture("push/payload.json"))
        .unwrap()
        .unwrap();
    assert!(matches!(ev, WebhookEvent::Push(ref p) if p.deleted && p.branch().is_none()));

    let ev = parse_event(
        "installation",
        "d",
        &fixture("installation/created.payload.json"),
    )
    .unwrap()
    .unwrap();
    let WebhookEvent::Installation(i) = ev else {
        panic!()
    };
    assert_eq!(i.action, InstallationAction::Created);
    assert_eq!(i.installation_id, 957387);
    assert!(i
        .repositories_added
        .contains(&"Codertocat/Hello-World".to_string()));

    let ev = parse_event(
        "installation_repositories",
        "d",
        &fixture("installation_repositories/added.payload.json"),
    )
    .unwrap()
    .unwrap();
    assert!(
        matches!(ev, WebhookEvent::Installation(ref i) if i.action == InstallationAction::RepositoriesAdded && i.repositories_added == vec!["Codertocat/Space".to_string()])
    );

    let ev = parse_event(
        "repository_dispatch",
        "d",
        &fixture("repository_dispatch/payload.json"),
    )
    .unwrap()
    .unwrap();
    assert!(
        matches!(ev, WebhookEvent::RepositoryDispatch(ref r) if r.event_type == "on-demand-test" && r.client_payload["integration"] == true)
    );

    let ev = parse_event(
        "workflow_dispatch",
        "d",
        &fixture("workflow_dispatch/payload.json"),
    )
    .unwrap()
    .unwrap();
    assert!(
        matches!(ev, WebhookEvent::WorkflowDispatch(ref w) if w.git_ref == "refs/heads/master" && w.inputs["name"] == "Mona the Octocat")
    );

    let ev = parse_event("ping", "d", &fixture("ping/payload.json"))
        .unwrap()
        .unwrap();
    assert!(matches!(
        ev,
        WebhookEvent::Ping {
            hook_id: Some(109948940),
            ..
        }
    ));

    assert_eq!(
        parse_event("star", "d", b"{\"action\":\"created\"}").unwrap(),
        None
    );
    assert!(parse_event("push", "d", b"[1,2]").is_err());
}

// ---------------------------------------------------------------------------
// Against the simulator.

/// A repository with `main` (1 commit), `feature` (main + 1) and
/// `other` (main + a different commit).
fn scratch_repo() -> (tempfile::TempDir, String, String) {
    let dir = repo_with(&[
        ("README.md", "hello\n"),
        ("flows/ms.json", "{\"tasks\": []}\n"),
    ]);
    let p = dir.path();
    git(p, &["checkout", "-q", "-b", "feature"]);
    commit_files(p, &[("a.txt", "a\n")], "feature");
    let feature = git(p, &["rev-parse", "HEAD"]);
    git(p, &["checkout", "-q", "main"]);
    git(p, &["checkout", "-q", "-b", "other"]);
    commit_files(p, &[("b.txt", "b\n")], "other");
    let other = git(p, &["rev-parse", "HEAD"]);
    git(p, &["checkout", "-q", "main"]);
    (dir, feature, other)
}

struct World {
    sim: prflow::sim::Sim,
    app: GitHub,
    gh: GitHub,
    feature: String,
    other: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let (dir, feature, other) = scratch_repo();
    let sim = prflow::sim::Sim::start(prflow::sim::SimConfig {
        repos: vec![("acme/shop".into(), dir.path().to_path_buf())],
        ..Default::default()
    })
    .await
    .expect("simulator starts");
    let app_auth = AppAuth::new(sim.app_id(), sim.private_key_pem().as_bytes()).unwrap();
    let mut cfg = GitHubConfig::new(sim.api_url());
    cfg.retry = RetryPolicy::fast();
    let app = GitHub::new(cfg, Auth::App(Arc::new(app_auth))).unwrap();
    let inst = app.installation_for_repo("acme", "shop").await.unwrap();
    assert_eq!(inst, sim.installation_id());
    let gh = app
        .installation(inst, Some("shop"), Permissions::new())
        .unwrap();
    World {
        sim,
        app,
        gh,
        feature,
        other,
        _dir: dir,
    }
}

async fn inject_fault(sim: &prflow::sim::Sim, fault: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.api_url()))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "fault not accepted: {}",
        r.status()
    );
}

#[tokio::test]
async fn app_jwt_to_installation_token_cached_and_scoped() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    assert_eq!(repo.default_branch().await.unwrap(), "main");
    assert_eq!(repo.info().await.unwrap().full_name, "acme/shop");
    // One token minted for both calls.
    let auth = w.gh.calls().label("auth");
    assert_eq!((auth.reads, auth.writes), (1, 1), "{}", w.gh.calls());

    // A token minted directly carries the permissions asked for.
    let mut perms = Permissions::new();
    perms.insert("contents".into(), "read".into());
    let t = w
        .app
        .installation_token(w.sim.installation_id(), Some("shop"), &perms)
        .await
        .unwrap();
    assert!(!t.token.expose().is_empty());
    assert!(t.expires_at > 0);
    assert!(!format!("{t:?}").contains(t.token.expose()));
    // The least permissions prflow asks for are grantable, scoped to one repository.
    let scoped = w
        .app
        .for_repo("acme", "shop", needed_permissions(true))
        .await
        .unwrap();
    assert_eq!(
        scoped.repo("acme", "shop").default_branch().await.unwrap(),
        "main"
    );
    let info = w.app.app_info().await.unwrap();
    assert_eq!(info.id, w.sim.app_id());
    // The App JWT alone cannot read the repository.
    assert!(matches!(
        w.app.repo("acme", "shop").info().await,
        Err(GithubError::Unauthorized { .. }
            | GithubError::Forbidden { .. }
            | GithubError::NotFound { .. })
    ));
}

#[tokio::test]
async fn installation_tokens_are_scoped_to_one_repository() {
    let w = world().await;
    w.sim.import_repo("acme/web", w._dir.path()).unwrap();
    // `w.gh` holds a token for acme/shop only.
    assert_eq!(
        w.gh.repo("acme", "shop").default_branch().await.unwrap(),
        "main"
    );
    let err = w.gh.repo("acme", "web").info().await.unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::NotFound { .. } | GithubError::Forbidden { .. }
        ),
        "{err:?}"
    );
    // An unscoped token for the same installation sees both.
    let all = w
        .app
        .installation(w.sim.installation_id(), None, Permissions::new())
        .unwrap();
    assert_eq!(
        all.repo("acme", "web").default_branch().await.unwrap(),
        "main"
    );
}

#[tokio::test]
async fn refs_create_fast_forward_and_refuse_to_force() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let main = repo.get_branch_sha("main").await.unwrap().unwrap();
    assert_eq!(
        repo.get_branch_sha("prflow/r1/01-design").await.unwrap(),
        None
    );
    assert_eq!(
        repo.ensure_branch("prflow/r1/01-design", &main)
            .await
            .unwrap(),
        RefUpdate::Created
    );
    let before = w.gh.calls();
    assert_eq!(
        repo.ensure_branch("prflow/r1/01-design", &main)
            .await
            .unwrap(),
        RefUpdate::Unchanged
    );
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    assert_eq!(
        repo.ensure_branch("prflow/r1/01-design", &w.feature)
            .await
            .unwrap(),
        RefUpdate::FastForwarded
    );
    let err = repo
        .ensure_branch("prflow/r1/01-design", &w.other)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::NotFastForward { ref current, .. } if current == &w.feature),
        "{err:?}"
    );
    assert_eq!(
        repo.get_branch_sha("prflow/r1/01-design")
            .await
            .unwrap()
            .as_deref(),
        Some(w.feature.as_str())
    );
    assert!(repo.delete_branch("prflow/r1/01-design").await.unwrap());
    assert!(!repo.delete_branch("prflow/r1/01-design").await.unwrap());
}

#[tokio::test]
async fn ensure_pull_twice_is_one_pull_and_no_write() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop").with_phase("phase-1");
    let (pull, change) = repo
        .ensure_pull("feature", "main", "Phase 1: design", "body v1")
        .await
        .unwrap();
    assert_eq!(change, Change::Created);
    assert_eq!(
        (pull.head_ref.as_str(), pull.base_ref.as_str()),
        ("feature", "main")
    );
    assert_eq!(pull.head_sha, w.feature);

    let before = w.gh.calls();
    let (again, change) = repo
        .ensure_pull("feature", "main", "Phase 1: design", "body v1")
        .await
        .unwrap();
    let spent = w.gh.calls().since(&before);
    assert_eq!(change, Change::Unchanged);
    assert_eq!(again.number, pull.number);
    assert_eq!(spent.writes(), 0, "{spent}");
    assert_eq!(spent.reads(), 1, "{spent}");

    let (updated, change) = repo
        .ensure_pull("feature", "main", "Phase 1: design", "body v2")
        .await
        .unwrap();
    assert_eq!(change, Change::Updated);
    assert_eq!(updated.number, pull.number);
    assert_eq!(repo.get_pull(pull.number).await.unwrap().body, "body v2");
    assert_eq!(repo.list_pulls("open", None).await.unwrap().len(), 1);
    assert!(w.gh.calls().label("phase-1").writes >= 2);
}

/// A person merged the branch's PR, maybe between prflow's read and its publish: the
/// merged PR is the answer, and no second PR repeats the same changes.
#[tokio::test]
async fn ensure_pull_never_opens_a_second_pull_for_a_merged_branch() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();
    repo.merge_pull(pull.number, Some(&pull.head_sha), MergeMethod::Squash, None)
        .await
        .unwrap();
    let before = w.gh.calls();
    let (again, change) = repo
        .ensure_pull("feature", "main", "t", "b2")
        .await
        .unwrap();
    assert_eq!(change, Change::Unchanged);
    assert_eq!(again.number, pull.number);
    assert!(again.merged, "{again:?}");
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    assert_eq!(repo.list_pulls("all", None).await.unwrap().len(), 1);
}

/// One phase as the engine drives it: the PR, its reviewer, two gates
/// (in progress, then completed) and the status comment. Issue 4 allows at
/// most 10 calls; a second pass with nothing new must write nothing, in the
/// same process and in a fresh one.
/// `first`: gates go through in_progress; later passes (the gate already
/// ran) only ensure the final state.
async fn one_phase(repo: &RepoClient, sha: &str, first: bool) -> Vec<Change> {
    let mut changes = vec![];
    let (pull, ch) = repo
        .ensure_pull("feature", "main", "Phase 1: design", "the body")
        .await
        .unwrap();
    changes.push(ch);
    let known_reviews: Option<&[Review]> = (ch == Change::Created).then_some(&[]);
    repo.request_reviewers_on(&pull, &["alice".to_string()], known_reviews)
        .await
        .unwrap();
    for gate in ["prflow/unit-tests", "prflow/security-scan"] {
        let mut spec = CheckRunSpec {
            name: gate.into(),
            head_sha: sha.into(),
            status: CheckStatus::InProgress,
            conclusion: None,
            output: CheckOutput {
                title: "running".into(),
                summary: "…".into(),
                text: None,
                annotations: vec![],
            },
            details_url: None,
            external_id: None,
        };
        if first {
            changes.push(repo.ensure_check_run(&spec).await.unwrap().1);
        }
        spec.status = CheckStatus::Completed;
        spec.conclusion = Some(Conclusion::Success);
        spec.output.title = "passed".into();
        changes.push(repo.ensure_check_run(&spec).await.unwrap().1);
    }
    let (_, ch) = repo
        .ensure_status_comment(
            pull.number,
            &body::status_marker("r1"),
            "phase 1 waits for review",
        )
        .await
        .unwrap();
    changes.push(ch);
    changes
}

#[tokio::test]
async fn a_phase_costs_at_most_ten_calls_and_a_rerun_writes_nothing() {
    let w = world().await;
    w.sim.create_user("alice", "write").unwrap();
    let repo = w.gh.repo("acme", "shop").with_phase("phase-1");
    one_phase(&repo, &w.feature, true).await;
    let first = w.gh.calls().label("phase-1");
    assert!(first.total() <= 10, "{first:?}");
    eprintln!("first pass: {first:?}");

    let before = w.gh.calls();
    let changes = one_phase(&repo, &w.feature, false).await;
    let again = w.gh.calls().since(&before).label("phase-1");
    assert!(
        changes.iter().all(|c| *c == Change::Unchanged),
        "{changes:?}"
    );
    assert_eq!(again.writes, 0, "{again:?}");
    eprintln!("same process, nothing new: {again:?}");

    // A fresh process (no memory of what it wrote) reads, and writes nothing.
    let app = AppAuth::new(w.sim.app_id(), w.sim.private_key_pem().as_bytes()).unwrap();
    let fresh = GitHub::new(GitHubConfig::new(w.sim.api_url()), Auth::App(Arc::new(app)))
        .unwrap()
        .installation(w.sim.installation_id(), Some("shop"), Permissions::new())
        .unwrap();
    let repo = fresh.repo("acme", "shop").with_phase("phase-1");
    let changes = one_phase(&repo, &w.feature, false).await;
    let cold = fresh.calls().label("phase-1");
    assert!(
        changes.iter().all(|c| *c == Change::Unchanged),
        "{changes:?}"
    );
    assert_eq!(cold.writes, 0, "{cold:?}");
    eprintln!("fresh process, nothing new: {cold:?}");
}

#[tokio::test]
async fn check_run_with_120_annotations_goes_in_three_batches() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let spec = CheckRunSpec {
        name: "prflow/security-scan".into(),
        head_sha: w.feature.clone(),
        status: CheckStatus::Completed,
        conclusion: Some(Conclusion::Failure),
        output: CheckOutput {
            title: "120 findings".into(),
            summary: "risky patterns".into(),
            text: Some("details".into()),
            annotations: (0..120)
                .map(|i| Annotation {
                    path: "a.txt".into(),
                    start_line: 1,
                    end_line: 1,
                    annotation_level: AnnotationLevel::Warning,
                    message: format!("finding {i}"),
                    title: None,
                })
                .collect(),
        },
        details_url: None,
        external_id: None,
    };
    let before = w.gh.calls();
    let (report, change) = repo.ensure_check_run(&spec).await.unwrap();
    let spent = w.gh.calls().since(&before);
    assert_eq!(change, Change::Created);
    // One create and two PATCHes; the installation token minted on the
    // way is counted apart, under "auth".
    assert_eq!(spent.label("default").writes, 3, "{spent}");
    assert_eq!(spent.label("auth").writes, 1, "{spent}");
    let GateReport::CheckRun(run) = report else {
        panic!("fell back to a status: {report:?}")
    };
    assert_eq!(run.annotations_count, 120);
    assert_eq!(run.conclusion, Some(Conclusion::Failure));

    let before = w.gh.calls();
    let (_, change) = repo.ensure_check_run(&spec).await.unwrap();
    assert_eq!(change, Change::Unchanged);
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    assert_eq!(
        repo.list_check_runs(&w.feature, Some("prflow/security-scan"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn check_run_lifecycle_updates_one_run() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let mut spec = CheckRunSpec {
        name: "prflow/unit-tests".into(),
        head_sha: w.feature.clone(),
        status: CheckStatus::Queued,
        conclusion: None,
        output: CheckOutput::default(),
        details_url: None,
        external_id: None,
    };
    assert_eq!(
        repo.ensure_check_run(&spec).await.unwrap().1,
        Change::Created
    );
    spec.status = CheckStatus::InProgress;
    spec.output.title = "running".into();
    spec.output.summary = "npm test".into();
    assert_eq!(
        repo.ensure_check_run(&spec).await.unwrap().1,
        Change::Updated
    );
    spec.status = CheckStatus::Completed;
    spec.conclusion = Some(Conclusion::Success);
    spec.output.title = "42 passed".into();
    assert_eq!(
        repo.ensure_check_run(&spec).await.unwrap().1,
        Change::Updated
    );
    assert_eq!(
        repo.ensure_check_run(&spec).await.unwrap().1,
        Change::Unchanged
    );
    let runs = repo.list_check_runs(&w.feature, None).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].conclusion, Some(Conclusion::Success));
    let gates = repo.gate_results(&w.feature, "prflow/").await.unwrap();
    assert_eq!(gates.len(), 1);
    assert!(gates["prflow/unit-tests"].passed());
}

#[tokio::test]
async fn injected_faults_are_retried() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop").with_phase("faults");
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();
    inject_fault(
        &w.sim,
        serde_json::json!({"method": "POST", "path": format!("^/repos/acme/shop/issues/{}/comments$", pull.number), "status": 502, "times": 2}),
    )
    .await;
    let marker = body::status_marker("run1");
    let before = w.gh.calls();
    let (c, change) = repo
        .ensure_status_comment(pull.number, &marker, "status: starting")
        .await
        .unwrap();
    assert_eq!(change, Change::Created);
    // A create is never resent blindly: each 502 is followed by a fresh
    // look for the comment, then the create again.
    let spent = w.gh.calls().since(&before).label("faults");
    assert_eq!((spent.reads, spent.writes), (3, 3), "{spent:?}");
    assert_eq!(repo.list_comments(pull.number).await.unwrap().len(), 1);
    assert!(c.body.contains(&marker));

    inject_fault(
        &w.sim,
        serde_json::json!({"method": "POST", "path": "^/repos/acme/shop/check-runs$", "status": 502, "times": 1}),
    )
    .await;
    let spec = CheckRunSpec {
        name: "prflow/coverage".into(),
        head_sha: w.feature.clone(),
        status: CheckStatus::Queued,
        conclusion: None,
        output: CheckOutput::default(),
        details_url: None,
        external_id: None,
    };
    assert_eq!(
        repo.ensure_check_run(&spec).await.unwrap().1,
        Change::Created
    );
    assert_eq!(
        repo.list_check_runs(&w.feature, Some("prflow/coverage"))
            .await
            .unwrap()
            .len(),
        1
    );

    inject_fault(
        &w.sim,
        serde_json::json!({"method": "GET", "path": "^/repos/acme/shop$", "status": 403, "retry_after": 1, "times": 1}),
    )
    .await;
    let before = w.gh.calls();
    repo.info().await.unwrap();
    assert_eq!(w.gh.calls().since(&before).label("faults").retries, 1);

    // A token the server stops accepting is replaced once, then the call
    // goes through.
    let minted = w.gh.calls().label("auth").writes;
    inject_fault(
        &w.sim,
        serde_json::json!({"method": "GET", "path": "^/repos/acme/shop$", "status": 401, "times": 1}),
    )
    .await;
    repo.info().await.unwrap();
    assert_eq!(w.gh.calls().label("auth").writes, minted + 1);

    inject_fault(
        &w.sim,
        serde_json::json!({"method": "GET", "path": "^/repos/acme/shop$", "status": 502, "times": 10}),
    )
    .await;
    let err = repo.info().await.unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::Server {
                status: 502,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn status_comment_is_edited_in_place() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();
    repo.create_comment(pull.number, "a human comment")
        .await
        .unwrap();
    let marker = body::status_marker("run7");
    let (first, ch) = repo
        .ensure_status_comment(pull.number, &marker, "phase 1: running")
        .await
        .unwrap();
    assert_eq!(ch, Change::Created);
    let before = w.gh.calls();
    let (_, ch) = repo
        .ensure_status_comment(pull.number, &marker, "phase 1: running")
        .await
        .unwrap();
    assert_eq!(ch, Change::Unchanged);
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    let (second, ch) = repo
        .ensure_status_comment(pull.number, &marker, "phase 1: done")
        .await
        .unwrap();
    assert_eq!(ch, Change::Updated);
    assert_eq!(second.id, first.id);
    let comments = repo.list_comments(pull.number).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        comments.iter().filter(|c| c.body.contains(&marker)).count(),
        1
    );
    assert!(comments.iter().any(|c| c.body.starts_with("phase 1: done")));
    repo.add_reaction(comments[0].id, Reaction::Eyes)
        .await
        .unwrap();
}

#[tokio::test]
async fn reviews_permissions_statuses_contents() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let alice = w.sim.create_user("alice", "write").unwrap();
    w.sim.create_user("bob", "read").unwrap();
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();

    assert_eq!(
        repo.request_reviewers(pull.number, &["alice".into()])
            .await
            .unwrap(),
        vec!["alice".to_string()]
    );
    let before = w.gh.calls();
    assert!(repo
        .request_reviewers(pull.number, &["alice".into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(w.gh.calls().since(&before).writes(), 0);

    // Alice approves through the API, as a person would.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/repos/acme/shop/pulls/{}/reviews",
            w.sim.api_url(),
            pull.number
        ))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"event": "APPROVE", "body": "ship it", "commit_id": w.feature}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "review: {}", r.status());
    let reviews = repo.list_reviews(pull.number).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].state, ReviewState::Approved);
    assert_eq!(reviews[0].user, "alice");
    assert_eq!(reviews[0].commit_id, w.feature);
    // Reviewed on the current head: no new request, no write.
    let before = w.gh.calls();
    assert!(repo
        .request_reviewers(pull.number, &["alice".into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    assert!(repo
        .review_comments(pull.number, reviews[0].id)
        .await
        .unwrap()
        .is_empty());

    assert!(repo.permission("alice").await.unwrap().can_write());
    assert!(!repo.permission("bob").await.unwrap().can_write());
    assert_eq!(
        repo.permission("nobody-at-all").await.unwrap(),
        Permission::None
    );
    let before = w.gh.calls();
    assert!(repo.permission("alice").await.unwrap().can_write());
    assert_eq!(w.gh.calls().since(&before).total(), 0, "cached");

    let status = CommitStatus {
        context: "prflow/stack".into(),
        state: StatusState::Pending,
        description: Some("waiting for phase 1".into()),
        target_url: None,
    };
    assert_eq!(
        repo.ensure_status(&w.feature, &status).await.unwrap(),
        Change::Created
    );
    assert_eq!(
        repo.ensure_status(&w.feature, &status).await.unwrap(),
        Change::Unchanged
    );
    let combined = repo.combined_status(&w.feature).await.unwrap();
    assert_eq!(combined.statuses.len(), 1);
    assert_eq!(combined.state, StatusState::Pending);

    let f = repo
        .get_file("flows/ms.json", Some("main"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.content, b"{\"tasks\": []}\n");
    assert_eq!(repo.get_file("nope.json", None).await.unwrap(), None);
    assert_eq!(repo.get_file("flows", None).await.unwrap(), None);
}

#[tokio::test]
async fn merge_close_and_dispatch() {
    let w = world().await;
    let repo = w.gh.repo("acme", "shop");
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();
    let sha = repo
        .merge_pull(pull.number, Some(&w.feature), MergeMethod::Merge, None)
        .await
        .unwrap();
    assert!(!sha.is_empty());
    let before = w.gh.calls();
    assert_eq!(
        repo.merge_pull(pull.number, None, MergeMethod::Merge, None)
            .await
            .unwrap(),
        sha
    );
    assert_eq!(w.gh.calls().since(&before).writes(), 0);
    assert!(repo.get_pull(pull.number).await.unwrap().merged);

    let (p2, _) = repo.ensure_pull("other", "main", "t2", "b2").await.unwrap();
    let labels = vec!["prflow".to_string(), "phase-2".to_string()];
    assert_eq!(
        repo.ensure_labels(p2.number, &labels).await.unwrap(),
        labels
    );
    assert!(repo
        .ensure_labels(p2.number, &labels)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(repo.get_pull(p2.number).await.unwrap().labels.len(), 2);
    assert_eq!(repo.close_pull(p2.number).await.unwrap(), Change::Updated);
    assert_eq!(repo.close_pull(p2.number).await.unwrap(), Change::Unchanged);

    repo.repository_dispatch(
        "prflow-continue",
        &serde_json::json!({"run": "r1", "phase": 2}),
    )
    .await
    .unwrap();
    let mut inputs = BTreeMap::new();
    inputs.insert("workflow".to_string(), "flows/ms.json".to_string());
    repo.workflow_dispatch("prflow.yml", "main", &inputs)
        .await
        .unwrap();
}

#[tokio::test]
async fn checks_forbidden_falls_back_to_statuses() {
    let w = world().await;
    let mut perms = Permissions::new();
    perms.insert("contents".into(), "write".into());
    perms.insert("statuses".into(), "write".into());
    perms.insert("pull_requests".into(), "write".into());
    let gh = w
        .app
        .installation(w.sim.installation_id(), Some("shop"), perms)
        .unwrap();
    let repo = gh.repo("acme", "shop");
    let spec = CheckRunSpec {
        name: "prflow/unit-tests".into(),
        head_sha: w.feature.clone(),
        status: CheckStatus::Completed,
        conclusion: Some(Conclusion::Skipped),
        output: CheckOutput {
            title: "no test command".into(),
            summary: "nothing to run".into(),
            text: None,
            annotations: vec![],
        },
        details_url: None,
        external_id: None,
    };
    let (report, change) = repo.ensure_check_run(&spec).await.unwrap();
    assert_eq!(change, Change::Created);
    let GateReport::Status(s) = report else {
        panic!("expected the status fallback, got {report:?}")
    };
    assert_eq!(s.context, "prflow/unit-tests");
    assert!(s.description.unwrap().starts_with("skipped: "));
    assert!(repo.uses_status_fallback());
    let gates = repo.gate_results(&w.feature, "prflow/").await.unwrap();
    let g = &gates["prflow/unit-tests"];
    assert_eq!(g.conclusion, Some(Conclusion::Skipped));
    assert!(!g.passed(), "a skipped gate measured nothing");
    // Remembered: the next gate goes straight to statuses (no check-run call).
    let before = gh.calls();
    let (_, change) = repo.ensure_check_run(&spec).await.unwrap();
    assert_eq!(change, Change::Unchanged);
    assert_eq!(gh.calls().since(&before).total(), 1);
}

/// The server runs these on tokio's multi-threaded runtime: the connection
/// and every operation's future must be `Send`.
#[allow(dead_code)]
fn futures_are_send(repo: RepoClient, gh: GitHub, spec: CheckRunSpec) {
    fn is_send<T: Send>(_: T) {}
    fn is_sync<T: Send + Sync>() {}
    is_sync::<GitHub>();
    is_sync::<RepoClient>();
    is_send(async move {
        let _ = repo.ensure_branch("b", "s").await;
        let _ = repo.ensure_pull("h", "b", "t", "x").await;
        let _ = repo.ensure_check_run(&spec).await;
        let _ = repo.ensure_status_comment(1, "m", "b").await;
        let _ = repo.merge_pull(1, None, MergeMethod::Merge, None).await;
        let _ = repo.request_reviewers(1, &[]).await;
        let _ = repo.gate_results("s", "prflow/").await;
        let _ = gh.installation_for_repo("o", "r").await;
        let _ = gh.token().await;
    });
}

/// A raw REST call to the simulator (to build large lists quickly).
async fn sim_call(
    sim: &prflow::sim::Sim,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.api_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Every list prflow reads goes past one page of 100: reviews, a review's
/// inline comments, issue comments (the status comment is found on page 2),
/// check runs of a commit, and the pull requests of a repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_prflow_reads_is_followed_past_100_items() {
    const N: usize = 105;
    let w = world().await;
    let alice = w.sim.create_user("alice", "write").unwrap();
    let bot = w.gh.token().await.unwrap().unwrap().expose().to_string();
    let repo = w.gh.repo("acme", "shop");
    let (pull, _) = repo.ensure_pull("feature", "main", "t", "b").await.unwrap();
    let n = pull.number;
    let post = reqwest::Method::POST;
    let comments: Vec<_> = (0..N)
        .map(|i| serde_json::json!({"path": "a.txt", "line": 1, "body": format!("inline {i}")}))
        .collect();
    let big = sim_call(
        &w.sim,
        &alice,
        post.clone(),
        &format!("/repos/acme/shop/pulls/{n}/reviews"),
        serde_json::json!({"event": "COMMENT", "body": "many", "comments": comments}),
    )
    .await;
    for i in 1..N {
        sim_call(
            &w.sim,
            &alice,
            post.clone(),
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            serde_json::json!({"event": "COMMENT", "body": format!("review {i}")}),
        )
        .await;
    }
    let marker = body::status_marker("big");
    for i in 0..N {
        let text = if i == N - 1 {
            format!("status\n\n{marker}")
        } else {
            format!("chatter {i}")
        };
        sim_call(
            &w.sim,
            &alice,
            post.clone(),
            &format!("/repos/acme/shop/issues/{n}/comments"),
            serde_json::json!({"body": text}),
        )
        .await;
    }
    for i in 0..N {
        sim_call(
            &w.sim,
            &bot,
            post.clone(),
            "/repos/acme/shop/check-runs",
            serde_json::json!({"name": format!("gate-{i}"), "head_sha": w.feature}),
        )
        .await;
    }
    for i in 1..N {
        let b = format!("topic-{i}");
        sim_call(
            &w.sim,
            &bot,
            post.clone(),
            "/repos/acme/shop/git/refs",
            serde_json::json!({"ref": format!("refs/heads/{b}"), "sha": w.feature}),
        )
        .await;
        sim_call(
            &w.sim,
            &bot,
            post.clone(),
            "/repos/acme/shop/pulls",
            serde_json::json!({"title": b, "head": b, "base": "main"}),
        )
        .await;
    }

    // A fresh connection: nothing remembered, every list is read from the API.
    let app = AppAuth::new(w.sim.app_id(), w.sim.private_key_pem().as_bytes()).unwrap();
    let fresh = GitHub::new(GitHubConfig::new(w.sim.api_url()), Auth::App(Arc::new(app)))
        .unwrap()
        .installation(w.sim.installation_id(), Some("shop"), Permissions::new())
        .unwrap();
    let repo = fresh.repo("acme", "shop").with_phase("lists");
    assert_eq!(repo.list_reviews(n).await.unwrap().len(), N);
    let review_id = big["id"].as_u64().unwrap();
    let inline = repo.review_comments(n, review_id).await.unwrap();
    assert_eq!(inline.len(), N);
    assert_eq!(inline[N - 1].body, format!("inline {}", N - 1));
    assert_eq!(repo.list_comments(n).await.unwrap().len(), N);
    let (found, change) = repo
        .ensure_status_comment(n, &marker, "status")
        .await
        .unwrap();
    assert_eq!(
        change,
        Change::Unchanged,
        "the status comment on page 2 was missed"
    );
    assert!(found.body.contains(&marker));
    let runs = repo.list_check_runs(&w.feature, None).await.unwrap();
    assert_eq!(runs.len(), N);
    assert_eq!(repo.list_pulls("open", None).await.unwrap().len(), N);
    // Two pages for each of the six lists: more than one read each, and no write.
    let spent = fresh.calls().label("lists");
    assert_eq!(spent.writes, 0, "{spent:?}");
    assert_eq!(spent.reads, 12, "{spent:?}");
}

/// The reads prflow repeats (PR, reviews, check runs, comments) send
/// `If-None-Match`: with nothing new they are 304s, which cost no rate-limit
/// points on the simulator (as on GitHub), in the same process and, through
/// the ETag file, in the next one. A change is seen at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_are_conditional_and_free_when_nothing_changed() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let etag_file = dir.path().join("etags.json");
    let connect = || {
        let app = AppAuth::new(w.sim.app_id(), w.sim.private_key_pem().as_bytes()).unwrap();
        let mut cfg = GitHubConfig::new(w.sim.api_url());
        cfg.etag_file = Some(etag_file.clone());
        GitHub::new(cfg, Auth::App(Arc::new(app)))
            .unwrap()
            .installation(w.sim.installation_id(), Some("shop"), Permissions::new())
            .unwrap()
    };
    let gh = connect();
    let (pull, _) = gh
        .repo("acme", "shop")
        .ensure_pull("feature", "main", "t", "b")
        .await
        .unwrap();
    let n = pull.number;
    let api = w.sim.api_url();
    let used = |gh: GitHub| {
        let api = api.clone();
        async move {
            let t = gh.token().await.unwrap().unwrap();
            let r: serde_json::Value = reqwest::Client::new()
                .get(format!("{api}/rate_limit"))
                .bearer_auth(t.expose())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["rate"]["used"].as_u64().unwrap()
        }
    };
    let reads = |gh: GitHub| async move {
        let repo = gh.repo("acme", "shop").with_phase("reads");
        let p = repo.get_pull(n).await.unwrap();
        let reviews = repo.list_reviews(n).await.unwrap().len();
        let runs = repo.list_check_runs(&p.head_sha, None).await.unwrap().len();
        let comments = repo.list_comments(n).await.unwrap().len();
        (p.title, reviews, runs, comments)
    };
    assert_eq!(reads(gh.clone()).await, ("t".to_string(), 0, 0, 0));
    let before = used(gh.clone()).await;
    let counted = gh.calls();
    assert_eq!(reads(gh.clone()).await, ("t".to_string(), 0, 0, 0));
    let spent = gh.calls().since(&counted).label("reads");
    assert_eq!(
        (spent.reads, spent.not_modified, spent.points()),
        (4, 4, 0),
        "{spent:?}"
    );
    assert_eq!(used(gh.clone()).await, before, "304s must not count");

    // A new process with the same ETag file: also free.
    let next = connect();
    assert_eq!(reads(next.clone()).await, ("t".to_string(), 0, 0, 0));
    let spent = next.calls().label("reads");
    assert_eq!(spent.points(), 0, "{spent:?}");
    assert_eq!(used(next.clone()).await, before);

    // Something new is seen at once, and costs only the reads it changed
    // (the comment list, and the PR, which counts its comments).
    let alice = w.sim.create_user("alice", "write").unwrap();
    sim_call(
        &w.sim,
        &alice,
        reqwest::Method::POST,
        &format!("/repos/acme/shop/issues/{n}/comments"),
        serde_json::json!({"body": "news"}),
    )
    .await;
    let counted = next.calls();
    assert_eq!(reads(next.clone()).await, ("t".to_string(), 0, 0, 1));
    let spent = next.calls().since(&counted).label("reads");
    assert_eq!((spent.points(), spent.not_modified), (2, 2), "{spent:?}");
}
