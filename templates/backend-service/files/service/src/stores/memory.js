'use strict';
// The in-memory store: the default when no database URL is set, and what the unit
// tests use. Same contract as every other store (test/store-contract.js).
const { randomUUID } = require('node:crypto');

const clone = (value) => structuredClone(value);
const matches = (doc, where) => Object.entries(where).every(([k, v]) => doc[k] === v);

function createMemoryStore() {
  const collections = new Map();
  const table = (name) => {
    if (!collections.has(name)) collections.set(name, new Map());
    return collections.get(name);
  };
  return {
    kind: 'memory',
    async init() {},
    async create(collection, fields, { id = randomUUID(), now = new Date() } = {}) {
      const stamp = now.toISOString();
      const doc = { id, ...clone(fields), createdAt: stamp, updatedAt: stamp };
      table(collection).set(id, doc);
      return clone(doc);
    },
    async get(collection, id) {
      const doc = table(collection).get(id);
      return doc ? clone(doc) : null;
    },
    async list(collection, { limit = 20, offset = 0, where = {} } = {}) {
      const all = [...table(collection).values()].filter((d) => matches(d, where));
      return { items: all.slice(offset, offset + limit).map(clone), total: all.length };
    },
    async update(collection, id, patch, { now = new Date() } = {}) {
      const doc = table(collection).get(id);
      if (!doc) return null;
      const next = { ...doc, ...clone(patch), id, createdAt: doc.createdAt, updatedAt: now.toISOString() };
      table(collection).set(id, next);
      return clone(next);
    },
    async remove(collection, id) {
      return table(collection).delete(id);
    },
    async ping() {},
    async close() {},
  };
}

module.exports = { createMemoryStore };
