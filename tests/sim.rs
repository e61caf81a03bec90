//! `prflow sim` behaves like GitHub: REST shapes and status codes (checked
//! against GitHub's OpenAPI description), App auth, git smart HTTP with tokens
//! and branch protection, signed webhooks, faults, persistence.
//! Everything runs in-process on 127.0.0.1:0 with reqwest and the real `git`.

mod common;

use prflow::sim::{Sim, SimConfig};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------- fixtures ----------

/// A repository with `main`, `feature` (one commit ahead), `same` (= main) and `conflict`.
fn fixture_repo() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::write(d.join("README.md"), "# shop\n").unwrap();
    std::fs::create_dir_all(d.join("src")).unwrap();
    std::fs::write(d.join("src/lib.rs"), "pub fn one() -> u32 { 1 }\n").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "initial"]);
    git(d, &["branch", "same"]);
    git(d, &["checkout", "-qb", "feature"]);
    std::fs::write(
        d.join("src/feature.rs"),
        "pub fn two() -> u32 {\n    2\n}\n",
    )
    .unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "add feature"]);
    git(d, &["checkout", "-q", "main"]);
    git(d, &["checkout", "-qb", "conflict"]);
    std::fs::write(d.join("README.md"), "# conflicting\n").unwrap();
    git(d, &["commit", "-qam", "conflict"]);
    git(d, &["checkout", "-q", "main"]);
    t
}

struct Env {
    sim: Sim,
    _repo: tempfile::TempDir,
}

async fn start_with(webhook_url: Option<String>, data_dir: Option<PathBuf>) -> Env {
    let repo = fixture_repo();
    let sim = Sim::start(SimConfig {
        repos: vec![("acme/shop".into(), repo.path().to_path_buf())],
        webhook_url,
        webhook_secret: Some("s3cret".into()),
        data_dir,
        ..Default::default()
    })
    .await
    .unwrap();
    Env { sim, _repo: repo }
}

async fn start() -> Env {
    start_with(None, None).await
}

// ---------- HTTP + contract (shared with tests/sim_fidelity.rs) ----------

#[path = "sim_support/mod.rs"]
mod support;
use common::{git, git_in};
use support::{contract, Api, Resp};

// ---------- App auth helpers ----------

fn jwt(sim: &Sim, iat_offset: i64, life: i64, iss: Value, pem: Option<&str>) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iat": now + iat_offset, "exp": now + iat_offset + life, "iss": iss});
    let pem = pem
        .map(str::to_string)
        .unwrap_or_else(|| sim.private_key_pem());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

fn app_jwt(sim: &Sim) -> String {
    jwt(sim, -30, 540, json!(sim.app_id()), None)
}

async fn installation_token(sim: &Sim, body: Value) -> Resp {
    let app = Api::new(sim, Some(&app_jwt(sim)));
    app.checked(
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        &format!("/app/installations/{}/access_tokens", sim.installation_id()),
        Some(body),
    )
    .await
}

async fn bot(sim: &Sim) -> Api {
    let t = installation_token(sim, json!({})).await;
    assert_eq!(t.status, 201, "{}", t.body);
    Api::new(sim, t.body["token"].as_str())
}

fn person(sim: &Sim, login: &str, perm: &str) -> Api {
    let t = sim.create_user(login, perm).unwrap();
    Api::new(sim, Some(&t))
}

