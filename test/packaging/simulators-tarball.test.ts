// `switchyard/simulators` as another project gets it: `npm pack` (which runs `prepare`, the build)
// into a temporary directory, a scratch project that installs that tarball beside its own msw, a
// TypeScript script there type-checked against the shipped declarations and run: one create →
// webhook round trip per simulator through msw, and one through serveSimulator over HTTP. The
// README's examples are type-checked in the same project.
// No database; slow (a build and an npm install), hence the long timeout.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const TIMEOUT_MS = 300_000;

let tmp: string;
let scratch: string;
let tarball: string;

/**
 * The environment for the child npm: this one's, less what `npm test` sets about this package and
 * run (npm_package_*, npm_lifecycle_*, npm_config_local_prefix), so npm works on the scratch project.
 */
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$)/.test(k)),
);

/** Runs a command to completion; on failure the error carries its stdout and stderr. */
async function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd, env: { ...childEnv, npm_config_update_notifier: 'false' }, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** The ```ts blocks of the README's "Testing with the simulators" section. */
function readmeExamples(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const from = readme.indexOf('## Testing with the simulators');
  const section = readme.slice(from, readme.indexOf('\n## ', from + 1));
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  if (blocks.length === 0) throw new Error('README: no ```ts block under "## Testing with the simulators"');
  return blocks;
}

