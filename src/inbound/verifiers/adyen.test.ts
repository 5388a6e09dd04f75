import { hmacValidator } from '@adyen/api-library';
import { describe, expect, it } from 'vitest';
import { fixtureText } from '../../../test/node-helpers.js';
import { verifyAdyen } from './adyen.js';
import { signAdyen } from './testing.js';
import type { VerifyInput } from './types.js';

type Item = Parameters<hmacValidator['calculateHmac']>[0] & object;
type Notification = { live: string; notificationItems: { NotificationRequestItem: Item }[] };

const now = new Date('2026-11-22T12:00:00Z');
// A test key of our own: the fixtures' hmacSignature values were made with a key we do not know.
const hmacKey = 'E2D9B84A86AA08CDC0092B44CAB29D791A9CAF30AD62B9E3E4E29120714F73D6';
const otherKey = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
const FIXTURES = ['authorisation-true', 'capture-true', 'refund-true'] as const;
const fixture = (name: string): string => fixtureText(`adyen/${name}.json`);
const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
const parse = (s: string): Notification => JSON.parse(s) as Notification;
const library = new hmacValidator();

function input(body: string | Uint8Array, overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    body: typeof body === 'string' ? encode(body) : body,
    headers: {},
    secrets: [hmacKey],
    toleranceSeconds: 300,
    now,
    ...overrides,
  };
}

/** One notification whose items are the items of `names`' fixtures, in order. */
const batch = (...names: string[]): string =>
  JSON.stringify({ live: 'false', notificationItems: names.flatMap((n) => parse(fixture(n)).notificationItems) });

