// `prflow app register` clicked through in Debian's chromium against `prflow sim`:
// the local page's button posts the manifest to the simulator's /settings/apps/new,
// "Create GitHub App" sends the browser back with a code, prflow writes the
// credentials, and `prflow serve` (given none) accepts the new App's signed webhook.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const here = new URL(".", import.meta.url).pathname;
const BIN = resolve(process.env.PRFLOW_BIN || join(here, "../../target/debug/prflow"));
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Spawns prflow with `args`; resolves with the first stdout line matching `re`. */
function start(args, re) {
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const line = new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`prflow ${args[0]}: nothing matching ${re} in 60 s:\n${out}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d.toString();
      const m = out.match(re);
      if (m) { clearTimeout(timer); ok(m); }
    });
    child.stderr.on("data", (d) => { out += d.toString(); });
    child.on("exit", (c) => fail(new Error(`prflow ${args[0]} exited (${c}):\n${out}`)));
  });
  return { child, line };
}

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); });
});

test("register the App in one click, then serve accepts its webhook", { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "prflow-web-register-"));
  const repo = join(dir, "repo");
  execFileSync("git", ["init", "-q", "-b", "main", repo]);
  execFileSync("git", ["-C", repo, "-c", "user.name=T", "-c", "user.email=t@e.x", "commit", "-q", "--allow-empty", "-m", "init"]);
  const sim = start(["sim", "--repo", `acme/shop=${repo}`], /"api_url":"([^"]+)"/);
  const procs = [sim.child];
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  try {
    const api = (await sim.line)[1];
    const port = await freePort();
    const data = join(dir, "data");
    const reg = start(["app", "register", "--url", `http://127.0.0.1:${port}`, "--github-url", api,
      "--github-api-url", api, "--data-dir", data], /Open (http:\/\/\S+) in a browser/);
    procs.push(reg.child);
    const page = await browser.newPage();
    await page.goto((await reg.line)[1]);
    await Promise.all([page.waitForNavigation(), page.click("#register")]);
    assert.match(await page.locator("h1").first().innerText(), /Create GitHub App/);
    assert.match(await page.locator("#manifest-summary").innerText(), new RegExp(`127\\.0\\.0\\.1:${port}/webhook`));
    await Promise.all([page.waitForNavigation(), page.click("#create-app")]);
    await page.waitForSelector("#registered");
    const appId = await page.locator("#app-id").innerText();
    assert.match(appId, /^\d+$/);
    assert.match(await page.locator("#install").getAttribute("href"), /\/installations\/new$/);
    assert.equal(statSync(join(data, "app-private-key.pem")).mode & 0o777, 0o600);
    assert.match(readFileSync(join(data, "app.env"), "utf8"), new RegExp(`APP_ID=${appId}\\n`));

    // serve with no credentials of its own, then an event in the simulator.
    const serve = start(["serve", "--host", "127.0.0.1", "--port", String(port), "--github-api-url", api,
      "--data-dir", data, "--handler", `record:${join(dir, "record.jsonl")}`], /listening/);
    procs.push(serve.child);
    await serve.line;
    const user = await (await fetch(`${api}/_sim/users`, { method: "POST", body: JSON.stringify({ login: "bob", permission: "write" }) })).json();
    const made = await fetch(`${api}/repos/acme/shop/issues`, { method: "POST", headers: { authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ title: "hello App" }) });
    assert.equal(made.status, 201);
    let hook;
    for (let i = 0; i < 100 && !hook; i++) {
      const log = await (await fetch(`${api}/_sim/deliveries`)).json();
      hook = log.find((d) => d.event === "issues" && d.status_code);
      if (!hook) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hook, "the simulator sent the issues webhook");
    assert.ok(hook.status_code >= 200 && hook.status_code < 300, `serve answered ${hook.status_code} (${hook.status})`);
  } finally {
    await browser.close();
    for (const p of procs) p.kill("SIGINT");
    rmSync(dir, { recursive: true, force: true });
  }
});
