'use strict';
// Password hashing with bcrypt (bcryptjs: pure JavaScript, nothing to compile).
const bcrypt = require('bcryptjs');

function createPasswordHasher(rounds) {
  // Compared against when the email is unknown, so a login for a missing account
  // takes as long as one with a wrong password (no account enumeration by timing).
  let dummy = null;
  return {
    hash: (password) => bcrypt.hash(password, rounds),
    async verify(password, hash) {
      if (!hash) {
        dummy = dummy || (await bcrypt.hash('not-a-real-password', rounds));
        await bcrypt.compare(password, dummy);
        return false;
      }
      return bcrypt.compare(password, hash);
    },
  };
}

module.exports = { createPasswordHasher };