// The scratch project's script: a receiver standing in for the gateway, then per simulator one
// payment created through msw and the webhook it posts, checked (Stripe's by its signature).
const ROUND_TRIP = `
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupServer } from 'msw/node';
import { adyenSimulator, serveSimulator, stripeSimulator, type SimulatedCall, type StripeSimulator } from 'switchyard/simulators';

interface Received { path: string; headers: Record<string, string | string[] | undefined>; body: string }
const received: Received[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    received.push({ path: req.url ?? '', headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const base = \`http://127.0.0.1:\${(receiver.address() as AddressInfo).port}\`;

const stripe = stripeSimulator({
  baseUrl: 'https://stripe.simulator.test',
  apiKey: 'sk_test_scratch',
  webhooks: { url: \`\${base}/inbound/src_stripe\`, secret: 'whsec_scratch' },
});
const adyen = adyenSimulator({
  baseUrl: 'https://adyen.simulator.test/v71',
  apiKey: 'adyen_scratch',
  webhooks: { url: \`\${base}/inbound/src_adyen\`, secret: '00112233445566778899aabbccddeeff' },
});
const server = setupServer(...stripe.handlers, ...adyen.handlers);
server.listen({ onUnhandledRequest: 'bypass' });

const created = await fetch('https://stripe.simulator.test/v1/payment_intents', {
  method: 'POST',
  headers: { authorization: 'Bearer sk_test_scratch', 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k1' },
  body: new URLSearchParams({ amount: '2000', currency: 'eur', confirm: 'true', payment_method: 'pm_card_visa' }),
});
const intent = (await created.json()) as { id: string; status: string };
await stripe.webhooks.settled();

const authorised = await fetch('https://adyen.simulator.test/v71/payments', {
  method: 'POST',
  headers: { 'x-api-key': 'adyen_scratch', 'content-type': 'application/json' },
  body: JSON.stringify({ amount: { value: 1500, currency: 'EUR' }, merchantAccount: 'Scratch', reference: 'order-1', paymentMethod: { type: 'scheme' } }),
});
const payment = (await authorised.json()) as { pspReference: string; resultCode: string };
await adyen.webhooks.settled();
server.close();

// The same over HTTP, msw no longer listening: as a Switchyard in another process calls it.
let served: StripeSimulator | undefined;
const front = await serveSimulator(() => served!);
served = stripeSimulator({ apiKey: 'sk_test_scratch', webhooks: { url: \`\${base}/inbound/src_served\`, secret: 'whsec_scratch' } });
const viaHttp = await fetch(\`\${front.url}/v1/payment_intents\`, {
  method: 'POST',
  headers: { authorization: 'Bearer sk_test_scratch', 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ amount: '700', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' }),
});
const servedIntent = (await viaHttp.json()) as { status: string };
await served.webhooks.settled();
await front.close();
receiver.closeAllConnections();
receiver.close();

const stripeHook = received.find((r) => r.path === '/inbound/src_stripe');
const signature = String(stripeHook?.headers['stripe-signature'] ?? '');
const t = /t=(\\d+)/.exec(signature)?.[1];
const expected = createHmac('sha256', 'whsec_scratch').update(\`\${t}.\${stripeHook?.body ?? ''}\`).digest('hex');
const calls: SimulatedCall[] = [...stripe.calls, ...adyen.calls];
console.log(JSON.stringify({
  stripe: {
    status: created.status,
    intent,
    event: stripeHook ? JSON.parse(stripeHook.body) : null,
    signatureValid: signature.includes(\`v1=\${expected}\`),
  },
  adyen: {
    status: authorised.status,
    payment,
    events: received
      .filter((r) => r.path === '/inbound/src_adyen')
      .map((r) => JSON.parse(r.body).notificationItems[0].NotificationRequestItem),
  },
  served: {
    status: viaHttp.status,
    intent: servedIntent,
    events: received.filter((r) => r.path === '/inbound/src_served').map((r) => JSON.parse(r.body).type),
  },
  calls: calls.length,
}));
`;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'switchyard-pack-'));
  const packed = path.join(tmp, 'packed');
  mkdirSync(packed);
  await sh('npm', ['pack', '--pack-destination', packed, '--silent'], root);
  const [file] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  if (!file) throw new Error(`npm pack left no tarball in ${packed}`);
  tarball = path.join(packed, file);

  scratch = path.join(tmp, 'scratch');
  mkdirSync(scratch);
  writeFileSync(
    path.join(scratch, 'package.json'),
    JSON.stringify({
      name: 'scratch',
      private: true,
      type: 'module',
      devDependencies: { msw: pkg.devDependencies.msw, switchyard: `file:${tarball}` },
    }),
  );
  // From the npm cache where it can (CI's `npm ci` filled it); msw's postinstall is for browsers.
  await sh('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], scratch);
  // The README's example is a vitest test: give the scratch project vitest's types, as its own dev dependency would.
  symlinkSync(path.join(root, 'node_modules/vitest'), path.join(scratch, 'node_modules/vitest'));
  writeFileSync(path.join(scratch, 'round-trip.ts'), ROUND_TRIP);
  const examples = readmeExamples().map((code, i) => {
    const file = `readme-example-${i + 1}.ts`;
    writeFileSync(path.join(scratch, file), code);
    return file;
  });
  writeFileSync(
    path.join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        // our .d.ts files are checked, not the third parties' (vitest's need vite's own setup)
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules/@types')],
        outDir: 'out',
      },
      files: ['round-trip.ts', ...examples],
    }),
  );
}, TIMEOUT_MS);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed switchyard tarball in another project', () => {
  it('carries the built simulators and their declarations, not the tests or the sources', async () => {
    const listing = await sh('tar', ['-tzf', tarball], tmp);
    const files = listing.split('\n').filter(Boolean);
    for (const f of ['index.js', 'index.d.ts', 'stripe.d.ts', 'adyen.d.ts', 'core.d.ts']) {
      expect(files).toContain(`package/dist/dev/simulators/${f}`);
    }
    expect(files).toContain('package/dist/app/cli/index.js');
    expect(files).toContain('package/sql/0001_init.sql');
    expect(files.filter((f) => /\.test\.|^package\/(src|test|bench)\//.test(f))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(scratch, 'node_modules/switchyard/package.json'), 'utf8')) as {
      version: string;
      peerDependencies: Record<string, string>;
    };
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.peerDependencies.msw).toBeDefined();
  });

  it("resolves one msw, the project's own: switchyard brings no second copy", () => {
    expect(existsSync(path.join(scratch, 'node_modules/msw/package.json'))).toBe(true);
    expect(existsSync(path.join(scratch, 'node_modules/switchyard/node_modules/msw'))).toBe(false);
  });

  it("type-checks a script and the README's examples against the shipped declarations", async () => {
    await sh(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], scratch);
    expect(existsSync(path.join(scratch, 'out/round-trip.js'))).toBe(true);
  });

  it('runs a create → webhook round trip through each simulator, Stripe signed, and one served over HTTP', async () => {
    const out = JSON.parse(await sh(process.execPath, ['out/round-trip.js'], scratch)) as {
      stripe: {
        status: number;
        intent: { id: string; status: string };
        event: { type: string; data: { object: { id: string } } };
        signatureValid: boolean;
      };
      adyen: {
        status: number;
        payment: { pspReference: string; resultCode: string };
        events: { eventCode: string; pspReference: string; originalReference?: string }[];
      };
      served: { status: number; intent: { status: string }; events: string[] };
      calls: number;
    };
    expect(out.stripe.status).toBe(200);
    expect(out.stripe.intent.status).toBe('succeeded');
    expect(out.stripe.event.type).toBe('payment_intent.succeeded');
    expect(out.stripe.event.data.object.id).toBe(out.stripe.intent.id);
    expect(out.stripe.signatureValid).toBe(true);
    expect(out.adyen.status).toBe(200);
    expect(out.adyen.payment.resultCode).toBe('Authorised');
    expect(out.adyen.events.map((e) => e.eventCode)).toEqual(['AUTHORISATION', 'CAPTURE']);
    expect(out.adyen.events[0]!.pspReference).toBe(out.adyen.payment.pspReference);
    expect(out.adyen.events[1]!.originalReference).toBe(out.adyen.payment.pspReference);
    expect(out.calls).toBe(2);
    expect(out.served).toEqual({
      status: 200,
      intent: expect.objectContaining({ status: 'succeeded' }),
      events: ['payment_intent.succeeded'],
    });
  });
});
