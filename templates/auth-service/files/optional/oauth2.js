'use strict';
// OAuth2 authorization-code login against one configured provider (any provider with
// authorize, token and userinfo endpoints: Google, GitHub through an OIDC bridge,
// Keycloak ...). The `state` parameter is a short-lived signed token, so no session
// store is needed and a forged callback is rejected.
const jsonwebtoken = require('jsonwebtoken');
const { secretKey } = require('./lib/jwt');
const { HttpError, badRequest } = require('./lib/errors');

const REQUIRED = ['authorizeUrl', 'tokenUrl', 'userinfoUrl', 'clientId', 'clientSecret', 'redirectUri'];
const ENV_NAMES = {
  authorizeUrl: 'OAUTH2_AUTHORIZE_URL',
  tokenUrl: 'OAUTH2_TOKEN_URL',
  userinfoUrl: 'OAUTH2_USERINFO_URL',
  clientId: 'OAUTH2_CLIENT_ID',
  clientSecret: 'OAUTH2_CLIENT_SECRET',
  redirectUri: 'OAUTH2_REDIRECT_URI',
};

function createOAuth2({ config, secret, fetchImpl = globalThis.fetch }) {
  const signingKey = secretKey(secret);
  const missing = REQUIRED.filter((key) => !config[key]).map((key) => ENV_NAMES[key]);

  function ensureConfigured() {
    if (missing.length > 0) {
      throw new HttpError(503, 'oauth2_not_configured', `OAuth2 login is not configured; set ${missing.join(', ')}`);
    }
  }

  return {
    configured: missing.length === 0,
    /** The provider URL to send the browser to. */
    authorizeUrl() {
      ensureConfigured();
      const state = jsonwebtoken.sign({ typ: 'oauth2-state' }, signingKey, { algorithm: 'HS256', expiresIn: 600 });
      const url = new URL(config.authorizeUrl);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('redirect_uri', config.redirectUri);
      url.searchParams.set('scope', config.scope);
      url.searchParams.set('state', state);
      return url.toString();
    },
    /** Exchanges the code for the provider's profile: { subject, email, name }. */
    async profile({ code, state }) {
      ensureConfigured();
      if (!code) throw badRequest('"code" is required');
      let claims = null;
      try {
        claims = jsonwebtoken.verify(String(state || ''), signingKey, { algorithms: ['HS256'] });
      } catch {
        claims = null;
      }
      if (!claims || claims.typ !== 'oauth2-state') throw badRequest('the OAuth2 state is missing, forged or expired; start again');
      const tokenResponse = await fetchImpl(config.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: String(code),
          redirect_uri: config.redirectUri,
          client_id: config.clientId,
          client_secret: config.clientSecret,
        }).toString(),
      });
      const tokenBody = await tokenResponse.json().catch(() => ({}));
      if (!tokenResponse.ok || !tokenBody.access_token) {
        throw new HttpError(502, 'oauth2_provider', `the OAuth2 provider refused the code (HTTP ${tokenResponse.status})`);
      }
      const infoResponse = await fetchImpl(config.userinfoUrl, {
        headers: { authorization: `Bearer ${tokenBody.access_token}`, accept: 'application/json' },
      });
      const info = await infoResponse.json().catch(() => ({}));
      if (!infoResponse.ok || !info.email) {
        throw new HttpError(502, 'oauth2_provider', `the OAuth2 provider gave no email for this account (HTTP ${infoResponse.status})`);
      }
      return { subject: String(info.sub || info.id || ''), email: String(info.email), name: String(info.name || '') };
    },
  };
}

module.exports = { createOAuth2 };
