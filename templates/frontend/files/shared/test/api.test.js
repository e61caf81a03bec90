// Unit tests for the API client: token handling, refresh on 401, list shapes, the
// resource routes. Runs with vitest in node: no browser and no running gateway needed.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ApiError, createApi, createMemoryStorage, extractList, extractTokens, extractTotal } from '../src/api.js';

function stubFetch(routes) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    const path = new URL(url).pathname + new URL(url).search;
    calls.push({ path, method: init.method, headers: init.headers, body: init.body && JSON.parse(init.body) });
    const handler = routes[`${init.method} ${new URL(url).pathname}`];
    const [status, body] = handler ? handler(calls[calls.length - 1], calls) : [404, { error: 'no route' }];
    return { status, ok: status >= 200 && status < 300, text: async () => (body === undefined ? '' : JSON.stringify(body)) };
  };
  return { fetchImpl, calls };
}

const BASE = 'http://gateway.test';

test('extractTokens accepts camelCase, snake_case and nested tokens', () => {
  assert.deepEqual(extractTokens({ accessToken: 'a', refreshToken: 'r' }), { access: 'a', refresh: 'r' });
  assert.deepEqual(extractTokens({ access_token: 'a', refresh_token: 'r' }), { access: 'a', refresh: 'r' });
  assert.deepEqual(extractTokens({ tokens: { accessToken: 'a' } }), { access: 'a', refresh: null });
  assert.deepEqual(extractTokens(null), { access: null, refresh: null });
});

test('extractList and extractTotal read arrays and wrapped pages', () => {
  assert.deepEqual(extractList([1, 2]), [1, 2]);
  assert.deepEqual(extractList({ widgets: [1] }, 'widgets'), [1]);
  assert.deepEqual(extractList({ items: [3] }, 'widgets'), [3]);
  assert.deepEqual(extractList({ data: [4] }), [4]);
  assert.deepEqual(extractList('nope'), []);
  assert.equal(extractTotal({ items: [1, 2], total: 40 }), 40);
  assert.equal(extractTotal({ items: [1], pagination: { total: 7 } }), 7);
  assert.equal(extractTotal([1, 2, 3]), 3);
});

test('login stores the tokens and sends them with later requests', async () => {
  const { fetchImpl, calls } = stubFetch({
    'POST /api/auth/login': () => [200, { accessToken: 'acc-1', refreshToken: 'ref-1', user: { email: 'a@b.c' } }],
    'GET /api/widgets': () => [200, { items: [{ id: 'p1' }] }],
  });
  const api = createApi({ baseUrl: BASE, fetchImpl, storage: createMemoryStorage() });
  assert.equal(api.isLoggedIn(), false);
  await api.login('a@b.c', 'pw');
  assert.equal(api.isLoggedIn(), true);
  assert.deepEqual(api.session.user, { email: 'a@b.c' });
  const body = await api.resource('/api/widgets').list({ search: 'lamp', category: '' });
  assert.deepEqual(extractList(body), [{ id: 'p1' }]);
  const last = calls[calls.length - 1];
  assert.equal(last.path, '/api/widgets?search=lamp');
  assert.equal(last.headers.authorization, 'Bearer acc-1');
  assert.ok(last.headers['x-correlation-id'], 'every request carries a correlation id');
  assert.equal(calls[0].headers.authorization, undefined, 'login is sent without a token');
});

test('a 401 refreshes the access token once and retries', async () => {
  let n = 0;
  const { fetchImpl, calls } = stubFetch({
    'POST /api/auth/login': () => [200, { accessToken: 'old', refreshToken: 'ref' }],
    'POST /api/auth/refresh': (c) => (c.body.refreshToken === 'ref' ? [200, { accessToken: 'new' }] : [401, {}]),
    'GET /api/widgets': (c) => {
      n += 1;
      return c.headers.authorization === 'Bearer new' ? [200, [{ id: 1 }]] : [401, { error: 'expired' }];
    },
  });
  const api = createApi({ baseUrl: BASE, fetchImpl, storage: createMemoryStorage() });
  await api.login('a@b.c', 'pw');
  assert.deepEqual(await api.resource('/api/widgets').list(), [{ id: 1 }]);
  assert.equal(n, 2);
  assert.equal(api.session.accessToken, 'new');
  assert.equal(api.session.refreshToken, 'ref', 'the refresh token is kept when not rotated');
  assert.ok(calls.some((c) => c.path === '/api/auth/refresh'));
});

