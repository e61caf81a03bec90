'use strict';
// What every store must do, run on memory (and the MongoDB fake) by the unit tests and
// on the real database by integration/store.integration.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');

/** Registers the contract's tests for the store `open()` gives (a fresh one per test). */
function storeContract(name, open) {
  const collection = `contract_${randomUUID().slice(0, 8)}`;
  test(`${name}: create, get, update, remove`, async () => {
    const store = await open();
    try {
      await store.init([collection]);
      const made = await store.create(collection, { title: 'first', count: 1, tags: ['a'] });
      assert.equal(typeof made.id, 'string');
      assert.equal(made.title, 'first');
      assert.ok(made.createdAt && made.updatedAt);
      assert.deepEqual(await store.get(collection, made.id), made);
      const later = new Date(Date.parse(made.createdAt) + 1000);
      const updated = await store.update(collection, made.id, { count: 2 }, { now: later });
      assert.equal(updated.count, 2);
      assert.equal(updated.title, 'first', 'an update keeps the fields it does not name');
      assert.equal(updated.createdAt, made.createdAt);
      assert.equal(updated.updatedAt, later.toISOString());
      assert.equal(await store.update(collection, 'no-such-id', { count: 3 }), null);
      assert.equal(await store.remove(collection, made.id), true);
      assert.equal(await store.remove(collection, made.id), false);
      assert.equal(await store.get(collection, made.id), null);
    } finally {
      await store.close();
    }
  });

  test(`${name}: list pages and filters`, async () => {
    const store = await open();
    const c = `${collection}_list`;
    try {
      await store.init([c]);
      const base = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 5; i += 1) {
        await store.create(c, { n: i, kind: i % 2 === 0 ? 'even' : 'odd', flag: i === 4 }, { now: new Date(base + i * 1000) });
      }
      const page = await store.list(c, { limit: 2, offset: 1 });
      assert.equal(page.total, 5);
      assert.deepEqual(page.items.map((d) => d.n), [1, 2], 'oldest first');
      const even = await store.list(c, { limit: 10, offset: 0, where: { kind: 'even' } });
      assert.equal(even.total, 3);
      assert.deepEqual(even.items.map((d) => d.n), [0, 2, 4]);
      const flagged = await store.list(c, { limit: 10, offset: 0, where: { flag: true, n: 4 } });
      assert.deepEqual(flagged.items.map((d) => d.n), [4]);
      const none = await store.list(c, { limit: 10, offset: 0, where: { kind: 'none' } });
      assert.deepEqual(none, { items: [], total: 0 });
      await store.ping();
    } finally {
      await store.close();
    }
  });
}

module.exports = { storeContract };
