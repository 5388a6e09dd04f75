// (node) What `switchyard serve|work|all` prints to stdout once the role is up.
import type { Config } from '../core/config.js';
import { randomBytes } from '../core/crypto.js';
import type { Gateway, Role } from './gateway.js';

/**
 * The banner of a started `role`: where it runs and which database it uses; for `all` and
 * `serve` outside production, also the admin token and the first commands to send a signed
 * webhook. Production banners name where the admin token is kept, never the token.
 */
export function banner(role: Role, gateway: Pick<Gateway, 'url' | 'adminToken' | 'adminApi' | 'embedded'>, config: Config): string {
  const database = gateway.embedded ? `embedded PostgreSQL, data in ${config.SWITCHYARD_DATA_DIR}/pg` : 'DATABASE_URL';
  if (role === 'work') {
    return `\nSwitchyard worker is running (${config.SWITCHYARD_WORKER_CONCURRENCY} jobs at once, no HTTP)\n  database:    ${database}\n\n`;
  }
  const base = gateway.url;
  if (config.NODE_ENV === 'production') {
    // Production logs are kept and shipped: no secret goes to stdout.
    const admin = gateway.adminApi
      ? '  admin token: in SWITCHYARD_ADMIN_TOKEN (not printed in production)'
      : '  admin API:   off (no SWITCHYARD_ADMIN_TOKEN: /admin/* answers 404; `switchyard merchants create` makes merchants)';
    return `\nSwitchyard is running at ${base}${role === 'serve' ? ' (API and inbound only)' : ''}\n  database:    ${database}\n${admin}\n\n`;
  }
  // A fresh stand-in for a Stripe whsec_… per start: a fixed one would be public, and is refused.
  const stripeSecret = `whsec_${Buffer.from(randomBytes(24)).toString('hex')}`;
  return `${[
    '',
    `Switchyard is running at ${base}${role === 'serve' ? ' (API and inbound only: run `switchyard work` for deliveries)' : ''}`,
    `  database:    ${database}`,
    `  admin token: ${gateway.adminToken}`,
    '',
    'Send a first signed webhook (README.md "Five minutes with Switchyard" has the rest):',
    `  export ADMIN=${gateway.adminToken}`,
    `  export API_KEY=$(curl -s -X POST ${base}/admin/merchants -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"name":"Acme"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).apiKey')`,
    `  export SOURCE=$(curl -s -X POST ${base}/v1/sources -H "authorization: Bearer $API_KEY" -H 'content-type: application/json' -d '{"provider":"stripe","secret":"${stripeSecret}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')`,
    `  npm run switchyard -- simulate stripe payment_intent.succeeded --source $SOURCE --secret ${stripeSecret} --url ${base}`,
    '',
  ].join('\n')}\n`;
}
