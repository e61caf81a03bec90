'use strict';
// Test helpers: start the real service on a free loopback port and call it over HTTP.
const jsonwebtoken = require('jsonwebtoken');
const { main } = require('../src/main');

const TEST_SECRET = 'test-secret-for-unit-tests';

async function start({ env = {}, deps = {} } = {}) {
  const lines = [];
  const service = await main({
    env: { LOG_LEVEL: 'debug', JWT_SECRET: TEST_SECRET, BCRYPT_ROUNDS: '4', ...env },
    sink: (line) => lines.push(line),
    port: 0,
    host: '127.0.0.1',
    deps,
  });
  const base = `http://127.0.0.1:${service.port}`;
  async function call(method, path, { body, token, headers = {} } = {}) {
    const sent = { ...headers };
    if (body !== undefined && !sent['content-type']) sent['content-type'] = 'application/json';
    if (token) sent.authorization = `Bearer ${token}`;
    const res = await fetch(base + path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: json, text };
  }
  return { ...service, base, call, logs: () => lines.map((line) => JSON.parse(line)) };
}

/** An access token as the auth service would issue it. */
function accessToken(claims = {}, { secret = TEST_SECRET, expiresIn = 60 } = {}) {
  return jsonwebtoken.sign({ typ: 'access', email: 'ada@example.com', ...claims }, secret, {
    algorithm: 'HS256',
    subject: claims.sub ? undefined : '00000000-0000-4000-8000-000000000001',
    expiresIn,
  });
}

module.exports = { start, accessToken, TEST_SECRET };
