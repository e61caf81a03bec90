//! The GitHub simulator behind `prflow sim`: a stateful, loopback-only GitHub
//! (REST, git smart HTTP, signed webhooks, an App with JWT and installation
//! tokens, fault injection) so that prflow and its tests run against real HTTP
//! and real git without a GitHub account. See docs/sim.md.
//!
//! In-process use (tests, `prflow demo`):
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! let sim = prflow::sim::Sim::start(prflow::sim::SimConfig::default()).await?;
//! let token = sim.create_user("alice", "write")?;
//! println!("{} {}", sim.api_url(), token);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod conditional;
pub mod diffmap;
pub mod git;
pub mod githttp;
pub mod http;
pub mod media;
pub mod paging;
pub mod pullrefs;
pub mod routes;
pub mod shapes;
pub mod state;
pub mod web;
pub mod webhooks;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use state::{now, Repo, State};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Keep repos, state and the App key here (survives restarts); `None`: a temp dir.
    pub data_dir: Option<PathBuf>,
    /// Local git repositories to import (all branches), as `owner/name` → path.
    pub repos: Vec<(String, PathBuf)>,
    /// Where webhooks go; `None`: recorded in the delivery log only.
    pub webhook_url: Option<String>,
    /// The webhook secret; `None`: a random one (or the one saved in `data_dir`).
    pub webhook_secret: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            repos: vec![],
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

/// The App's bot account, the sender of everything done with installation tokens.
pub const BOT_LOGIN: &str = "prflow-sim[bot]";

/// Shared by every request handler.
pub struct Inner {
    pub st: Mutex<State>,
    pub key: auth::AppKey,
    pub key_path: PathBuf,
    pub git_root: PathBuf,
    pub data_dir: Option<PathBuf>,
    /// `http://127.0.0.1:PORT`, the API and git base URL.
    pub base: String,
    pub hooks: tokio::sync::mpsc::UnboundedSender<u64>,
}

impl Inner {
    /// The bare repository of `owner/name`.
    pub fn bare(&self, full_name: &str) -> PathBuf {
        git::bare_path(&self.git_root, full_name)
    }

    /// Writes the state file when a data dir is configured; errors go to stderr
    /// (a failed save must not fail the request that caused it).
    pub fn persist(&self) {
        // One save at a time, each of the state as it is when its turn comes: two
        // requests saving at once raced on the temporary file (one rename found it
        // gone), and an older snapshot could land after a newer one.
        static SAVING: Mutex<()> = Mutex::new(());
        if let Some(dir) = &self.data_dir {
            let _turn = SAVING.lock().unwrap_or_else(|e| e.into_inner());
            let st = self.st.lock().unwrap().clone();
            if let Err(e) = st.persist(dir) {
                eprintln!("prflow sim: could not save state: {e:#}");
            }
        }
    }

