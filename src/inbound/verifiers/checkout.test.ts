import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { verifyCheckout } from './checkout.js';
import { signCheckout } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const secret = 'cko_signature_key_5WbX5kEWLlfzsGNj';
const otherSecret = 'cko_signature_key_of_another_workflow';
const payload =
  '{"id":"evt_az5sblvku4ge3dwpztvyizgcau","type":"payment_captured","version":"1.0.0","created_on":"2026-11-22T11:59:58Z",' +
  '"data":{"id":"pay_mbabizu24mvu3mela5njyhpit4","amount":10000,"currency":"EUR","reference":"Zürich café ©®™"}}';
const body = new TextEncoder().encode(payload);

function input(signature: string | undefined, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    body,
    headers: signature === undefined ? {} : { 'cko-signature': signature },
    secrets: [secret],
    toleranceSeconds: 300,
    now,
    ...overrides,
  };
}

describe('verifyCheckout', () => {
  it('accepts a body signed by our signer', async () => {
    expect(await verifyCheckout(input(await signCheckout(body, secret)))).toEqual({ ok: true, value: {} });
  });

  it('signs the hex HMAC-SHA256 of the raw body that Checkout.com documents', async () => {
    expect(await signCheckout(body, secret)).toBe(nodeHmac('sha256', secret, body, 'hex'));
  });

  it('accepts a body signed with the second of two rotating secrets', async () => {
    expect((await verifyCheckout(input(await signCheckout(body, secret), { secrets: [otherSecret, secret] }))).ok).toBe(true);
  });

  it('accepts a body however long ago it was signed, since Checkout.com signs no timestamp', async () => {
    const r = await verifyCheckout(input(await signCheckout(body, secret), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }));
    expect(r.ok).toBe(true);
  });

  it('rejects a body with one byte changed', async () => {
    const signature = await signCheckout(body, secret);
    const tampered = body.slice();
    tampered[10] = tampered[10]! ^ 1;
    expect(await verifyCheckout(input(signature, { body: tampered }))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a body re-serialised with escaped non-ASCII characters and asks whether it was re-serialised', async () => {
    const signature = await signCheckout(body, secret);
    const escaped = new TextEncoder().encode(
      payload.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    );
    const r = await verifyCheckout(input(signature, { body: escaped }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('re-serialised') } });
  });

  it('rejects a body signed with another signature key without leaking either key or the expected signature', async () => {
    const expected = await signCheckout(body, secret);
    const r = await verifyCheckout(input(await signCheckout(body, otherSecret)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('signature key') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, otherSecret, expected]) expect(detail).not.toContain(leak);
  });

  it('mentions whitespace when a configured secret has a trailing newline', async () => {
    const r = await verifyCheckout(input(await signCheckout(body, secret), { secrets: [`${secret}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('says so when the only configured secret is empty', async () => {
    const r = await verifyCheckout(input(await signCheckout(body, secret), { secrets: [''] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('no non-empty') } });
  });

  it('reports signature_missing when there is no cko-signature header', async () => {
    expect(await verifyCheckout(input(undefined))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it.each([
    ['not hex', 'garbage'],
    ['odd-length hex', 'abc'],
    ['31 bytes of hex', 'ab'.repeat(31)],
    ['base64 instead of hex', 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80='],
    ['non-ASCII characters', '€'.repeat(64)],
    ['more than 4096 characters', 'ab'.repeat(2049)],
  ])('rejects a header with %s as malformed without throwing', async (_, header) => {
    const r = await verifyCheckout(input(header));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });
});
