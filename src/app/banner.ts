// (node) What `switchyard serve|work|all` prints to stdout once the role is up.
import type { Config } from '../core/config.js';
import type { Gateway, Role } from './gateway.js';

const READ_JSON = `node -pe 'JSON.parse(require("fs").readFileSync(0))`;

/**
 * Steps 1–3 of README.md "Five minutes with Switchyard", verbatim (src/app/banner.test.ts
 * holds the README to them): they read `$B` and `$ADMIN` and set `$API_KEY`, `$STRIPE_SECRET`,
 * `$SOURCE` and `$ENDPOINT_SECRET`.
 */
export const FIRST_STEPS = `# 1. a merchant and its API key (shown once)
export API_KEY=$(curl -s -X POST $B/admin/merchants -H "authorization: Bearer $ADMIN" \\
  -H 'content-type: application/json' -d '{"name":"Acme"}' | ${READ_JSON}.apiKey')

# 2. a Stripe source: the PSP account whose webhooks Switchyard receives. Its secret stands in
#    for the whsec_… Stripe shows; a guessable one (whsec_test) is refused with 400.
export STRIPE_SECRET=whsec_$(node -p 'require("crypto").randomBytes(24).toString("hex")')
export SOURCE=$(curl -s -X POST $B/v1/sources -H "authorization: Bearer $API_KEY" \\
  -H 'content-type: application/json' -d '{"provider":"stripe","secret":"'$STRIPE_SECRET'"}' \\
  | ${READ_JSON}.id')

# 3. an endpoint: where Switchyard delivers your events. Switchyard generates its signing
#    secret and answers it this once; the listener below verifies each delivery with it.
export ENDPOINT_SECRET=$(curl -s -X POST $B/v1/endpoints -H "authorization: Bearer $API_KEY" \\
  -H 'content-type: application/json' -d '{"url":"http://127.0.0.1:4000/hooks"}' \\
  | ${READ_JSON}.secret')
echo $ENDPOINT_SECRET`;

/** The listener of the third terminal, as in README.md "Five minutes with Switchyard". */
export const LISTEN_STEP = 'npm run switchyard -- listen --port 4000 --secret <the ENDPOINT_SECRET from step 3>';

/** The first signed webhook, as in README.md "Five minutes with Switchyard". */
export const SIMULATE_STEP = `npm run switchyard -- simulate stripe payment_intent.succeeded --source $SOURCE \\
  --secret $STRIPE_SECRET --payment pi_demo_1 --amount 2000 --url $B`;

const indent = (block: string): string =>
  block
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n');

/**
 * The banner of a started `role`: where it runs and which database it uses. For `all` and
 * `serve` outside production, also the admin token and the steps of the five minutes that
 * follow (README.md's, with this gateway's URL and token filled in). Production banners name
 * where the admin token is kept, or that the admin API is off, never the token.
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
  const tokenFile = config.SWITCHYARD_ADMIN_TOKEN ? 'from SWITCHYARD_ADMIN_TOKEN' : `kept in ${config.SWITCHYARD_DATA_DIR}/admin-token`;
  return [
    '',
    `Switchyard is running at ${base}${role === 'serve' ? ' (API and inbound only: run `switchyard work` for deliveries)' : ''}`,
    `  database:    ${database}`,
    `  admin token: ${gateway.adminToken} (${tokenFile})`,
    `  API docs:    ${base}/docs`,
    `  portal:      ${base}/portal (log in with a merchant's API key)`,
    '',
    'The next five minutes (README.md "Five minutes with Switchyard"). In a second terminal:',
    '',
    indent(`B=${base}\nexport ADMIN=${gateway.adminToken}\n\n${FIRST_STEPS}`),
    ...(config.SWITCHYARD_ALLOW_PRIVATE_URLS
      ? []
      : [
          '',
          '  Step 3 needs SWITCHYARD_ALLOW_PRIVATE_URLS=true (development only) for an endpoint on your machine:',
          '  restart with it, or the endpoint is refused with 400 url_not_allowed.',
        ]),
    '',
    'In a third terminal, a local endpoint that prints and verifies each delivery:',
    '',
    indent(LISTEN_STEP),
    '',
    'Back in the second terminal, a Stripe-signed payment_intent.succeeded, as Stripe would send it:',
    '',
    indent(SIMULATE_STEP),
    '',
    '',
  ].join('\n');
}
