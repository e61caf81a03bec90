'use strict';
// Fixed-window rate limiting per client (the token's subject when there is one, the
// address otherwise). Over the limit: 429 with Retry-After and RateLimit-* headers.
const { HttpError } = require('./lib/errors');

function createRateLimiter({ windowMs, max, now = Date.now, maxKeys = 100000 }) {
  const windows = new Map();

  function sweep(time) {
    for (const [key, window] of windows) if (window.resetAt <= time) windows.delete(key);
  }

  return {
    /** Counts one request for `key`; returns the headers to send, or throws 429. */
    check(key) {
      const time = now();
      let window = windows.get(key);
      if (!window || window.resetAt <= time) {
        if (windows.size >= maxKeys) sweep(time);
        window = { count: 0, resetAt: time + windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      const resetSeconds = Math.max(1, Math.ceil((window.resetAt - time) / 1000));
      const headers = {
        'ratelimit-limit': String(max),
        'ratelimit-remaining': String(Math.max(0, max - window.count)),
        'ratelimit-reset': String(resetSeconds),
      };
      if (window.count > max) {
        throw new HttpError(
          429,
          'rate_limited',
          `too many requests: at most ${max} per ${windowMs / 1000} s for one client; retry after ${resetSeconds} s`,
          { ...headers, 'retry-after': String(resetSeconds) },
        );
      }
      return headers;
    },
    size: () => windows.size,
  };
}

module.exports = { createRateLimiter };
