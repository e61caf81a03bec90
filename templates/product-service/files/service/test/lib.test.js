'use strict';
// The behaviour every service shares: health, metrics, correlation ids, JSON logs,
// error answers, token checks, configuration and validation helpers.
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, accessToken, TEST_SECRET } = require('./helpers');
const { createPipeline, parseUrl } = require('../src/lib/pipeline');
const { createLogger } = require('../src/lib/logger');
const { createMetrics } = require('../src/lib/metrics');
const { createVerifier, jwtSecret, DEV_ONLY_SECRET } = require('../src/lib/jwt');
const { integer } = require('../src/config');
const validate = require('../src/lib/validate');

test('liveness, readiness and metrics answer without a token', async (t) => {
  const svc = await start();
  t.after(() => svc.close());
  assert.equal((await svc.call('GET', '/health/live')).status, 200);
  // Each service's own tests check that it is ready with its dependencies up; here
  // only the shape (the gateway, for one, is not ready without its upstreams).
  const ready = await svc.call('GET', '/health/ready');
  assert.ok(ready.status === 200 ? ready.body.status === 'ready' : ready.status === 503 && ready.body.reason);
  const metrics = await svc.call('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type'), /text\/plain/);
  assert.match(metrics.text, /http_requests_total\{[^}]*route="\/health\/ready"/);
  assert.match(metrics.text, /process_cpu_user_seconds_total/);
});

test('a correlation id is kept when valid, made when missing, and logged', async (t) => {
  const svc = await start();
  t.after(() => svc.close());
  const kept = await svc.call('GET', '/health/live', { headers: { 'x-correlation-id': 'abc-123' } });
  assert.equal(kept.headers.get('x-correlation-id'), 'abc-123');
  const made = await svc.call('GET', '/health/live', { headers: { 'x-correlation-id': 'bad id with spaces' } });
  assert.match(made.headers.get('x-correlation-id'), /^[0-9a-f-]{36}$/);
  const line = svc.logs().find((l) => l.msg === 'request' && l.correlationId === 'abc-123');
  assert.ok(line, 'the request is logged with its correlation id');
  assert.equal(line.status, 200);
  assert.equal(line.path, '/health/live');
  assert.equal(typeof line.durationMs, 'number');
});

test('unknown routes and malformed JSON get JSON errors', async (t) => {
  const svc = await start();
  t.after(() => svc.close());
  const missing = await svc.call('GET', '/no/such/route');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'not_found');
  assert.ok(missing.body.correlationId);
});

test('the pipeline checks tokens and maps errors', async () => {
  const lines = [];
  const logger = createLogger({ service: 't', level: 'debug', sink: (l) => lines.push(JSON.parse(l)) });
  const pipeline = createPipeline({ logger, metrics: createMetrics('t'), verifyAccessToken: createVerifier(TEST_SECRET) });
  const route = { method: 'POST', path: '/x', auth: true, handler: async (req) => ({ body: { sub: req.user.sub, got: req.body } }) };
  const request = (headers, raw = '') => ({ method: 'POST', url: '/x?a=1&a=2', params: {}, headers, rawBody: Buffer.from(raw) });

  const noToken = await pipeline.handle(route, request({}));
  assert.equal(noToken.status, 401);
  assert.match(noToken.body.error.message, /missing Authorization/);
  const wrongScheme = await pipeline.handle(route, request({ authorization: 'Basic abc' }));
  assert.equal(wrongScheme.status, 401);
  const forged = await pipeline.handle(route, request({ authorization: `Bearer ${accessToken({}, { secret: 'other' })}` }));
  assert.equal(forged.status, 401);
  assert.match(forged.body.error.message, /not valid/);
  const expired = await pipeline.handle(route, request({ authorization: `Bearer ${accessToken({}, { expiresIn: -10 })}` }));
  assert.match(expired.body.error.message, /expired/);
  const refreshToken = await pipeline.handle(route, request({ authorization: `Bearer ${accessToken({ typ: 'refresh' })}` }));
  assert.match(refreshToken.body.error.message, /not an access token/);

  const headers = { authorization: `Bearer ${accessToken()}`, 'content-type': 'application/json' };
  const ok = await pipeline.handle(route, request(headers, '{"n":1}'));
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { sub: '00000000-0000-4000-8000-000000000001', got: { n: 1 } });
  const badJson = await pipeline.handle(route, request(headers, '{nope'));
  assert.equal(badJson.status, 400);

  const crash = await pipeline.handle({ path: '/boom', handler: async () => { throw new Error('secret detail'); } }, request({}));
  assert.equal(crash.status, 500);
  assert.doesNotMatch(JSON.stringify(crash.body), /secret detail/);
  assert.ok(lines.some((l) => l.level === 'error' && l.error === 'secret detail'));
  const tooLarge = Object.assign(new Error('request entity too large'), { status: 413 });
  const framework = await pipeline.handle({ handler: async () => { throw tooLarge; } }, request({}));
  assert.equal(framework.status, 413);
  const unchecked = createPipeline({ logger, metrics: createMetrics('t') });
  assert.equal((await unchecked.handle(route, request(headers))).status, 401);
  assert.deepEqual(parseUrl('/p?a=1&a=2&b=x').query, { a: '1', b: 'x' });
});

