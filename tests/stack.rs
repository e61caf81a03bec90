//! The stack of phase PRs against the simulator, as a team uses it: every phase is a
//! PR (phases without a checkpoint too); a person merging a lower PR (merge commit,
//! squash, rebase) gets the PRs above retargeted and restacked by a prflow merge
//! commit (never a force push); a PR closed without merging pauses the run until
//! `/prflow retry`; a conflict while restacking stops with the paths named.

mod common;

use common::outbox::Outbox;
use common::{commit_files, git, git_in, git_repo, json_as, sim_serving};
use prflow::flow::{self, FlowContext, FlowOptions, Trigger};
use prflow::github::events::{CommentCommand, EventRepo, WebhookEvent};
use prflow::sim::Sim;
use serde_json::{json, Value};

/// Three phases: `a` (checkpoint), `b` (checkpoint), then `c` with no checkpoint.
/// Each task writes `<task>.txt`.
fn workflow() -> Value {
    json!({
        "name": "Stack app",
        "agents": [{"id": "dev", "name": "Dev", "type": "developer",
                    "runner": {"command": "echo \"$PRFLOW_TASK_ID\" > \"$PRFLOW_TASK_ID.txt\""}}],
        "tasks": [
            {"id": "a", "name": "A", "agentId": "dev"},
            {"id": "b", "name": "B", "agentId": "dev", "dependencies": ["a"]},
            {"id": "c", "name": "C", "agentId": "dev", "dependencies": ["b"]}
        ],
        "execution": {"checkpoints": ["a", "b"]}
    })
}

struct World {
    sim: Sim,
    _repo: tempfile::TempDir,
    work: tempfile::TempDir,
    bot: String,
    alice: String,
    bob: String,
    http: reqwest::Client,
    /// What the bot (`prflow-bot`, whose token the runs use) posted, and what the
    /// test read of it: every test ends with `assert_all_read`.
    outbox: Outbox,
}

