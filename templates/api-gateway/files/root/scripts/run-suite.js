#!/usr/bin/env node
'use strict';
// Runs one npm script (test, test:integration, test:e2e, test:load) in every workspace
// that defines it: services/*, frontend/*, tests. Prints one summary line per
// workspace (with line coverage when the workspace wrote coverage/coverage-summary.json)
// and fails if any failed, or if no workspace defines the script (nothing was tested
// is not a success).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node scripts/run-suite.js <npm script, e.g. test or test:integration>\n');
  process.exit(2);
}

function workspaces() {
  const dirs = [];
  for (const parent of ['services', 'frontend']) {
    const full = path.join(root, parent);
    if (!fs.existsSync(full)) continue;
    for (const name of fs.readdirSync(full).sort()) dirs.push(path.join(parent, name));
  }
  dirs.push('tests');
  return dirs.filter((dir) => fs.existsSync(path.join(root, dir, 'package.json')));
}

function scripts(dir) {
  return JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')).scripts || {};
}

function coverage(dir) {
  const file = path.join(root, dir, 'coverage', 'coverage-summary.json');
  if (!fs.existsSync(file)) return '';
  const { total } = JSON.parse(fs.readFileSync(file, 'utf8'));
  return `, lines ${total.lines.pct}%`;
}

const selected = workspaces().filter((dir) => scripts(dir)[script]);
if (selected.length === 0) {
  process.stderr.write(`no workspace defines "${script}" (looked in services/*, frontend/*, tests); nothing was run\n`);
  process.exit(1);
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs `npm run <script>` in `dir`, streaming its output; resolves to { ok, skipped }. */
function runIn(dir) {
  return new Promise((resolve) => {
    const child = spawn(npm, ['run', script], { cwd: path.join(root, dir), stdio: ['inherit', 'pipe', 'inherit'], env: process.env });
    const skipped = new Set();
    let rest = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        const match = /SKIPPED: (.*)$/.exec(line);
        if (match) skipped.add(match[1].trim());
      }
    });
    child.on('close', (code) => resolve({ ok: code === 0, skipped: [...skipped] }));
  });
}

(async () => {
  const results = [];
  for (const dir of selected) {
    process.stdout.write(`\n=== ${dir}: npm run ${script}\n`);
    if (script === 'test') fs.rmSync(path.join(root, dir, 'coverage'), { recursive: true, force: true });
    const started = Date.now();
    const { ok, skipped } = await runIn(dir);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const notes = skipped.map((s) => `; SKIPPED: ${s}`).join('');
    results.push({ ok, line: `${ok ? 'PASS' : 'FAIL'} ${dir} (${seconds} s${script === 'test' ? coverage(dir) : ''}${notes})` });
  }
  // Say plainly what did not run: a skipped suite is not a passed one.
  process.stdout.write(`\n=== summary: npm run ${script}\n`);
  for (const r of results) process.stdout.write(`${r.line}\n`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
})();
