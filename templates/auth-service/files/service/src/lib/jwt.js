'use strict';
// JWT verification shared by every service: HS256 with the secret every service gets
// from JWT_SECRET, so the gateway and the services can check a token without asking
// the auth service.
const { createSecretKey, KeyObject } = require('node:crypto');
const jsonwebtoken = require('jsonwebtoken');
const { unauthorized } = require('./errors');

/** DEV ONLY. Used when JWT_SECRET is unset outside production; never deploy with it. */
const DEV_ONLY_SECRET = 'dev-only-insecure-jwt-secret-set-JWT_SECRET';

/**
 * The secret from the environment. Without JWT_SECRET the dev-only default is used
 * (with a warning) unless NODE_ENV=production, where starting is refused.
 */
function jwtSecret(env, logger) {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  if (env.NODE_ENV === 'production') {
    throw new Error('JWT_SECRET is not set: refusing to start in production with the dev-only secret; set JWT_SECRET (the same value in every service)');
  }
  if (logger) logger.warn('JWT_SECRET is not set: using the built-in DEV-ONLY secret; set JWT_SECRET before deploying');
  return DEV_ONLY_SECRET;
}

function bearerToken(headers) {
  const value = headers.authorization;
  if (!value) throw unauthorized('missing Authorization: Bearer <token> header');
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  if (!match) throw unauthorized('the Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * The secret as a KeyObject, made once. jsonwebtoken given a string first tries to
 * parse it as a PEM public key on every call, which costs more than the HMAC itself
 * (it dominated the gateway's CPU profile).
 */
function secretKey(secret) {
  return secret instanceof KeyObject ? secret : createSecretKey(Buffer.from(secret, 'utf8'));
}

/** verifyAccessToken(token) -> claims; throws 401 for a bad, expired or non-access token. */
function createVerifier(secret) {
  const key = secretKey(secret);
  return function verifyAccessToken(token) {
    let claims;
    try {
      claims = jsonwebtoken.verify(token, key, { algorithms: ['HS256'] });
    } catch (err) {
      throw unauthorized(err.name === 'TokenExpiredError' ? 'the access token has expired' : 'the access token is not valid');
    }
    if (claims.typ !== 'access') throw unauthorized('the token is not an access token');
    return claims;
  };
}

module.exports = { jwtSecret, bearerToken, createVerifier, secretKey, DEV_ONLY_SECRET };
