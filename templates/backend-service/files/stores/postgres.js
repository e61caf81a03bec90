'use strict';
// The PostgreSQL store (node-postgres): a table per collection with the record's
// fields in a jsonb column, so any resource of the system model fits without a
// migration per field. Tables are created on start (IF NOT EXISTS); equality filters
// use jsonb containment (`data @> '{"status":"paid"}'`).
const { randomUUID } = require('node:crypto');

const SAFE = /^[a-z][a-z0-9_]*$/;
const table = (collection) => {
  if (!SAFE.test(collection)) throw new Error(`"${collection}" is not a valid table name`);
  return `"${collection}"`;
};
const toDoc = (row) => ({
  id: row.id,
  ...row.data,
  createdAt: new Date(row.created_at).toISOString(),
  updatedAt: new Date(row.updated_at).toISOString(),
});

function createPostgresStore(pool) {
  return {
    kind: 'postgresql',
    async init(collections) {
      for (const c of collections) {
        await pool.query(
          `CREATE TABLE IF NOT EXISTS ${table(c)} (id text PRIMARY KEY, data jsonb NOT NULL, ` +
            'created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)',
        );
      }
    },
    async create(collection, fields, { id = randomUUID(), now = new Date() } = {}) {
      const { rows } = await pool.query(
        `INSERT INTO ${table(collection)} (id, data, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING *`,
        [id, JSON.stringify(fields), now],
      );
      return toDoc(rows[0]);
    },
    async get(collection, id) {
      const { rows } = await pool.query(`SELECT * FROM ${table(collection)} WHERE id = $1`, [id]);
      return rows[0] ? toDoc(rows[0]) : null;
    },
    async list(collection, { limit = 20, offset = 0, where = {} } = {}) {
      const filter = JSON.stringify(where);
      const [{ rows }, count] = await Promise.all([
        pool.query(`SELECT * FROM ${table(collection)} WHERE data @> $1::jsonb ORDER BY created_at, id LIMIT $2 OFFSET $3`, [
          filter,
          limit,
          offset,
        ]),
        pool.query(`SELECT count(*)::int AS n FROM ${table(collection)} WHERE data @> $1::jsonb`, [filter]),
      ]);
      return { items: rows.map(toDoc), total: count.rows[0].n };
    },
    async update(collection, id, patch, { now = new Date() } = {}) {
      const { rows } = await pool.query(
        `UPDATE ${table(collection)} SET data = data || $2::jsonb, updated_at = $3 WHERE id = $1 RETURNING *`,
        [id, JSON.stringify(patch), now],
      );
      return rows[0] ? toDoc(rows[0]) : null;
    },
    async remove(collection, id) {
      const { rowCount } = await pool.query(`DELETE FROM ${table(collection)} WHERE id = $1`, [id]);
      return rowCount > 0;
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

module.exports = { createPostgresStore };
