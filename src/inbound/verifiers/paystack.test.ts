import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { verifyPaystack } from './paystack.js';
import { signPaystack } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const secret = 'sk_test_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH';
const liveSecret = 'sk_live_0000000000000000000000000000000000';
const payload =
  '{"event":"charge.success","data":{"id":302961,"domain":"live","status":"success","reference":"qTPrJoy9Bx",' +
  '"amount":10000,"currency":"NGN","customer":{"first_name":"Adé","email":"ade@example.com"}}}';
const body = new TextEncoder().encode(payload);

function input(signature: string | undefined, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    body,
    headers: signature === undefined ? {} : { 'x-paystack-signature': signature },
    secrets: [secret],
    toleranceSeconds: 300,
    now,
    ...overrides,
  };
}

describe('verifyPaystack', () => {
  it('accepts a body signed by our signer', async () => {
    expect(await verifyPaystack(input(await signPaystack(body, secret)))).toEqual({ ok: true, value: {} });
  });

  it('signs the hex HMAC-SHA512 of the raw body that Paystack documents', async () => {
    expect(await signPaystack(body, secret)).toBe(nodeHmac('sha512', secret, body, 'hex'));
  });

  it('accepts a body signed with the second of two configured secret keys', async () => {
    expect((await verifyPaystack(input(await signPaystack(body, secret), { secrets: [liveSecret, secret] }))).ok).toBe(true);
  });

  it('accepts a body however long ago it was signed, since Paystack signs no timestamp', async () => {
    const r = await verifyPaystack(input(await signPaystack(body, secret), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }));
    expect(r.ok).toBe(true);
  });

  it('rejects a body with one byte changed', async () => {
    const signature = await signPaystack(body, secret);
    const tampered = body.slice();
    tampered[10] = tampered[10]! ^ 1;
    expect(await verifyPaystack(input(signature, { body: tampered }))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a re-serialised JSON body and asks whether it was re-serialised', async () => {
    const signature = await signPaystack(body, secret);
    const pretty = new TextEncoder().encode(JSON.stringify(JSON.parse(payload), null, 2));
    const r = await verifyPaystack(input(signature, { body: pretty }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('re-serialised') } });
  });

  it('rejects a test-mode event checked against the live key, naming the mode, without leaking keys or the expected signature', async () => {
    const expected = await signPaystack(body, liveSecret);
    const r = await verifyPaystack(input(await signPaystack(body, secret), { secrets: [liveSecret] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('sk_test_') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, liveSecret, expected]) expect(detail).not.toContain(leak);
  });

  it('points out a public key configured in place of the secret key', async () => {
    const r = await verifyPaystack(input(await signPaystack(body, secret), { secrets: ['pk_test_abc'] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('public key') } });
  });

  it('rejects a body signed with HMAC-SHA256 instead of HMAC-SHA512 as malformed', async () => {
    const sha256 = nodeHmac('sha256', secret, body, 'hex');
    const r = await verifyPaystack(input(sha256));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('HMAC-SHA512') } });
  });

  it('mentions whitespace when a configured secret has a trailing newline', async () => {
    const r = await verifyPaystack(input(await signPaystack(body, secret), { secrets: [`${secret}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('says so when the only configured secret is empty', async () => {
    const r = await verifyPaystack(input(await signPaystack(body, secret), { secrets: [''] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('no non-empty') } });
  });

  it('reports signature_missing when there is no x-paystack-signature header', async () => {
    expect(await verifyPaystack(input(undefined))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it.each([
    ['not hex', 'garbage'],
    ['odd-length hex', 'abc'],
    ['63 bytes of hex', 'ab'.repeat(63)],
    ['non-ASCII characters', '€'.repeat(128)],
    ['more than 4096 characters', 'ab'.repeat(2049)],
  ])('rejects a header with %s as malformed without throwing', async (_, header) => {
    const r = await verifyPaystack(input(header));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });

  it('says so when the header is a timestamped t=…,v1=… value rather than the hex HMAC-SHA512 of the body', async () => {
    const r = await verifyPaystack(input(`t=1764000000,v1=k1:${'ab'.repeat(64)}`));
    expect(r).toEqual({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('timestamped (t=…,v1=…)') } });
  });
});
