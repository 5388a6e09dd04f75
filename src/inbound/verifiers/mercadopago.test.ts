import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { verifyMercadoPago } from './mercadopago.js';
import { signMercadoPago } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00.000Z');
const secret = 'mp_secret_signature_5WbX5kEWLlfzsGNjH64I8l';
const otherSecret = 'mp_secret_signature_of_another_application';
const requestId = 'bb56a2f1-6aae-46ac-982e-9dcd3581d08e';
const notification = (id: unknown): string =>
  JSON.stringify({
    action: 'payment.updated',
    api_version: 'v1',
    data: { id },
    date_created: '2026-11-22T11:59:58Z',
    id: 123456789012,
    live_mode: true,
    type: 'payment',
    user_id: '44444',
  });
const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
const body = encode(notification('1234567890'));

function input(headers: Record<string, string>, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return { body, headers, secrets: [secret], toleranceSeconds: 300, now, ...overrides };
}
const signed = (overrides: Partial<Parameters<typeof signMercadoPago>[0]> = {}): Promise<Record<string, string>> =>
  signMercadoPago({ dataId: '1234567890', requestId, secret, at: now, ...overrides });

describe('verifyMercadoPago', () => {
  it('accepts a notification signed by our signer', async () => {
    expect(await verifyMercadoPago(input(await signed()))).toEqual({ ok: true, value: {} });
  });

  it('signs the manifest id:…;request-id:…;ts:…; in hex with ts in milliseconds, as Mercado Pago SDKs check it', async () => {
    const headers = await signed();
    const ts = String(now.getTime());
    const v1 = nodeHmac('sha256', secret, `id:1234567890;request-id:${requestId};ts:${ts};`, 'hex');
    expect(headers).toEqual({ 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId });
  });

  it('lowercases an alphanumeric data.id from the body, as Mercado Pago docs require', async () => {
    const r = await verifyMercadoPago(
      input(await signed({ dataId: 'ORD01JQ4S4KY8HWQ6NA5PXB65B3D3' }), { body: encode(notification('ORD01JQ4S4KY8HWQ6NA5PXB65B3D3')) }),
    );
    expect(r.ok).toBe(true);
  });

  it('accepts an alphanumeric data.id signed as received, the way sdk-java checks it', async () => {
    const id = 'ORD01JQ4S4KY8HWQ6NA5PXB65B3D3';
    const ts = String(now.getTime());
    const v1 = nodeHmac('sha256', secret, `id:${id};request-id:${requestId};ts:${ts};`, 'hex');
    const r = await verifyMercadoPago(
      input({ 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId }, { body: encode(notification(id)) }),
    );
    expect(r.ok).toBe(true);
  });

  it('reads a data.id that happens to be the word unsafe like any other id', async () => {
    expect((await verifyMercadoPago(input(await signed({ dataId: 'unsafe' }), { body: encode(notification('unsafe')) }))).ok).toBe(true);
  });

  it('reads a numeric data.id from the body', async () => {
    expect((await verifyMercadoPago(input(await signed(), { body: encode(notification(1234567890)) }))).ok).toBe(true);
  });

  it('leaves id: out of the manifest when the body has no data.id', async () => {
    const r = await verifyMercadoPago(input(await signed({ dataId: undefined }), { body: encode('{"type":"payment","data":{}}') }));
    expect(r.ok).toBe(true);
  });

  it('leaves id: out of the manifest when the body is not JSON', async () => {
    const r = await verifyMercadoPago(input(await signed({ dataId: undefined }), { body: encode('topic=payment&id=1') }));
    expect(r.ok).toBe(true);
  });

  it('leaves request-id: out of the manifest when there is no x-request-id header', async () => {
    const r = await verifyMercadoPago(input(await signed({ requestId: undefined })));
    expect(r.ok).toBe(true);
  });

  it("accepts ts in seconds, the form of Mercado Pago's older docs example", async () => {
    expect((await verifyMercadoPago(input(await signed({ timestampUnit: 's' })))).ok).toBe(true);
  });

  it('accepts a notification signed with the second of two rotating secrets', async () => {
    expect((await verifyMercadoPago(input(await signed(), { secrets: [otherSecret, secret] }))).ok).toBe(true);
  });

  it('accepts a body whose unsigned fields changed, since Mercado Pago signs only data.id, x-request-id and ts', async () => {
    const altered = encode(notification('1234567890').replace('payment.updated', 'payment.created'));
    expect((await verifyMercadoPago(input(await signed(), { body: altered }))).ok).toBe(true);
  });

  it('rejects a body whose data.id was changed and names the manifest it tried', async () => {
    const r = await verifyMercadoPago(input(await signed(), { body: encode(notification('1234567891')) }));
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid', detail: expect.stringContaining(`id:1234567891;request-id:${requestId};`) },
    });
  });

  it('rejects a changed x-request-id', async () => {
    const headers = { ...(await signed()), 'x-request-id': 'another-request' };
    expect(await verifyMercadoPago(input(headers))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a notification signed with another secret without leaking either secret or the expected signature', async () => {
    const expected = (await signed())['x-signature']!.split('v1=')[1]!;
    const r = await verifyMercadoPago(input(await signed({ secret: otherSecret })));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('secret signature') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, otherSecret, expected]) expect(detail).not.toContain(leak);
  });

  it('rejects a numeric data.id too large to read exactly', async () => {
    const r = await verifyMercadoPago(input(await signed(), { body: encode('{"data":{"id":12345678901234567890}}') }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('too large') } });
  });

  it('mentions whitespace when a configured secret has a trailing newline', async () => {
    const r = await verifyMercadoPago(input(await signed(), { secrets: [`${secret}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('reports signature_missing when there is no x-signature header', async () => {
    expect(await verifyMercadoPago(input({ 'x-request-id': requestId }))).toMatchObject({
      ok: false,
      error: { code: 'signature_missing' },
    });
  });

  it('rejects a notification signed 301 s ago with a tolerance of 300 s', async () => {
    const r = await verifyMercadoPago(input(await signed({ at: new Date(now.getTime() - 301_000) })));
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'timestamp_out_of_tolerance', detail: expect.stringContaining('301 s in the past') },
    });
  });

  it('rejects a notification signed 301 s in the future with a tolerance of 300 s', async () => {
    const r = await verifyMercadoPago(input(await signed({ at: new Date(now.getTime() + 301_000) })));
    expect(r).toMatchObject({ ok: false, error: { code: 'timestamp_out_of_tolerance', detail: expect.stringContaining('future') } });
  });

  it('measures the tolerance in milliseconds: 300.001 s ago is out of a 300 s tolerance', async () => {
    const r = await verifyMercadoPago(input(await signed({ at: new Date(now.getTime() - 300_001) })));
    expect(r).toMatchObject({ ok: false, error: { code: 'timestamp_out_of_tolerance' } });
  });

  it('accepts a notification signed exactly at the edge of the tolerance', async () => {
    expect((await verifyMercadoPago(input(await signed({ at: new Date(now.getTime() - 300_000) })))).ok).toBe(true);
  });

  it('rejects a stale notification whose ts is in seconds', async () => {
    const r = await verifyMercadoPago(input(await signed({ at: new Date(now.getTime() - 3600_000), timestampUnit: 's' })));
    expect(r).toMatchObject({ ok: false, error: { code: 'timestamp_out_of_tolerance', detail: expect.stringContaining('3600 s') } });
  });

  it('checks the signature before the timestamp, so a forged stale notification is signature_invalid', async () => {
    const r = await verifyMercadoPago(input(await signed({ secret: otherSecret, at: new Date(now.getTime() - 3600_000) })));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it.each([
    ['no key=value pairs', 'garbage'],
    ['no ts', `v1=${'ab'.repeat(32)}`],
    ['no v1', `ts=${now.getTime()}`],
    ['a non-numeric ts', `ts=soon,v1=${'ab'.repeat(32)}`],
    ['a 17-digit ts', `ts=${'1'.repeat(17)},v1=${'ab'.repeat(32)}`],
    ['more than 4096 characters', `ts=${now.getTime()},${`v1=${'ab'.repeat(32)},`.repeat(64)}`],
  ])('rejects a header with %s as malformed', async (_, header) => {
    const r = await verifyMercadoPago(input({ 'x-signature': header, 'x-request-id': requestId }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });

  it.each(['zz', '', 'not hex at all', 'abc', 'ab'.repeat(31), '€'.repeat(64)])(
    'rejects the garbage v1 signature %j without throwing',
    async (garbage) => {
      const r = await verifyMercadoPago(input({ 'x-signature': `ts=${now.getTime()},v1=${garbage}`, 'x-request-id': requestId }));
      expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
    },
  );

  describe('with the request URL, whose query string carries the data.id Mercado Pago signs', () => {
    const url = (id: string): string => `https://gw.example.com/inbound/src_1?data.id=${encodeURIComponent(id)}&type=payment`;

    it('accepts a notification whose URL and body carry the same data.id', async () => {
      expect(await verifyMercadoPago(input(await signed(), { url: url('1234567890') }))).toEqual({ ok: true, value: {} });
    });

    it('reads data.id from the URL when the body has none', async () => {
      const bare = encode(JSON.stringify({ action: 'payment.updated', type: 'payment' }));
      expect((await verifyMercadoPago(input(await signed({ dataId: 'ABC123' }), { body: bare, url: url('ABC123') }))).ok).toBe(true);
    });

    it('refuses a body whose data.id differs from the URL one, even though the signature covers the URL one', async () => {
      const other = encode(notification('999'));
      const r = await verifyMercadoPago(input(await signed(), { body: other, url: url('1234567890') }));
      expect(r).toEqual({
        ok: false,
        error: { code: 'signature_invalid', detail: expect.stringContaining("differs from the data.id of the URL's query string") },
      });
    });

    it('refuses a URL data.id changed after signing and says it read data.id from the URL', async () => {
      const bare = encode('{}');
      const r = await verifyMercadoPago(input(await signed(), { body: bare, url: url('1234567891') }));
      expect(r).toEqual({
        ok: false,
        error: { code: 'signature_invalid', detail: expect.stringContaining("data.id read from the URL's query string") },
      });
    });

    it('falls back to the body when the URL has no data.id', async () => {
      expect((await verifyMercadoPago(input(await signed(), { url: 'https://gw.example.com/inbound/src_1' }))).ok).toBe(true);
      expect((await verifyMercadoPago(input(await signed(), { url: 'https://gw.example.com/inbound/src_1?data.id=' }))).ok).toBe(true);
    });
  });

  it('refuses an x-signature with two ts= values as malformed', async () => {
    const headers = await signed();
    const r = await verifyMercadoPago(input({ ...headers, 'x-signature': `${headers['x-signature']},ts=${now.getTime() + 1}` }));
    expect(r).toEqual({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('more than one ts=') } });
  });
});
