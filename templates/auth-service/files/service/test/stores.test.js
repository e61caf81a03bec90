'use strict';
// The store contract on memory and on PostgreSQL emulated by pg-mem (the real
// migrations; `npm run test:integration` runs it on a real PostgreSQL).
const { storeContract } = require('./store-contract');
const { pgMemPool } = require('./pg-mem');
const { createMemoryStore } = require('../src/stores/memory');
const { createPostgresStore } = require('../src/stores/postgres');
const { migrate } = require('../src/migrate');

storeContract('memory', async () => createMemoryStore());
storeContract('postgres (pg-mem)', async () => {
  const pool = pgMemPool();
  await migrate(pool);
  return createPostgresStore(pool);
});
