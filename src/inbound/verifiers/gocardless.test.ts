import { describe, expect, it } from 'vitest';
import { nodeHmac } from '../../../test/node-helpers.js';
import { verifyGoCardless } from './gocardless.js';
import { signGoCardless, signStandardWebhooks } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const secret = 'gc_endpoint_secret_5WbX5kEWLlfzsGNjH64I8l';
const otherSecret = 'gc_endpoint_secret_of_the_sandbox_endpoint';
const payload =
  '{"events":[{"id":"EV123","created_at":"2026-11-22T11:59:58.000Z","action":"confirmed","resource_type":"payments",' +
  '"links":{"payment":"PM123"},"details":{"origin":"gocardless","cause":"payment_confirmed","description":"Paiement confirmé"}},' +
  '{"id":"EV124","created_at":"2026-11-22T11:59:59.000Z","action":"cancelled","resource_type":"mandates","links":{"mandate":"MD123"}}]}';
const body = new TextEncoder().encode(payload);

function input(signature: string | undefined, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    body,
    headers: signature === undefined ? {} : { 'webhook-signature': signature },
    secrets: [secret],
    toleranceSeconds: 300,
    now,
    ...overrides,
  };
}

describe('verifyGoCardless', () => {
  it('accepts a batch of events signed by our signer', async () => {
    expect(await verifyGoCardless(input(await signGoCardless(body, secret)))).toEqual({ ok: true, value: {} });
  });

  it('signs the hex HMAC-SHA256 of the raw body that GoCardless documents', async () => {
    expect(await signGoCardless(body, secret)).toBe(nodeHmac('sha256', secret, body, 'hex'));
  });

  it('accepts a body signed with the second of two rotating secrets', async () => {
    expect((await verifyGoCardless(input(await signGoCardless(body, secret), { secrets: [otherSecret, secret] }))).ok).toBe(true);
  });

  it('accepts a body however long ago it was signed, since GoCardless signs no timestamp', async () => {
    const r = await verifyGoCardless(
      input(await signGoCardless(body, secret), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }),
    );
    expect(r.ok).toBe(true);
  });

  it('rejects a batch with one event removed', async () => {
    const signature = await signGoCardless(body, secret);
    const parsed = JSON.parse(payload) as { events: unknown[] };
    const shortened = new TextEncoder().encode(JSON.stringify({ events: parsed.events.slice(0, 1) }));
    expect(await verifyGoCardless(input(signature, { body: shortened }))).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid' },
    });
  });

  it('rejects a body with one byte changed and asks whether it was re-serialised', async () => {
    const signature = await signGoCardless(body, secret);
    const tampered = body.slice();
    tampered[20] = tampered[20]! ^ 1;
    const r = await verifyGoCardless(input(signature, { body: tampered }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('re-serialised') } });
  });

  it('rejects a body signed with another endpoint secret without leaking either secret or the expected signature', async () => {
    const expected = await signGoCardless(body, secret);
    const r = await verifyGoCardless(input(await signGoCardless(body, otherSecret)));
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid', detail: expect.stringContaining('another webhook endpoint') },
    });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, otherSecret, expected]) expect(detail).not.toContain(leak);
  });

  it('names the mix-up when a Standard Webhooks signature arrives in the same header', async () => {
    const headers = await signStandardWebhooks({ id: 'msg_1', body, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', at: now });
    const r = await verifyGoCardless(input(headers['webhook-signature']));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('Standard Webhooks') } });
  });

  it('mentions whitespace when a configured secret has a trailing newline', async () => {
    const r = await verifyGoCardless(input(await signGoCardless(body, secret), { secrets: [`${secret}\n`] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whitespace') } });
  });

  it('says so when the only configured secret is empty', async () => {
    const r = await verifyGoCardless(input(await signGoCardless(body, secret), { secrets: [''] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('no non-empty') } });
  });

  it('reports signature_missing when there is no webhook-signature header', async () => {
    expect(await verifyGoCardless(input(undefined))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it.each([
    ['not hex', 'garbage'],
    ['odd-length hex', 'abc'],
    ['33 bytes of hex', 'ab'.repeat(33)],
    ['non-ASCII characters', '€'.repeat(64)],
    ['more than 4096 characters', 'ab'.repeat(2049)],
  ])('rejects a header with %s as malformed without throwing', async (_, header) => {
    const r = await verifyGoCardless(input(header));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('malformed') } });
  });
});
