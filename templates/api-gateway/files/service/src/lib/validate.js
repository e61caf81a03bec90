'use strict';
// Small request-body validators: each names the field and what is expected, so a
// client developer can fix the request from the message alone.
const { badRequest } = require('./errors');

function requireObject(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (Content-Type: application/json)');
  }
  return body;
}

function string(body, field, { required = false, max = 1000, pattern } = {}) {
  const value = body[field];
  if (value === undefined || value === null || value === '') {
    if (required) throw badRequest(`"${field}" is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw badRequest(`"${field}" must be a string`);
  if (value.length > max) throw badRequest(`"${field}" must be at most ${max} characters`);
  if (pattern && !pattern.test(value)) throw badRequest(`"${field}" is not valid`);
  return value;
}

function number(body, field, { required = false, min, integer = false } = {}) {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw badRequest(`"${field}" is required`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`"${field}" must be a number`);
  if (integer && !Number.isInteger(value)) throw badRequest(`"${field}" must be an integer`);
  if (min !== undefined && value < min) throw badRequest(`"${field}" must be at least ${min}`);
  return value;
}

function boolean(body, field) {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`"${field}" must be true or false`);
  return value;
}

/** limit/offset from the query string, bounded so one request cannot ask for everything. */
function paging(query, { defaultLimit = 20, maxLimit = 100 } = {}) {
  const limit = query.limit === undefined ? defaultLimit : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw badRequest(`"limit" must be an integer between 1 and ${maxLimit}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('"offset" must be an integer >= 0');
  return { limit, offset };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

module.exports = { requireObject, string, number, boolean, paging, EMAIL };
