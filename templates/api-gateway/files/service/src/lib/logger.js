'use strict';
// Structured JSON logs: one object per line on stdout, so any log shipper can parse
// them and every line of one request can be found by its correlation id.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * createLogger({ service, level, sink }) -> logger with debug/info/warn/error/child.
 * `sink` receives each serialized line (tests pass an array push to read the logs).
 */
function createLogger({ service, level = 'info', sink, base = {} } = {}) {
  const min = LEVELS[level] === undefined ? LEVELS.info : LEVELS[level];
  const write = sink || ((line) => process.stdout.write(`${line}\n`));
  function log(lvl, msg, fields) {
    if (LEVELS[lvl] < min) return;
    write(JSON.stringify({ level: lvl, time: new Date().toISOString(), service, ...base, msg, ...fields }));
  }
  return {
    level: LEVELS[level] === undefined ? 'info' : level,
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    child: (extra) => createLogger({ service, level, sink: write, base: { ...base, ...extra } }),
  };
}

module.exports = { createLogger, LEVELS };
