'use strict';
// PostgreSQL emulated in memory (pg-mem), with node-postgres's Pool interface and
// gen_random_uuid() (built into PostgreSQL 13+, which the schema uses as a default).
const { randomUUID } = require('node:crypto');
const { newDb, DataType } = require('pg-mem');

function pgMemPool() {
  const db = newDb();
  db.public.registerFunction({ name: 'gen_random_uuid', returns: DataType.uuid, implementation: randomUUID, impure: true });
  const { Pool } = db.adapters.createPg();
  return new Pool();
}

module.exports = { pgMemPool };
