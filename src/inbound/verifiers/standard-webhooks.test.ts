import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyStandardWebhooks } from './standard-webhooks.js';
import { signStandardWebhooks } from './testing.js';
import type { VerifyInput } from './types.js';

const now = new Date('2026-11-22T12:00:00Z');
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const otherSecret = 'whsec_dGhlIHNpZ25pbmcgc2VjcmV0IG9mIGFub3RoZXI=';
const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
const payload = '{"type":"payment.succeeded","data":{"id":"pay_1","amount":"10.00","note":"Zürich café"}}';
const body = new TextEncoder().encode(payload);

async function signed(overrides: Partial<VerifyInput> = {}, at = now): Promise<VerifyInput> {
  const headers = await signStandardWebhooks({ id, body, secret, at });
  return { body, headers, secrets: [secret], toleranceSeconds: 300, now, ...overrides };
}

describe('verifyStandardWebhooks', () => {
  it('accepts a body signed by our signer and returns the webhook-id as the event id', async () => {
    expect(await verifyStandardWebhooks(await signed())).toEqual({ ok: true, value: { eventId: id } });
  });

  it('accepts headers signed by the official standardwebhooks library', async () => {
    const realNow = new Date();
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(realNow.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, realNow, payload),
    };
    const r = await verifyStandardWebhooks({ body, headers, secrets: [secret], toleranceSeconds: 300, now: realNow });
    expect(r).toEqual({ ok: true, value: { eventId: id } });
  });

  it('signs headers that the official standardwebhooks library accepts', async () => {
    const headers = await signStandardWebhooks({ id, body: payload, secret, at: new Date() });
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  it('accepts the svix-* header aliases', async () => {
    const input = await signed();
    const headers = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.replace('webhook-', 'svix-'), v]));
    expect(await verifyStandardWebhooks({ ...input, headers })).toEqual({ ok: true, value: { eventId: id } });
  });

  it('accepts a secret given without the whsec_ prefix', async () => {
    const input = await signed({ secrets: [secret.slice('whsec_'.length)] });
    expect((await verifyStandardWebhooks(input)).ok).toBe(true);
  });

  it('accepts a signature header whose second v1 entry is the only one that matches', async () => {
    const input = await signed();
    const valid = input.headers['webhook-signature']!;
    const headers = { ...input.headers, 'webhook-signature': `v1,${btoa('x'.repeat(32))} ${valid}` };
    expect((await verifyStandardWebhooks({ ...input, headers })).ok).toBe(true);
  });

  it('ignores entries of other versions such as v1a even when they carry the right bytes', async () => {
    const input = await signed();
    const headers = { ...input.headers, 'webhook-signature': input.headers['webhook-signature']!.replace('v1,', 'v1a,') };
    expect(await verifyStandardWebhooks({ ...input, headers })).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('accepts a body signed with the second of two rotating secrets', async () => {
    const input = await signed({ secrets: [otherSecret, secret] });
    expect((await verifyStandardWebhooks(input)).ok).toBe(true);
  });

  it('rejects a body with one byte changed', async () => {
    const tampered = body.slice();
    tampered[5] = tampered[5]! ^ 1;
    const r = await verifyStandardWebhooks(await signed({ body: tampered }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it('rejects a re-serialised JSON body and asks whether it was re-serialised', async () => {
    const pretty = new TextEncoder().encode(JSON.stringify(JSON.parse(payload), null, 2));
    const r = await verifyStandardWebhooks(await signed({ body: pretty }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('re-serialised') } });
  });

  it('rejects a body signed with the secret of another endpoint without leaking the secret or the signature', async () => {
    const input = await signed({ secrets: [otherSecret] });
    const r = await verifyStandardWebhooks(input);
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('another endpoint') } });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [secret, otherSecret, input.headers['webhook-signature']!.slice(3)]) expect(detail).not.toContain(leak);
  });

  it('names the secret encoding when a configured secret is not base64', async () => {
    const r = await verifyStandardWebhooks(await signed({ secrets: ['whsec_not base64!'] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('whsec_<base64>') } });
  });

  it('still verifies with a good secret when another configured secret is not base64', async () => {
    expect((await verifyStandardWebhooks(await signed({ secrets: ['whsec_', secret] }))).ok).toBe(true);
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('reports signature_missing without a %s header', async (name) => {
    const input = await signed();
    const headers = { ...input.headers };
    delete headers[name];
    const r = await verifyStandardWebhooks({ ...input, headers });
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_missing', detail: expect.stringContaining(name) } });
  });

  it.each(['1795435200.5', 'soon', '-1', '1e9'])(
    'rejects the webhook-timestamp %j, which is not whole unix seconds, as signature_invalid',
    async (timestamp) => {
      const input = await signed();
      const headers = { ...input.headers, 'webhook-timestamp': timestamp };
      expect(await verifyStandardWebhooks({ ...input, headers })).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
    },
  );

  it('rejects a message signed 301 s ago with a tolerance of 300 s', async () => {
    const r = await verifyStandardWebhooks(await signed({}, new Date(now.getTime() - 301_000)));
    expect(r).toMatchObject({ ok: false, error: { code: 'timestamp_out_of_tolerance' } });
  });

  it('rejects a message signed 301 s in the future with a tolerance of 300 s', async () => {
    const r = await verifyStandardWebhooks(await signed({}, new Date(now.getTime() + 301_000)));
    expect(r).toMatchObject({ ok: false, error: { code: 'timestamp_out_of_tolerance' } });
  });

  it('checks the signature before the timestamp, so a forged stale message is signature_invalid', async () => {
    const r = await verifyStandardWebhooks(await signed({ secrets: [otherSecret] }, new Date(now.getTime() - 3600_000)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it.each(['v1,!!!', 'v1,', 'v1', ',,,', '   ', 'v2,abc v1,%%%', 'v1,AAAA'])(
    'rejects the garbage signature header %j without throwing',
    async (garbage) => {
      const input = await signed();
      const headers = { ...input.headers, 'webhook-signature': garbage };
      expect(await verifyStandardWebhooks({ ...input, headers })).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
    },
  );

  it('refuses a webhook-signature header over 4096 characters unread, even with the genuine entry in it', async () => {
    const genuine = await signed();
    const header = `${'v1,AAAA '.repeat(600)}${genuine.headers['webhook-signature']}`;
    const r = await verifyStandardWebhooks({ ...genuine, headers: { ...genuine.headers, 'webhook-signature': header } });
    expect(r).toEqual({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('longer than 4096') } });
  });
});