test('readiness reports a failing dependency with 503', async () => {
  const { standardRoutes } = require('../src/lib/pipeline');
  const metrics = createMetrics('t');
  const ready = standardRoutes({ metrics, ready: async () => { throw new Error('database down'); } })[1];
  const logger = createLogger({ service: 't', level: 'silent' });
  const answer = await createPipeline({ logger, metrics }).handle(ready, { method: 'GET', url: '/health/ready', params: {}, headers: {} });
  assert.equal(answer.status, 503);
  assert.equal(answer.body.reason, 'database down');
});

test('logger levels filter and child loggers add fields', () => {
  const lines = [];
  const logger = createLogger({ service: 's', level: 'warn', sink: (l) => lines.push(JSON.parse(l)) });
  logger.debug('d');
  logger.info('i');
  logger.warn('w', { a: 1 });
  logger.child({ correlationId: 'c' }).error('e');
  assert.deepEqual(lines.map((l) => l.msg), ['w', 'e']);
  assert.equal(lines[1].correlationId, 'c');
  assert.equal(lines[0].service, 's');
  assert.equal(createLogger({ service: 's', level: 'nonsense' }).level, 'info');
});

test('JWT secret: env wins, dev default warns, production without it refuses', () => {
  const warnings = [];
  const logger = { warn: (m) => warnings.push(m) };
  assert.equal(jwtSecret({ JWT_SECRET: 's3' }, logger), 's3');
  assert.equal(jwtSecret({}, logger), DEV_ONLY_SECRET);
  assert.match(warnings[0], /DEV-ONLY/);
  assert.throws(() => jwtSecret({ NODE_ENV: 'production' }), /JWT_SECRET is not set/);
});

test('configuration integers are checked', () => {
  assert.equal(integer({}, 'PORT', 5), 5);
  assert.equal(integer({ PORT: '7' }, 'PORT', 5), 7);
  assert.throws(() => integer({ PORT: 'x' }, 'PORT', 5), /PORT must be a non-negative integer/);
});

test('validators name the field and the problem', () => {
  assert.throws(() => validate.requireObject([]), /JSON object/);
  assert.throws(() => validate.string({}, 'name', { required: true }), /"name" is required/);
  assert.throws(() => validate.string({ name: 3 }, 'name'), /must be a string/);
  assert.throws(() => validate.string({ name: 'abc' }, 'name', { max: 2 }), /at most 2/);
  assert.throws(() => validate.string({ email: 'x' }, 'email', { pattern: validate.EMAIL }), /not valid/);
  assert.equal(validate.string({}, 'name'), undefined);
  assert.throws(() => validate.number({}, 'price', { required: true }), /required/);
  assert.throws(() => validate.number({ price: '1' }, 'price'), /must be a number/);
  assert.throws(() => validate.number({ n: 1.5 }, 'n', { integer: true }), /integer/);
  assert.throws(() => validate.number({ n: -1 }, 'n', { min: 0 }), /at least 0/);
  assert.equal(validate.number({ n: 2 }, 'n'), 2);
  assert.equal(validate.number({}, 'n'), undefined);
  assert.throws(() => validate.boolean({ b: 'yes' }, 'b'), /true or false/);
  assert.equal(validate.boolean({ b: false }, 'b'), false);
  assert.equal(validate.boolean({}, 'b'), undefined);
  assert.deepEqual(validate.paging({}), { limit: 20, offset: 0 });
  assert.deepEqual(validate.paging({ limit: '5', offset: '10' }), { limit: 5, offset: 10 });
  assert.throws(() => validate.paging({ limit: '0' }), /limit/);
  assert.throws(() => validate.paging({ offset: '-1' }), /offset/);
});