impl World {
    async fn new() -> World {
        let repo = git_repo();
        let wf = workflow().to_string();
        commit_files(repo.path(), &[(".prflow/workflow.json", &wf)], "workflow");
        let sim = sim_serving("acme/app", repo.path()).await;
        let bob = sim.create_user("bob", "write").unwrap();
        World {
            bot: sim.create_user("prflow-bot", "write").unwrap(),
            alice: sim.create_user("alice", "admin").unwrap(),
            outbox: Outbox::of(&sim, "acme/app", &bob, &["prflow-bot"]),
            bob,
            sim,
            _repo: repo,
            work: tempfile::tempdir().unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn ctx(&self) -> FlowContext {
        FlowContext {
            github: prflow::github::GitHub::with_token(&self.sim.api_url(), &self.bot).unwrap(),
            owner: "acme".into(),
            repo: "app".into(),
            git_url: format!("{}/acme/app.git", self.sim.git_url()),
            workdir: self.work.path().to_path_buf(),
            options: FlowOptions {
                trusted: true,
                quiet: true,
                ..Default::default()
            },
        }
    }

    /// Token mode (`prflow run --github`): start or continue the run.
    async fn run(&self) -> Value {
        let trigger = Trigger::Run {
            workflow_path: ".prflow/workflow.json".into(),
            base: None,
            starter: "alice".into(),
        };
        serde_json::to_value(flow::handle(&self.ctx(), trigger).await.unwrap()).unwrap()
    }

    /// A `/prflow` comment by alice on `issue`, handed to the core.
    async fn comment(&self, issue: u64, body: &str) -> Value {
        let c = self
            .post(
                &self.alice,
                &format!("/repos/acme/app/issues/{issue}/comments"),
                json!({ "body": body }),
            )
            .await;
        let event = CommentCommand {
            repo: EventRepo {
                owner: "acme".into(),
                name: "app".into(),
                default_branch: "main".into(),
                private: false,
                fork: false,
            },
            installation_id: None,
            issue_number: issue,
            is_pull_request: true,
            comment_id: c["id"].as_u64().unwrap(),
            author: "alice".into(),
            author_association: "MEMBER".into(),
            commands: prflow::github::parse_commands(body),
        };
        let trigger = Trigger::Webhook(Box::new(WebhookEvent::CommentCommand(event)));
        serde_json::to_value(flow::handle(&self.ctx(), trigger).await.unwrap()).unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        json_as(
            self.http.get(format!("{}{path}", self.sim.api_url())),
            &self.bob,
        )
        .await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.sim.api_url());
        json_as(self.http.post(url).json(&body), token).await
    }

    async fn send(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> u16 {
        let url = format!("{}{path}", self.sim.api_url());
        self.http
            .request(method, url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn pull(&self, n: u64) -> Value {
        self.get(&format!("/repos/acme/app/pulls/{n}")).await
    }

    async fn approve(&self, n: u64) {
        let head = self.pull(n).await["head"]["sha"].clone();
        let path = format!("/repos/acme/app/pulls/{n}/reviews");
        let r = self
            .post(
                &self.bob,
                &path,
                json!({"event": "APPROVE", "commit_id": head}),
            )
            .await;
        assert_eq!(r["state"], "APPROVED", "{r}");
    }

    /// A person merges PR `n` in the UI with `method`.
    async fn merge(&self, n: u64, method: &str) {
        let path = format!("/repos/acme/app/pulls/{n}/merge");
        let status = self
            .send(
                reqwest::Method::PUT,
                &self.alice,
                &path,
                json!({ "merge_method": method }),
            )
            .await;
        assert_eq!(status, 200, "merging #{n} with {method}");
    }

    /// The file names PR `n` shows.
    async fn files(&self, n: u64) -> Vec<String> {
        let f = self.get(&format!("/repos/acme/app/pulls/{n}/files")).await;
        let mut names: Vec<String> = f
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["filename"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    /// A clone of the simulator's repository, as a person has it.
    fn clone(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "{}/acme/app.git",
            self.sim
                .git_url()
                .replacen("://", &format!("://x-access-token:{}@", self.alice), 1)
        );
        git(dir.path(), &["clone", "-q", &url, "."]);
        git(dir.path(), &["config", "user.email", "alice@example.com"]);
        git(dir.path(), &["config", "user.name", "Alice"]);
        dir
    }

    /// What the bot's `prflow/stack` statuses on PR `n`'s current head say, as
    /// `state: description` (read).
    async fn stack_said(&self, n: u64) -> Vec<String> {
        let pull = self.pull(n).await;
        let head = pull["head"]["sha"].as_str().unwrap();
        let statuses = self.outbox.statuses(head).await;
        statuses
            .iter()
            .map(|s| {
                assert_eq!(s["context"], "prflow/stack", "#{n}: {statuses:#?}");
                format!(
                    "{}: {}",
                    s["state"].as_str().unwrap_or(""),
                    s["description"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    fn writes(&self, report: &Value) -> u64 {
        report["api_calls"]
            .as_array()
            .map(|a| a.iter().map(|c| c[2].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }
}

/// The `prflow/stack` status of a phase's head while phase `below` is not merged: it
/// cannot land before the PR it stands on.
fn stacked_on(below: u32) -> String {
    format!("pending: stacked on phase {below}: land the stack with /prflow land")
}

/// The `prflow/stack` status of a phase's head once every phase below it is merged.
const BELOW_MERGED: &str = "success: the phases below are merged";

/// Runs and approves until phases 1 and 2 are PRs #1 and #2 and phase 2 waits, its
/// head marked as stacked on phase 1.
async fn two_prs(w: &World) {
    let r = w.run().await;
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(r["pull_request_number"], 1, "{r}");
    w.approve(1).await;
    let r = w.run().await;
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(r["pull_request_number"], 2, "{r}");
    assert_eq!(w.stack_said(2).await, [stacked_on(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_phase_is_a_pr_and_a_phase_without_checkpoint_passes_at_once() {
    let w = World::new().await;
    two_prs(&w).await;
    w.approve(2).await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{r}");
    // Phase 3 has no checkpoint: it became PR #3, stacked on phase 2, and the run
    // did not wait for it.
    let pr3 = w.pull(3).await;
    assert_eq!(pr3["state"], "open", "{pr3}");
    let head3 = pr3["head"]["ref"].as_str().unwrap();
    assert!(head3.contains("/03-"), "{head3}");
    let base3 = pr3["base"]["ref"].as_str().unwrap();
    assert!(base3.ends_with("/02-b"), "{base3}");
    assert_eq!(w.files(3).await, ["c.txt"]);
    assert!(pr3["body"].as_str().unwrap().contains("phase 3 of 3"));
    assert_eq!(w.stack_said(3).await, [stacked_on(2)]);
    // Running again changes nothing.
    let again = w.run().await;
    assert_eq!(again["state"], "finished", "{again}");
    assert_eq!(w.writes(&again), 0, "{again}");
    w.outbox.assert_all_read(&w.sim);
}

/// Phase 1 merged by a person with `method`: PR #2 is retargeted to `main`, its branch
/// gets `main` merged in by a prflow merge commit on top of its old head (a
/// fast-forward, no force push), it shows only its own file again and says why.
async fn lower_pr_merged_with(method: &str, then: &str) {
    let w = World::new().await;
    two_prs(&w).await;
    let old_head = w.pull(2).await["head"]["sha"].as_str().unwrap().to_string();
    w.merge(1, method).await;
    let r = w.run().await;
    assert_eq!(r["state"], "waiting-for-review", "{method}: {r}");
    let pr2 = w.pull(2).await;
    assert_eq!(pr2["base"]["ref"], "main", "{method}: {pr2}");
    assert_eq!(w.files(2).await, ["b.txt"], "{method}");
    let bare = w.sim.bare_repo_path("acme/app");
    let new_head = pr2["head"]["sha"].as_str().unwrap();
    assert_ne!(new_head, old_head, "{method}");
    let parents = git(&bare, &["log", "-1", "--format=%P %an", new_head]);
    assert!(
        parents.starts_with(&old_head) && parents.ends_with("prflow"),
        "{method}: a prflow merge commit on the old head: {parents}"
    );
    let body = pr2["body"].as_str().unwrap();
    assert!(
        body.contains("**Stack:** phase 1 merged; this PR now targets `main`"),
        "{method}: {body}"
    );
    assert_eq!(w.stack_said(2).await, [BELOW_MERGED], "{method}");
    // Up the stack: approve #2, phase 3 opens on phase 2; merging #2 restacks #3.
    w.approve(2).await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{method}: {r}");
    assert_eq!(w.stack_said(3).await, [stacked_on(2)], "{method}");
    w.merge(2, then).await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{method}: {r}");
    assert_eq!(w.pull(3).await["base"]["ref"], "main", "{method}");
    assert_eq!(w.files(3).await, ["c.txt"], "{method}");
    assert_eq!(w.stack_said(3).await, [BELOW_MERGED], "{method}");
    // Nothing new: nothing written.
    let again = w.run().await;
    assert_eq!(w.writes(&again), 0, "{method}: {again}");
    w.outbox.assert_all_read(&w.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_pr_squash_merged_by_a_person_restacks_the_prs_above() {
    lower_pr_merged_with("squash", "squash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_pr_merged_with_a_merge_commit_restacks_the_prs_above() {
    lower_pr_merged_with("merge", "merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_pr_rebase_merged_restacks_the_prs_above() {
    // #2 now holds prflow's merge commit, which a rebase merge cannot replay.
    lower_pr_merged_with("rebase", "merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_closed_without_merging_pauses_the_run_until_retry() {
    let w = World::new().await;
    two_prs(&w).await;
    let status = w
        .send(
            reqwest::Method::PATCH,
            &w.alice,
            "/repos/acme/app/pulls/2",
            json!({"state": "closed"}),
        )
        .await;
    assert_eq!(status, 200);
    let r = w.run().await;
    assert_eq!(r["state"], "paused", "{r}");
    assert_eq!(r["pull_request_number"], 2, "{r}");
    // prflow never reopens it by itself, and opens no second PR.
    let again = w.run().await;
    assert_eq!(again["state"], "paused", "{again}");
    assert_eq!(w.pull(2).await["state"], "closed");
    let all = w.get("/repos/acme/app/pulls?state=all").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    // `/prflow retry` reopens it and the run goes on.
    let r = w.comment(2, "/prflow retry").await;
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(w.pull(2).await["state"], "open");
    w.outbox.assert_all_read(&w.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_commits_on_a_lower_phase_are_merged_forward() {
    let w = World::new().await;
    two_prs(&w).await;
    let me = w.clone();
    let branches = git(me.path(), &["branch", "-r"]);
    let phase1 = branches
        .lines()
        .map(str::trim)
        .find(|b| b.ends_with("/01-a"))
        .unwrap()
        .trim_start_matches("origin/")
        .to_string();
    git(me.path(), &["checkout", "-q", &phase1]);
    std::fs::write(me.path().join("fix.txt"), "a person's fix\n").unwrap();
    git(me.path(), &["add", "."]);
    git(me.path(), &["commit", "-qm", "fix"]);
    git(me.path(), &["push", "-q", "origin", &phase1]);
    let fix = git(me.path(), &["rev-parse", "HEAD"]);
    let r = w.run().await;
    // Phase 1's approval was on the old head: it waits again (today's rule).
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(r["phase"], 1, "{r}");
    let head2 = w.pull(2).await["head"]["sha"].as_str().unwrap().to_string();
    let bare = w.sim.bare_repo_path("acme/app");
    git(&bare, &["merge-base", "--is-ancestor", &fix, &head2]);
    assert_eq!(w.files(2).await, ["b.txt"]);
    // Its new head still waits for phase 1.
    assert_eq!(w.stack_said(2).await, [stacked_on(1)]);
    w.outbox.assert_all_read(&w.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_while_restacking_stops_the_phase_until_a_person_resolves_it() {
    let w = World::new().await;
    two_prs(&w).await;
    // Someone else puts a different b.txt on main.
    let me = w.clone();
    std::fs::write(me.path().join("b.txt"), "main's b\n").unwrap();
    git(me.path(), &["add", "."]);
    git(me.path(), &["commit", "-qm", "b on main"]);
    git(me.path(), &["push", "-q", "origin", "main"]);
    w.merge(1, "squash").await;
    let r = w.run().await;
    assert_eq!(r["state"], "conflict", "{r}");
    let said = w.outbox.comment_containing(2, "conflicts in `b.txt`").await;
    let conflict_comment = said["id"].clone();
    let text = said["body"].as_str().unwrap();
    assert!(
        text.starts_with("⚠️ Phase 2 stopped: merging `main`"),
        "{text}"
    );
    assert!(text.contains("then comment `/prflow retry`"), "{text}");
    // A person resolves it on the branch; `/prflow retry` goes on.
    let phase2 = w.pull(2).await["head"]["ref"].as_str().unwrap().to_string();
    git(me.path(), &["fetch", "-q", "origin"]);
    git(me.path(), &["checkout", "-q", &phase2]);
    let (merged, said) = git_in(me.path(), &["merge", "-q", "origin/main"]);
    assert!(!merged, "the person sees the conflict too: {said}");
    std::fs::write(me.path().join("b.txt"), "b\n").unwrap();
    git(me.path(), &["add", "."]);
    git(
        me.path(),
        &["commit", "-qm", "merge main, keep phase 2's b"],
    );
    git(me.path(), &["push", "-q", "origin", &phase2]);
    let r = w.comment(2, "/prflow retry").await;
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(w.pull(2).await["base"]["ref"], "main");
    assert_eq!(w.stack_said(2).await, [BELOW_MERGED]);
    // The conflict comment no longer tells anyone to resolve what was resolved.
    let resolved = w
        .outbox
        .comment_containing(2, "merge conflict was resolved")
        .await;
    assert_eq!(
        resolved["id"], conflict_comment,
        "the same comment, rewritten"
    );
    let text = resolved["body"].as_str().unwrap();
    assert!(text.starts_with("✅ Phase 2's merge conflict"), "{text}");
    assert!(!text.contains("stopped"), "{text}");
    w.outbox.assert_all_read(&w.sim);
}

/// The simulator does what GitHub does: "automatically delete head branches"
/// retargets the PRs based on the merged branch; deleting a branch through the refs
/// API closes the PRs based on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_retargets_on_auto_delete_and_closes_on_api_delete() {
    let w = World::new().await;
    two_prs(&w).await;
    let phase1 = w.pull(1).await["head"]["ref"].as_str().unwrap().to_string();
    let status = w
        .send(
            reqwest::Method::PATCH,
            &w.alice,
            "/repos/acme/app",
            json!({"delete_branch_on_merge": true}),
        )
        .await;
    assert_eq!(status, 200);
    w.merge(1, "squash").await;
    let pr2 = w.pull(2).await;
    assert_eq!(pr2["state"], "open", "{pr2}");
    assert_eq!(pr2["base"]["ref"], "main", "{pr2}");
    let gone = w
        .send(
            reqwest::Method::GET,
            &w.bob,
            &format!("/repos/acme/app/branches/{phase1}"),
            json!({}),
        )
        .await;
    assert_eq!(gone, 404);
    // prflow restacks on top: #2 shows only its own file.
    let r = w.run().await;
    assert_eq!(r["state"], "waiting-for-review", "{r}");
    assert_eq!(w.files(2).await, ["b.txt"]);
    assert_eq!(w.stack_said(2).await, [BELOW_MERGED]);
    // Deleting #2's branch's base through the API closes the PR based on it.
    w.approve(2).await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{r}");
    assert_eq!(w.stack_said(3).await, [stacked_on(2)]);
    let phase2 = w.pull(2).await["head"]["ref"].as_str().unwrap().to_string();
    let status = w
        .send(
            reqwest::Method::DELETE,
            &w.alice,
            &format!("/repos/acme/app/git/refs/heads/{phase2}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(w.pull(3).await["state"], "closed");
    w.outbox.assert_all_read(&w.sim);
}

/// The order teams land a finished stack in: every phase approved, then PR 1 merged
/// (which restacks #2 and so asks for its review again on the new head), then #2 merged
/// by a person without that second review, then #3: each PR above is retargeted to
/// `main` and shows only its own phase at every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_stack_is_landed_one_pr_at_a_time() {
    let w = World::new().await;
    two_prs(&w).await;
    w.approve(2).await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{r}");
    assert_eq!(w.stack_said(3).await, [stacked_on(2)]);
    w.merge(1, "squash").await;
    let r = w.run().await;
    assert_eq!(r["state"], "waiting-for-review", "#2 has a new head: {r}");
    assert_eq!(w.pull(2).await["base"]["ref"], "main");
    assert_eq!(w.files(2).await, ["b.txt"]);
    assert_eq!(w.stack_said(2).await, [BELOW_MERGED]);
    // #3 got #2's new head merged in: a new head, still waiting for phase 2.
    assert_eq!(w.stack_said(3).await, [stacked_on(2)]);
    w.merge(2, "squash").await;
    let r = w.run().await;
    assert_eq!(
        r["state"], "finished",
        "a merged phase needs no review: {r}"
    );
    let pr3 = w.pull(3).await;
    assert_eq!(pr3["base"]["ref"], "main", "{pr3}");
    assert_eq!(w.files(3).await, ["c.txt"]);
    assert_eq!(w.stack_said(3).await, [BELOW_MERGED]);
    w.merge(3, "squash").await;
    let r = w.run().await;
    assert_eq!(r["state"], "finished", "{r}");
    let bare = w.sim.bare_repo_path("acme/app");
    let on_main = git(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    let names: Vec<&str> = on_main.lines().collect();
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(names.contains(&f), "{f} on main: {names:?}");
    }
    w.outbox.assert_all_read(&w.sim);
}
