'use strict';
// Starts the service: configuration from the environment, the HTTP server, and a
// graceful stop on SIGINT/SIGTERM. `main()` is what the tests start on port 0.
const { loadConfig } = require('./config');
const { createLogger } = require('./lib/logger');
const { createHttpServer } = require('./lib/http');
const { buildApp } = require('./app');

async function main({ env = process.env, sink, port, host, deps = {} } = {}) {
  const config = loadConfig(env);
  const logger = createLogger({ service: config.service, level: config.logLevel, sink });
  const app = await buildApp({ config, logger, env, ...deps });
  const http = createHttpServer({ routes: app.routes, pipeline: app.pipeline, fallback: app.fallback });
  const address = await http.listen(port === undefined ? config.port : port, host || config.host);
  logger.info('listening', { port: address.port });
  let stopped = null;
  const close = () => {
    stopped = stopped || http.close().then(() => app.close()).then(() => logger.info('stopped'));
    return stopped;
  };
  return { port: address.port, close, app, logger };
}

/* c8 ignore start -- process wiring, exercised by `npm start` / `npm run dev` */
if (require.main === module) {
  main().then(
    ({ close }) => {
      for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => close().then(() => process.exit(0)));
    },
    (err) => {
      process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'failed to start', error: err.message })}\n`);
      process.exit(1);
    },
  );
}
/* c8 ignore stop */

module.exports = { main };
