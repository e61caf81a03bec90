'use strict';
// The MongoDB store (the official driver): a collection per resource, one document
// per record with the record's id as _id. The unit tests run it on test/fake-mongo.js
// (mingo's query semantics); integration/ runs it on a real server when MONGO_URL is set.
const { randomUUID } = require('node:crypto');

const toDoc = ({ _id, ...rest }) => ({ id: _id, ...rest });

function createMongoStore(db, { close = async () => {} } = {}) {
  const c = (name) => db.collection(name);
  return {
    kind: 'mongodb',
    async init(collections) {
      for (const name of collections) await c(name).createIndex({ createdAt: 1, _id: 1 });
    },
    async create(collection, fields, { id = randomUUID(), now = new Date() } = {}) {
      const stamp = now.toISOString();
      const doc = { _id: id, ...fields, createdAt: stamp, updatedAt: stamp };
      await c(collection).insertOne(doc);
      return toDoc(doc);
    },
    async get(collection, id) {
      const doc = await c(collection).findOne({ _id: id });
      return doc ? toDoc(doc) : null;
    },
    async list(collection, { limit = 20, offset = 0, where = {} } = {}) {
      const [docs, total] = await Promise.all([
        c(collection).find(where).sort({ createdAt: 1, _id: 1 }).skip(offset).limit(limit).toArray(),
        c(collection).countDocuments(where),
      ]);
      return { items: docs.map(toDoc), total };
    },
    async update(collection, id, patch, { now = new Date() } = {}) {
      const doc = await c(collection).findOneAndUpdate(
        { _id: id },
        { $set: { ...patch, updatedAt: now.toISOString() } },
        { returnDocument: 'after' },
      );
      return doc ? toDoc(doc) : null;
    },
    async remove(collection, id) {
      const { deletedCount } = await c(collection).deleteOne({ _id: id });
      return deletedCount > 0;
    },
    async ping() {
      await db.command({ ping: 1 });
    },
    close,
  };
}

module.exports = { createMongoStore };
