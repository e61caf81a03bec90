'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { newDb } = require('pg-mem');
const { migrate, MIGRATIONS_DIR } = require('../src/migrate');

const pool = () => new (newDb().adapters.createPg().Pool)();

test('migrations apply once, in order, and are recorded', async () => {
  const db = pool();
  const logged = [];
  const first = await migrate(db, { logger: { info: (msg, f) => logged.push(f.migration) } });
  const expected = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
  assert.deepEqual(first, expected);
  assert.deepEqual(logged, expected);
  assert.deepEqual(await migrate(db), [], 'a second run applies nothing');
  const { rows } = await db.query('SELECT version FROM schema_migrations ORDER BY version');
  assert.deepEqual(rows.map((r) => r.version), expected);
});

test('a failing migration is rolled back and named', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
  fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE ok (id int);');
  fs.writeFileSync(path.join(dir, '002_bad.sql'), 'CREATE TABLE nope (id int); SELECT * FROM missing_table;');
  const db = pool();
  await assert.rejects(migrate(db, { dir }), /migration 002_bad.sql failed/);
  const { rows } = await db.query('SELECT version FROM schema_migrations');
  assert.deepEqual(rows.map((r) => r.version), ['001_ok.sql']);
  fs.rmSync(dir, { recursive: true });
});