test('a 401 that refresh cannot fix logs out and throws ApiError', async () => {
  const { fetchImpl } = stubFetch({
    'POST /api/auth/login': () => [200, { accessToken: 'old', refreshToken: 'ref' }],
    'POST /api/auth/refresh': () => [401, { error: 'refresh token revoked' }],
    'GET /api/widgets': () => [401, { error: { message: 'invalid token' } }],
  });
  const api = createApi({ baseUrl: BASE, fetchImpl, storage: createMemoryStorage() });
  const seen = [];
  api.onAuthChange((v) => seen.push(v));
  await api.login('a@b.c', 'pw');
  await assert.rejects(api.resource('/api/widgets').list(), (e) => e instanceof ApiError && e.status === 401 && e.message === 'invalid token');
  assert.equal(api.isLoggedIn(), false);
  assert.deepEqual(seen, [true, false]);
});

test('register signs in with the returned tokens, or logs in when none are returned', async () => {
  const withTokens = stubFetch({ 'POST /api/auth/register': () => [201, { access_token: 't' }] });
  const a = createApi({ baseUrl: BASE, fetchImpl: withTokens.fetchImpl, storage: createMemoryStorage() });
  await a.register('n@b.c', 'pw', 'N');
  assert.equal(a.session.accessToken, 't');
  assert.equal(withTokens.calls.length, 1);

  const without = stubFetch({
    'POST /api/auth/register': () => [201, { id: 'u1', email: 'n@b.c' }],
    'POST /api/auth/login': () => [200, { accessToken: 'l' }],
  });
  const b = createApi({ baseUrl: BASE, fetchImpl: without.fetchImpl, storage: createMemoryStorage() });
  await b.register('n@b.c', 'pw', 'N');
  assert.equal(b.session.accessToken, 'l');
  assert.deepEqual(without.calls.map((c) => c.path), ['/api/auth/register', '/api/auth/login']);
});

test('errors carry the status and the server message; a login without token is refused', async () => {
  const { fetchImpl } = stubFetch({
    'POST /api/auth/login': (c) => (c.body.password === 'bad' ? [401, { message: 'wrong password' }] : [200, { ok: true }]),
    'POST /api/widgets': () => [400, 'plain text problem'],
  });
  const api = createApi({ baseUrl: BASE, fetchImpl, storage: createMemoryStorage() });
  await assert.rejects(api.login('a@b.c', 'bad'), { status: 401, message: 'wrong password' });
  await assert.rejects(api.login('a@b.c', 'ok'), { status: 502 });
  assert.equal(api.isLoggedIn(), false);
  await assert.rejects(api.resource('/api/widgets').create({}), { status: 400, message: 'plain text problem' });
});

test('logout clears the session', async () => {
  const { fetchImpl } = stubFetch({ 'POST /api/auth/login': () => [200, { token: 'x', user: { email: 'e' } }] });
  const storage = createMemoryStorage();
  const api = createApi({ baseUrl: BASE, fetchImpl, storage });
  await api.login('e', 'p');
  api.logout();
  assert.equal(api.isLoggedIn(), false);
  assert.equal(storage.getItem('app.user'), null);
});

test('a resource reads one record by id and creates with a JSON body', async () => {
  const { fetchImpl, calls } = stubFetch({
    'GET /api/order-items/a%2Fb': () => [200, { id: 'a/b', qty: 2 }],
    'POST /api/order-items': (c) => [201, { id: 'n1', ...c.body }],
  });
  const items = createApi({ baseUrl: BASE, fetchImpl, storage: createMemoryStorage() }).resource('/api/order-items');
  assert.deepEqual(await items.get('a/b'), { id: 'a/b', qty: 2 });
  assert.deepEqual(await items.create({ qty: 3 }), { id: 'n1', qty: 3 });
  assert.equal(calls[1].method, 'POST');
  assert.equal(calls[1].headers['content-type'], 'application/json');
  assert.deepEqual(calls[1].body, { qty: 3 });
  await assert.rejects(items.get('missing'), { status: 404 });
});
