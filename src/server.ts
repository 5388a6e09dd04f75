// (node) `npm start`: the whole gateway (API, inbound, worker) in one process.
import { loadConfig } from './core/config.js';
import { createLogger } from './core/logger.js';
import { startGateway } from './runtime.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.LOG_LEVEL);
  const gateway = await startGateway(config, { logger });
  const base = gateway.url;
  process.stdout.write(
    [
      '',
      `Switchyard is running at ${base}`,
      `  database:    ${gateway.embedded ? `embedded PostgreSQL, data in ${config.SWITCHYARD_DATA_DIR}/pg` : 'DATABASE_URL'}`,
      `  admin token: ${gateway.adminToken}`,
      '',
      'Send a first signed webhook (README.md "Five minutes with Switchyard" has the rest):',
      `  export ADMIN=${gateway.adminToken}`,
      `  export API_KEY=$(curl -s -X POST ${base}/admin/merchants -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"name":"Acme"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).apiKey')`,
      `  export SOURCE=$(curl -s -X POST ${base}/v1/sources -H "authorization: Bearer $API_KEY" -H 'content-type: application/json' -d '{"provider":"stripe","secret":"whsec_test_secret"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')`,
      `  npm run switchyard -- simulate stripe payment_intent.succeeded --source $SOURCE --secret whsec_test_secret --url ${base}`,
      '',
    ].join('\n') + '\n',
  );
  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) process.exit(1); // a second Ctrl-C does not wait
    logger.info({ signal }, 'shutting down: finishing in-flight requests and jobs');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Switchyard could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
