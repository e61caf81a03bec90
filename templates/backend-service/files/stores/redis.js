'use strict';
// The Redis store (node-redis 4): per collection, a hash id → JSON record and a sorted
// set of ids by creation time for paging. Equality filters read the collection and
// filter here (Redis has no query language); fine for the sizes a cache-like service
// keeps, and said in the README.
const { randomUUID } = require('node:crypto');

const matches = (doc, where) => Object.entries(where).every(([k, v]) => doc[k] === v);

function createRedisStore(client, { prefix = '' } = {}) {
  const hash = (c) => `${prefix}${c}`;
  const order = (c) => `${prefix}${c}:order`;
  async function docs(collection, ids) {
    if (ids.length === 0) return [];
    const values = await client.hmGet(hash(collection), ids);
    return values.filter(Boolean).map((v) => JSON.parse(v));
  }
  return {
    kind: 'redis',
    async init() {},
    async create(collection, fields, { id = randomUUID(), now = new Date() } = {}) {
      const stamp = now.toISOString();
      const doc = { id, ...fields, createdAt: stamp, updatedAt: stamp };
      await client.multi().hSet(hash(collection), id, JSON.stringify(doc)).zAdd(order(collection), { score: now.getTime(), value: id }).exec();
      return doc;
    },
    async get(collection, id) {
      const value = await client.hGet(hash(collection), id);
      return value ? JSON.parse(value) : null;
    },
    async list(collection, { limit = 20, offset = 0, where = {} } = {}) {
      if (Object.keys(where).length === 0) {
        const [ids, total] = await Promise.all([
          client.zRange(order(collection), offset, offset + limit - 1),
          client.zCard(order(collection)),
        ]);
        return { items: await docs(collection, ids), total };
      }
      const all = (await docs(collection, await client.zRange(order(collection), 0, -1))).filter((d) => matches(d, where));
      return { items: all.slice(offset, offset + limit), total: all.length };
    },
    async update(collection, id, patch, { now = new Date() } = {}) {
      // Optimistic: WATCH the hash so a concurrent writer makes this retry, not lose data.
      for (;;) {
        const isolated = await client.executeIsolated(async (c) => {
          await c.watch(hash(collection));
          const value = await c.hGet(hash(collection), id);
          if (!value) return { doc: null };
          const doc = { ...JSON.parse(value), ...patch, id, updatedAt: now.toISOString() };
          try {
            await c.multi().hSet(hash(collection), id, JSON.stringify(doc)).exec();
          } catch (err) {
            if (err && err.name === 'WatchError') return null; // changed meanwhile: read again
            throw err;
          }
          return { doc };
        });
        if (isolated) return isolated.doc;
      }
    },
    async remove(collection, id) {
      const [removed] = await client.multi().hDel(hash(collection), id).zRem(order(collection), id).exec();
      return Number(removed) > 0;
    },
    async ping() {
      await client.ping();
    },
    close: () => client.quit(),
  };
}

module.exports = { createRedisStore };
