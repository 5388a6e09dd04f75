// The HMAC the Node entry lends verifyHmac (node:crypto) gives the same answers as Web
// Crypto: on random keys, data and MACs, and through every provider's verifier.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { importHmacKey, useHmacBackend, verifyHmac } from '../../core/crypto.js';
import { verifierForSource } from '../../inbound/verifiers/index.js';
import { nodeHmacBackend } from './hmac-backend.js';
import { NOW, PROVIDERS, SECRETS, SQUARE_URL, signedRequest } from '../../../test/inbound/signed-requests.js';

afterEach(() => useHmacBackend(undefined));

/** verifyHmac's answer with Web Crypto, then with node:crypto's HMAC lent. */
async function bothWays(key: Uint8Array, hash: 'SHA-256' | 'SHA-512', mac: Uint8Array, data: Uint8Array): Promise<[boolean, boolean]> {
  const k = await importHmacKey(key, hash);
  useHmacBackend(undefined);
  const web = await verifyHmac(k, mac, data);
  useHmacBackend(nodeHmacBackend);
  const node = await verifyHmac(k, mac, data);
  useHmacBackend(undefined);
  return [web, node];
}

describe('verifyHmac with node:crypto lent (useHmacBackend)', () => {
  it('agrees with crypto.subtle.verify on random keys, data and MACs: the right MAC, one bit off, cut short, or too long', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.constantFrom('SHA-256' as const, 'SHA-512' as const),
        fc.constantFrom('right', 'flipped', 'short', 'long'),
        fc.nat(),
        async (key, data, hash, variant, at) => {
          const k = await importHmacKey(key, hash);
          const right = new Uint8Array(await crypto.subtle.sign('HMAC', k, data));
          const mac = right.slice();
          if (variant === 'flipped') mac[at % mac.length]! ^= 1 << (at % 8);
          const given = variant === 'short' ? mac.slice(0, mac.length - 1) : variant === 'long' ? new Uint8Array([...mac, 0]) : mac;
          const [web, node] = await bothWays(key, hash, given, data);
          expect(node).toBe(web);
          expect(node).toBe(variant === 'right');
        },
      ),
      { numRuns: 500 },
    );
  });

  it.each(PROVIDERS)(
    'leaves the %s verifier accepting its genuine request and refusing it with its event token changed',
    async (provider) => {
      const verify = verifierForSource({ provider, notificationUrl: SQUARE_URL })!;
      const request = await signedRequest(provider, { token: 'Backend1', amount: 1234, note: 'hmac backend' });
      const input = (body: string) => ({
        body: new TextEncoder().encode(body),
        headers: request.headers,
        secrets: [SECRETS[provider]],
        toleranceSeconds: 300,
        now: NOW,
        url: SQUARE_URL,
      });
      // The token is in what every provider signs (Mercado Pago signs data.id, not the body).
      const tampered = request.body.replace(/backend1/gi, 'Backend2');
      expect(tampered).not.toBe(request.body);
      for (const backend of [undefined, nodeHmacBackend]) {
        useHmacBackend(backend);
        expect((await verify(input(request.body))).ok).toBe(true);
        expect((await verify(input(tampered))).ok).toBe(false);
      }
    },
  );
});
