import { describe, expect, it } from 'vitest';
import { INBOUND_PROVIDERS, type InboundProvider } from './verifiers/index.js';
import { SECRET_RULES, estimateEntropyBits, secretProblem } from './secret-rules.js';

/** A secret each PSP could have shown (random strings in the PSP's format). */
const REALISTIC: Record<InboundProvider, string[]> = {
  stripe: [
    'whsec_3S05HOR7U8g5Pq8PMBYtsHu3R2Z3fQza', // Dashboard: 32 letters and digits
    'whsec_7d4c1f0e9b8a5f3d2c6e1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e', // stripe listen: 64 hex
  ],
  'standard-webhooks': [
    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', // 24 bytes, the spec's example length
    'whsec_wcNgzGT1BPQCmbUxCWkdpv81IF1ogi/xNS/Vza6JZ/M=', // 32 bytes
    'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', // prefix optional
  ],
  adyen: [
    'CD91938D295110C8612215C33FA8EF8A7D730E035C5F8DAB9B8D546DE7C26F1D',
    'cd91938d295110c8612215c33fa8ef8a7d730e035c5f8dab9b8d546de7c26f1d',
  ],
  razorpay: ['x3YEUr3EAEAs1dfqc0842WgG', 'correct horse battery staple 42'],
  checkout: ['4dUUcvyNSY1PD14owD2u3hrv', '5f0c1e8b7a2d4c6e9f3b1a0d'],
  paystack: ['sk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7', 'sk_live_b1f3d258d7cebe09741b9c1fdacef75256729af7'],
  square: ['ZbpWI5XchOSNMXYAaCdxZQ', 'qf-akbt2uWB8DKAMECF_EA'],
  gocardless: ['HLjuJtT4oeAC0wXHEYgMC8zTH9TGuWL5K31Fqfp7', 'my-gocardless-endpoint-7Q2x'],
  mercadopago: ['23f8d17084f77e200a6ccbbf650b03cd4faf650e5cebd840edb78bc3967d7d0f'],
};

/** Secrets each rule must refuse, and why. */
const WEAK: Record<InboundProvider, [string, string][]> = {
  stripe: [
    ['whsec_', 'the bare prefix'],
    ['whsec_test_secret', 'a short placeholder'],
    ['whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'one repeated character'],
    ['whsec_abababababababababababababababab', 'two characters'],
    ['sk_test_3S05HOR7U8g5Pq8PMBYtsHu3R2Z3fQza', 'an API key'],
    ['3S05HOR7U8g5Pq8PMBYtsHu3R2Z3fQza', 'no prefix'],
  ],
  'standard-webhooks': [
    ['whsec_', 'the bare prefix'],
    [`whsec_${btoa('0123456789abcdef')}`, "16 bytes, under the spec's 24"],
    [`whsec_${btoa('x'.repeat(65))}`, '65 bytes'],
    [`whsec_${btoa('a'.repeat(32))}`, 'a key of one repeated byte'],
    ['whsec_not base64!', 'not base64'],
  ],
  adyen: [
    ['x', 'one character'],
    ['00112233445566778899AABBCCDDEEFF', '32 hex characters'],
    ['AA'.repeat(32), 'one repeated byte'],
    ['CD'.repeat(32), 'two characters'],
    ['Z'.repeat(64), 'not hex'],
  ],
  razorpay: [
    ['x', 'one character'],
    ['rzp_secret_01', 'under 16 characters'],
    ['aaaaaaaaaaaaaaaaaaaaaaaa', 'one repeated character'],
    ['abcabcabcabcabcabcabcabc', 'three characters'],
    ['secret\u0000secret\u0001secret', 'control characters'],
  ],
  checkout: [
    ['x', 'one character'],
    ['cko_key', 'under 16 characters'],
    ['1111111111111111', 'one repeated character'],
  ],
  paystack: [
    ['x', 'one character'],
    ['pk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7', 'the public key'],
    ['sk_test_', 'the bare prefix'],
    ['sk_test_0123456789abcdef', 'too short'],
    [`sk_live_${'0'.repeat(40)}`, 'one repeated character'],
  ],
  square: [
    ['x', 'one character'],
    ['sq_key', 'too short'],
    ['EAAAl'.padEnd(22, 'A'), 'a repeated pattern'],
    ['Zbp WI5XchOSNMXYAaCdxZQ', 'a space inside'],
  ],
  gocardless: [
    ['x', 'one character'],
    ['gc_secret', 'under 16 characters'],
    ['0000000000000000', 'one repeated character'],
  ],
  mercadopago: [
    ['x', 'one character'],
    ['mp_secret_signature_0123', 'too short, and not letters and digits'],
    ['0'.repeat(64), 'one repeated character'],
  ],
};

describe('secretProblem', () => {
  for (const provider of INBOUND_PROVIDERS) {
    for (const secret of REALISTIC[provider]) {
      it(`accepts the realistic ${provider} secret ${secret.slice(0, 12)}…`, () => {
        expect(secretProblem(provider, secret)).toBeUndefined();
      });
    }
    for (const [secret, why] of WEAK[provider]) {
      it(`refuses a ${provider} secret that is ${why}, naming the format`, () => {
        expect(secretProblem(provider, secret)).toContain(SECRET_RULES[provider].format);
      });
    }
    it(`refuses a ${provider} secret with surrounding whitespace`, () => {
      expect(secretProblem(provider, ` ${REALISTIC[provider][0]}\n`)).toMatch(/^the secret has leading or trailing whitespace; /);
    });
  }

  it('says a placeholder looks like one rather than only restating the format', () => {
    expect(secretProblem('stripe', `whsec_${'x'.repeat(32)}`)).toMatch(/^the secret looks like a placeholder/);
    expect(secretProblem('stripe', 'whsec_')).toBe(SECRET_RULES.stripe.format);
  });
});

describe('SECRET_RULES', () => {
  it('has a rule for every provider, each citing an https page', () => {
    expect(Object.keys(SECRET_RULES).sort()).toEqual([...INBOUND_PROVIDERS].sort());
    for (const rule of Object.values(SECRET_RULES)) expect(rule.source).toMatch(/^https:\/\//);
  });

  it('puts a length, distinct-character and entropy floor on every merchant-chosen secret', () => {
    const chosen = Object.values(SECRET_RULES).filter((r) => r.madeBy === 'merchant');
    expect(chosen.length).toBeGreaterThan(0);
    for (const rule of chosen) {
      expect(rule.minLength).toBeGreaterThanOrEqual(16);
      expect(rule.minDistinct).toBeGreaterThanOrEqual(8);
      expect(rule.minEntropyBits).toBeGreaterThanOrEqual(48);
    }
  });
});

describe('estimateEntropyBits', () => {
  it('is 0 for an empty or single-character string', () => {
    expect(estimateEntropyBits('')).toBe(0);
    expect(estimateEntropyBits('aaaaaaaa')).toBe(0);
  });

  it('is length × log2(alphabet) for evenly used characters', () => {
    expect(estimateEntropyBits('abab')).toBe(4);
    expect(estimateEntropyBits('0123456789abcdef')).toBe(64);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(estimateEntropyBits('😀😃')).toBe(2);
  });
});
