// Issue 18 in a real browser: Debian's chromium, driven by playwright-core, looks
// at the demo the way a newcomer would. `prflow demo --browse` runs phase 1 and
// leaves the review to the person at the browser; this test is that person:
// it opens PR 1, sees the task table, the run graph drawn by Mermaid and the
// checks, picks bob, approves, and sees the PR of phase 2 appear.
//
// env: PRFLOW_BIN (default ../../target/debug/prflow), CHROMIUM_PATH (default
// /usr/bin/chromium), SCREENSHOTS=DIR to save pr.png and checks.png there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const here = new URL(".", import.meta.url).pathname;
const BIN = resolve(process.env.PRFLOW_BIN || join(here, "../../target/debug/prflow"));
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Starts `prflow demo --browse` and resolves with the first PR's URL it prints. */
function startDemo(dir) {
  const child = spawn(BIN, ["demo", "--browse", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const url = new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no PR URL within 240 s; demo said:\n${out}`)), 240_000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+\/demo\/shop\/pull\/\d+)\s/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`demo exited (${code}) before printing a URL:\n${out}`)));
  });
  return { child, url, log: () => out };
}

test("a newcomer reviews the demo's first PR in the browser and the next phase appears", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "prflow-web-demo-"));
  const demo = startDemo(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  try {
    const prUrl = await demo.url;
    const base = new URL(prUrl).origin;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Nothing may come from anywhere but the simulator (no CDN).
    const foreign = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    await page.goto(prUrl);

    // The description: the task table, the run graph drawn as SVG, the gates.
    const table = page.locator("#pr-body table").first();
    await table.waitFor();
    assert.match(await table.locator("th").first().innerText(), /task/);
    assert.ok((await table.locator("tbody tr").count()) >= 1, "the task table has rows");
    await page.waitForSelector("body[data-mermaid=drawn]", { timeout: 30_000 });
    const svg = page.locator("#pr-body pre.mermaid svg");
    assert.equal(await svg.count(), 1, "Mermaid drew the run graph");
    assert.ok((await svg.locator(".node").count()) >= 2, "the graph has the run's tasks as nodes");
    // The checks in the merge box.
    const checks = page.locator("#merge-box .check-list li");
    assert.ok((await checks.count()) >= 1, "the merge box lists the check runs");
    assert.match(await checks.first().innerText(), /prflow\//);
    if (process.env.SCREENSHOTS) {
      // Tall enough for the title, the task table and the run graph.
      await page.setViewportSize({ width: 1280, height: 1500 });
      await page.screenshot({ path: join(process.env.SCREENSHOTS, "pr.png") });
      await page.setViewportSize({ width: 1280, height: 900 });
    }

    // The checks tab: each run with its conclusion and summary.
    await page.click("nav.pr-tabs >> text=Checks");
    await page.waitForSelector(".check-run .check-title");
    assert.match(await page.locator(".check-run .check-title").innerText(), /prflow\//);
    assert.match(await page.locator(".check-run .check-meta").innerText(), /completed/);
    if (process.env.SCREENSHOTS) await page.screenshot({ path: join(process.env.SCREENSHOTS, "checks.png") });

    // Act as bob, the demo's reviewer, and approve.
    await page.goto(prUrl);
    await Promise.all([page.waitForNavigation(), page.selectOption("#actas-login", "bob")]);
    assert.equal(await page.locator("#actas-login").inputValue(), "bob");
    await page.check("#review-form input[value=APPROVE]");
    await page.fill("#review-form textarea[name=body]", "Approved from the browser.");
    await Promise.all([page.waitForNavigation(), page.click("#review-form button[type=submit]")]);
    assert.match(await page.locator(".timeline").innerText(), /bob\s+approved these changes/);

    // The App gets the review's webhook and opens phase 2's PR on top of this one.
    const pulls = `${base}/demo/shop/pulls`;
    const deadline = Date.now() + 240_000;
    let rows = 0;
    while (Date.now() < deadline) {
      await page.goto(pulls);
      rows = await page.locator(".list-item").count();
      if (rows >= 2) break;
      await page.waitForTimeout(1000);
    }
    assert.ok(rows >= 2, `phase 2's PR did not appear; demo said:\n${demo.log()}`);
    const titles = await page.locator(".list-title").allInnerTexts();
    assert.ok(titles.some((t) => /phase 2\//.test(t)), titles.join("\n"));
    assert.deepEqual(foreign, [], "every request stayed on the simulator");
  } finally {
    await browser.close();
    demo.child.kill("SIGINT");
    await new Promise((r) => demo.child.once("exit", r).once("error", r));
    rmSync(dir, { recursive: true, force: true });
  }
});
