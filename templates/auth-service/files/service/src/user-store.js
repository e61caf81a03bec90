'use strict';
// Accounts (email, password hash, provider). In memory: accounts last as long as the
// process; put a database behind the same four methods to keep them across restarts.
const { randomUUID } = require('node:crypto');
const { conflict } = require('./lib/errors');

function createMemoryUserStore() {
  const byId = new Map();
  const byEmail = new Map();
  return {
    async create({ email, name, passwordHash, provider = 'password' }) {
      const key = email.toLowerCase();
      if (byEmail.has(key)) throw conflict('an account with this email already exists');
      const user = { id: randomUUID(), email: key, name: name || '', passwordHash: passwordHash || null, provider };
      byId.set(user.id, user);
      byEmail.set(key, user);
      return user;
    },
    async findByEmail(email) {
      return byEmail.get(String(email).toLowerCase()) || null;
    },
    async findById(id) {
      return byId.get(id) || null;
    },
    async count() {
      return byId.size;
    },
  };
}

/** What a client may see of an account: never the password hash. */
const publicUser = (user) => ({ id: user.id, email: user.email, name: user.name });

module.exports = { createMemoryUserStore, publicUser };
