'use strict';
// PostgreSQL emulated in memory (pg-mem), with node-postgres's Pool interface.
const { newDb } = require('pg-mem');

function pgMemPool() {
  const { Pool } = newDb().adapters.createPg();
  return new Pool();
}

module.exports = { pgMemPool };
