// (node) `npm start`: the whole gateway (API, inbound, worker) in one process, the same
// code as `switchyard all` (runRole in src/app/gateway.ts).
import { loadConfig } from '../core/config.js';
import { terminalLogger } from './node/logger.js';
import { runRole } from './gateway.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  await runRole('all', config, terminalLogger(config));
}

main().catch((error: unknown) => {
  process.stderr.write(`Switchyard could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
