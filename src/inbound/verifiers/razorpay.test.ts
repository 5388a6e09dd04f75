import Razorpay from 'razorpay';
import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { verifyRazorpay } from './razorpay.js';
import { signRazorpay } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const secret = 'rzp_webhook_secret_5WbX5kEWLlfz';
const otherSecret = 'rzp_webhook_secret_of_another_hook';
const payload =
  '{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","contains":["payment"],' +
  '"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","amount":100,"currency":"INR","description":"Zürich café"}}},"created_at":1567674606}';
const body = new TextEncoder().encode(payload);

function input(signature: string | undefined, overrides: Partial<VerifyInput> = {}, extra: Record<string, string> = {}): VerifyInput {
  return {
    body,
    headers: { ...(signature === undefined ? {} : { 'x-razorpay-signature': signature }), ...extra },
    secrets: [secret],
    toleranceSeconds: 300,
    now,
    ...overrides,
  };
}

describe('verifyRazorpay', () => {
  it('accepts a body signed by our signer', async () => {
    expect(await verifyRazorpay(input(await signRazorpay(body, secret)))).toEqual({ ok: true, value: {} });
  });

  it('signs bodies that the official razorpay library validates', async () => {
    expect(Razorpay.validateWebhookSignature(payload, await signRazorpay(payload, secret), secret)).toBe(true);
  });

  it('accepts a signature computed the way the razorpay library computes it', async () => {
    const signature = nodeHmac('sha256', secret, payload, 'hex');
    expect((await verifyRazorpay(input(signature))).ok).toBe(true);
  });

  it('agrees with the razorpay library that a tampered body does not verify', async () => {
    const signature = await signRazorpay(body, secret);
    const tampered = payload.replace('"amount":100', '"amount":900');
    expect(Razorpay.validateWebhookSignature(tampered, signature, secret)).toBe(false);
    const r = await verifyRazorpay(input(signature, { body: new TextEncoder().encode(tampered) }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('hands over the x-razorpay-event-id header as the event id', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), {}, { 'x-razorpay-event-id': 'Izqo9Q5d1Kq2ab' }));
    expect(r).toEqual({ ok: true, value: { eventId: 'Izqo9Q5d1Kq2ab' } });
  });

  it('leaves out an x-razorpay-event-id longer than 255 characters', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), {}, { 'x-razorpay-event-id': 'x'.repeat(256) }));
    expect(r).toEqual({ ok: true, value: {} });
  });

  it('accepts an upper-case hex signature', async () => {
    expect((await verifyRazorpay(input((await signRazorpay(body, secret)).toUpperCase()))).ok).toBe(true);
  });

  it('accepts a body signed with the second of two rotating secrets', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), { secrets: [otherSecret, secret] }));
    expect(r.ok).toBe(true);
  });

  it('accepts a body however long ago it was signed, since Razorpay signs no timestamp', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }));
    expect(r.ok).toBe(true);
  });

  it('rejects a body with one byte changed', async () => {
    const signature = await signRazorpay(body, secret);
    const tampered = body.slice();
    tampered[10] = tampered[10]! ^ 1;
    expect(await verifyRazorpay(input(signature, { body: tampered }))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a re-serialised JSON body and asks whether it was re-serialised', async () => {
    const signature = await signRazorpay(body, secret);
    const pretty = new TextEncoder().encode(JSON.stringify(JSON.parse(payload), null, 2));
    const r = await verifyRazorpay(input(signature, { body: pretty }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('re-serialised') } });
  });

  it('rejects a body signed with another secret without leaking either secret or the expected signature', async () => {
    const expected = await signRazorpay(body, secret);
    const r = await verifyRazorpay(input(await signRazorpay(body, otherSecret)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('webhook secret') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, otherSecret, expected]) expect(detail).not.toContain(leak);
  });

  it('mentions whitespace when a configured secret has a trailing newline', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), { secrets: [`${secret}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('says so when the only configured secret is empty', async () => {
    const r = await verifyRazorpay(input(await signRazorpay(body, secret), { secrets: [''] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('no non-empty') } });
  });

  it('reports signature_missing when there is no x-razorpay-signature header', async () => {
    expect(await verifyRazorpay(input(undefined))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it.each([
    ['not hex', 'garbage'],
    ['odd-length hex', 'abc'],
    ['31 bytes of hex', 'ab'.repeat(31)],
    ['33 bytes of hex', 'ab'.repeat(33)],
    ['a sha256= prefix', `sha256=${'ab'.repeat(32)}`],
    ['non-ASCII characters', '€'.repeat(64)],
    ['more than 4096 characters', 'ab'.repeat(2049)],
  ])('rejects a header with %s as malformed without throwing', async (_, header) => {
    const r = await verifyRazorpay(input(header));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });
});
