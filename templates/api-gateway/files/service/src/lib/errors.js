'use strict';
// One error type for every answer that is not a success, so handlers throw and the
// pipeline turns it into `{error: {code, message}}` with the right status.

class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

const badRequest = (message) => new HttpError(400, 'bad_request', message);
const unauthorized = (message) => new HttpError(401, 'unauthorized', message);
const notFound = (message) => new HttpError(404, 'not_found', message);
const conflict = (message) => new HttpError(409, 'conflict', message);

module.exports = { HttpError, badRequest, unauthorized, notFound, conflict };