    /// Imports a local repository as `full_name` (all branches and tags).
    pub fn import_repo(&self, full_name: &str, path: &Path) -> Result<()> {
        let Some((owner, name)) = full_name.split_once('/') else {
            bail!("repository name {full_name:?} must be OWNER/NAME (e.g. acme/shop)");
        };
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            bail!("repository name {full_name:?} must be OWNER/NAME (e.g. acme/shop)");
        }
        git::import(path, &self.bare(full_name))
            .with_context(|| format!("importing {} as {full_name}", path.display()))?;
        let mut st = self.st.lock().unwrap();
        st.ensure_account(owner, "Organization", "admin");
        if !st.repos.contains_key(full_name) {
            let id = st.id();
            let t = now();
            st.repos.insert(
                full_name.to_string(),
                Repo {
                    id,
                    owner: owner.into(),
                    name: name.into(),
                    created_at: t.clone(),
                    pushed_at: t,
                    next_number: 1,
                    ..Default::default()
                },
            );
        }
        drop(st);
        self.persist();
        Ok(())
    }

    /// [`Inner::after_ref_changes`] on a blocking thread (it runs git and queues
    /// webhooks) for the REST handlers, which answer once it is done.
    pub async fn refs_moved(
        self: &Arc<Self>,
        full: &str,
        sender: &str,
        changes: Vec<(String, Option<String>, Option<String>)>,
    ) {
        let (inner, full, sender) = (self.clone(), full.to_string(), sender.to_string());
        let _ =
            tokio::task::spawn_blocking(move || inner.after_ref_changes(&full, &sender, &changes))
                .await;
    }

    /// Applies ref moves (from a push or the refs API) to the REST view: moves
    /// open PR heads (`synchronize`), then sends `push` for every ref.
    pub fn after_ref_changes(
        &self,
        full: &str,
        sender: &str,
        changes: &[(String, Option<String>, Option<String>)],
    ) {
        let zero = "0000000000000000000000000000000000000000".to_string();
        for (name, old, new) in changes {
            let mut sync = vec![];
            let mut closed = vec![];
            {
                let mut st = self.st.lock().unwrap();
                let Some(r) = st.repos.get_mut(full) else {
                    return;
                };
                r.pushed_at = now();
                // Deleting a PR's head or base branch closes it, as on GitHub.
                if let (Some(branch), None) = (name.strip_prefix("refs/heads/"), new) {
                    for i in r.issues.values_mut().filter(|i| i.state == "open") {
                        if i.pull
                            .as_ref()
                            .is_some_and(|p| p.head_ref == branch || p.base_ref == branch)
                        {
                            i.state = "closed".into();
                            i.closed_at = Some(now());
                            i.updated_at = now();
                            closed.push(i.number);
                        }
                    }
                }
                if let (Some(branch), Some(new)) = (name.strip_prefix("refs/heads/"), new) {
                    for i in r.issues.values_mut().filter(|i| i.state == "open") {
                        if let Some(p) = i.pull.as_mut().filter(|p| p.head_ref == branch) {
                            if p.head_sha != *new {
                                sync.push((i.number, p.head_sha.clone(), new.clone()));
                                p.head_sha = new.clone();
                                i.updated_at = now();
                            }
                        }
                    }
                }
            }
            let payload = self.push_payload(
                full,
                sender,
                name,
                old.as_ref().unwrap_or(&zero),
                new.as_ref().unwrap_or(&zero),
            );
            self.emit("push", Some(full), sender, payload);
            self.emit_create_delete(full, sender, name, old.is_none(), new.is_none());
            if let (true, Some(sha)) = (name.starts_with("refs/heads/"), new) {
                routes::checks::suite_requested(self, full, sha, sender);
            }
            for n in closed {
                if let Some(p) = self.pull_payload(full, n, "closed") {
                    self.emit("pull_request", Some(full), sender, p);
                }
            }
            for (n, before, after) in sync {
                if let Some(mut p) = self.pull_payload(full, n, "synchronize") {
                    p.insert("before".into(), json!(before));
                    p.insert("after".into(), json!(after));
                    self.emit("pull_request", Some(full), sender, p);
                }
            }
        }
        pullrefs::sync(self, full);
        self.persist();
    }

    /// `create` / `delete` for a branch or tag that appeared or went away
    /// (GitHub sends them beside `push`).
    fn emit_create_delete(
        &self,
        full: &str,
        sender: &str,
        name: &str,
        created: bool,
        deleted: bool,
    ) {
        let (short, kind) = match (
            name.strip_prefix("refs/heads/"),
            name.strip_prefix("refs/tags/"),
        ) {
            (Some(b), _) => (b, "branch"),
            (_, Some(t)) => (t, "tag"),
            _ => return,
        };
        let event = match (created, deleted) {
            (true, false) => "create",
            (false, true) => "delete",
            _ => return,
        };
        let mut m = Map::new();
        m.insert("ref".into(), json!(short));
        m.insert("ref_type".into(), json!(kind));
        if event == "create" {
            m.insert(
                "master_branch".into(),
                json!(git::default_branch(&self.bare(full))),
            );
            m.insert("description".into(), Value::Null);
        }
        m.insert("pusher_type".into(), json!("user"));
        self.emit(event, Some(full), sender, m);
    }

    fn push_payload(
        &self,
        full: &str,
        sender: &str,
        name: &str,
        old: &str,
        new: &str,
    ) -> Map<String, Value> {
        let zero = "0000000000000000000000000000000000000000";
        let mut commits = vec![];
        if let Ok(repo) = git::open(&self.bare(full)) {
            if let Ok(to) = git2::Oid::from_str(new) {
                let from = git2::Oid::from_str(old).ok().filter(|_| old != zero);
                for oid in git::commits_between(&repo, from, to, 20) {
                    if let Ok(c) = repo.find_commit(oid) {
                        commits.push(self.push_commit(full, &c));
                    }
                }
            }
        }
        let repo_v = routes::repos::repo_json(self, full, None).ok();
        let st = self.st.lock().unwrap();
        let acct = st.account(sender);
        let email = format!("{}@users.noreply.sim", acct.login);
        let head_commit = commits.last().cloned().unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("ref".into(), json!(name));
        m.insert("before".into(), json!(old));
        m.insert("after".into(), json!(new));
        m.insert("created".into(), json!(old == zero));
        m.insert("deleted".into(), json!(new == zero));
        m.insert("forced".into(), json!(false));
        m.insert("base_ref".into(), Value::Null);
        m.insert(
            "compare".into(),
            json!(format!(
                "{}/{full}/compare/{}...{}",
                self.base,
                &old[..12],
                &new[..12]
            )),
        );
        m.insert("commits".into(), Value::Array(commits));
        m.insert("head_commit".into(), head_commit);
        m.insert("pusher".into(), json!({"name": acct.login, "email": email}));
        // Push payloads carry an older repository shape: timestamps as Unix
        // seconds, plus `stargazers`, `master_branch` and `organization` (a login).
        if let Some(mut repo) = repo_v {
            let r = st.repos.get(full);
            let secs = |t: Option<&String>| {
                t.and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(|t| t.unix_timestamp())
                .unwrap_or(0)
            };
            repo["created_at"] = json!(secs(r.map(|r| &r.created_at)));
            repo["pushed_at"] = json!(secs(r.map(|r| &r.pushed_at)));
            repo["stargazers"] = json!(0);
            repo["master_branch"] = repo["default_branch"].clone();
            if let Some(o) = r
                .map(|r| st.account(&r.owner))
                .filter(|o| o.kind == "Organization")
            {
                repo["organization"] = json!(o.login);
            }
            m.insert("repository".into(), repo);
        }
        m
    }

    fn push_commit(&self, full: &str, c: &git2::Commit) -> Value {
        let sig = |s: git2::Signature| json!({"name": s.name().unwrap_or(""), "email": s.email().unwrap_or(""), "username": s.name().unwrap_or("")});
        let ts = time::OffsetDateTime::from_unix_timestamp(c.time().seconds())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        json!({
            "id": c.id().to_string(), "tree_id": c.tree_id().to_string(), "distinct": true,
            "message": c.message().unwrap_or(""), "timestamp": ts.format(&f).unwrap_or_default(),
            "url": format!("{}/{full}/commit/{}", self.base, c.id()),
            "author": sig(c.author()), "committer": sig(c.committer()),
            "added": [], "removed": [], "modified": [],
        })
    }

    /// A `pull_request` webhook body (without repository/sender/installation) for PR `n`.
    pub fn pull_payload(&self, full: &str, n: u64, action: &str) -> Option<Map<String, Value>> {
        let pr = routes::pulls::pull_json(self, full, n).ok()?;
        let mut m = Map::new();
        m.insert("action".into(), json!(action));
        m.insert("number".into(), json!(n));
        m.insert("pull_request".into(), pr);
        Some(m)
    }

    /// The login that acts for an actor (installations act as the App's bot).
    pub fn login_of(&self, a: &auth::Actor) -> String {
        match a {
            auth::Actor::Person(l) => l.clone(),
            _ => BOT_LOGIN.to_string(),
        }
    }
}

