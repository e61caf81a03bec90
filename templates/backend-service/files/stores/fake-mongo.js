'use strict';
// A stand-in for the MongoDB driver's Db and Collection, for unit tests: the calls
// the repository makes, with MongoDB's query, update and aggregation semantics from
// mingo, and duplicate keys reported as the driver does (code 11000). Kept once, here:
// the microservices example's catalog service borrows it. The real database is
// exercised when MONGO_URL is set.
const mingo = require('mingo');

const clone = (value) => structuredClone(value);

function duplicateKey(field, value) {
  const err = new Error(`E11000 duplicate key error collection index: ${field}_1 dup key: { ${field}: "${value}" }`);
  err.code = 11000;
  return err;
}

function createFakeCollection() {
  const docs = [];
  const unique = [];
  function checkUnique(doc) {
    for (const field of unique) {
      const value = doc[field];
      if (typeof value === 'string' && docs.some((d) => d._id !== doc._id && d[field] === value)) throw duplicateKey(field, value);
    }
  }
  const matching = (filter) => mingo.find(docs, filter).all();
  return {
    indexes: [],
    async createIndex(spec, options = {}) {
      this.indexes.push({ spec, options });
      if (options.unique) unique.push(...Object.keys(spec));
      return Object.keys(spec).join('_');
    },
    find(filter) {
      let cursor = mingo.find(docs, filter);
      return {
        sort(spec) { cursor = cursor.sort(spec); return this; },
        skip(n) { cursor = cursor.skip(n); return this; },
        limit(n) { cursor = cursor.limit(n); return this; },
        async toArray() { return cursor.all().map(clone); },
      };
    },
    async countDocuments(filter) {
      return matching(filter).length;
    },
    async insertOne(doc) {
      if (docs.some((d) => d._id === doc._id)) throw duplicateKey('_id', doc._id);
      checkUnique(doc);
      docs.push(clone(doc));
      return { acknowledged: true, insertedId: doc._id };
    },
    async findOne(filter) {
      const [doc] = matching(filter);
      return doc ? clone(doc) : null;
    },
    async findOneAndUpdate(filter, update, options = {}) {
      const [doc] = matching(filter);
      if (!doc) return null;
      const next = clone(doc);
      mingo.update(next, update);
      checkUnique(next);
      docs[docs.indexOf(doc)] = next;
      return clone(options.returnDocument === 'after' ? next : doc);
    },
    async deleteOne(filter) {
      const [doc] = matching(filter);
      if (!doc) return { acknowledged: true, deletedCount: 0 };
      docs.splice(docs.indexOf(doc), 1);
      return { acknowledged: true, deletedCount: 1 };
    },
    aggregate(pipeline) {
      return { toArray: async () => mingo.aggregate(docs, pipeline).map(clone) };
    },
  };
}

function createFakeDb({ down = false } = {}) {
  const collections = new Map();
  return {
    commands: [],
    async command(command) {
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:27017');
      this.commands.push(command);
      return { ok: 1 };
    },
    collection(name) {
      if (!collections.has(name)) collections.set(name, createFakeCollection());
      return collections.get(name);
    },
  };
}

module.exports = { createFakeDb };
