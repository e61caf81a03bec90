// A stand-in for the API gateway, for the browser test when no real system runs
// (GATEWAY_URL unset): it keeps records in memory and answers the gateway's contract
// (docs/generated-system.md) for exactly the resources in src/resources.js —
// register/login/refresh, `GET/POST <path>`, `GET <path>/:id`, bearer tokens when
// AUTH, 400 for a missing required field. It checks the frontend, not the services:
// scripts/verify-frontend.sh runs the same test against the real gateway as well.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { AUTH, RESOURCES } from '../src/resources.js';

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function problem(res, status, code, message) {
  send(res, status, { error: { code, message }, correlationId: randomUUID() });
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

/** Starts the stand-in on a free loopback port: `{url, close, requests}`. */
export async function startContractGateway() {
  const accounts = new Map();
  const tokens = new Map();
  const stores = new Map(RESOURCES.map((r) => [r.path, []]));
  const requests = [];

  function issue(user) {
    const accessToken = randomUUID();
    tokens.set(accessToken, user);
    return { user, accessToken, refreshToken: randomUUID(), tokenType: 'Bearer', expiresIn: 900 };
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://gateway');
    requests.push(`${req.method} ${url.pathname}`);
    try {
      if (url.pathname === '/health/ready' || url.pathname === '/health/live') return send(res, 200, { status: 'ready' });
      if (req.method === 'POST' && url.pathname === '/api/auth/register') {
        const { email, password, name = '' } = await readJson(req);
        if (!email || !password) return problem(res, 400, 'VALIDATION', 'email and password are required');
        if (accounts.has(email)) return problem(res, 409, 'CONFLICT', 'an account with this email exists');
        const user = { id: randomUUID(), email, name };
        accounts.set(email, { user, password });
        return send(res, 201, issue(user));
      }
      if (req.method === 'POST' && url.pathname === '/api/auth/login') {
        const { email, password } = await readJson(req);
        const account = accounts.get(email);
        if (!account || account.password !== password) return problem(res, 401, 'UNAUTHORIZED', 'wrong email or password');
        return send(res, 200, issue(account.user));
      }
      if (AUTH && url.pathname.startsWith('/api/')) {
        const token = (req.headers.authorization || '').replace(/^Bearer /, '');
        if (!tokens.has(token)) return problem(res, 401, 'UNAUTHORIZED', 'a bearer token is required');
      }
      const resource = RESOURCES.find((r) => url.pathname === r.path || url.pathname.startsWith(`${r.path}/`));
      if (!resource) return problem(res, 404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
      const items = stores.get(resource.path);
      const rest = url.pathname.slice(resource.path.length + 1);
      if (!rest && req.method === 'GET') {
        const limit = Number(url.searchParams.get('limit') || 50);
        const offset = Number(url.searchParams.get('offset') || 0);
        return send(res, 200, { items: items.slice(offset, offset + limit), total: items.length, limit, offset });
      }
      if (!rest && req.method === 'POST') {
        const body = await readJson(req);
        const missing = resource.fields.filter((f) => f.required && (body[f.name] === undefined || body[f.name] === ''));
        if (missing.length) return problem(res, 400, 'VALIDATION', `${missing.map((f) => f.name).join(', ')} is required`);
        const record = { ...body, id: randomUUID(), createdAt: new Date().toISOString() };
        items.push(record);
        return send(res, 201, record);
      }
      if (rest && !rest.includes('/') && req.method === 'GET') {
        const record = items.find((i) => i.id === decodeURIComponent(rest));
        return record ? send(res, 200, record) : problem(res, 404, 'NOT_FOUND', `no ${resource.singular} ${rest}`);
      }
      return problem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} ${url.pathname}`);
    } catch (e) {
      return problem(res, 400, 'BAD_REQUEST', e.message);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
