'use strict';
// Everything that happens around a handler, independent of the HTTP framework:
// correlation id, JSON body, token check, error mapping, the request log line and the
// metrics. The express/fastify adapter (http.js) only translates requests and answers.
const { randomUUID } = require('node:crypto');
const { HttpError, unauthorized } = require('./errors');
const { bearerToken } = require('./jwt');

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

function parseUrl(url) {
  const parsed = new URL(url, 'http://local');
  const query = {};
  for (const [key, value] of parsed.searchParams) if (!(key in query)) query[key] = value;
  return { path: parsed.pathname, query };
}

function parseBody(req) {
  if (!req.rawBody || req.rawBody.length === 0) return undefined;
  const type = String(req.headers['content-type'] || '');
  if (!type.includes('json')) return undefined;
  try {
    return JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'the request body is not valid JSON');
  }
}

/**
 * createPipeline({ logger, metrics, verifyAccessToken, requestLogLevel }) -> { handle(route, req) }.
 * `requestLogLevel` ('info' by default) is the level of the one line logged per request.
 * `req` is { method, url, params, headers, rawBody, ip }; the answer is
 * { status, headers, body } where body is an object (sent as JSON), a string, a Buffer
 * or undefined (no body).
 */
function createPipeline({ logger, metrics, verifyAccessToken, requestLogLevel = 'info' }) {
  async function handle(route, incoming) {
    const started = process.hrtime.bigint();
    const supplied = incoming.headers['x-correlation-id'];
    const correlationId = typeof supplied === 'string' && CORRELATION_ID.test(supplied) ? supplied : randomUUID();
    const log = logger.child({ correlationId });
    const { path, query } = parseUrl(incoming.url);
    const req = { ...incoming, path, query, correlationId, log, user: null };
    let answer;
    try {
      if (!route.raw) req.body = parseBody(incoming);
      if (route.auth) {
        if (!verifyAccessToken) throw unauthorized('this service cannot check tokens');
        req.user = verifyAccessToken(bearerToken(incoming.headers));
      }
      const result = (await route.handler(req)) || {};
      answer = { status: result.status || 200, headers: result.headers || {}, body: result.body };
    } catch (err) {
      answer = errorAnswer(err, log, correlationId);
    }
    answer.headers = { ...answer.headers, 'x-correlation-id': correlationId };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // A handler may name the route for metrics (the gateway names its upstream prefix).
    const routeName = req.routeName || route.name || route.path || 'unmatched';
    metrics.observe(incoming.method, routeName, answer.status, seconds);
    const fields = {
      method: incoming.method,
      path,
      route: routeName,
      status: answer.status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
    };
    if (req.user && req.user.sub) fields.userId = req.user.sub;
    if (QUIET_PATHS.has(path)) log.debug('request', fields);
    else log[requestLogLevel]('request', fields);
    return answer;
  }

  return { handle };
}

function errorAnswer(err, log, correlationId) {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      headers: err.headers || {},
      body: { error: { code: err.code, message: err.message }, correlationId },
    };
  }
  // Framework errors (body too large, aborted request) carry a 4xx status.
  const status = Number(err && (err.status || err.statusCode));
  if (status >= 400 && status < 500) {
    return { status, headers: {}, body: { error: { code: 'bad_request', message: err.message }, correlationId } };
  }
  log.error('unhandled error', { error: err && err.message, stack: err && err.stack });
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: 'internal error; see the service log for this correlation id' }, correlationId },
  };
}

/** The routes every service has: liveness, readiness (ready() may throw) and metrics. */
function standardRoutes({ metrics, ready }) {
  return [
    { method: 'GET', path: '/health/live', handler: async () => ({ body: { status: 'ok' } }) },
    {
      method: 'GET',
      path: '/health/ready',
      handler: async (req) => {
        try {
          if (ready) await ready();
          return { body: { status: 'ready' } };
        } catch (err) {
          req.log.warn('not ready', { error: err.message });
          return { status: 503, body: { status: 'not ready', reason: err.message } };
        }
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async () => ({ headers: { 'content-type': metrics.contentType }, body: await metrics.text() }),
    },
  ];
}

/** The answer for a path no route matches. */
const notFoundRoute = {
  name: 'unmatched',
  raw: true,
  handler: async (req) => {
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  },
};

module.exports = { createPipeline, standardRoutes, notFoundRoute, parseUrl };
