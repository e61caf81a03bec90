'use strict';
// The MySQL / MariaDB store (mysql2): a table per collection with the record's fields
// in a JSON column (MariaDB keeps JSON as text: both are read back). Tables are created
// on start; equality filters use JSON_CONTAINS; updates merge with JSON_MERGE_PATCH.
const { randomUUID } = require('node:crypto');

const SAFE = /^[a-z][a-z0-9_]*$/;
const table = (collection) => {
  if (!SAFE.test(collection)) throw new Error(`"${collection}" is not a valid table name`);
  return `\`${collection}\``;
};
const toDoc = (row) => ({
  id: row.id,
  ...(typeof row.data === 'string' ? JSON.parse(row.data) : row.data),
  createdAt: new Date(row.created_at).toISOString(),
  updatedAt: new Date(row.updated_at).toISOString(),
});

function createMysqlStore(pool) {
  return {
    kind: 'mysql',
    async init(collections) {
      for (const c of collections) {
        await pool.query(
          `CREATE TABLE IF NOT EXISTS ${table(c)} (id VARCHAR(64) PRIMARY KEY, data JSON NOT NULL, ` +
            'created_at DATETIME(3) NOT NULL, updated_at DATETIME(3) NOT NULL, KEY created_idx (created_at, id))',
        );
      }
    },
    async create(collection, fields, { id = randomUUID(), now = new Date() } = {}) {
      await pool.query(`INSERT INTO ${table(collection)} (id, data, created_at, updated_at) VALUES (?, ?, ?, ?)`, [
        id,
        JSON.stringify(fields),
        now,
        now,
      ]);
      return this.get(collection, id);
    },
    async get(collection, id) {
      const [rows] = await pool.query(`SELECT * FROM ${table(collection)} WHERE id = ?`, [id]);
      return rows[0] ? toDoc(rows[0]) : null;
    },
    async list(collection, { limit = 20, offset = 0, where = {} } = {}) {
      const filter = JSON.stringify(where);
      const [rows] = await pool.query(
        `SELECT * FROM ${table(collection)} WHERE JSON_CONTAINS(data, ?) ORDER BY created_at, id LIMIT ? OFFSET ?`,
        [filter, limit, offset],
      );
      const [[count]] = await pool.query(`SELECT COUNT(*) AS n FROM ${table(collection)} WHERE JSON_CONTAINS(data, ?)`, [filter]);
      return { items: rows.map(toDoc), total: Number(count.n) };
    },
    async update(collection, id, patch, { now = new Date() } = {}) {
      const [result] = await pool.query(
        `UPDATE ${table(collection)} SET data = JSON_MERGE_PATCH(data, ?), updated_at = ? WHERE id = ?`,
        [JSON.stringify(patch), now, id],
      );
      return result.affectedRows > 0 ? this.get(collection, id) : null;
    },
    async remove(collection, id) {
      const [result] = await pool.query(`DELETE FROM ${table(collection)} WHERE id = ?`, [id]);
      return result.affectedRows > 0;
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

module.exports = { createMysqlStore };
