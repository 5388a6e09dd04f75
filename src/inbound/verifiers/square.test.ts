import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { makeVerifySquare } from './square.js';
import { signSquare } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const notificationUrl = 'https://gw.example.com/inbound/src_01JD2T0000000000000000000';
const signatureKey = 'sq_signature_key_5WbX5kEWLlfzsGNjH64I8l';
const otherKey = 'sq_signature_key_of_another_subscription';
const payload =
  '{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"13b867cf-db3d-4b1c-90b6-2f32a9d78124",' +
  '"created_at":"2026-11-22T11:59:58.000Z","data":{"type":"payment","id":"KkAkhdMsgzn59SM8A89WgKwekxLZY",' +
  '"object":{"payment":{"amount_money":{"amount":100,"currency":"EUR"},"note":"Zürich café"}}}}';
const body = new TextEncoder().encode(payload);
const verifySquare = makeVerifySquare(notificationUrl);

function input(headers: Record<string, string>, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return { body, headers, secrets: [signatureKey], toleranceSeconds: 300, now, ...overrides };
}
const signed = async (key = signatureKey, url = notificationUrl): Promise<Record<string, string>> => ({
  'x-square-hmacsha256-signature': await signSquare({ notificationUrl: url, body, signatureKey: key }),
});

describe('makeVerifySquare', () => {
  it('accepts a body signed by our signer for the same notification URL', async () => {
    expect(await verifySquare(input(await signed()))).toEqual({ ok: true, value: {} });
  });

  it('signs base64 HMAC-SHA256 of the notification URL then the body, as Square documents', async () => {
    const expected = nodeHmac('sha256', signatureKey, notificationUrl + payload, 'base64');
    expect((await signed())['x-square-hmacsha256-signature']).toBe(expected);
  });

  it('accepts a body signed with the second of two rotating signature keys', async () => {
    expect((await verifySquare(input(await signed(), { secrets: [otherKey, signatureKey] }))).ok).toBe(true);
  });

  it('accepts a body however long ago it was signed, since Square signs no timestamp', async () => {
    const r = await verifySquare(input(await signed(), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }));
    expect(r.ok).toBe(true);
  });

  it('rejects a body with one byte changed', async () => {
    const tampered = body.slice();
    tampered[10] = tampered[10]! ^ 1;
    expect(await verifySquare(input(await signed(), { body: tampered }))).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid' },
    });
  });

  it('rejects a signature made for a notification URL with a trailing slash and points at the URL', async () => {
    const r = await verifySquare(input(await signed(signatureKey, `${notificationUrl}/`)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('notification URL') } });
  });

  it('rejects a signature made for the same path on another host', async () => {
    const r = await verifySquare(input(await signed(signatureKey, notificationUrl.replace('gw.example.com', 'gw.example.com:8443'))));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a body signed with another signature key without leaking keys, the URL or the expected signature', async () => {
    const urlWithToken = `${notificationUrl}?token=query-secret-123`;
    const verify = makeVerifySquare(urlWithToken);
    const expected = (await signed(signatureKey, urlWithToken))['x-square-hmacsha256-signature']!;
    const r = await verify(input(await signed(otherKey, urlWithToken)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('another subscription') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [signatureKey, otherKey, expected, 'query-secret-123']) expect(detail).not.toContain(leak);
  });

  it('rejects every request when no notification URL is configured', async () => {
    const r = await makeVerifySquare('')(input(await signed(signatureKey, '')));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('no notification URL') } });
  });

  it('mentions whitespace when a configured signature key has a trailing newline', async () => {
    const r = await verifySquare(input(await signed(), { secrets: [`${signatureKey}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('reports signature_missing when there is no x-square-hmacsha256-signature header', async () => {
    expect(await verifySquare(input({}))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it('reports signature_missing naming the legacy header when only the HMAC-SHA1 x-square-signature came', async () => {
    const legacy = nodeHmac('sha1', signatureKey, notificationUrl + payload, 'base64');
    const r = await verifySquare(input({ 'x-square-signature': legacy }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_missing', detail: expect.stringContaining('x-square-signature') } });
  });

  it.each([
    ['not base64', 'not base64 at all!'],
    ['an HMAC-SHA1 in base64', nodeHmac('sha1', signatureKey, notificationUrl + payload, 'base64')],
    ['hex instead of base64', 'ab'.repeat(32)],
    ['non-ASCII characters', '€'.repeat(44)],
    ['more than 4096 characters', 'A'.repeat(4100)],
  ])('rejects a header with %s as malformed without throwing', async (_, header) => {
    const r = await verifySquare(input({ 'x-square-hmacsha256-signature': header }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });
});
