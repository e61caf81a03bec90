'use strict';
// Applies migrations/*.sql in name order, each in its own transaction, and records
// them in schema_migrations so a second run applies nothing. `npm run migrate` runs
// it against DATABASE_URL; the service runs it on start unless MIGRATE_ON_START=false.
const fs = require('node:fs');
const path = require('node:path');

const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');
const MIGRATION_LOCK = 72_100_007; // any fixed number; the same in every service

/** The versions already applied; creates the bookkeeping table on the first run. */
async function appliedVersions(pool) {
  try {
    const { rows } = await pool.query('SELECT version FROM schema_migrations');
    return new Set(rows.map((r) => r.version));
  } catch (err) {
    // 42P01 = undefined_table (pg-mem has no code, only the message).
    if (err.code !== '42P01' && !/does not exist/.test(err.message)) throw err;
    await pool.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    return new Set();
  }
}

/**
 * Runs `fn` holding a PostgreSQL advisory lock, so replicas (and the services sharing
 * one database) starting together migrate one after the other. A database without
 * advisory locks (pg-mem in the unit tests) runs `fn` unlocked.
 */
async function withMigrationLock(pool, fn) {
  let client = null;
  try {
    client = await pool.connect();
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  } catch {
    if (client) client.release();
    client = null;
  }
  try {
    return await fn();
  } finally {
    if (client) {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      client.release();
    }
  }
}

async function migrate(pool, options = {}) {
  return withMigrationLock(pool, () => applyPending(pool, options));
}

async function applyPending(pool, { dir = MIGRATIONS_DIR, logger } = {}) {
  const done = await appliedVersions(pool);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const applied = [];
  for (const file of files) {
    if (done.has(file)) continue;
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw new Error(`migration ${file} failed: ${err.message} (nothing of it was applied; fix migrations/${file} and run again)`);
    } finally {
      client.release();
    }
    applied.push(file);
    if (logger) logger.info('migration applied', { migration: file });
  }
  return applied;
}

/* c8 ignore start -- command-line entry point (`npm run migrate`) */
if (require.main === module) {
  const { Pool } = require('pg');
  if (!process.env.DATABASE_URL) {
    process.stderr.write('DATABASE_URL is not set: nothing to migrate (e.g. DATABASE_URL=postgres://user:pass@localhost:5432/users)\n');
    process.exit(2);
  }
  const pool = new Pool({ connectionString: process.env.DATABASE_URL });
  migrate(pool)
    .then((applied) => {
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
      return pool.end();
    })
    .catch((err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    });
}
/* c8 ignore stop */

module.exports = { migrate, MIGRATIONS_DIR };
