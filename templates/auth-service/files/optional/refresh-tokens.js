'use strict';
// Refresh tokens: long-lived JWTs whose id (jti) and SHA-256 are kept in the store.
// Each use rotates the token (the old one is revoked); presenting a revoked token
// again means it was stolen or replayed, so every refresh token of that user is revoked.
const { createHash, randomUUID } = require('node:crypto');
const jsonwebtoken = require('jsonwebtoken');
const { secretKey } = require('./lib/jwt');
const { unauthorized } = require('./lib/errors');

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function createRefreshTokens({ secret, ttlSeconds, store }) {
  const key = secretKey(secret);

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

  return {
    async issue(user) {
      const id = randomUUID();
      const token = jsonwebtoken.sign({ typ: 'refresh' }, key, {
        algorithm: 'HS256',
        subject: user.id,
        jwtid: id,
        expiresIn: ttlSeconds,
      });
      await store.addRefreshToken({ id, userId: user.id, tokenHash: sha256(token), expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
      return token;
    },
    /** Checks and revokes a refresh token; returns the user id it was issued to. */
    async consume(token) {
      const claims = decode(token);
      const result = await store.useRefreshToken(claims.jti, sha256(token));
      if (result.state === 'active') return result.userId;
      if (result.state === 'revoked') await store.revokeAllRefreshTokens(result.userId);
      throw unauthorized('the refresh token was already used or revoked');
    },
    async revoke(token) {
      await store.revokeRefreshToken(decode(token).jti);
    },
  };
}

module.exports = { createRefreshTokens };
