// Drives `prflow sim` with the real octokit from npm: App auth (JWT → installation
// token), pull requests, reviews (a 422 on a bad line), review comments and replies,
// checks, statuses, labels, contents, pagination with octokit.paginate over more than
// 100 items, conditional requests (304, not counted), the diff media type, and
// webhooks verified with @octokit/webhooks. Prints every check and
// "N of M client checks pass"; exits 1 if one fails.
//
//   PRFLOW=path/to/prflow node run.mjs      (default: ../../target/debug/prflow)

import { App } from "@octokit/app";
import { Webhooks } from "@octokit/webhooks";
import { Octokit } from "octokit";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
const prflow = process.env.PRFLOW || resolve(here, "../../target/debug/prflow");
const owner = "acme";
const repo = "shop";
const results = [];

async function check(name, fn) {
  try {
    await fn();
    results.push([name, null]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, e]);
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function eq(a, b, msg) {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  if (x !== y) throw new Error(`${msg}: ${x} != ${y}`);
}

/** The error octokit throws for a non-2xx answer (its status), or a failure if none was thrown. */
async function refused(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("the request succeeded; GitHub refuses it");
}

function git(dir, ...args) {
  return execFileSync("git", args, {
    cwd: dir,
    env: { ...process.env, GIT_AUTHOR_NAME: "Tess", GIT_AUTHOR_EMAIL: "tess@example.com", GIT_COMMITTER_NAME: "Tess", GIT_COMMITTER_EMAIL: "tess@example.com" },
  }).toString().trim();
}

/** main: a 20-line src/lib.rs; feature: line 2 changed. */
function fixture() {
  const dir = mkdtempSync(join(tmpdir(), "prflow-octokit-"));
  git(dir, "init", "-q", "-b", "main");
  mkdirSync(join(dir, "src"));
  const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
  writeFileSync(join(dir, "src/lib.rs"), lines.join("\n") + "\n");
  git(dir, "add", ".");
  git(dir, "commit", "-qm", "initial");
  git(dir, "checkout", "-qb", "feature");
  lines[1] = "LINE 2";
  writeFileSync(join(dir, "src/lib.rs"), lines.join("\n") + "\n");
  git(dir, "commit", "-qam", "Shout line 2");
  git(dir, "checkout", "-q", "main");
  return dir;
}

/** A webhook receiver that verifies every delivery with @octokit/webhooks. */
async function receiver(secret) {
  const webhooks = new Webhooks({ secret });
  const verified = [];
  const rejected = [];
  webhooks.onAny(({ name, payload }) => verified.push({ name, action: payload.action, payload }));
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      try {
        await webhooks.verifyAndReceive({
          id: req.headers["x-github-delivery"],
          name: req.headers["x-github-event"],
          signature: req.headers["x-hub-signature-256"],
          payload: body,
        });
        res.writeHead(200).end("ok");
      } catch (e) {
        rejected.push(String(e));
        res.writeHead(400).end("bad");
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, webhooks, verified, rejected, url: `http://127.0.0.1:${server.address().port}/hook` };
}

async function startSim(src, hookUrl, secret) {
  const child = spawn(prflow, ["sim", "--addr", "127.0.0.1:0", "--repo", `${owner}/${repo}=${src}`, "--webhook-url", hookUrl, "--webhook-secret", secret], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise((res, rej) => {
    child.on("error", rej);
    child.on("exit", (c) => rej(new Error(`prflow sim exited with ${c}`)));
    createInterface({ input: child.stdout }).once("line", res);
  });
  return { child, info: JSON.parse(line) };
}

async function until(pred, what) {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never saw ${what}`);
}

const src = fixture();
const secret = "octokit-s3cret";
const hooks = await receiver(secret);
const { child, info } = await startSim(src, hooks.url, secret);
const baseUrl = info.api_url;
const quiet = { throttle: { enabled: false }, retry: { enabled: false }, log: { debug() {}, info() {}, warn() {}, error() {} } };
const user = async (login, permission) => {
  const r = await fetch(`${baseUrl}/_sim/users`, { method: "POST", body: JSON.stringify({ login, permission }) });
  return new Octokit({ auth: (await r.json()).token, baseUrl, ...quiet });
};

try {
  const alice = await user("alice", "write");
  const bob = await user("bob", "write");
  const rey = await user("rey", "read");
  const { readFileSync } = await import("node:fs");
  const app = new App({
    appId: info.app_id,
    privateKey: readFileSync(info.private_key_path, "utf8"),
    webhooks: { secret },
    Octokit: Octokit.defaults({ baseUrl, ...quiet }),
  });
  let bot;

  await check("App auth: GET /app with a JWT octokit signed", async () => {
    const { data } = await app.octokit.request("GET /app");
    eq(data.id, info.app_id, "app id");
  });
  await check("App auth: installation octokit (JWT exchanged for a token)", async () => {
    bot = await app.getInstallationOctokit(info.installation_id);
    const { data } = await bot.rest.apps.listReposAccessibleToInstallation();
    eq(data.repositories.map((r) => r.full_name), [`${owner}/${repo}`], "repositories");
  });
  await check("app.eachRepository walks the installation", async () => {
    const seen = [];
    for await (const { repository } of app.eachRepository.iterator()) seen.push(repository.full_name);
    eq(seen, [`${owner}/${repo}`], "repositories");
  });
  await check("repos.get: permissions follow the caller (writer, reader, installation)", async () => {
    eq((await alice.rest.repos.get({ owner, repo })).data.permissions.push, true, "alice push");
    const r = (await rey.rest.repos.get({ owner, repo })).data.permissions;
    eq([r.pull, r.push, r.admin], [true, false, false], "rey");
    eq((await bot.rest.repos.get({ owner, repo })).data.permissions.push, true, "bot push");
  });
  await check("a reader cannot open a pull request (403)", async () => {
    const e = await refused(rey.rest.pulls.create({ owner, repo, head: "feature", base: "main", title: "no" }));
    eq(e.status, 403, "status");
  });

  let pr;
  await check("pulls.create, pulls.get, pulls.listFiles", async () => {
    pr = (await alice.rest.pulls.create({ owner, repo, head: "feature", base: "main", title: "Shout", body: "please" })).data;
    eq(pr.number, 1, "number");
    const got = (await alice.rest.pulls.get({ owner, repo, pull_number: 1 })).data;
    eq([got.mergeable, got.head.ref], [true, "feature"], "pull");
    eq((await alice.rest.pulls.listFiles({ owner, repo, pull_number: 1 })).data.map((f) => f.filename), ["src/lib.rs"], "files");
  });
  await check("pulls.get with mediaType diff and patch", async () => {
    const diff = (await alice.rest.pulls.get({ owner, repo, pull_number: 1, mediaType: { format: "diff" } })).data;
    assert(typeof diff === "string" && diff.startsWith("diff --git a/src/lib.rs"), `diff: ${String(diff).slice(0, 80)}`);
    const patch = (await alice.rest.pulls.get({ owner, repo, pull_number: 1, mediaType: { format: "patch" } })).data;
    assert(patch.includes("Subject: [PATCH] Shout line 2"), "patch subject");
  });
  await check("reviews: an inline comment outside the diff is GitHub's 422 and nothing is kept", async () => {
    const e = await refused(bob.rest.pulls.createReview({ owner, repo, pull_number: 1, event: "COMMENT", body: "b", comments: [{ path: "src/lib.rs", line: 2, body: "ok" }, { path: "src/lib.rs", line: 12, body: "outside" }] }));
    eq([e.status, e.response.data.message, e.response.data.errors], [422, "Unprocessable Entity", ["Line could not be resolved"]], "422");
    eq((await bob.rest.pulls.listReviews({ owner, repo, pull_number: 1 })).data.length, 0, "reviews kept");
  });
  let review;
  await check("reviews: REQUEST_CHANGES with line/side, LEFT and position comments", async () => {
    review = (await bob.rest.pulls.createReview({ owner, repo, pull_number: 1, event: "REQUEST_CHANGES", body: "three things", comments: [
      { path: "src/lib.rs", line: 2, side: "RIGHT", body: "new" },
      { path: "src/lib.rs", line: 2, side: "LEFT", body: "old" },
      { path: "src/lib.rs", position: 1, body: "context" },
    ] })).data;
    eq(review.state, "CHANGES_REQUESTED", "state");
    const cs = (await bob.rest.pulls.listCommentsForReview({ owner, repo, pull_number: 1, review_id: review.id })).data;
    eq(cs.map((c) => [c.position, c.line, c.side]), [[3, 2, "RIGHT"], [2, 2, "LEFT"], [1, 1, "RIGHT"]], "placed");
    assert(cs[0].diff_hunk.startsWith("@@ -1,5 +1,5 @@"), `diff_hunk ${cs[0].diff_hunk}`);
  });
  await check("reviews: an approval from someone else; your own is 422", async () => {
    eq((await bob.rest.pulls.createReview({ owner, repo, pull_number: 1, event: "APPROVE" })).data.state, "APPROVED", "bob");
    eq((await refused(alice.rest.pulls.createReview({ owner, repo, pull_number: 1, event: "APPROVE" }))).status, 422, "alice");
  });
  await check("review comments: createReviewComment (422 on a bad line), createReplyForReviewComment", async () => {
    const bad = await refused(alice.rest.pulls.createReviewComment({ owner, repo, pull_number: 1, commit_id: pr.head.sha, path: "src/lib.rs", line: 15, body: "x" }));
    eq([bad.status, bad.response.data.errors[0].field], [422, "pull_request_review_thread.line"], "422");
    const c = (await alice.rest.pulls.createReviewComment({ owner, repo, pull_number: 1, commit_id: pr.head.sha, path: "src/lib.rs", line: 3, body: "and this?" })).data;
    const r = (await bob.rest.pulls.createReplyForReviewComment({ owner, repo, pull_number: 1, comment_id: c.id, body: "yes" })).data;
    eq(r.in_reply_to_id, c.id, "in_reply_to_id");
    eq((await alice.rest.pulls.getReviewComment({ owner, repo, comment_id: r.id })).data.body, "yes", "get");
  });

  await check("octokit.paginate over 105 issue comments (30 a page and 100 a page)", async () => {
    for (let i = 0; i < 105; i++) await bob.rest.issues.createComment({ owner, repo, issue_number: 1, body: `comment ${i}` });
    const all = await alice.paginate(alice.rest.issues.listComments, { owner, repo, issue_number: 1 });
    eq(all.length, 105, "default pages");
    const big = await alice.paginate(alice.rest.issues.listComments, { owner, repo, issue_number: 1, per_page: 100 });
    eq(big.map((c) => c.body).slice(-2), ["comment 103", "comment 104"], "last two");
    let pages = 0;
    for await (const _ of alice.paginate.iterator(alice.rest.issues.listComments, { owner, repo, issue_number: 1, per_page: 50 })) pages++;
    eq(pages, 3, "pages of 50");
  });
  await check("octokit.paginate over the repository's issues and a PR's review comments", async () => {
    eq((await alice.paginate(alice.rest.issues.listForRepo, { owner, repo, state: "all" })).length, 1, "issues");
    eq((await alice.paginate(alice.rest.pulls.listReviewComments, { owner, repo, pull_number: 1 })).length, 5, "review comments");
  });
  await check("conditional request: If-None-Match → 304, not counted against the rate limit", async () => {
    const first = await alice.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: 1 });
    const etag = first.headers.etag;
    assert(etag, "an ETag");
    const e = await refused(alice.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: 1, headers: { "if-none-match": etag } }));
    eq(e.status, 304, "status");
    const after = await alice.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: 1 });
    eq(Number(after.headers["x-ratelimit-used"]), Number(first.headers["x-ratelimit-used"]) + 1, "the 304 cost nothing");
  });
  await check("checks: create, update, listForRef (installation only)", async () => {
    const run = (await bot.rest.checks.create({ owner, repo, name: "prflow/lint", head_sha: pr.head.sha, status: "in_progress" })).data;
    await bot.rest.checks.update({ owner, repo, check_run_id: run.id, status: "completed", conclusion: "success", output: { title: "ok", summary: "fine" } });
    const list = (await alice.rest.checks.listForRef({ owner, repo, ref: pr.head.sha })).data;
    eq(list.check_runs.map((c) => [c.name, c.conclusion]), [["prflow/lint", "success"]], "runs");
    eq((await refused(alice.rest.checks.create({ owner, repo, name: "x", head_sha: pr.head.sha }))).status, 403, "a person cannot");
  });
  await check("statuses: createCommitStatus, getCombinedStatusForRef", async () => {
    await bot.rest.repos.createCommitStatus({ owner, repo, sha: pr.head.sha, state: "success", context: "ci" });
    eq((await alice.rest.repos.getCombinedStatusForRef({ owner, repo, ref: pr.head.sha })).data.state, "success", "combined");
  });
  await check("labels: createLabel, addLabels, listLabelsForRepo", async () => {
    await alice.rest.issues.createLabel({ owner, repo, name: "prflow", color: "0e8a16" });
    await alice.rest.issues.addLabels({ owner, repo, issue_number: 1, labels: ["prflow"] });
    eq((await alice.rest.issues.listLabelsForRepo({ owner, repo })).data.map((l) => [l.name, l.color]), [["prflow", "0e8a16"]], "labels");
  });
  await check("git.createRef and git.getRef", async () => {
    await bot.rest.git.createRef({ owner, repo, ref: "refs/heads/topic", sha: pr.head.sha });
    eq((await alice.rest.git.getRef({ owner, repo, ref: "heads/topic" })).data.object.sha, pr.head.sha, "ref");
  });
  await check("contents: createOrUpdateFileContents moves the PR head", async () => {
    const r = (await bot.rest.repos.createOrUpdateFileContents({ owner, repo, path: "NOTES.md", message: "notes", content: Buffer.from("hi\n").toString("base64"), branch: "feature" })).data;
    eq((await alice.rest.pulls.get({ owner, repo, pull_number: 1 })).data.head.sha, r.commit.sha, "head");
  });
  await check("an unknown route is GitHub's 404 JSON", async () => {
    const e = await refused(alice.request("GET /repos/{owner}/{repo}/no-such-thing", { owner, repo }));
    eq([e.status, e.response.data.message], [404, "Not Found"], "404");
  });
  await check("rate limit: rateLimit.get", async () => {
    const { data } = await alice.rest.rateLimit.get();
    eq(data.resources.core.limit, 5000, "limit");
  });
  await check("pulls.merge and pulls.checkIfMerged", async () => {
    await alice.rest.pulls.merge({ owner, repo, pull_number: 1, merge_method: "squash" });
    eq((await alice.rest.pulls.checkIfMerged({ owner, repo, pull_number: 1 })).status, 204, "merged");
  });

  await check("webhooks: every delivery verified by @octokit/webhooks, none rejected", async () => {
    await until(() => hooks.verified.some((h) => h.name === "pull_request" && h.action === "closed"), "pull_request.closed");
    const names = new Set(hooks.verified.map((h) => (h.action ? `${h.name}.${h.action}` : h.name)));
    for (const want of ["ping", "installation.created", "push", "create", "pull_request.opened", "pull_request_review.submitted", "pull_request_review_comment.created", "issue_comment.created", "check_run.created", "check_run.completed", "status", "pull_request.closed"]) {
      assert(names.has(want), `no verified ${want}; got ${[...names].join(", ")}`);
    }
    eq(hooks.rejected, [], "rejected");
    const inst = hooks.verified.find((h) => h.name === "installation").payload.installation;
    eq(typeof inst.created_at, "number", "installation.created_at");
  });
  await check("webhooks: a wrong signature is refused by @octokit/webhooks", async () => {
    const e = await refused(hooks.webhooks.verifyAndReceive({ id: "x", name: "ping", signature: "sha256=" + "0".repeat(64), payload: JSON.stringify({ zen: "z" }) }));
    assert(String(e).includes("signature does not match"), String(e));
  });
} finally {
  child.kill("SIGTERM");
  hooks.server.close();
  rmSync(src, { recursive: true, force: true });
}

const failed = results.filter(([, e]) => e);
console.log(`\n${results.length - failed.length} of ${results.length} client checks pass`);
process.exit(failed.length ? 1 : 0);
