// `switchyard simulate` against a gateway served on 127.0.0.1: every Stripe event type and Adyen
// eventCode it knows is signed so that the inbound route accepts and stores it. Two runs go
// through a child process as a person runs the CLI; the rest call the command in this process
// (a child per type would cost a Node start each).
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Exit } from '../../src/app/cli/args.js';
import { simulateCommand } from '../../src/app/cli/simulate.js';
import { SIMULATED_ADYEN_EVENT_CODES } from '../../src/dev/simulate/adyen.js';
import { SIMULATED_STRIPE_TYPES } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const STRIPE_SECRET = 'whsec_cli_simulate_0123456789abcdef';
const ADYEN_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

let db: TestDatabase;
let server: ServerType;
let base: string;
let stripeSource: string;
let adyenSource: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const deps = await testDeps(db);
  const app = testApp(deps);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { apiKey } = await aMerchant(deps);
  const source = async (provider: string, secret: string): Promise<string> => {
    const res = await app.request('/v1/sources', jsonRequest('POST', { provider, secret }, apiKey));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  stripeSource = await source('stripe', STRIPE_SECRET);
  adyenSource = await source('adyen', ADYEN_KEY);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `switchyard simulate …args` in this process: its exit code (0, the exitCode it set, or an Exit's) and output. */
async function simulate(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  let code = 0;
  try {
    await simulateCommand(args);
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    if (!(error instanceof Exit)) throw error;
    code = error.code;
  } finally {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  }
  return { code, stdout, stderr };
}

/** The same as a child process (tsx src/app/cli/index.ts simulate …args). */
function simulateChild(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/app/cli/index.ts', 'simulate', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The event types stored for `source`, in arrival order. */
async function storedTypes(source: string): Promise<string[]> {
  const rows = await db.sql<{ event_type: string }[]>`
    select event_type from gw.inbound_events where source_id = ${source} order by received_at, id`;
  return rows.map((r) => r.event_type);
}

describe('switchyard simulate', () => {
  it('sends a Stripe refund and an Adyen capture from the command line, each acked and described', async () => {
    const [stripe, adyen] = await Promise.all([
      simulateChild(
        'stripe',
        'refund.updated',
        '--source',
        stripeSource,
        '--secret',
        STRIPE_SECRET,
        '--url',
        base,
        '--payment',
        'pi_cli_1',
        '--refund',
        're_cli_1',
        '--amount',
        '500',
        '--status',
        'failed',
      ),
      simulateChild(
        'adyen',
        'CAPTURE',
        '--source',
        adyenSource,
        '--secret',
        ADYEN_KEY,
        '--url',
        base,
        '--payment',
        'PAYMENTCLI000001',
        '--operation',
        'CAPTURECLI000001',
        '--amount',
        '1500',
      ),
    ]);
    expect(stripe.code, stripe.stderr).toBe(0);
    expect(stripe.stdout).toMatch(
      /^200 \{.*\}\n {2}event evt_\w+ \(refund\.updated\) for refund re_cli_1 \(failed\) of payment intent pi_cli_1\n$/,
    );
    expect(adyen.code, adyen.stderr).toBe(0);
    expect(adyen.stdout).toMatch(
      /^200 \[accepted\]\n {2}notification CAPTURE \(success true\) for CAPTURECLI000001 of payment PAYMENTCLI000001\n$/,
    );
    expect(await storedTypes(stripeSource)).toContain('refund.updated');
  });

  it('sends every Stripe event type the normalizer maps, each accepted and stored under its type', async () => {
    const before = (await storedTypes(stripeSource)).length;
    for (const type of SIMULATED_STRIPE_TYPES) {
      const run = await simulate(
        'stripe',
        type,
        '--source',
        stripeSource,
        '--secret',
        STRIPE_SECRET,
        '--url',
        base,
        '--payment',
        'pi_cli_all',
      );
      expect(run.code, `${type}: ${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/^200 /);
    }
    expect((await storedTypes(stripeSource)).slice(before)).toEqual([...SIMULATED_STRIPE_TYPES]);
  });

  it('sends every Adyen eventCode the normalizer maps, succeeded and failed, each accepted and stored', async () => {
    const before = (await storedTypes(adyenSource)).length;
    for (const code of SIMULATED_ADYEN_EVENT_CODES) {
      for (const success of ['true', 'false']) {
        const run = await simulate(
          'adyen',
          code,
          '--source',
          adyenSource,
          '--secret',
          ADYEN_KEY,
          '--url',
          base,
          '--payment',
          'PAYMENTCLIALL001',
          '--success',
          success,
        );
        expect(run.code, `${code} ${success}: ${run.stdout}${run.stderr}`).toBe(0);
        expect(run.stdout).toMatch(/^200 \[accepted\]\n/);
      }
    }
    expect((await storedTypes(adyenSource)).slice(before)).toEqual(SIMULATED_ADYEN_EVENT_CODES.flatMap((c) => [c, c]));
  });

  it('sends the report notices: Stripe payout.paid and payout.reconciliation_completed, Adyen REPORT_AVAILABLE; each queues a report pull', async () => {
    for (const type of ['payout.paid', 'payout.reconciliation_completed']) {
      const run = await simulate(
        'stripe',
        type,
        '--source',
        stripeSource,
        '--secret',
        STRIPE_SECRET,
        '--url',
        base,
        '--payout',
        'po_cli_1',
      );
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^200 /);
      expect(run.stdout).toContain(`(${type}) for payout po_cli_1`);
    }
    const url = 'https://ca-test.adyen.com/reports/download/MerchantAccount/M/settlement_detail_report_batch_3.csv';
    const run = await simulate(
      'adyen',
      'REPORT_AVAILABLE',
      '--source',
      adyenSource,
      '--secret',
      ADYEN_KEY,
      '--url',
      base,
      '--payment',
      'settlement_detail_report_batch_3.csv',
      '--report-url',
      url,
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^200 \[accepted\]\n/);
    expect(run.stdout).toContain('notification REPORT_AVAILABLE for settlement_detail_report_batch_3.csv');
    expect((await storedTypes(stripeSource)).slice(-2)).toEqual(['payout.paid', 'payout.reconciliation_completed']);
    expect((await storedTypes(adyenSource)).at(-1)).toBe('REPORT_AVAILABLE');
    const missing = await simulate('adyen', 'REPORT_AVAILABLE', '--source', adyenSource, '--secret', ADYEN_KEY, '--url', base);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--report-url');
  });

  it('exits 1 with the answer when the gateway refuses the signature', async () => {
    const run = await simulate('adyen', 'AUTHORISATION', '--source', adyenSource, '--secret', 'ABCDEF', '--url', base);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^401 /);
  });

  it('exits 1 naming --url when no gateway answers there', async () => {
    const run = await simulate(
      'stripe',
      'payment_intent.succeeded',
      '--source',
      stripeSource,
      '--secret',
      STRIPE_SECRET,
      '--url',
      'http://127.0.0.1:1',
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^switchyard: cannot reach the gateway at http:\/\/127\.0\.0\.1:1 \(.*\): is it running\? Else pass its address with --url\n$/,
    );
  });

  it.each([
    [['paypal', 'x'], /unknown provider paypal/],
    [['stripe', 'customer.created'], /unknown Stripe event type customer\.created/],
    [['adyen', 'PAIDOUT_REVERSED'], /unknown Adyen eventCode PAIDOUT_REVERSED/],
    [['stripe', 'refund.created', '--status', 'lost'], /--status lost is not a refund status: pending, requires_action/],
    [['stripe', 'payment_intent.succeeded', '--status', 'won'], /--status goes with refund and dispute events/],
    [['stripe', 'charge.dispute.closed', '--refund', 're_1'], /--refund goes with refund\.created/],
    [['stripe', 'payment_intent.succeeded', '--operation', 'X'], /--operation is for Adyen events/],
    [['adyen', 'CAPTURE', '--refunded', '5'], /--refunded is for Stripe events/],
    [['adyen', 'CAPTURE', '--success', 'yes'], /--success is true or false/],
    [['stripe', 'payment_intent.succeeded', '--amount=-5'], /--amount is a whole number of minor units/],
    [['stripe', 'payment_intent.succeeded', '--amount', '1e20'], /--amount is a whole number of minor units/],
    [['stripe', 'payment_intent.succeeded', '--currency', 'dollars'], /--currency is a three-letter ISO 4217 code/],
  ])('exits 2 with the usage for bad input: simulate %j', async (args, problem) => {
    const run = await simulate(
      ...args,
      '--source',
      stripeSource,
      '--secret',
      args[0] === 'adyen' ? ADYEN_KEY : STRIPE_SECRET,
      '--url',
      base,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(problem);
    expect(run.stderr).toContain('switchyard simulate <stripe|adyen> <event-type> [options]');
  });

  it('exits 2 naming what is missing: the source and secret, or an Adyen key that is not hex', async () => {
    const missing = await simulate('stripe', 'payment_intent.succeeded', '--url', base);
    const notHex = await simulate('adyen', 'CAPTURE', '--source', adyenSource, '--secret', 'not-hex', '--url', base);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^switchyard: --source and --secret are required\n/);
    expect(notHex.code).toBe(2);
    expect(notHex.stderr).toMatch(/^switchyard: --secret for Adyen is the HMAC key in hex/);
  });
});
