'use strict';
// The repository contract on the in-memory repository, on the MongoDB repository over
// the driver stand-in (test/fake-mongo.js), and on a real MongoDB when MONGO_URL is
// set. Without MONGO_URL the real-MongoDB tests are reported as SKIPPED, with the
// reason, in the test output (and in README.md).
const test = require('node:test');
const { randomBytes } = require('node:crypto');
const { repositoryContract } = require('./repository-contract');
const { createFakeDb } = require('./fake-mongo');
const { createMemoryRepository } = require('../src/repositories/memory');
const { createMongoRepository, openMongoRepository } = require('../src/repositories/mongo');

repositoryContract('memory', async () => createMemoryRepository());
repositoryContract('mongodb (driver stand-in)', async () => createMongoRepository({ db: createFakeDb() }));

const url = process.env.MONGO_URL;
if (url) {
  repositoryContract('mongodb (real, MONGO_URL)', async () => {
    // A database of its own per test, dropped when the repository is closed.
    const dbName = `products_test_${randomBytes(6).toString('hex')}`;
    const repo = openMongoRepository({ url, dbName });
    const close = repo.close;
    repo.close = async () => {
      const { MongoClient } = require('mongodb');
      const admin = new MongoClient(url);
      await admin.db(dbName).dropDatabase();
      await admin.close();
      await close();
    };
    return repo;
  });
} else {
  process.stdout.write('SKIPPED: product-service tests against a real MongoDB (MONGO_URL is not set); ran on memory and on the driver stand-in only\n');
  test('mongodb (real, MONGO_URL): repository contract', { skip: 'MONGO_URL is not set' }, () => {});
}
