'use strict';
// Checks a request body against a resource's fields (src/model.js), naming the field
// and what is expected, so a client developer can fix the request from the message.
const { badRequest } = require('./lib/errors');

/** Set by the service on every record; a client may send them back, they are ignored. */
const MANAGED = new Set(['id', 'createdAt', 'updatedAt']);
const MAX_STRING = 10000;

function checkValue(resource, field, value) {
  const where = `"${field.name}" of ${resource.name}`;
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') throw badRequest(`${where} must be a string`);
      if (value.length > MAX_STRING) throw badRequest(`${where} must be at most ${MAX_STRING} characters`);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`${where} must be a number`);
      return value;
    case 'integer':
      if (!Number.isInteger(value)) throw badRequest(`${where} must be an integer`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw badRequest(`${where} must be true or false`);
      return value;
    case 'date': {
      const ms = typeof value === 'string' ? Date.parse(value) : NaN;
      if (Number.isNaN(ms)) throw badRequest(`${where} must be an ISO 8601 date, e.g. 2026-01-31T12:00:00Z`);
      return new Date(ms).toISOString();
    }
    default:
      return value; // json: any JSON value
  }
}

/**
 * The fields of `body` for `resource`: every known field type-checked, unknown fields
 * refused, required fields enforced unless `partial` (an update).
 */
function validate(resource, body, { partial = false } = {}) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (Content-Type: application/json)');
  }
  const known = new Map(resource.fields.map((f) => [f.name, f]));
  for (const key of Object.keys(body)) {
    if (!known.has(key) && !MANAGED.has(key)) {
      throw badRequest(`"${key}" is not a field of ${resource.name}; its fields are ${[...known.keys()].join(', ')}`);
    }
  }
  const out = {};
  for (const field of resource.fields) {
    const value = body[field.name];
    if (value === undefined || value === null) {
      if (field.required && !partial) throw badRequest(`"${field.name}" is required`);
      continue;
    }
    out[field.name] = checkValue(resource, field, value);
  }
  return out;
}

/** Equality filters from the query string (`?status=paid`), typed like the fields. */
function filters(resource, query) {
  const where = {};
  for (const field of resource.fields) {
    const raw = query[field.name];
    if (raw === undefined || field.type === 'json' || field.type === 'date') continue;
    if (field.type === 'string') where[field.name] = raw;
    else if (field.type === 'boolean') {
      if (raw !== 'true' && raw !== 'false') throw badRequest(`"${field.name}" must be true or false`);
      where[field.name] = raw === 'true';
    } else {
      const n = Number(raw);
      if (!Number.isFinite(n) || (field.type === 'integer' && !Number.isInteger(n))) {
        throw badRequest(`"${field.name}" must be ${field.type === 'integer' ? 'an integer' : 'a number'}`);
      }
      where[field.name] = n;
    }
  }
  return where;
}

module.exports = { validate, filters, MANAGED };
