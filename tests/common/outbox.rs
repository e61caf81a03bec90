//! What the bot said, and whether a test read it (bors's `assert_empty_queues`).
//!
//! A GitHub-flow test reads the bot's comments, reviews, check runs and commit statuses
//! on the simulator through an [`Outbox`], which remembers what it handed out, and ends
//! with [`Outbox::assert_all_read`]: it fails naming everything the bot posted that no
//! assertion looked at, so a new or duplicated message cannot slip through unseen.

use std::collections::BTreeSet;
use std::sync::Mutex;

use prflow::sim::Sim;
use serde_json::Value;

/// The bot's output on one repository of a simulator.
pub struct Outbox {
    api: String,
    repo: String,
    token: String,
    /// Logins whose comments, reviews and statuses count as the bot's.
    bots: Vec<String>,
    http: reqwest::Client,
    read: Mutex<BTreeSet<u64>>,
}

impl Outbox {
    /// The output of the simulator's App bot on `repo`, read with `token`.
    pub fn new(sim: &Sim, repo: &str, token: &str) -> Outbox {
        Outbox::of(sim, repo, token, &[prflow::sim::BOT_LOGIN])
    }

    /// The output of `bots` (logins) on `repo`, read with `token`.
    pub fn of(sim: &Sim, repo: &str, token: &str, bots: &[&str]) -> Outbox {
        Outbox {
            api: sim.api_url(),
            repo: repo.to_string(),
            token: token.to_string(),
            bots: bots.iter().map(|b| b.to_string()).collect(),
            http: reqwest::Client::new(),
            read: Mutex::new(BTreeSet::new()),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/repos/{}{path}", self.api, self.repo))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    fn by_bot(&self, v: &Value) -> bool {
        let login = v["user"]["login"]
            .as_str()
            .or(v["creator"]["login"].as_str());
        login.is_some_and(|l| self.bots.iter().any(|b| b == l))
    }

    fn mark<'a>(&self, items: impl IntoIterator<Item = &'a Value>) {
        let mut read = self.read.lock().unwrap();
        read.extend(items.into_iter().filter_map(|v| v["id"].as_u64()));
    }

    /// The bot's items of the list at `path` (read).
    async fn bots(&self, path: &str) -> Vec<Value> {
        let all = self.get(path).await;
        let mine: Vec<Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| self.by_bot(v))
            .cloned()
            .collect();
        self.mark(&mine);
        mine
    }

    /// The bot's comments on issue or pull `n`, oldest first; all of them count as read.
    pub async fn comments(&self, n: u64) -> Vec<Value> {
        self.bots(&format!("/issues/{n}/comments")).await
    }

    /// The bot's one comment on `n` whose body holds `text` (read); fails when there is
    /// none or more than one.
    pub async fn comment_containing(&self, n: u64, text: &str) -> Value {
        let all = self.get(&format!("/issues/{n}/comments")).await;
        let hits: Vec<&Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| self.by_bot(c) && c["body"].as_str().unwrap_or("").contains(text))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "expected one comment of the bot on #{n} saying {text:?}: {all:#}"
        );
        self.mark(hits.iter().copied());
        hits[0].clone()
    }

    /// The bot's reviews of pull `n` (read).
    pub async fn reviews(&self, n: u64) -> Vec<Value> {
        self.bots(&format!("/pulls/{n}/reviews")).await
    }

    /// Every check run on `sha` (read).
    pub async fn check_runs(&self, sha: &str) -> Vec<Value> {
        let v = self.get(&format!("/commits/{sha}/check-runs")).await;
        let runs = v["check_runs"].as_array().cloned().unwrap_or_default();
        self.mark(&runs);
        runs
    }

    /// The bot's commit statuses on `sha` (read).
    pub async fn statuses(&self, sha: &str) -> Vec<Value> {
        self.bots(&format!("/commits/{sha}/statuses")).await
    }

    /// What the bot posted on the repository (comments, reviews, check runs, statuses)
    /// that no read above handed out, one line each.
    pub fn unread(&self, sim: &Sim) -> Vec<String> {
        let snap = sim.snapshot();
        let repo = &snap["repos"][&self.repo];
        let read = self.read.lock().unwrap();
        let bot = |login: &Value| {
            login
                .as_str()
                .is_some_and(|l| self.bots.iter().any(|b| b == l))
        };
        let excerpt = |s: &Value| {
            let s = s.as_str().unwrap_or("");
            let first: String = s
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            first
        };
        let mut out = Vec::new();
        let list = |key: &str| repo[key].as_array().cloned().unwrap_or_default();
        for c in list("comments") {
            if bot(&c["user"]) && !read.contains(&c["id"].as_u64().unwrap_or(0)) {
                out.push(format!(
                    "comment {} on #{}: {}",
                    c["id"],
                    c["issue"],
                    excerpt(&c["body"])
                ));
            }
        }
        for r in list("reviews") {
            if bot(&r["user"]) && !read.contains(&r["id"].as_u64().unwrap_or(0)) {
                out.push(format!(
                    "review {} on #{} ({}): {}",
                    r["id"],
                    r["pull"],
                    r["state"],
                    excerpt(&r["body"])
                ));
            }
        }
        for c in list("check_runs") {
            if !read.contains(&c["id"].as_u64().unwrap_or(0)) {
                out.push(format!(
                    "check run {} `{}` on {} ({}): {}",
                    c["id"],
                    c["name"].as_str().unwrap_or(""),
                    c["head_sha"].as_str().unwrap_or(""),
                    c["conclusion"],
                    excerpt(&c["title"])
                ));
            }
        }
        for s in list("statuses") {
            if bot(&s["creator"]) && !read.contains(&s["id"].as_u64().unwrap_or(0)) {
                out.push(format!(
                    "status {} `{}` on {}: {}",
                    s["id"],
                    s["context"].as_str().unwrap_or(""),
                    s["sha"].as_str().unwrap_or(""),
                    excerpt(&s["description"])
                ));
            }
        }
        out
    }

    /// Fails naming everything the bot posted that the test did not read.
    pub fn assert_all_read(&self, sim: &Sim) {
        let unread = self.unread(sim);
        assert!(
            unread.is_empty(),
            "the bot said {} thing(s) no assertion read:\n  {}",
            unread.len(),
            unread.join("\n  ")
        );
    }
}
