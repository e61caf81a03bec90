'use strict';
// Signed webhooks, Stripe's scheme: the header is `t=<unix seconds>,v1=<hex>` where the
// hex is HMAC-SHA256(secret, "<t>.<raw body>"). The raw bytes are what is signed, so
// the body is verified before it is parsed; old timestamps are refused (replay).
const { createHmac, timingSafeEqual } = require('node:crypto');
const { HttpError } = require('../lib/errors');

function hmac(secret, timestamp, rawBody) {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** The header value for `rawBody` signed at `timestamp` (what a provider, or a test, sends). */
function signPayload(secret, rawBody, timestamp = Math.floor(Date.now() / 1000)) {
  return `t=${timestamp},v1=${hmac(secret, timestamp, Buffer.from(rawBody))}`;
}

const refuse = (message) => new HttpError(400, 'bad_signature', message);

/** Throws a 400 unless `header` signs `rawBody` with `secret` within the tolerance. */
function verifySignature(secret, header, rawBody, { toleranceSeconds = 300, now = Date.now() } = {}) {
  if (typeof header !== 'string' || !header) throw refuse('the webhook has no Webhook-Signature (or Stripe-Signature) header');
  let timestamp = null;
  const signatures = [];
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => (s || '').trim());
    if (key === 't') timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (!Number.isInteger(timestamp) || signatures.length === 0) throw refuse('the signature header must be t=<unix seconds>,v1=<hex>');
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) throw refuse('the webhook timestamp is outside the tolerance (replayed or clock skew)');
  const expected = Buffer.from(hmac(secret, timestamp, rawBody || Buffer.alloc(0)), 'hex');
  if (!signatures.some((s) => s.length === expected.length && timingSafeEqual(s, expected))) {
    throw refuse('the webhook signature does not match its body');
  }
}

module.exports = { signPayload, verifySignature };
