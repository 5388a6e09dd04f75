// POST /v1/sources and POST /v1/sources/{id}/secrets refuse signing secrets below the
// provider's format or strength (src/inbound/secret-rules.ts), and store nothing for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { SECRET_RULES } from '../../src/inbound/secret-rules.js';
import { INBOUND_PROVIDERS, type InboundProvider } from '../../src/inbound/verifiers/index.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const SQUARE_URL = 'https://gw.example.com/inbound/square';

/** Per provider: secrets that must be refused, and one a PSP (or a careful merchant) would give. */
const CASES: Record<InboundProvider, { weak: string[]; realistic: string }> = {
  stripe: { weak: ['whsec_', 'whsec_test_secret', `whsec_${'x'.repeat(32)}`], realistic: 'whsec_3S05HOR7U8g5Pq8PMBYtsHu3R2Z3fQza' },
  'standard-webhooks': {
    weak: ['whsec_', 'x', `whsec_${btoa('0123456789abcdef')}`],
    realistic: 'whsec_wcNgzGT1BPQCmbUxCWkdpv81IF1ogi/xNS/Vza6JZ/M=',
  },
  adyen: {
    weak: ['x', 'AA'.repeat(32), '00112233445566778899AABBCCDDEEFF'],
    realistic: 'CD91938D295110C8612215C33FA8EF8A7D730E035C5F8DAB9B8D546DE7C26F1D',
  },
  razorpay: { weak: ['x', 'secret', 'a'.repeat(40)], realistic: 'x3YEUr3EAEAs1dfqc0842WgG' },
  checkout: { weak: ['x', 'cko_key', '1'.repeat(24)], realistic: '4dUUcvyNSY1PD14owD2u3hrv' },
  paystack: {
    weak: ['x', 'sk_test_', 'pk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7'],
    realistic: 'sk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7',
  },
  square: { weak: ['x', 'sq_key', 'A'.repeat(22)], realistic: 'ZbpWI5XchOSNMXYAaCdxZQ' },
  gocardless: { weak: ['x', 'gc_secret', '0'.repeat(20)], realistic: 'HLjuJtT4oeAC0wXHEYgMC8zTH9TGuWL5K31Fqfp7' },
  mercadopago: { weak: ['x', 'mp_secret', '0'.repeat(64)], realistic: '23f8d17084f77e200a6ccbbf650b03cd4faf650e5cebd840edb78bc3967d7d0f' },
};

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let merchant: { id: string; apiKey: string };

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  merchant = await aMerchant(deps);
});
afterAll(async () => db.drop());

const extra = (provider: InboundProvider) => (provider === 'square' ? { notificationUrl: SQUARE_URL } : {});

async function createSource(provider: InboundProvider, secret: string): Promise<Response> {
  return app.request('/v1/sources', jsonRequest('POST', { provider, secret, ...extra(provider) }, merchant.apiKey));
}

async function counts(): Promise<{ sources: number; secrets: number }> {
  const [row] = await db.sql<{ sources: number; secrets: number }[]>`
    select (select count(*)::int from gw.sources where merchant_id = ${merchant.id}) as sources,
           (select count(*)::int from gw.source_secrets) as secrets`;
  return row!;
}

/** Asserts a 400 invalid_request problem with one issue on ["secret"] naming the provider's format. */
async function expectRefused(res: Response, provider: InboundProvider): Promise<void> {
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const problem = (await res.json()) as { code: string; errors: { path: (string | number)[]; message: string }[] };
  expect(problem.code).toBe('invalid_request');
  const issues = problem.errors.filter((e) => e.path.join('.') === 'secret');
  expect(issues).toHaveLength(1);
  expect(issues[0]!.message).toContain(SECRET_RULES[provider].format);
}

describe('POST /v1/sources with a weak signing secret', () => {
  for (const provider of INBOUND_PROVIDERS) {
    it(`refuses weak ${provider} secrets with 400 invalid_request naming the format, and stores nothing`, async () => {
      const before = await counts();
      for (const secret of CASES[provider].weak) await expectRefused(await createSource(provider, secret), provider);
      expect(await counts()).toEqual(before);
    });

    it(`creates a ${provider} source with a realistic secret (201)`, async () => {
      const before = await counts();
      const res = await createSource(provider, CASES[provider].realistic);
      expect(res.status).toBe(201);
      expect(await counts()).toEqual({ sources: before.sources + 1, secrets: before.secrets + 1 });
    });
  }
});

describe('POST /v1/sources/{id}/secrets with a weak signing secret', () => {
  for (const provider of INBOUND_PROVIDERS) {
    it(`refuses to rotate a ${provider} source to a weak secret, keeping only the old one`, async () => {
      const created = await createSource(provider, CASES[provider].realistic);
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const before = await counts();
      for (const secret of CASES[provider].weak) {
        await expectRefused(await app.request(`/v1/sources/${id}/secrets`, jsonRequest('POST', { secret }, merchant.apiKey)), provider);
      }
      expect(await counts()).toEqual(before);
    });
  }
});
