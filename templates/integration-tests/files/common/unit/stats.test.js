// Unit tests of the load test's arithmetic (no running system needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, percentile } from '../lib/stats.js';

test('percentile uses the nearest rank', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assert.equal(percentile(v, 95), 95);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 100), 100);
  assert.equal(percentile([7], 95), 7);
  assert.equal(percentile([3, 1, 2], 0), 1);
  assert.ok(Number.isNaN(percentile([], 95)));
});

test('percentile sorts numerically, not as text', () => {
  assert.equal(percentile([100, 9, 20], 50), 20);
});

const base = { latencies: [10, 20, 30], requests: 12000, durationS: 10, non2xx: 0, status429: 0, errors: 0 };
const limits = { p95Ms: 200, minRps: 1000 };

test('a run inside both thresholds passes', () => {
  const r = evaluate(base, limits);
  assert.equal(r.ok, true, r.failures.join('; '));
  assert.equal(r.rps, 1200);
  assert.equal(r.p95, 30);
});

test('slow p95 and low throughput each fail with the numbers', () => {
  const r = evaluate({ ...base, latencies: [10, 250, 300], requests: 5000 }, limits);
  assert.equal(r.ok, false);
  assert.match(r.failures.join('\n'), /p95 latency 300\.0 ms is above the 200 ms threshold/);
  assert.match(r.failures.join('\n'), /throughput 500\.0 req\/s is below the 1000 req\/s threshold/);
});

test('429s, other errors and an empty run are failures, never a pass', () => {
  assert.match(evaluate({ ...base, non2xx: 5, status429: 5 }, limits).failures.join(), /RATE_LIMIT_MAX/);
  assert.match(evaluate({ ...base, non2xx: 3 }, limits).failures.join(), /3 answers were not 2xx/);
  assert.match(evaluate({ ...base, errors: 2 }, limits).failures.join(), /2 requests failed/);
  const empty = evaluate({ latencies: [], requests: 0, durationS: 10, non2xx: 0, status429: 0, errors: 0 }, limits);
  assert.equal(empty.ok, false);
  assert.match(empty.failures.join(), /no request completed/);
});
