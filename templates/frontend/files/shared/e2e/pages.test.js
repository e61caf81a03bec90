// The app in a real browser: Debian's chromium, driven by playwright-core (no browser
// download), opens the built app (`vite preview`: run `npm run build` first), creates
// an account when the system has auth, and on every page creates a record through
// the form, sees it on its detail page, finds it in the list and opens it again.
// Every request must go to the app's own origin (the gateway behind /api) and none
// may fail with 5xx. Against GATEWAY_URL when set (the running system), else against
// e2e/contract-gateway.js. Screenshots: E2E_SCREENSHOTS (default e2e/screenshots/).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { display } from '../src/fields.js';
import { AUTH, DASHBOARD, RESOURCES, TITLE } from '../src/resources.js';
import { startContractGateway } from './contract-gateway.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = resolve(process.env.E2E_SCREENSHOTS || join(root, 'e2e', 'screenshots'));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TAG = `e2e${Date.now().toString(36)}`;

let gateway;
let server;
let context;
let profileDir;
let appUrl;

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** A value a user could type for a field, as typed and as the app shows it back. */
function sample(field, i) {
  const n = field.name.toLowerCase();
  switch (field.type) {
    case 'number': return { typed: '12.5', stored: 12.5 };
    case 'integer': return { typed: String(7 + i), stored: 7 + i };
    case 'boolean': return { typed: true, stored: true };
    case 'date': return { typed: '2026-01-15', stored: '2026-01-15' };
    case 'json': return { typed: `{"tag":"${TAG}"}`, stored: { tag: TAG } };
    default:
      if (n.includes('email')) return { typed: `${TAG}.${i}@example.test`, stored: `${TAG}.${i}@example.test` };
      if (n.includes('url')) return { typed: `https://example.test/${TAG}`, stored: `https://example.test/${TAG}` };
      return { typed: `${field.label} ${TAG}`, stored: `${field.label} ${TAG}` };
  }
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  assert.ok(existsSync(join(root, 'dist', 'index.html')), `${root}/dist is missing: run \`npm run build\` first`);
  gateway = process.env.GATEWAY_URL
    ? { url: process.env.GATEWAY_URL, requests: null, close: async () => {} }
    : await startContractGateway();
  console.log(`# gateway: ${process.env.GATEWAY_URL ? `${gateway.url} (GATEWAY_URL)` : `${gateway.url} (e2e/contract-gateway.js)`}`);
  const port = await freePort();
  process.env.VITE_API_URL = gateway.url;
  server = await preview({ root, logLevel: 'warn', preview: { host: '127.0.0.1', port, strictPort: true } });
  appUrl = `http://127.0.0.1:${port}/`;
  profileDir = mkdtempSync(join(tmpdir(), 'e2e-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  if (context) await context.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (server) await server.close();
  if (gateway) await gateway.close();
});

test(`${TITLE}: every page lists, creates and shows its records through the gateway`, async () => {
  const page = context.pages()[0] || (await context.newPage());
  const origin = new URL(appUrl).origin;
  const pageErrors = [];
  const foreign = [];
  const apiCalls = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.protocol.startsWith('http') && u.origin !== origin) foreign.push(req.url());
  });
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (u.pathname.startsWith('/api/')) apiCalls.push(`${res.request().method()} ${u.pathname} ${res.status()}`);
  });

  await page.goto(appUrl, { waitUntil: 'domcontentloaded' });
  if (AUTH) {
    await page.getByTestId('login-mode-register').click();
    await page.getByLabel('Name').fill('E2E user');
    await page.getByLabel('Email').fill(`${TAG}@example.test`);
    await page.getByLabel('Password').fill(`pw-${TAG}-Secret1`);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('logout').waitFor({ timeout: 15000 });
  }
  await page.getByTestId('app-title').filter({ hasText: TITLE }).waitFor({ timeout: 15000 });

  for (const r of RESOURCES) {
    await page.getByTestId(`nav-${r.route}`).click();
    await page.getByTestId(`${r.route}-table`).waitFor({ timeout: 15000 });
    await page.getByTestId(`new-${r.route}`).click();
    const values = r.fields.map((f, i) => sample(f, i));
    for (const [i, f] of r.fields.entries()) {
      const input = page.getByTestId(`field-${f.name}`);
      if (f.type === 'boolean') await input.check();
      else await input.fill(values[i].typed);
    }
    await page.getByTestId('submit').click();
    const detail = page.getByTestId(`${r.route}-detail`);
    await detail.waitFor({ timeout: 15000 });
    for (const [i, f] of r.fields.entries()) {
      const shown = (await page.getByTestId(`value-${f.name}`).textContent()).trim();
      assert.equal(shown, display(f, values[i].stored), `${r.title} detail, ${f.label}`);
    }
    await page.getByTestId(`nav-${r.route}`).click();
    const first = r.fields.find((f) => f.type !== 'boolean');
    const row = page.getByTestId(`${r.route}-row`);
    const mine = first ? row.filter({ hasText: display(first, values[r.fields.indexOf(first)].stored) }) : row;
    await mine.first().waitFor({ timeout: 15000 });
    await page.screenshot({ path: join(SHOTS, `${r.route}.png`), fullPage: true });
    await mine.first().click();
    await detail.waitFor({ timeout: 15000 });
  }

  if (DASHBOARD) {
    await page.getByTestId('nav-dashboard').click();
    await page.getByTestId('stat-gateway').filter({ hasText: 'ready' }).waitFor({ timeout: 15000 });
    for (const r of RESOURCES) {
      // The counts arrive after the page (one list request each): wait for a number.
      await page.getByTestId(`stat-${r.route}`).filter({ hasText: /^\s*\d+\s*$/ }).waitFor({ timeout: 15000 });
      const count = Number((await page.getByTestId(`stat-${r.route}`).textContent()).trim());
      assert.ok(count >= 1, `the dashboard counts ${count} ${r.route}`);
    }
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
  }

  assert.deepEqual(pageErrors, [], 'the page threw');
  assert.deepEqual(foreign, [], 'requests left the app\'s origin (everything goes through the gateway at /api)');
  assert.ok(!apiCalls.some((c) => / 5\d\d$/.test(c)), `server errors: ${apiCalls.join(', ')}`);
  for (const r of RESOURCES) {
    assert.ok(apiCalls.includes(`POST ${r.path} 201`), `no create through ${r.path}: ${apiCalls.join(', ')}`);
  }
  console.log(`# ${RESOURCES.length} pages checked; screenshots in ${SHOTS}`);
});
