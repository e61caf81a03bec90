'use strict';
// The repository contract on the in-memory repository and on PostgreSQL emulated by
// pg-mem (the same SQL and migrations the real database gets; the integration tests
// run the contract on a real PostgreSQL).
const { repositoryContract } = require('./repository-contract');
const { createMemoryRepository } = require('../src/repositories/memory');
const { createPostgresRepository } = require('../src/repositories/postgres');
const { migrate } = require('../src/migrate');
const { pgMemPool } = require('./pg-mem');

repositoryContract('memory', async () => createMemoryRepository());
repositoryContract('postgres (pg-mem)', async () => {
  const pool = pgMemPool();
  await migrate(pool);
  return createPostgresRepository(pool);
});
