'use strict';
// Forwards one request to an upstream service and buffers its answer. Keep-alive
// agents reuse connections (the gateway is on every request's path); hop-by-hop
// headers are dropped both ways; an unreachable or slow upstream becomes 502 / 504
// naming the service, never a hung request.
const http = require('node:http');
const https = require('node:https');
const { HttpError } = require('./lib/errors');

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length',
]);

function withoutHopByHop(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  return out;
}

/** Joins the target's base path and the forwarded path: http://h:1/base + /things -> /base/things. */
function upstreamUrl(target, path, search) {
  const url = new URL(target);
  url.pathname = `${url.pathname.replace(/\/$/, '')}${path}`;
  url.search = search || '';
  return url;
}

function createProxy({ timeoutMs }) {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 512 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 512 }),
  };
  function forward({ name, target, method, path, search, headers, body }) {
    const url = upstreamUrl(target, path, search);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const outgoing = lib.request(url, {
        method,
        agent: agents[url.protocol],
        headers: { ...withoutHopByHop(headers), host: url.host, ...(body && body.length > 0 ? { 'content-length': String(body.length) } : {}) },
      });
      outgoing.setTimeout(timeoutMs, () => {
        outgoing.destroy(new HttpError(504, 'upstream_timeout', `${name} did not answer within ${timeoutMs} ms`));
      });
      outgoing.on('response', (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: withoutHopByHop(res.headers), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      outgoing.on('error', (err) => {
        if (err instanceof HttpError) return reject(err);
        reject(new HttpError(502, 'upstream_unavailable', `${name} is unavailable (${err.code || err.message})`));
      });
      outgoing.end(body && body.length > 0 ? body : undefined);
    });
  }
  return {
    forward,
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}

module.exports = { createProxy, upstreamUrl, withoutHopByHop };
