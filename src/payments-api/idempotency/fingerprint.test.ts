import { describe, expect, it } from 'vitest';
import { canonicalJson, requestFingerprint } from './fingerprint.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 2, a: { d: 1, c: [3, 1] } })).toBe('{"a":{"c":[3,1],"d":1},"b":2}');
  });
  it('drops undefined members as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });
});

describe('requestFingerprint', () => {
  it('is the same for the same request written differently, and differs by method, path or body', async () => {
    const a = await requestFingerprint('post', '/v1/payments', { amount: 1, currency: 'USD' });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await requestFingerprint('POST', '/v1/payments', { currency: 'USD', amount: 1 })).toBe(a);
    expect(await requestFingerprint('POST', '/v1/payments', { currency: 'USD', amount: 2 })).not.toBe(a);
    expect(await requestFingerprint('POST', '/v1/payments/x/capture', { currency: 'USD', amount: 1 })).not.toBe(a);
    expect(await requestFingerprint('PUT', '/v1/payments', { currency: 'USD', amount: 1 })).not.toBe(a);
  });
});
