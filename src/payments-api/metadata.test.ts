import { describe, expect, it } from 'vitest';
import { metadataIssues } from './metadata.js';

const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key_${i}`, 'v']));

describe('metadataIssues', () => {
  it('allows Stripe 47 keys (50 less Switchyard three) of up to 40 characters, values up to 500', () => {
    expect(metadataIssues('stripe', keys(47))).toEqual([]);
    expect(metadataIssues('stripe', keys(48))).toEqual([
      { path: ['metadata'], message: 'at most 47 keys (stripe allows 50, Switchyard uses 3)' },
    ]);
    expect(metadataIssues('stripe', { ['k'.repeat(40)]: 'v'.repeat(500) })).toEqual([]);
    expect(metadataIssues('stripe', { ['k'.repeat(41)]: 'v'.repeat(501) }).map((i) => i.message)).toEqual([
      'keys are at most 40 characters at stripe',
      'values are at most 500 characters at stripe',
    ]);
  });

  it("refuses Switchyard's own key, and knows no limits for PSPs without a connector", () => {
    expect(metadataIssues('adyen', { switchyard_op: 'x' })).toEqual([
      { path: ['metadata', 'switchyard_op'], message: 'switchyard_op is set by Switchyard' },
    ]);
    expect(metadataIssues('razorpay', keys(100))).toEqual([]);
  });
});