async fn open_pr(api: &Api) -> Value {
    let r = api
        .checked("POST", "/repos/{owner}/{repo}/pulls", "/repos/acme/shop/pulls", Some(json!({"title": "Add feature", "head": "feature", "base": "main", "body": "please"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// A simulator where alice (write) opened PR `n` (head `head`), bob has
/// write access, and `bot` holds an installation token.
struct PrWorld {
    env: Env,
    alice: Api,
    bob: Api,
    bot: Api,
    n: u64,
    head: String,
}

async fn pr_world(webhook_url: Option<String>) -> PrWorld {
    let env = start_with(webhook_url, None).await;
    let alice = person(&env.sim, "alice", "write");
    let bob = person(&env.sim, "bob", "write");
    let bot = bot(&env.sim).await;
    let pr = open_pr(&alice).await;
    PrWorld {
        n: pr["number"].as_u64().unwrap(),
        head: pr["head"]["sha"].as_str().unwrap().to_string(),
        env,
        alice,
        bob,
        bot,
    }
}

async fn wait_for(sim: &Sim, pred: impl Fn(&[prflow::sim::state::Delivery]) -> bool) {
    for _ in 0..300 {
        if pred(&sim.deliveries()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "deliveries never matched: {:?}",
        sim.deliveries()
            .iter()
            .map(|d| (&d.event, &d.action, &d.status))
            .collect::<Vec<_>>()
    );
}

// ---------- tests ----------

#[test]
fn cli_prints_one_json_line_and_serves() {
    use std::io::BufRead;
    let repo = fixture_repo();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prflow"))
        .args(["sim", "--addr", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .arg("--repo")
        .arg(format!("acme/shop={}", repo.path().display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    for k in [
        "api_url",
        "git_url",
        "app_id",
        "private_key_path",
        "installation_id",
        "webhook_secret",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {line}");
    }
    let key = std::fs::read_to_string(v["private_key_path"].as_str().unwrap()).unwrap();
    assert!(key.contains("BEGIN RSA PRIVATE KEY"));
    assert!(v["private_key_path"]
        .as_str()
        .unwrap()
        .starts_with(data.path().to_str().unwrap()));
    let url = format!("{}/_sim/deliveries", v["api_url"].as_str().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async { reqwest::get(&url).await.unwrap().status().as_u16() });
    assert_eq!(status, 200);
    let clone = tempfile::tempdir().unwrap();
    let tok = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/_sim/users", v["api_url"].as_str().unwrap()))
            .json(&json!({"login": "alice", "permission": "read"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let url = v["git_url"]
        .as_str()
        .unwrap()
        .replace("http://", &format!("http://x-access-token:{tok}@"));
    git(
        clone.path(),
        &["clone", "-q", &format!("{url}/acme/shop.git"), "c"],
    );
    assert!(clone.path().join("c/README.md").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_jwt_and_installation_tokens_like_github() {
    let env = start().await;
    let sim = &env.sim;
    let app = Api::new(sim, Some(&app_jwt(sim)));
    let r = app.expect(200, "GET", "/app", None).await;
    assert_eq!(r.body["id"], json!(sim.app_id()));
    let r = app
        .checked(
            "GET",
            "/repos/{owner}/{repo}/installation",
            "/repos/acme/shop/installation",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], json!(sim.installation_id()));

    let t = installation_token(sim, json!({})).await;
    assert_eq!(t.status, 201);
    let token = t.body["token"].as_str().unwrap();
    assert!(token.starts_with("ghs_"));
    let exp = time::OffsetDateTime::parse(
        t.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = exp - time::OffsetDateTime::now_utc();
    assert!(
        left.whole_minutes() >= 59 && left.whole_minutes() <= 60,
        "{left}"
    );

    // Bad JWTs: too long a life, iat in the future, wrong issuer, another key, string iss is fine.
    for bad in [
        jwt(sim, 0, 1200, json!(sim.app_id()), None),
        jwt(sim, 300, 300, json!(sim.app_id()), None),
        jwt(sim, -30, 300, json!(sim.app_id() + 1), None),
        jwt(sim, -30, 300, json!(sim.app_id()), Some(&other_key_pem())),
    ] {
        let r = Api::new(sim, Some(&bad)).call("GET", "/app", None).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = Api::new(
        sim,
        Some(&jwt(sim, -30, 300, json!(sim.app_id().to_string()), None)),
    )
    .call("GET", "/app", None)
    .await;
    assert_eq!(r.status, 200);

    // An installation token is not a JWT.
    let inst = Api::new(sim, Some(token));
    inst.expect(401, "GET", "/app", None).await;
    // A JWT is not an installation token.
    app.expect(403, "GET", "/repos/acme/shop/pulls", None).await;

    // Scoping by repository and permission.
    let other = fixture_repo();
    sim.import_repo("acme/other", other.path()).unwrap();
    let scoped = installation_token(sim, json!({"repositories": ["shop"]})).await;
    assert_eq!(scoped.status, 201);
    assert_eq!(scoped.body["repository_selection"], "selected");
    let s = Api::new(sim, scoped.body["token"].as_str());
    s.expect(200, "GET", "/repos/acme/shop", None).await;
    s.expect(404, "GET", "/repos/acme/other", None).await;
    let ro = installation_token(
        sim,
        json!({"permissions": {"contents": "read", "pull_requests": "write"}}),
    )
    .await;
    assert_eq!(ro.status, 201);
    assert_eq!(
        ro.body["permissions"],
        json!({"contents": "read", "pull_requests": "write"})
    );
    let ro = Api::new(sim, ro.body["token"].as_str());
    let main = ro
        .expect(200, "GET", "/repos/acme/shop/git/ref/heads/main", None)
        .await;
    let r = ro
        .expect(
            403,
            "POST",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/x", "sha": main.body["object"]["sha"]})),
        )
        .await;
    assert_eq!(r.body["message"], "Resource not accessible by integration");
    let r = installation_token(sim, json!({"permissions": {"administration": "write"}})).await;
    assert_eq!(r.status, 422);
    let r = installation_token(sim, json!({"repositories": ["nope"]})).await;
    assert_eq!(r.status, 422);

    // Tokens expire after an hour.
    inst.expect(200, "GET", "/repos/acme/shop", None).await;
    reqwest::Client::new()
        .post(format!("{}/_sim/tokens/expire", sim.api_url()))
        .send()
        .await
        .unwrap();
    let r = inst.expect(401, "GET", "/repos/acme/shop", None).await;
    assert_eq!(r.body["message"], "Bad credentials");
}

fn other_key_pem() -> String {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let k = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_and_read_only_people_cannot_write() {
    let env = start().await;
    let sim = &env.sim;
    let anon = Api::new(sim, None);
    anon.expect(401, "GET", "/repos/acme/shop", None).await;
    let r = Api::new(sim, Some("ghp_notatoken"))
        .call("GET", "/repos/acme/shop", None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Bad credentials");
    assert!(r.body["documentation_url"].is_string());

    let alice = person(sim, "alice", "write");
    let rita = person(sim, "rita", "read");
    rita.expect(200, "GET", "/repos/acme/shop", None).await;
    let main = rita
        .call("GET", "/repos/acme/shop/git/ref/heads/main", None)
        .await
        .body["object"]["sha"]
        .clone();
    rita.expect(
        403,
        "POST",
        "/repos/acme/shop/git/refs",
        Some(json!({"ref": "refs/heads/r", "sha": main})),
    )
    .await;
    rita.expect(
        403,
        "POST",
        "/repos/acme/shop/pulls",
        Some(json!({"title": "t", "head": "feature", "base": "main"})),
    )
    .await;
    let pr = open_pr(&alice).await;
    let n = pr["number"].as_u64().unwrap();
    rita.expect(
        403,
        "PUT",
        &format!("/repos/acme/shop/pulls/{n}/merge"),
        Some(json!({})),
    )
    .await;
    // Like GitHub, a reader may comment and review (whether that counts is the App's business).
    rita.expect(
        201,
        "POST",
        &format!("/repos/acme/shop/issues/{n}/comments"),
        Some(json!({"body": "looks fine"})),
    )
    .await;

    for (who, perm) in [("alice", "write"), ("rita", "read"), ("acme", "admin")] {
        let r = alice
            .expect(
                200,
                "GET",
                &format!("/repos/acme/shop/collaborators/{who}/permission"),
                None,
            )
            .await;
        assert_eq!(r.body["permission"], perm, "{who}");
    }
    alice
        .expect(
            404,
            "GET",
            "/repos/acme/shop/collaborators/nobody/permission",
            None,
        )
        .await;

    // Rate limit accounting.
    let a = alice.call("GET", "/repos/acme/shop", None).await;
    let b = alice.call("GET", "/repos/acme/shop", None).await;
    let used = |r: &Resp| {
        r.headers["x-ratelimit-used"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(used(&b), used(&a) + 1);
    assert_eq!(b.headers["x-ratelimit-limit"], "5000");
    let rl = alice
        .checked("GET", "/rate_limit", "/rate_limit", None)
        .await;
    assert_eq!(rl.body["resources"]["core"]["used"], json!(used(&b)));
    assert_eq!(rl.body["rate"]["remaining"], json!(5000 - used(&b)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_contents_and_git_refs() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let r = alice
        .checked("GET", "/repos/{owner}/{repo}", "/repos/acme/shop", None)
        .await;
    assert_eq!(r.body["default_branch"], "main");
    assert_eq!(r.body["full_name"], "acme/shop");

    let f = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/contents/{path}",
            "/repos/acme/shop/contents/src/lib.rs",
            None,
        )
        .await;
    assert_eq!(f.status, 200);
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(f.body["content"].as_str().unwrap().replace('\n', ""))
        .unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "pub fn one() -> u32 { 1 }\n"
    );
    let d = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/contents/{path}",
            "/repos/acme/shop/contents/src?ref=feature",
            None,
        )
        .await;
    let names: Vec<&str> = d
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["feature.rs", "lib.rs"]);
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/shop/contents/src/lib.rs",
            sim.api_url()
        ))
        .header(
            "authorization",
            format!("Bearer {}", alice.token.as_ref().unwrap()),
        )
        .header("accept", "application/vnd.github.raw+json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "pub fn one() -> u32 { 1 }\n");
    alice
        .expect(404, "GET", "/repos/acme/shop/contents/nope.txt", None)
        .await;

    let main = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/git/ref/{ref}",
            "/repos/acme/shop/git/ref/heads/main",
            None,
        )
        .await;
    assert_eq!(main.body["ref"], "refs/heads/main");
    let main_sha = main.body["object"]["sha"].as_str().unwrap().to_string();
    let feat_sha = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/feature", None)
        .await
        .body["object"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/git/ref/{ref}",
            "/repos/acme/shop/git/ref/heads/missing",
            None,
        )
        .await;

    let c = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/git/refs",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/prflow/x/01-a", "sha": main_sha})),
        )
        .await;
    assert_eq!(c.status, 201);
    let again = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/git/refs",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/prflow/x/01-a", "sha": main_sha})),
        )
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(again.body["message"], "Reference already exists");
    alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "heads/y", "sha": main_sha})),
        )
        .await;
    alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/git/refs",
            Some(json!({"ref": "refs/heads/y", "sha": "0123456789012345678901234567890123456789"})),
        )
        .await;

    let up = alice
        .checked(
            "PATCH",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            "/repos/acme/shop/git/refs/heads/prflow/x/01-a",
            Some(json!({"sha": feat_sha})),
        )
        .await;
    assert_eq!(up.status, 200);
    assert_eq!(up.body["object"]["sha"], feat_sha.as_str());
    let nff = alice
        .checked(
            "PATCH",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            "/repos/acme/shop/git/refs/heads/prflow/x/01-a",
            Some(json!({"sha": main_sha})),
        )
        .await;
    assert_eq!(nff.status, 422);
    assert_eq!(nff.body["message"], "Update is not a fast forward");
    alice
        .expect(
            200,
            "PATCH",
            "/repos/acme/shop/git/refs/heads/prflow/x/01-a",
            Some(json!({"sha": main_sha, "force": true})),
        )
        .await;
    let m = alice
        .call(
            "GET",
            "/repos/acme/shop/git/matching-refs/heads/prflow/",
            None,
        )
        .await;
    assert_eq!(m.body.as_array().unwrap().len(), 1);
    let del = alice
        .checked(
            "DELETE",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            "/repos/acme/shop/git/refs/heads/prflow/x/01-a",
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let gone = alice
        .checked(
            "DELETE",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            "/repos/acme/shop/git/refs/heads/prflow/x/01-a",
            None,
        )
        .await;
    assert_eq!(gone.status, 422);
    alice
        .expect(
            404,
            "GET",
            "/repos/acme/shop/git/ref/heads/prflow/x/01-a",
            None,
        )
        .await;
    // The bare repository really moved.
    let bare = sim.bare_repo_path("acme/shop");
    assert!(!git(&bare, &["for-each-ref", "refs/heads/prflow"]).contains("01-a"));

    let b = alice
        .call("GET", "/repos/acme/shop/branches/feature", None)
        .await;
    assert_eq!(b.body["commit"]["sha"], feat_sha.as_str());
    let c = alice
        .call("GET", &format!("/repos/acme/shop/commits/{feat_sha}"), None)
        .await;
    assert_eq!(c.body["commit"]["message"], "add feature\n");
    assert_eq!(c.body["files"][0]["filename"], "src/feature.rs");
    let cmp = alice
        .call("GET", "/repos/acme/shop/compare/main...feature", None)
        .await;
    assert_eq!(cmp.body["status"], "ahead");
    assert_eq!(cmp.body["ahead_by"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_like_github() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let pr = open_pr(&alice).await;
    let n = pr["number"].as_u64().unwrap();
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["head"]["ref"], "feature");
    assert_eq!(pr["user"]["login"], "alice");
    assert_eq!(pr["commits"], 1);
    assert_eq!(pr["changed_files"], 1);
    assert_eq!(pr["mergeable"], true);

    let dup = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "again", "head": "acme:feature", "base": "main"})),
        )
        .await;
    assert_eq!(dup.status, 422);
    assert_eq!(
        dup.body["errors"][0]["message"],
        "A pull request already exists for acme:feature."
    );
    let none = alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "t", "head": "same", "base": "main"})),
        )
        .await;
    assert_eq!(
        none.body["errors"][0]["message"],
        "No commits between main and same"
    );
    let nobase = alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "nope"})),
        )
        .await;
    assert_eq!(nobase.body["errors"][0]["field"], "base");

    let l = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls",
            "/repos/acme/shop/pulls?head=acme:feature&base=main",
            None,
        )
        .await;
    assert_eq!(l.body.as_array().unwrap().len(), 1);
    let l = alice
        .call("GET", "/repos/acme/shop/pulls?head=acme:other", None)
        .await;
    assert_eq!(l.body.as_array().unwrap().len(), 0);
    let l = alice
        .call("GET", "/repos/acme/shop/pulls?state=closed", None)
        .await;
    assert_eq!(l.body.as_array().unwrap().len(), 0);

    let u = alice
        .checked(
            "PATCH",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            &format!("/repos/acme/shop/pulls/{n}"),
            Some(json!({"title": "Better title", "state": "closed"})),
        )
        .await;
    assert_eq!(u.body["title"], "Better title");
    assert_eq!(u.body["state"], "closed");
    assert_eq!(
        alice
            .call("GET", "/repos/acme/shop/pulls?state=closed", None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let u = alice
        .call(
            "PATCH",
            &format!("/repos/acme/shop/pulls/{n}"),
            Some(json!({"state": "open"})),
        )
        .await;
    assert_eq!(u.body["state"], "open");
    let files = alice
        .call("GET", &format!("/repos/acme/shop/pulls/{n}/files"), None)
        .await;
    assert_eq!(files.body[0]["filename"], "src/feature.rs");
    assert_eq!(files.body[0]["additions"], 3);

    // A conflicting PR is not mergeable.

    let c = alice
        .expect(
            201,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "c", "head": "conflict", "base": "feature"})),
        )
        .await;
    let got = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            &format!("/repos/acme/shop/pulls/{n}"),
            None,
        )
        .await;
    assert_eq!(got.body["mergeable_state"], "clean");

    alice
        .expect(
            409,
            "PUT",
            &format!("/repos/acme/shop/pulls/{n}/merge"),
            Some(json!({"sha": "0000000000000000000000000000000000000000"})),
        )
        .await;
    let head = got.body["head"]["sha"].as_str().unwrap().to_string();
    let m = alice
        .expect(
            200,
            "PUT",
            &format!("/repos/acme/shop/pulls/{n}/merge"),
            Some(json!({"sha": head, "merge_method": "squash"})),
        )
        .await;
    assert_eq!(m.body["merged"], true);
    let after = alice
        .call("GET", &format!("/repos/acme/shop/pulls/{n}"), None)
        .await;
    assert_eq!(after.body["merged"], true);
    assert_eq!(after.body["state"], "closed");
    assert_eq!(after.body["merged_by"]["login"], "alice");
    let main = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/main", None)
        .await;
    assert_eq!(main.body["object"]["sha"], m.body["sha"]);
    alice
        .expect(
            405,
            "PUT",
            &format!("/repos/acme/shop/pulls/{n}/merge"),
            Some(json!({})),
        )
        .await;
    // Deleting a pull request's head branch closes it.
    let cn = c.body["number"].as_u64().unwrap();
    alice
        .expect(
            204,
            "DELETE",
            "/repos/acme/shop/git/refs/heads/conflict",
            None,
        )
        .await;
    let closed = alice
        .call("GET", &format!("/repos/acme/shop/pulls/{cn}"), None)
        .await;
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["merged"], false);
    let reopen = alice
        .call(
            "PATCH",
            &format!("/repos/acme/shop/pulls/{cn}"),
            Some(json!({"state": "open"})),
        )
        .await;
    assert_eq!(
        reopen.status, 422,
        "a PR whose head branch is gone cannot be reopened"
    );
    // A draft cannot be merged.
    let d = alice
        .expect(
            201,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "d", "head": "feature", "base": "same", "draft": true})),
        )
        .await;
    assert_eq!(d.body["draft"], true);
    alice
        .expect(
            405,
            "PUT",
            &format!("/repos/acme/shop/pulls/{}/merge", d.body["number"]),
            Some(json!({})),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_and_requested_reviewers() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let bob = person(sim, "bob", "write");
    let carol = person(sim, "carol", "read");
    let pr = open_pr(&alice).await;
    let n = pr["number"].as_u64().unwrap();
    let head = pr["head"]["sha"].as_str().unwrap();

    let own = alice
        .expect(
            422,
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "APPROVE"})),
        )
        .await;
    assert!(own.body["errors"][0]
        .as_str()
        .unwrap()
        .contains("Can not approve your own pull request"));

    let rq = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
            &format!("/repos/acme/shop/pulls/{n}/requested_reviewers"),
            Some(json!({"reviewers": ["bob", "carol"]})),
        )
        .await;
    assert_eq!(rq.status, 201);
    assert_eq!(rq.body["requested_reviewers"].as_array().unwrap().len(), 2);
    alice
        .expect(
            422,
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/requested_reviewers"),
            Some(json!({"reviewers": ["alice"]})),
        )
        .await;
    alice
        .expect(
            422,
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/requested_reviewers"),
            Some(json!({"reviewers": ["zed"]})),
        )
        .await;

    let ok = bob
        .expect(
            200,
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "APPROVE", "body": "ship it"})),
        )
        .await;
    assert_eq!(ok.body["state"], "APPROVED");
    assert_eq!(ok.body["commit_id"], head);
    let req = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/pulls/{n}/requested_reviewers"),
            None,
        )
        .await;
    assert_eq!(
        req.body["users"].as_array().unwrap().len(),
        1,
        "an approval clears the request"
    );

    carol
        .expect(
            422,
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "REQUEST_CHANGES"})),
        )
        .await;
    carol.expect(422, "POST", &format!("/repos/acme/shop/pulls/{n}/reviews"), Some(json!({"event": "COMMENT", "body": "x", "comments": [{"path": "README.md", "line": 1, "body": "?"}]}))).await;
    let rc = carol.expect(200, "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "REQUEST_CHANGES", "body": "two things", "comments": [{"path": "src/feature.rs", "line": 2, "body": "use 3"}, {"path": "src/feature.rs", "line": 1, "body": "doc it"}]})),).await;
    assert_eq!(rc.body["state"], "CHANGES_REQUESTED");

    let list = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            None,
        )
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    let comments = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            &format!("/repos/acme/shop/pulls/{n}/comments"),
            None,
        )
        .await;
    let c = comments.body.as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["path"], "src/feature.rs");
    assert_eq!(c[0]["line"], 2);
    assert_eq!(c[0]["pull_request_review_id"], rc.body["id"]);

    let id = rc.body["id"].as_u64().unwrap();
    // dismissing needs write.
    carol
        .expect(
            403,
            "PUT",
            &format!("/repos/acme/shop/pulls/{n}/reviews/{id}/dismissals"),
            Some(json!({"message": "stale"})),
        )
        .await;
    let d = alice
        .expect(
            200,
            "PUT",
            &format!("/repos/acme/shop/pulls/{n}/reviews/{id}/dismissals"),
            Some(json!({"message": "stale"})),
        )
        .await;
    assert_eq!(d.body["state"], "DISMISSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_runs_and_commit_statuses() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let bot = bot(sim).await;
    let head = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/feature", None)
        .await
        .body["object"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    // only Apps create check runs.
    alice
        .expect(
            403,
            "POST",
            "/repos/acme/shop/check-runs",
            Some(json!({"name": "prflow/unit", "head_sha": head})),
        )
        .await;

    let c = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/check-runs",
            "/repos/acme/shop/check-runs",
            Some(json!({"name": "prflow/unit", "head_sha": head, "status": "in_progress"})),
        )
        .await;
    assert_eq!(c.status, 201);
    let id = c.body["id"].as_u64().unwrap();
    let ann: Vec<Value> = (1..=50).map(|i| json!({"path": "src/feature.rs", "start_line": i, "end_line": i, "annotation_level": "warning", "message": format!("w{i}")})).collect();
    let too_many: Vec<Value> = (1..=51).map(|i| json!({"path": "src/feature.rs", "start_line": i, "end_line": i, "annotation_level": "warning", "message": "x"})).collect();
    bot.expect(
        422,
        "PATCH",
        &format!("/repos/acme/shop/check-runs/{id}"),
        Some(json!({"output": {"title": "t", "summary": "s", "annotations": too_many}})),
    )
    .await;
    let u = bot
        .checked(
            "PATCH",
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            &format!("/repos/acme/shop/check-runs/{id}"),
            Some(json!({"output": {"title": "t", "summary": "s", "annotations": ann}})),
        )
        .await;
    assert_eq!(u.status, 200);
    let u = bot
        .call(
            "PATCH",
            &format!("/repos/acme/shop/check-runs/{id}"),
            Some(json!({"conclusion": "failure", "output": {"title": "1 failure", "summary": "s", "annotations": [{"path": "src/lib.rs", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "boom"}]}})),
        )
        .await;
    assert_eq!(u.body["status"], "completed");
    assert_eq!(
        u.body["output"]["annotations_count"], 51,
        "annotations accumulate across requests"
    );
    bot.expect(
        422,
        "PATCH",
        &format!("/repos/acme/shop/check-runs/{id}"),
        Some(json!({"conclusion": "great"})),
    )
    .await;

    let l = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/commits/{ref}/check-runs",
            "/repos/acme/shop/commits/feature/check-runs",
            None,
        )
        .await;
    assert_eq!(l.body["total_count"], 1);
    assert_eq!(l.body["check_runs"][0]["conclusion"], "failure");
    let l = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/commits/{head}/check-runs?check_name=other"),
            None,
        )
        .await;
    assert_eq!(l.body["total_count"], 0);

    let s = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/statuses/{sha}",
            &format!("/repos/acme/shop/statuses/{head}"),
            Some(json!({"state": "pending", "context": "prflow/stack"})),
        )
        .await;
    assert_eq!(s.status, 201);
    bot.expect(
        422,
        "POST",
        &format!("/repos/acme/shop/statuses/{head}"),
        Some(json!({"state": "great"})),
    )
    .await;
    let st = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/commits/{head}/status"),
            None,
        )
        .await;
    assert_eq!(st.body["state"], "pending");
    bot.call(
        "POST",
        &format!("/repos/acme/shop/statuses/{head}"),
        Some(json!({"state": "success", "context": "prflow/stack"})),
    )
    .await;
    bot.call(
        "POST",
        &format!("/repos/acme/shop/statuses/{head}"),
        Some(json!({"state": "success", "context": "ci"})),
    )
    .await;
    let st = alice
        .call("GET", "/repos/acme/shop/commits/feature/status", None)
        .await;
    assert_eq!(st.body["state"], "success");
    assert_eq!(st.body["total_count"], 2);
    bot.call(
        "POST",
        &format!("/repos/acme/shop/statuses/{head}"),
        Some(json!({"state": "error", "context": "ci"})),
    )
    .await;
    let st = alice
        .call("GET", "/repos/acme/shop/commits/feature/status", None)
        .await;
    assert_eq!(st.body["state"], "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_comments_labels_reactions_and_dispatches() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let bob = person(sim, "bob", "write");
    let i = alice
        .expect(
            201,
            "POST",
            "/repos/acme/shop/issues",
            Some(json!({"title": "Bug", "body": "it broke"})),
        )
        .await;
    let n = i.body["number"].as_u64().unwrap();
    assert!(i.body.get("pull_request").is_none());
    let pr = open_pr(&alice).await;
    assert_eq!(
        pr["number"].as_u64().unwrap(),
        n + 1,
        "issues and pulls share numbers"
    );
    let got = alice
        .call("GET", &format!("/repos/acme/shop/issues/{}", n + 1), None)
        .await;
    assert!(got.body["pull_request"].is_object());

    let c = bob
        .checked(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            &format!("/repos/acme/shop/issues/{n}/comments"),
            Some(json!({"body": "/prflow status"})),
        )
        .await;
    assert_eq!(c.status, 201);
    let cid = c.body["id"].as_u64().unwrap();
    // write access may edit others' comments.
    alice
        .expect(
            200,
            "PATCH",
            &format!("/repos/acme/shop/issues/comments/{cid}"),
            Some(json!({"body": "x"})),
        )
        .await;
    let u = bob
        .checked(
            "PATCH",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            &format!("/repos/acme/shop/issues/comments/{cid}"),
            Some(json!({"body": "/prflow retry"})),
        )
        .await;
    assert_eq!(u.body["body"], "/prflow retry");
    let l = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            &format!("/repos/acme/shop/issues/{n}/comments"),
            None,
        )
        .await;
    assert_eq!(l.body.as_array().unwrap().len(), 1);
    alice
        .expect(
            201,
            "POST",
            &format!("/repos/acme/shop/issues/comments/{cid}/reactions"),
            Some(json!({"content": "eyes"})),
        )
        .await;
    // the same reaction twice is not a new one.
    alice
        .expect(
            200,
            "POST",
            &format!("/repos/acme/shop/issues/comments/{cid}/reactions"),
            Some(json!({"content": "eyes"})),
        )
        .await;
    alice
        .expect(
            422,
            "POST",
            &format!("/repos/acme/shop/issues/comments/{cid}/reactions"),
            Some(json!({"content": "wow"})),
        )
        .await;
    let got = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/issues/comments/{cid}"),
            None,
        )
        .await;
    assert_eq!(got.body["reactions"]["eyes"], 1);
    let labels = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            &format!("/repos/acme/shop/issues/{n}/labels"),
            Some(json!({"labels": ["prflow", "phase-1"]})),
        )
        .await;
    assert_eq!(labels.body.as_array().unwrap().len(), 2);
    alice
        .expect(
            204,
            "DELETE",
            &format!("/repos/acme/shop/issues/comments/{cid}"),
            None,
        )
        .await;
    alice
        .expect(
            404,
            "GET",
            &format!("/repos/acme/shop/issues/comments/{cid}"),
            None,
        )
        .await;

    let d = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/dispatches",
            "/repos/acme/shop/dispatches",
            Some(json!({"event_type": "prflow-run", "client_payload": {"run": "abc"}})),
        )
        .await;
    assert_eq!(d.status, 204);
    let long = "x".repeat(101);
    alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/dispatches",
            Some(json!({"event_type": long})),
        )
        .await;
    let w = alice
        .checked(
            "POST",
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            "/repos/acme/shop/actions/workflows/prflow.yml/dispatches",
            Some(json!({"ref": "main", "inputs": {"phase": "2"}})),
        )
        .await;
    assert_eq!(w.status, 204);
    alice
        .expect(
            422,
            "POST",
            "/repos/acme/shop/actions/workflows/prflow.yml/dispatches",
            Some(json!({"ref": "nope"})),
        )
        .await;
    let snap = sim.snapshot();
    let dispatches = snap["repos"]["acme/shop"]["dispatches"].as_array().unwrap();
    assert_eq!(dispatches.len(), 2);
    assert_eq!(dispatches[1]["inputs"]["phase"], "2");
    wait_for(sim, |d| {
        d.iter()
            .any(|d| d.event == "repository_dispatch" && d.action.as_deref() == Some("prflow-run"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_over_http_with_tokens_and_branch_protection() {
    let env = start().await;
    let sim = &env.sim;
    let alice_tok = sim.create_user("alice", "write").unwrap();
    let rita_tok = sim.create_user("rita", "read").unwrap();
    let alice = Api::new(sim, Some(&alice_tok));
    let host = sim.git_url().replace("http://", "");
    let url = |user: &str, tok: &str| format!("http://{user}:{tok}@{host}/acme/shop.git");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    let (ok, out) = git_in(
        w,
        &[
            "clone",
            "-q",
            &format!("http://{host}/acme/shop.git"),
            "anon",
        ],
    );
    assert!(!ok, "clone without a token must fail: {out}");
    let (ok, _) = git_in(
        w,
        &["clone", "-q", &url("x-access-token", "ghp_wrong"), "wrong"],
    );
    assert!(!ok);
    git(w, &["clone", "-q", &url("x-access-token", &alice_tok), "a"]);
    git(w, &["clone", "-q", &url("rita", &rita_tok), "r"]);
    let a = w.join("a");
    assert_eq!(git(&a, &["branch", "--show-current"]), "main");

    // Push a new branch: REST sees it and a push webhook is recorded.
    git(&a, &["checkout", "-qb", "topic"]);
    std::fs::write(a.join("t.txt"), "t\n").unwrap();
    git(&a, &["add", "."]);
    git(&a, &["commit", "-qm", "topic"]);
    git(&a, &["push", "-q", "origin", "topic"]);
    let sha = git(&a, &["rev-parse", "HEAD"]);
    let r = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/topic", None)
        .await;
    assert_eq!(r.body["object"]["sha"], sha.as_str());
    wait_for(sim, |d| {
        d.iter().any(|d| {
            d.event == "push"
                && d.payload["ref"] == "refs/heads/topic"
                && d.payload["after"] == sha.as_str()
        })
    })
    .await;

    // A big push (over git's 1 MB post buffer, so chunked) streams through, and clones back.
    git(&a, &["checkout", "-qb", "big"]);
    let blob: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(a.join("big.bin"), &blob).unwrap();
    git(&a, &["add", "."]);
    git(&a, &["commit", "-qm", "big"]);
    git(&a, &["push", "-q", "origin", "big"]);
    git(
        w,
        &[
            "clone",
            "-q",
            "--branch",
            "big",
            &url("x-access-token", &alice_tok),
            "big",
        ],
    );
    assert_eq!(std::fs::read(w.join("big/big.bin")).unwrap(), blob);

    // Faults reach git too: one failed push, then it works.
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.api_url()))
        .json(&json!({"method": "POST", "path": "git-receive-pack$", "status": 502, "times": 1}))
        .send()
        .await
        .unwrap();
    git(&a, &["commit", "-q", "--allow-empty", "-m", "again"]);
    let (ok, _) = git_in(&a, &["push", "-q", "origin", "big"]);
    assert!(!ok, "the injected 502 fails the push");
    git(&a, &["push", "-q", "origin", "big"]);

    // A reader cannot push.
    let r = w.join("r");
    git(&r, &["checkout", "-qb", "rita"]);
    let (ok, out) = git_in(&r, &["push", "origin", "rita"]);
    assert!(!ok, "read-only push must fail: {out}");

    // Protected branches refuse pushes, through git and through the refs API.
    let p = reqwest::Client::new()
        .post(format!("{}/_sim/repos/acme/shop/protect", sim.api_url()))
        .json(&json!({"branch": "main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(p.status().as_u16(), 201);
    git(&a, &["checkout", "-q", "main"]);
    std::fs::write(a.join("m.txt"), "m\n").unwrap();
    git(&a, &["add", "."]);
    git(&a, &["commit", "-qm", "direct to main"]);
    let (ok, out) = git_in(&a, &["push", "origin", "main"]);
    assert!(!ok, "push to a protected branch must be declined");
    assert!(out.contains("declined") && out.contains("GH006"), "{out}");
    alice
        .expect(
            422,
            "PATCH",
            "/repos/acme/shop/git/refs/heads/main",
            Some(json!({"sha": sha, "force": true})),
        )
        .await;

    // Pushing to a PR's head moves the PR and sends `synchronize`.
    let pr = open_pr(&alice).await;
    git(&a, &["fetch", "-q", "origin"]);
    git(&a, &["checkout", "-q", "-b", "feature", "origin/feature"]);
    std::fs::write(
        a.join("src/feature.rs"),
        "pub fn two() -> u32 {\n    3\n}\n",
    )
    .unwrap();
    git(&a, &["commit", "-qam", "review fix"]);
    git(&a, &["push", "-q", "origin", "feature"]);
    let new = git(&a, &["rev-parse", "HEAD"]);
    let got = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/pulls/{}", pr["number"]),
            None,
        )
        .await;
    assert_eq!(got.body["head"]["sha"], new.as_str());
    assert_eq!(got.body["commits"], 2);
    wait_for(sim, |d| {
        d.iter().any(|d| {
            d.event == "pull_request"
                && d.action.as_deref() == Some("synchronize")
                && d.payload["after"] == new.as_str()
        })
    })
    .await;

    // The App pushes with an installation token.
    let t = installation_token(sim, json!({})).await;
    let tok = t.body["token"].as_str().unwrap();
    git(&a, &["checkout", "-qb", "prflow/run/01-x"]);
    git(
        &a,
        &["push", "-q", &url("x-access-token", tok), "prflow/run/01-x"],
    );
    let ro = installation_token(sim, json!({"permissions": {"contents": "read"}})).await;
    let (ok, _) = git_in(
        &a,
        &[
            "push",
            &url("x-access-token", ro.body["token"].as_str().unwrap()),
            "HEAD:refs/heads/nope",
        ],
    );
    assert!(!ok, "contents:read cannot push");
}

type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>;

/// A webhook receiver on loopback; `delay_ms` slows its answers.
async fn receiver(delay_ms: Arc<std::sync::atomic::AtomicU64>) -> (String, Received) {
    let got: Received = Arc::new(Mutex::new(vec![]));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let g = g.clone();
            let d = delay_ms.clone();
            async move {
                let ms = d.load(std::sync::atomic::Ordering::SeqCst);
                g.lock().unwrap().push((headers, body));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

fn verify(secret: &str, headers: &axum::http::HeaderMap, body: &[u8]) -> bool {
    use hmac::{Mac, SimpleHmac};
    let sig = headers["x-hub-signature-256"].to_str().unwrap();
    let mut m = SimpleHmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    sig.strip_prefix("sha256=")
        .map(|h| hex::decode(h).unwrap())
        .is_some_and(|raw| m.verify_slice(&raw).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_ordered_logged_and_redelivered() {
    let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (url, got) = receiver(delay.clone()).await;
    let env = start_with(Some(url), None).await;
    let sim = &env.sim;
    // Order is kept per repository; ping and installation (no repository) go first.
    assert!(sim.wait_deliveries(Duration::from_secs(10)).await);
    let alice = person(sim, "alice", "write");
    let bob = person(sim, "bob", "write");
    let pr = open_pr(&alice).await;
    let n = pr["number"].as_u64().unwrap();
    bob.call(
        "POST",
        &format!("/repos/acme/shop/issues/{n}/comments"),
        Some(json!({"body": "hi"})),
    )
    .await;
    bob.call(
        "POST",
        &format!("/repos/acme/shop/pulls/{n}/reviews"),
        Some(json!({"event": "APPROVE"})),
    )
    .await;
    assert!(sim.wait_deliveries(Duration::from_secs(10)).await);

    let events: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["x-github-event"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "ping",
            "installation",
            "pull_request",
            "issue_comment",
            "pull_request_review"
        ]
    );
    for (h, body) in got.lock().unwrap().iter() {
        assert!(verify("s3cret", h, body), "bad signature");
        assert!(!verify("other", h, body));
        assert!(h["x-hub-signature"].to_str().unwrap().starts_with("sha1="));
        assert!(h["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("GitHub-Hookshot/"));
        assert_eq!(
            h["x-github-hook-installation-target-id"].to_str().unwrap(),
            sim.app_id().to_string()
        );
        assert_eq!(h["x-github-hook-installation-target-type"], "integration");
        assert_eq!(h["x-github-delivery"].to_str().unwrap().len(), 36);
        assert!(h.contains_key("x-github-hook-id"));
    }
    let review = &got.lock().unwrap()[4].1.clone();
    let v: Value = serde_json::from_slice(review).unwrap();
    assert_eq!(
        v["review"]["state"], "approved",
        "webhook review states are lowercase"
    );
    assert_eq!(v["installation"]["id"], json!(sim.installation_id()));

    // The log, and redelivery with the same GUID.
    let log: Value = reqwest::get(format!("{}/_sim/deliveries", sim.api_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "pull_request_review");
    assert_eq!(last["action"], "submitted");
    assert_eq!(last["status_code"], 200);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_sim/deliveries/{}/redeliver",
            sim.api_url(),
            last["id"]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert!(sim.wait_deliveries(Duration::from_secs(10)).await);
    {
        let g = got.lock().unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(g[5].0["x-github-delivery"], g[4].0["x-github-delivery"]);
        assert_eq!(g[5].1, g[4].1);
    }

    // A receiver slower than 10 s is recorded as failed.
    delay.store(10_500, std::sync::atomic::Ordering::SeqCst);
    alice
        .call(
            "POST",
            &format!("/repos/acme/shop/issues/{n}/comments"),
            Some(json!({"body": "slow"})),
        )
        .await;
    assert!(sim.wait_deliveries(Duration::from_secs(15)).await);
    let d = sim.deliveries().last().unwrap().clone();
    assert_eq!(d.status_code, None);
    assert!(d.status.contains("timed out"), "{}", d.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_payloads_carry_the_keys_github_sends() {
    let PrWorld {
        env,
        alice,
        bob,
        bot,
        n,
        head,
    } = pr_world(Some("http://127.0.0.1:9/unused".into())).await;
    let sim = &env.sim;
    alice
        .call(
            "PATCH",
            &format!("/repos/acme/shop/pulls/{n}"),
            Some(json!({"title": "Edited"})),
        )
        .await;
    let c = bob
        .call(
            "POST",
            &format!("/repos/acme/shop/issues/{n}/comments"),
            Some(json!({"body": "hi"})),
        )
        .await;
    bob.call(
        "PATCH",
        &format!("/repos/acme/shop/issues/comments/{}", c.body["id"]),
        Some(json!({"body": "hello"})),
    )
    .await;
    let rv = bob
        .call(
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "APPROVE"})),
        )
        .await;
    alice
        .call(
            "PUT",
            &format!(
                "/repos/acme/shop/pulls/{n}/reviews/{}/dismissals",
                rv.body["id"]
            ),
            Some(json!({"message": "x"})),
        )
        .await;
    let cr = bot
        .call(
            "POST",
            "/repos/acme/shop/check-runs",
            Some(json!({"name": "g", "head_sha": head})),
        )
        .await;
    bot.call(
        "PATCH",
        &format!("/repos/acme/shop/check-runs/{}", cr.body["id"]),
        Some(json!({"conclusion": "success"})),
    )
    .await;
    reqwest::Client::new()
        .post(format!(
            "{}/_sim/repos/acme/shop/check-runs/{}/rerequest",
            sim.api_url(),
            cr.body["id"]
        ))
        .json(&json!({"login": "bob"}))
        .send()
        .await
        .unwrap();
    alice
        .call(
            "PATCH",
            &format!("/repos/acme/shop/pulls/{n}"),
            Some(json!({"state": "closed"})),
        )
        .await;
    alice
        .call(
            "PATCH",
            &format!("/repos/acme/shop/pulls/{n}"),
            Some(json!({"state": "open"})),
        )
        .await;
    let main = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/main", None)
        .await
        .body["object"]["sha"]
        .clone();
    alice
        .call(
            "PATCH",
            "/repos/acme/shop/git/refs/heads/feature",
            Some(json!({"sha": main, "force": true})),
        )
        .await;
    alice
        .call(
            "PATCH",
            "/repos/acme/shop/git/refs/heads/feature",
            Some(json!({"sha": head})),
        )
        .await;
    alice
        .call(
            "POST",
            "/repos/acme/shop/dispatches",
            Some(json!({"event_type": "go"})),
        )
        .await;
    alice
        .call(
            "POST",
            "/repos/acme/shop/actions/workflows/w.yml/dispatches",
            Some(json!({"ref": "main"})),
        )
        .await;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sim/webhooks");
    let mut seen = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for d in sim.deliveries() {
        let action = d.action.clone().unwrap_or_default();
        let ev_dir = dir.join(&d.event);
        let Ok(entries) = std::fs::read_dir(&ev_dir) else {
            panic!("no captured payloads for {}", d.event)
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let matches = match d.event.as_str() {
                "push"
                | "ping"
                | "repository_dispatch"
                | "workflow_dispatch"
                | "create"
                | "delete"
                | "status" => true,
                // No capture of `pull_request` `edited` exists: it is `opened`'s shape plus `changes`.
                "pull_request" if action == "edited" => {
                    assert!(d.payload["changes"].is_object(), "edited carries changes");
                    name.starts_with("opened.")
                }
                _ => name.starts_with(&format!("{action}.")),
            };
            if !matches || !name.ends_with(".json") {
                continue;
            }
            let captured: Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
            // `requester` names a person who asked for an installation; GitHub omits it otherwise.
            // `repository` is absent from org-level ping examples; ours is a repo-less App ping.
            let optional = [
                "requester",
                "enterprise",
                "repositories",
                "repository",
                "hook",
            ];
            for (k, v) in captured.as_object().unwrap() {
                if optional.contains(&k.as_str()) && d.payload.get(k).is_none() {
                    continue;
                }
                if d.payload.get(k).is_none() {
                    missing.insert(format!(
                        "{} {action}: top-level key {k} (see {name})",
                        d.event
                    ));
                    continue;
                }
                // One level down for the main objects.
                if [
                    "pull_request",
                    "review",
                    "comment",
                    "issue",
                    "check_run",
                    "check_suite",
                    "repository",
                    "sender",
                    "installation",
                ]
                .contains(&k.as_str())
                {
                    if let (Some(theirs), Some(ours)) = (v.as_object(), d.payload[k].as_object()) {
                        let skip = [
                            "deployment",
                            "performed_via_github_app",
                            "app",
                            "head_commit",
                            "latest_check_runs_count",
                        ];
                        for sub in theirs.keys() {
                            if skip.contains(&sub.as_str())
                                || (k == "installation" && d.event != "installation")
                            {
                                continue;
                            }
                            if !ours.contains_key(sub) {
                                missing.insert(format!(
                                    "{} {action}: {k}.{sub} (see {name})",
                                    d.event
                                ));
                            }
                        }
                    }
                }
            }
            seen.insert(format!("{}.{action}", d.event));
        }
    }
    assert!(
        missing.is_empty(),
        "keys GitHub sends that the simulator does not:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    for want in [
        "ping.",
        "installation.created",
        "pull_request.opened",
        "pull_request.edited",
        "pull_request.closed",
        "pull_request.reopened",
        "pull_request.synchronize",
        "issue_comment.created",
        "issue_comment.edited",
        "pull_request_review.submitted",
        "pull_request_review.dismissed",
        "check_run.created",
        "check_run.completed",
        "check_run.rerequested",
        "check_suite.requested",
        "check_suite.completed",
        "push.",
        "repository_dispatch.go",
        "workflow_dispatch.",
    ] {
        assert!(
            seen.contains(want),
            "no delivery compared for {want}; compared: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_answer_like_github_then_clear() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let admin = reqwest::Client::new();
    let f = format!("{}/_sim/faults", sim.api_url());
    admin
        .post(&f)
        .json(&json!({"method": "GET", "path": "^/repos/acme/shop$", "status": 502, "times": 2}))
        .send()
        .await
        .unwrap();
    alice.expect(502, "GET", "/repos/acme/shop", None).await;
    assert_eq!(
        alice
            .call("GET", "/repos/acme/shop/pulls", None)
            .await
            .status,
        200,
        "other paths are untouched"
    );
    alice.expect(502, "GET", "/repos/acme/shop", None).await;
    assert_eq!(
        alice.call("GET", "/repos/acme/shop", None).await.status,
        200,
        "only `times` times"
    );

    admin.post(&f).json(&json!({"method": "POST", "path": "/pulls$", "status": 403, "times": 1, "retry_after": 1})).send().await.unwrap();
    let r = alice
        .expect(
            403,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "main"})),
        )
        .await;
    assert_eq!(r.headers["retry-after"], "1");
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    alice
        .expect(
            201,
            "POST",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "main"})),
        )
        .await;

    admin
        .post(&f)
        .json(&json!({"path": ".", "status": 200, "times": 1, "delay_ms": 300}))
        .send()
        .await
        .unwrap();
    let t = std::time::Instant::now();
    alice.expect(200, "GET", "/repos/acme/shop", None).await;
    assert!(t.elapsed() >= Duration::from_millis(300));

    admin
        .post(&f)
        .json(&json!({"path": ".", "status": 503, "times": 100}))
        .send()
        .await
        .unwrap();
    alice.expect(503, "GET", "/repos/acme/shop", None).await;
    assert_eq!(
        admin.delete(&f).send().await.unwrap().status().as_u16(),
        204
    );
    alice.expect(200, "GET", "/repos/acme/shop", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_with_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let env = start_with(None, Some(data.path().to_path_buf())).await;
    let (key, app_id, secret) = (
        env.sim.private_key_pem(),
        env.sim.app_id(),
        env.sim.webhook_secret(),
    );
    let tok = env.sim.create_user("alice", "write").unwrap();
    let alice = Api::new(&env.sim, Some(&tok));
    let pr = open_pr(&alice).await;
    alice
        .call(
            "POST",
            &format!("/repos/acme/shop/issues/{}/comments", pr["number"]),
            Some(json!({"body": "kept"})),
        )
        .await;
    // A ref moved in the simulator must survive a restart that names the same --repo.
    let main = alice
        .call("GET", "/repos/acme/shop/git/ref/heads/main", None)
        .await
        .body["object"]["sha"]
        .clone();
    alice
        .expect(
            200,
            "PATCH",
            "/repos/acme/shop/git/refs/heads/feature",
            Some(json!({"sha": main, "force": true})),
        )
        .await;
    let Env { sim, _repo } = env;
    sim.shutdown().await;
    assert!(data.path().join("state.json").exists());

    let sim = Sim::start(SimConfig {
        data_dir: Some(data.path().to_path_buf()),
        repos: vec![("acme/shop".into(), _repo.path().to_path_buf())],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(sim.private_key_pem(), key, "the App key is reused");
    let feature = Api::new(&sim, Some(&tok))
        .call("GET", "/repos/acme/shop/git/ref/heads/feature", None)
        .await;
    assert_eq!(
        feature.body["object"]["sha"], main,
        "the simulator's copy is kept, not re-imported"
    );
    assert_eq!(sim.app_id(), app_id);
    assert_eq!(sim.webhook_secret(), secret);
    let alice = Api::new(&sim, Some(&tok));
    let got = alice
        .expect(
            200,
            "GET",
            &format!("/repos/acme/shop/pulls/{}", pr["number"]),
            None,
        )
        .await;
    assert_eq!(got.body["title"], "Add feature");
    let c = alice
        .call(
            "GET",
            &format!("/repos/acme/shop/issues/{}/comments", pr["number"]),
            None,
        )
        .await;
    assert_eq!(c.body[0]["body"], "kept");
    let next = alice
        .call(
            "POST",
            "/repos/acme/shop/issues",
            Some(json!({"title": "next"})),
        )
        .await;
    assert_eq!(next.body["number"], pr["number"].as_u64().unwrap() + 1);
    let w = tempfile::tempdir().unwrap();
    let host = sim.git_url().replace("http://", "");
    git(
        w.path(),
        &[
            "clone",
            "-q",
            &format!("http://x-access-token:{tok}@{host}/acme/shop.git"),
            "c",
        ],
    );
    sim.shutdown().await;
}

/// Every operation of the OpenAPI subset is called and its answer validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_every_operation_matches_githubs_openapi() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let bob = person(sim, "bob", "write");
    let bot = bot(sim).await; // access_tokens
    let app = Api::new(sim, Some(&app_jwt(sim)));
    // Each row: who calls, the method, the OpenAPI template, the path, the body.
    type Row<'a> = (&'a Api, &'a str, &'a str, String, Option<Value>);
    async fn check_all(rows: Vec<Row<'_>>) {
        for (who, method, template, path, body) in rows {
            who.checked(method, template, &path, body).await;
        }
    }
    let s = |p: &str| p.to_string();
    check_all(vec![
        (
            &app,
            "GET",
            "/repos/{owner}/{repo}/installation",
            s("/repos/acme/shop/installation"),
            None,
        ),
        (
            &alice,
            "GET",
            "/repos/{owner}/{repo}",
            s("/repos/acme/shop"),
            None,
        ),
        (
            &alice,
            "GET",
            "/repos/{owner}/{repo}/contents/{path}",
            s("/repos/acme/shop/contents/README.md"),
            None,
        ),
    ])
    .await;
    let main = alice
        .checked(
            "GET",
            "/repos/{owner}/{repo}/git/ref/{ref}",
            "/repos/acme/shop/git/ref/heads/main",
            None,
        )
        .await;
    let sha = main.body["object"]["sha"].as_str().unwrap().to_string();
    check_all(vec![
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/git/refs",
            s("/repos/acme/shop/git/refs"),
            Some(json!({"ref": "refs/heads/tmp", "sha": sha})),
        ),
        (
            &bot,
            "PATCH",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            s("/repos/acme/shop/git/refs/heads/tmp"),
            Some(json!({"sha": sha})),
        ),
        (
            &bot,
            "DELETE",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            s("/repos/acme/shop/git/refs/heads/tmp"),
            None,
        ),
    ])
    .await;
    let pr = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/pulls",
            "/repos/acme/shop/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "main"})),
        )
        .await;
    let n = pr.body["number"].as_u64().unwrap();
    let head = pr.body["head"]["sha"].as_str().unwrap().to_string();
    let pull = format!("/repos/acme/shop/pulls/{n}");
    let issue = format!("/repos/acme/shop/issues/{n}");
    check_all(vec![
        (
            &bot,
            "GET",
            "/repos/{owner}/{repo}/pulls",
            s("/repos/acme/shop/pulls?state=all"),
            None,
        ),
        (
            &bot,
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            pull.clone(),
            None,
        ),
        (
            &bot,
            "PATCH",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            pull.clone(),
            Some(json!({"body": "new body"})),
        ),
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
            format!("{pull}/requested_reviewers"),
            Some(json!({"reviewers": ["bob"]})),
        ),
    ])
    .await;
    bob.call("POST", &format!("{pull}/reviews"), Some(json!({"event": "COMMENT", "body": "c", "comments": [{"path": "src/feature.rs", "line": 1, "body": "x"}]}))).await;
    check_all(vec![
        (
            &bot,
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            format!("{pull}/reviews"),
            None,
        ),
        (
            &bot,
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/comments",
            format!("{pull}/comments"),
            None,
        ),
    ])
    .await;
    let cr = bot.checked("POST", "/repos/{owner}/{repo}/check-runs", "/repos/acme/shop/check-runs", Some(json!({"name": "g", "head_sha": head, "status": "completed", "conclusion": "neutral", "output": {"title": "t", "summary": "s"}}))).await;
    check_all(vec![
        (&bot, "PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", format!("/repos/acme/shop/check-runs/{}", cr.body["id"]), Some(json!({"conclusion": "success"}))),
        (&bot, "GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", format!("/repos/acme/shop/commits/{head}/check-runs"), None),
        (&bot, "POST", "/repos/{owner}/{repo}/statuses/{sha}", format!("/repos/acme/shop/statuses/{head}"), Some(json!({"state": "success", "context": "c", "target_url": "http://127.0.0.1/x", "description": "d"}))),
    ])
    .await;
    let c = bot
        .checked(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            &format!("{issue}/comments"),
            Some(json!({"body": "status"})),
        )
        .await;
    check_all(vec![
        (
            &bot,
            "GET",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            format!("{issue}/comments"),
            None,
        ),
        (
            &bot,
            "PATCH",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            format!("/repos/acme/shop/issues/comments/{}", c.body["id"]),
            Some(json!({"body": "status 2"})),
        ),
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            format!("{issue}/labels"),
            Some(json!({"labels": ["l"]})),
        ),
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/dispatches",
            s("/repos/acme/shop/dispatches"),
            Some(json!({"event_type": "e"})),
        ),
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            s("/repos/acme/shop/actions/workflows/w.yml/dispatches"),
            Some(json!({"ref": "main"})),
        ),
        (&bot, "GET", "/rate_limit", s("/rate_limit"), None),
        // Error answers are checked too (their documented status and shape).
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/pulls",
            s("/repos/acme/shop/pulls"),
            Some(json!({"title": "t", "head": "feature", "base": "main"})),
        ),
        (
            &bot,
            "POST",
            "/repos/{owner}/{repo}/git/refs",
            s("/repos/acme/shop/git/refs"),
            Some(json!({"ref": "refs/heads/main", "sha": sha})),
        ),
    ])
    .await;

    let mut covered = contract().covered.lock().unwrap().clone();
    covered.extend(checked_in("tests/sim_fidelity.rs"));
    let doc = &contract().doc;
    let mut missing = vec![];
    for (p, ops) in doc["paths"].as_object().unwrap() {
        for m in ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post", "patch", "put", "delete"].contains(&m.as_str()))
        {
            // The manifest conversion is validated by tests/app_register.rs (it needs
            // `prflow app register` to obtain a code).
            if p == "/app-manifests/{code}/conversions" {
                continue;
            }
            if !covered.contains(&(m.to_uppercase(), p.clone())) {
                missing.push(format!("{} {p}", m.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations never validated: {missing:?}"
    );
}

/// The `rel` → URL pairs of a `Link` header.
fn links(r: &Resp) -> std::collections::BTreeMap<String, String> {
    let Some(h) = r.headers.get("link") else {
        return Default::default();
    };
    h.to_str()
        .unwrap()
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").unwrap();
            (
                rel.trim_matches('"').to_string(),
                url.trim_matches(|c| c == '<' || c == '>').to_string(),
            )
        })
        .collect()
}

/// The (method, template) of every `.checked(…)` call in another test file
/// (operations validated there run in that test binary).
fn checked_in(file: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let lit = |s: &str| -> Option<(String, usize)> {
        let start = s.find('"')? + 1;
        let len = s[start..].find('"')?;
        Some((s[start..start + len].to_string(), start + len + 1))
    };
    text.split(".checked(")
        .skip(1)
        .filter_map(|call| {
            let (method, end) = lit(call)?;
            let (template, _) = lit(&call[end..])?;
            Some((method, template))
        })
        .collect()
}

/// Every list answers GitHub's pages: 30 by default, at most 100, `page`, and
/// `Link` with next/last (then prev/first) that lead through all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paginated_with_link_headers() {
    let PrWorld {
        env,
        alice,
        bob,
        bot,
        n,
        head,
    } = pr_world(None).await;
    let sim = &env.sim;
    const N: usize = 105;
    let inline: Vec<Value> = (0..N)
        .map(|i| json!({"path": "src/feature.rs", "line": 1, "body": format!("c{i}")}))
        .collect();
    bob.expect(
        200,
        "POST",
        &format!("/repos/acme/shop/pulls/{n}/reviews"),
        Some(json!({"event": "COMMENT", "body": "b", "comments": inline})),
    )
    .await;
    for i in 1..N {
        bob.call(
            "POST",
            &format!("/repos/acme/shop/pulls/{n}/reviews"),
            Some(json!({"event": "COMMENT", "body": format!("r{i}")})),
        )
        .await;
    }
    for i in 0..N {
        alice
            .call(
                "POST",
                &format!("/repos/acme/shop/issues/{n}/comments"),
                Some(json!({"body": format!("c{i}")})),
            )
            .await;
        bot.call(
            "POST",
            "/repos/acme/shop/check-runs",
            Some(json!({"name": format!("g{i}"), "head_sha": head})),
        )
        .await;
        bot.call(
            "POST",
            &format!("/repos/acme/shop/statuses/{head}"),
            Some(json!({"state": "success", "context": format!("s{i}")})),
        )
        .await;
    }
    // (path, the array's key when the list is wrapped in an object)
    let lists: [(String, Option<&str>); 5] = [
        (format!("/repos/acme/shop/issues/{n}/comments"), None),
        (format!("/repos/acme/shop/pulls/{n}/reviews"), None),
        (format!("/repos/acme/shop/pulls/{n}/comments"), None),
        (
            format!("/repos/acme/shop/commits/{head}/check-runs"),
            Some("check_runs"),
        ),
        (format!("/repos/acme/shop/commits/{head}/statuses"), None),
    ];
    let items = |r: &Resp, key: Option<&str>| -> Vec<Value> {
        let v = match key {
            Some(k) => {
                assert_eq!(r.body["total_count"], json!(N), "{}", r.body);
                &r.body[k]
            }
            None => &r.body,
        };
        v.as_array().unwrap_or_else(|| panic!("{}", r.body)).clone()
    };
    for (path, key) in &lists {
        let first = bot.expect(200, "GET", path, None).await;
        assert_eq!(items(&first, *key).len(), 30, "{path}: default page size");
        let l = links(&first);
        assert_eq!(
            l.keys().cloned().collect::<Vec<_>>(),
            ["last", "next"],
            "{path}"
        );
        assert!(
            l["next"].ends_with("page=2") && l["last"].ends_with("page=4"),
            "{l:?}"
        );

        let big = bot.call("GET", &format!("{path}?per_page=500"), None).await;
        assert_eq!(
            items(&big, *key).len(),
            100,
            "{path}: per_page is capped at 100"
        );
        // Following `next` from page 1 of 100 reaches the other 5, with prev/first.
        let mut seen = items(&big, *key);
        let next = links(&big)["next"].clone();
        assert!(next.contains("per_page=500"), "{next}");
        let url = next.strip_prefix(&sim.api_url()).unwrap().to_string();
        let second = bot.call("GET", &url, None).await;
        let l2 = links(&second);
        assert_eq!(
            l2.keys().cloned().collect::<Vec<_>>(),
            ["first", "prev"],
            "{path}"
        );
        seen.extend(items(&second, *key));
        let ids: BTreeSet<String> = seen.iter().map(|x| x["id"].to_string()).collect();
        assert_eq!(ids.len(), N, "{path}: every item once across the pages");

        let past = bot.call("GET", &format!("{path}?page=9"), None).await;
        assert_eq!(
            items(&past, *key).len(),
            0,
            "{path}: a page past the end is empty"
        );
    }
    // One page only: no Link at all.
    let one = bot.call("GET", "/repos/acme/shop/pulls", None).await;
    assert!(one.headers.get("link").is_none());
}

