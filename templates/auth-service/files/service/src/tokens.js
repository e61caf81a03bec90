'use strict';
// Access tokens: short-lived HS256 JWTs the gateway and services verify on their own.
const jsonwebtoken = require('jsonwebtoken');
const { secretKey } = require('./lib/jwt');

function createAccessTokens({ secret, ttlSeconds }) {
  const key = secretKey(secret);
  return {
    ttlSeconds,
    issue(user) {
      return jsonwebtoken.sign({ typ: 'access', email: user.email, name: user.name }, key, {
        algorithm: 'HS256',
        subject: user.id,
        expiresIn: ttlSeconds,
      });
    },
  };
}

module.exports = { createAccessTokens };