/// A running simulator. Dropping it without `shutdown` leaves the server task running until the runtime ends.
pub struct Sim {
    inner: Arc<Inner>,
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Sim {
    /// Binds, loads or creates the state, imports `cfg.repos`, and serves in the background.
    pub async fn start(cfg: SimConfig) -> Result<Sim> {
        let (tmp, dir) = match &cfg.data_dir {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("creating the simulator data dir {}", d.display()))?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new().prefix("prflow-sim-").tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let key_path = dir.join("app-private-key.pem");
        let kp = key_path.clone();
        let key =
            tokio::task::spawn_blocking(move || auth::AppKey::load_or_generate(&kp)).await??;
        let git_root = dir.join("repos");
        std::fs::create_dir_all(&git_root)?;
        let mut st = match &cfg.data_dir {
            Some(d) => State::load(d)?.unwrap_or_default(),
            None => State::default(),
        };
        let fresh = st.app_id == 0;
        if fresh {
            st.app_id = 1001;
            st.installation_id = 1002;
            st.next_id = 1100;
            st.webhook_secret = auth::new_token("whsec");
        }
        if let Some(s) = &cfg.webhook_secret {
            st.webhook_secret = s.clone();
        }
        if cfg.webhook_url.is_some() {
            st.webhook_url = cfg.webhook_url.clone();
        }
        st.ensure_account(BOT_LOGIN, "Bot", "write");
        let listener = tokio::net::TcpListener::bind(cfg.addr)
            .await
            .with_context(|| format!("binding the simulator to {}", cfg.addr))?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            st: Mutex::new(st),
            key,
            key_path,
            git_root,
            data_dir: cfg.data_dir.clone(),
            base,
            hooks: tx,
        });
        let mut tasks = vec![webhooks::spawn(Arc::downgrade(&inner), rx)];
        for (name, path) in &cfg.repos {
            // With --data, a repository imported by an earlier run keeps the
            // simulator's copy (pushes made to it), like a real remote would.
            let known = inner.st.lock().unwrap().repos.contains_key(name);
            if known && inner.bare(name).join("HEAD").exists() {
                continue;
            }
            inner.import_repo(name, path)?;
        }
        // Re-install the protection hook in repositories from an earlier run.
        let names: Vec<String> = inner.st.lock().unwrap().repos.keys().cloned().collect();
        for n in &names {
            git::init_bare(&inner.bare(n))?;
        }
        inner.persist();
        if fresh && cfg.webhook_url.is_some() {
            routes::admin::send_hello(&inner);
        }
        let app = routes::router(inner.clone());
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Ok(Sim {
            inner,
            addr,
            tasks,
            _tmp: tmp,
        })
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Clone URLs are `{git_url}/{owner}/{name}.git`.
    pub fn git_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn app_id(&self) -> u64 {
        self.inner.st.lock().unwrap().app_id
    }
    pub fn installation_id(&self) -> u64 {
        self.inner.st.lock().unwrap().installation_id
    }
    /// The App's private key (PKCS#1 PEM), to sign JWTs with.
    pub fn private_key_pem(&self) -> String {
        self.inner.key.pem.clone()
    }
    pub fn private_key_path(&self) -> PathBuf {
        self.inner.key_path.clone()
    }
    pub fn webhook_secret(&self) -> String {
        self.inner.st.lock().unwrap().webhook_secret.clone()
    }
    /// Imports the repository at `path` (all branches and tags) as `full_name`.
    pub fn import_repo(&self, full_name: &str, path: &Path) -> Result<()> {
        self.inner.import_repo(full_name, path)
    }
    /// Creates (or updates) a person with `admin`, `write` or `read` permission on
    /// every repository and returns a new personal access token for them.
    pub fn create_user(&self, login: &str, permission: &str) -> Result<String> {
        routes::admin::create_user(&self.inner, login, permission)
            .map_err(|e| anyhow::anyhow!("{}", e.body["message"]))
    }
    /// The bare repository behind `owner/name`.
    pub fn bare_repo_path(&self, full_name: &str) -> PathBuf {
        self.inner.bare(full_name)
    }
    /// Changes where webhooks go (`None`: log only).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.inner.st.lock().unwrap().webhook_url = url;
        self.inner.persist();
    }
    /// The whole state as JSON (people, tokens, repos with issues, pulls, reviews,
    /// check runs, statuses, comments; deliveries), for tests to read.
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&*self.inner.st.lock().unwrap()).unwrap_or(Value::Null)
    }
    /// The webhook delivery log, oldest first (as `GET /_sim/deliveries` shows it).
    pub fn deliveries(&self) -> Vec<state::Delivery> {
        self.inner.st.lock().unwrap().deliveries.clone()
    }
    /// Waits until no delivery is pending (at most `timeout`); true when idle.
    pub async fn wait_deliveries(&self, timeout: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        loop {
            if self.deliveries().iter().all(|d| d.status != "pending") {
                return true;
            }
            if std::time::Instant::now() > end {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    /// Stops serving and the webhook worker; state is already saved.
    pub async fn shutdown(self) {
        self.inner.persist();
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