impl Api {
    /// A GET with `If-None-Match`.
    async fn get_if_none_match(&self, path: &str, etag: &str) -> Resp {
        let mut req = self
            .http
            .get(format!("{}{}", self.base, path))
            .header("if-none-match", etag);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: if text.is_empty() {
                Value::Null
            } else {
                Value::String(text.clone())
            },
            text,
            headers,
        }
    }
}

fn header<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header: {:?}", r.headers))
        .to_str()
        .unwrap()
}

/// `x-github-request-id` everywhere, JSON with charset, `Location` on 201,
/// GitHub's 404 JSON for unknown routes and methods, and conditional GETs:
/// `ETag`, 304 for a matching `If-None-Match`, not counted against the rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_conditional_requests_like_github() {
    let env = start().await;
    let sim = &env.sim;
    let alice = person(sim, "alice", "write");
    let pr = open_pr(&alice).await;
    let n = pr["number"].as_u64().unwrap();
    let path = format!("/repos/acme/shop/pulls/{n}");

    let first = alice.expect(200, "GET", &path, None).await;
    assert_eq!(
        header(&first, "content-type"),
        "application/json; charset=utf-8"
    );
    assert!(header(&first, "x-github-request-id").split(':').count() == 5);
    let etag = header(&first, "etag").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let used: u64 = header(&first, "x-ratelimit-used").parse().unwrap();

    // Nothing changed: 304, empty, and the rate limit does not move.
    for _ in 0..3 {
        let again = alice.get_if_none_match(&path, &etag).await;
        assert_eq!(again.status, 304);
        assert_eq!(again.body, Value::Null);
        assert_eq!(header(&again, "etag"), etag);
        assert_eq!(header(&again, "x-ratelimit-used"), used.to_string());
        assert!(again.headers.contains_key("x-github-request-id"));
    }
    let other = alice.get_if_none_match(&path, "W/\"something-else\"").await;
    assert_eq!(other.status, 200);
    assert_eq!(header(&other, "x-ratelimit-used"), (used + 1).to_string());

    // A change makes the old tag stale: 200 with the new body and a new tag.

    alice
        .expect(200, "PATCH", &path, Some(json!({"title": "renamed"})))
        .await;
    let after = alice.get_if_none_match(&path, &etag).await;
    assert_eq!(after.status, 200);
    assert_ne!(header(&after, "etag"), etag);
    assert!(after.body.as_str().unwrap().contains("renamed"));

    // Lists are conditional too.
    let comments = format!("/repos/acme/shop/issues/{n}/comments");
    let c = alice
        .expect(201, "POST", &comments, Some(json!({"body": "hi"})))
        .await;
    assert_eq!(header(&c, "location"), c.body["url"].as_str().unwrap());
    let list = alice.call("GET", &comments, None).await;
    let again = alice
        .get_if_none_match(&comments, header(&list, "etag"))
        .await;
    assert_eq!(again.status, 304);

    // Unknown routes and methods: GitHub's 404 JSON, never an empty 405.
    for (method, p) in [
        ("DELETE", path.as_str()),
        ("GET", "/repos/acme/shop/nothing-here"),
        ("PUT", "/repos/acme/shop"),
    ] {
        let r = alice.expect(404, method, p, None).await;
        assert_eq!(r.body["message"], "Not Found", "{method} {p}");
        assert_eq!(
            header(&r, "content-type"),
            "application/json; charset=utf-8"
        );
        assert!(r.headers.contains_key("x-github-request-id"));
    }
}