describe('verifyAdyen', () => {
  it.each(FIXTURES)('accepts the %s fixture re-signed by our signer', async (name) => {
    expect(await verifyAdyen(input(await signAdyen(fixture(name), hmacKey)))).toEqual({ ok: true, value: {} });
  });

  it.each(FIXTURES)('signs the %s fixture exactly as the official Adyen HmacValidator calculates it', async (name) => {
    const [{ NotificationRequestItem: item }] = parse(await signAdyen(fixture(name), hmacKey)).notificationItems as [
      { NotificationRequestItem: Item },
    ];
    expect(item.additionalData?.hmacSignature).toBe(library.calculateHmac(item, hmacKey));
    expect(library.validateHMAC(item, hmacKey)).toBe(true);
  });

  it('joins values with colons unescaped, as the official HmacValidator does, when a reference holds a colon and a backslash', async () => {
    const n = parse(fixture('refund-true'));
    n.notificationItems[0]!.NotificationRequestItem.merchantReference = 'order:42\\a';
    const signed = await signAdyen(n, hmacKey);
    const item = parse(signed).notificationItems[0]!.NotificationRequestItem;
    expect(library.getDataToSign(item)).toBe('PSP_REFERENCE:ORIGINAL_PSP:MagentoMerchantTest2:order:42\\a:1500:EUR:REFUND:true');
    expect(item.additionalData?.hmacSignature).toBe(library.calculateHmac(item, hmacKey));
    expect((await verifyAdyen(input(signed))).ok).toBe(true);
  });

  it('rejects the fixtures as received, whose signatures were made with another key, naming the item', async () => {
    const r = await verifyAdyen(input(fixture('capture-true')));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('notificationItems[0]') } });
  });

  it('accepts a batch in which every item verifies', async () => {
    expect((await verifyAdyen(input(await signAdyen(batch(...FIXTURES), hmacKey)))).ok).toBe(true);
  });

  it('rejects a batch whose second item had its amount changed, naming that item', async () => {
    const n = parse(await signAdyen(batch(...FIXTURES), hmacKey));
    (n.notificationItems[1]!.NotificationRequestItem.amount as { value: number }).value = 1;
    const r = await verifyAdyen(input(JSON.stringify(n)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('notificationItems[1]') } });
  });

  it.each(['pspReference', 'merchantAccountCode', 'merchantReference', 'eventCode', 'success'] as const)(
    'rejects an item whose signed field %s was changed',
    async (field) => {
      const n = parse(await signAdyen(fixture('capture-true'), hmacKey));
      (n.notificationItems[0]!.NotificationRequestItem as Record<string, unknown>)[field] = 'changed';
      expect(await verifyAdyen(input(JSON.stringify(n)))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
    },
  );

  it('accepts an item whose unsigned fields changed, since Adyen signs only eight fields', async () => {
    const n = parse(await signAdyen(fixture('capture-true'), hmacKey));
    n.notificationItems[0]!.NotificationRequestItem.reason = 'changed';
    expect((await verifyAdyen(input(JSON.stringify(n)))).ok).toBe(true);
  });

  it('accepts a batch signed with the second of two rotating keys', async () => {
    expect((await verifyAdyen(input(await signAdyen(fixture('capture-true'), hmacKey), { secrets: [otherKey, hmacKey] }))).ok).toBe(true);
  });

  it('accepts a key written in lower-case hex', async () => {
    expect((await verifyAdyen(input(await signAdyen(fixture('capture-true'), hmacKey), { secrets: [hmacKey.toLowerCase()] }))).ok).toBe(
      true,
    );
  });

  it('accepts a notification however long ago it was sent, since Adyen signs no timestamp', async () => {
    const r = await verifyAdyen(
      input(await signAdyen(fixture('capture-true'), hmacKey), { now: new Date('2030-01-01T00:00:00Z'), toleranceSeconds: 1 }),
    );
    expect(r.ok).toBe(true);
  });

  it('rejects items signed with another key without leaking either key or the expected signature', async () => {
    const expected = parse(await signAdyen(fixture('capture-true'), hmacKey)).notificationItems[0]!.NotificationRequestItem.additionalData!
      .hmacSignature!;
    const r = await verifyAdyen(input(await signAdyen(fixture('capture-true'), otherKey)));
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid', detail: expect.stringContaining('HMAC key of this webhook') },
    });
    const detail = r.ok ? '' : r.error.detail;
    for (const leak of [hmacKey, otherKey, expected]) expect(detail).not.toContain(leak);
  });

  it('says so when no configured key is hex', async () => {
    const r = await verifyAdyen(input(await signAdyen(fixture('capture-true'), hmacKey), { secrets: [`${hmacKey}\n`, 'not-hex', ''] }));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('hex') } });
  });

  it('reports signature_missing when no item has an hmacSignature', async () => {
    const n = parse(fixture('capture-true'));
    delete n.notificationItems[0]!.NotificationRequestItem.additionalData;
    expect(await verifyAdyen(input(JSON.stringify(n)))).toMatchObject({ ok: false, error: { code: 'signature_missing' } });
  });

  it('rejects a batch in which only some items carry an hmacSignature, naming the unsigned item', async () => {
    const n = parse(await signAdyen(batch('capture-true', 'refund-true'), hmacKey));
    n.notificationItems[1]!.NotificationRequestItem.additionalData = {};
    const r = await verifyAdyen(input(JSON.stringify(n)));
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'signature_invalid', detail: expect.stringContaining('notificationItems[1] has no') },
    });
  });

  it.each([
    ['a body that is not JSON', '<notification/>'],
    ['a body without notificationItems', '{"live":"false"}'],
    ['an empty notificationItems array', '{"live":"false","notificationItems":[]}'],
    ['an item without NotificationRequestItem', '{"live":"false","notificationItems":[{"hmacSignature":"x"}]}'],
    ['a JSON array', '[]'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
  ])('rejects %s as signature_invalid without throwing', async (_, body) => {
    expect(await verifyAdyen(input(body))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });

  it.each([
    ['not base64', 'not base64!'],
    ['base64 of 16 bytes', 'q83vEjRWeJq83vEjRWeJqw=='],
    ['hex instead of base64', 'ab'.repeat(32)],
    ['more than 4096 characters', 'A'.repeat(4100)],
    ['a number', 42],
  ])('rejects an hmacSignature that is %s without throwing', async (_, signature) => {
    const n = parse(fixture('capture-true')) as unknown as {
      notificationItems: { NotificationRequestItem: { additionalData: Record<string, unknown> } }[];
    };
    n.notificationItems[0]!.NotificationRequestItem.additionalData.hmacSignature = signature;
    const r = await verifyAdyen(input(JSON.stringify(n)));
    expect(r).toMatchObject({ ok: false, error: { code: 'signature_invalid', detail: expect.stringContaining('notificationItems[0]') } });
  });

  it('rejects an item whose signed field is an object without throwing', async () => {
    const n = parse(fixture('capture-true')) as unknown as { notificationItems: { NotificationRequestItem: Record<string, unknown> }[] };
    n.notificationItems[0]!.NotificationRequestItem.pspReference = { nested: true };
    expect(await verifyAdyen(input(JSON.stringify(n)))).toMatchObject({ ok: false, error: { code: 'signature_invalid' } });
  });
});
