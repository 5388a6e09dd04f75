import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../core/redact.js';
import { Writable } from 'node:stream';
import { createLogger, terminalLogger } from './logger.js';

/** A logger at `debug` whose lines land in the returned array, parsed. */
function capturedLogger() {
  const raw: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void raw.push(line) });
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, any>) };
}

// One distinct value per secret, so a leak names the field it came from.
const SECRETS = {
  secret: 'whsec_leak_secret_top',
  apiKey: 'sk_leak_apikey_top',
  authorization: 'Bearer leak_authorization_top',
  'stripe-signature': 't=1,v1=leak_stripe_top',
  'webhook-signature': 'v1,leak_webhook_top',
  'svix-signature': 'v1,leak_svix_top',
  'cko-signature': 'leak_cko_top',
  'x-razorpay-signature': 'leak_razorpay_top',
  'x-paystack-signature': 'leak_paystack_top',
  masterKey: 'leak_master_key_top',
  adminToken: 'adm_leak_admin_token_top',
  SWITCHYARD_MASTER_KEY: 'leak_env_master_key_top',
  SWITCHYARD_ADMIN_TOKEN: 'leak_env_admin_token_top',
};
const nestedCopy = Object.fromEntries(Object.entries(SECRETS).map(([k, v]) => [k, v.replace('_top', '_nested')]));
const deepHeaders = { authorization: 'Bearer leak_deep', 'stripe-signature': 't=1,v1=leak_deep_sig' };
const allValues = [...Object.values(SECRETS), ...Object.values(nestedCopy), ...Object.values(deepHeaders)];

describe('createLogger', () => {
  it('never writes secrets, signatures, API keys, authorization, master key or admin token, at the top level or nested', () => {
    const { logger, raw, lines } = capturedLogger();
    const log = logger.child({ requestId: 'req_observability_1' });

    log.info({ sourceId: 'src_1', ...SECRETS }, 'top level');
    log.warn({ sourceId: 'src_1', headers: nestedCopy, config: nestedCopy }, 'nested one level');
    log.error({ req: { method: 'POST', headers: deepHeaders } }, 'nested two levels');

    const output = raw.join('');
    for (const value of allValues) expect(output).not.toContain(value);
    const [top, nested, deep] = lines();
    expect(top).toMatchObject({
      requestId: 'req_observability_1',
      sourceId: 'src_1',
      apiKey: '[redacted]',
      'stripe-signature': '[redacted]',
    });
    expect(nested).toMatchObject({
      requestId: 'req_observability_1',
      headers: { 'webhook-signature': '[redacted]', secret: '[redacted]' },
    });
    expect(deep).toMatchObject({ requestId: 'req_observability_1', req: { method: 'POST', headers: { authorization: '[redacted]' } } });
  });

  it('keeps the other fields, and leaves the logged object itself unchanged', () => {
    const { logger, lines } = capturedLogger();
    const fields = {
      merchantId: 'mch_1',
      status: 401,
      durationMs: 3.5,
      headers: { 'content-type': 'application/json', 'stripe-signature': 'v1=abc' },
    };
    logger.info(fields, 'request');

    expect(lines()[0]).toMatchObject({
      merchantId: 'mch_1',
      status: 401,
      durationMs: 3.5,
      headers: { 'content-type': 'application/json', 'stripe-signature': '[redacted]' },
    });
    expect(fields.headers['stripe-signature']).toBe('v1=abc');
  });
});

describe('redactSecrets', () => {
  it('returns the same object when there is nothing to redact', () => {
    const fields = { requestId: 'req_1', nested: { status: 200 } };
    expect(redactSecrets(fields)).toBe(fields);
  });

  it('matches names case-insensitively and any x-…-signature header', () => {
    expect(redactSecrets({ API_KEY: 'a', 'X-Square-HmacSha256-Signature': 'b', Authorization: 'c' })).toEqual({
      API_KEY: '[redacted]',
      'X-Square-HmacSha256-Signature': '[redacted]',
      Authorization: '[redacted]',
    });
  });
});

describe('terminalLogger', () => {
  /** A stdout stand-in: a terminal or not, keeping what is written. */
  const screen = (isTTY: boolean) => {
    const chunks: string[] = [];
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk.toString());
          done();
        },
      }),
      { isTTY },
    );
    return { stream, text: () => chunks.join('') };
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('writes one readable line per entry through pino-pretty in a development terminal, secrets still redacted', async () => {
    const out = screen(true);
    terminalLogger({ LOG_LEVEL: 'info', NODE_ENV: 'development' }, out.stream).warn(
      { endpointId: 'ep_1', status: 500, secret: 'whsec_leak_pretty' },
      'delivery failed',
    );
    await settle();
    const text = out.text();
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toContain('WARN');
    expect(text).toContain('delivery failed');
    expect(text).toContain('ep_1');
    expect(text).not.toContain('whsec_leak_pretty');
  });

  it('keeps JSON lines in production and when stdout is not a terminal', async () => {
    for (const [env, isTTY] of [
      ['production', true],
      ['development', false],
      ['test', true],
    ] as const) {
      const out = screen(isTTY);
      terminalLogger({ LOG_LEVEL: 'info', NODE_ENV: env }, out.stream).info({ jobId: '1' }, 'job done');
      await settle();
      expect(JSON.parse(out.text()), `${env}, isTTY ${isTTY}`).toMatchObject({ level: 30, jobId: '1', msg: 'job done' });
    }
  });
});
