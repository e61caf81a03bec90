// Pure helpers of the load test, kept apart so they are unit-tested without a server.

/** The p-th percentile (0–100) of `values` by the nearest-rank method; NaN when empty. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Compares a measurement with the workflow's performanceThreshold.
 * `m`: {latencies (ms), requests, durationS, non2xx, status429, errors}
 * `t`: {p95Ms, minRps}
 * Returns {ok, p95, rps, failures[]} — a failure for every threshold missed and for
 * any error or non-2xx answer (a load test that measured errors measured nothing).
 */
export function evaluate(m, t) {
  const p95 = percentile(m.latencies, 95);
  const rps = m.durationS > 0 ? m.requests / m.durationS : 0;
  const failures = [];
  if (!m.requests) failures.push('no request completed');
  if (m.status429 > 0) {
    failures.push(
      `${m.status429} answers were 429 (rate limited): start the gateway with a high RATE_LIMIT_MAX for the load test, e.g. RATE_LIMIT_MAX=100000000 npm run dev`,
    );
  }
  const other = m.non2xx - (m.status429 || 0);
  if (other > 0) failures.push(`${other} answers were not 2xx`);
  if (m.errors > 0) failures.push(`${m.errors} requests failed (connection errors or timeouts)`);
  if (!(p95 <= t.p95Ms)) failures.push(`p95 latency ${fmt(p95)} ms is above the ${t.p95Ms} ms threshold`);
  if (!(rps >= t.minRps)) failures.push(`throughput ${fmt(rps)} req/s is below the ${t.minRps} req/s threshold`);
  return { ok: failures.length === 0, p95, rps, failures };
}

export function fmt(n) {
  return Number.isFinite(n) ? n.toFixed(1) : String(n);
}