/// The outbox the GitHub-flow tests end with names what the bot said that no assertion
/// read, and nothing else (a person's comment is not the bot's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_names_what_the_bot_said_that_no_test_read() {
    let env = start().await;
    let sim = &env.sim;
    let bot = bot(sim).await;
    let alice = person(sim, "alice", "write");
    let pr = open_pr(&bot).await;
    let n = pr["number"].as_u64().unwrap();
    let head = pr["head"]["sha"].as_str().unwrap();
    let comments = format!("/repos/acme/shop/issues/{n}/comments");
    bot.expect(
        201,
        "POST",
        &comments,
        Some(json!({"body": "phase 1 waits for a review"})),
    )
    .await;
    alice
        .expect(201, "POST", &comments, Some(json!({"body": "lgtm"})))
        .await;
    bot.expect(201, "POST", "/repos/acme/shop/check-runs", Some(json!({"name": "prflow/lint", "head_sha": head, "status": "completed", "conclusion": "success", "output": {"title": "clean", "summary": "no findings"}}))).await;

    let outbox = common::outbox::Outbox::new(sim, "acme/shop", alice.token.as_deref().unwrap());
    let unread = outbox.unread(sim);
    assert_eq!(unread.len(), 2, "{unread:#?}");
    assert!(
        unread[0].contains("phase 1 waits for a review"),
        "{unread:#?}"
    );
    assert!(
        unread[1].contains("`prflow/lint`") && unread[1].contains("clean"),
        "{unread:#?}"
    );
    let failed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| outbox.assert_all_read(sim)));
    assert!(failed.is_err(), "two unread messages passed");

    outbox.comment_containing(n, "waits for a review").await;
    assert_eq!(outbox.unread(sim).len(), 1);
    assert_eq!(outbox.check_runs(head).await.len(), 1);
    outbox.assert_all_read(sim);
}
