'use strict';
// Refresh tokens: long-lived JWTs with an id (jti) remembered server side. Each use
// rotates the token (the old one is revoked); presenting a revoked token again means
// it was stolen or replayed, so every refresh token of that user is revoked.
const { randomUUID } = require('node:crypto');
const jsonwebtoken = require('jsonwebtoken');
const { secretKey } = require('./lib/jwt');
const { unauthorized } = require('./lib/errors');

function createRefreshTokens({ secret, ttlSeconds }) {
  const key = secretKey(secret);
  const active = new Map(); // jti -> user id
  const used = new Map(); // jti -> user id, for reuse detection

  function issue(user) {
    const jti = randomUUID();
    active.set(jti, user.id);
    return jsonwebtoken.sign({ typ: 'refresh' }, key, {
      algorithm: 'HS256',
      subject: user.id,
      jwtid: jti,
      expiresIn: ttlSeconds,
    });
  }

  function decode(token) {
    if (typeof token !== 'string' || !token) throw unauthorized('"refreshToken" is required');
    let claims;
    try {
      claims = jsonwebtoken.verify(token, key, { algorithms: ['HS256'] });
    } catch {
      throw unauthorized('the refresh token is not valid or has expired');
    }
    if (claims.typ !== 'refresh' || !claims.jti) throw unauthorized('the token is not a refresh token');
    return claims;
  }

  function revokeAllOf(userId) {
    for (const [jti, owner] of active) if (owner === userId) active.delete(jti);
  }

  return {
    issue,
    /** Checks and revokes a refresh token; returns the user id it was issued to. */
    consume(token) {
      const claims = decode(token);
      if (!active.has(claims.jti)) {
        if (used.has(claims.jti)) revokeAllOf(claims.sub);
        throw unauthorized('the refresh token was already used or revoked');
      }
      active.delete(claims.jti);
      used.set(claims.jti, claims.sub);
      return claims.sub;
    },
    revoke(token) {
      const claims = decode(token);
      active.delete(claims.jti);
    },
    activeCount: () => active.size,
  };
}

module.exports = { createRefreshTokens };
