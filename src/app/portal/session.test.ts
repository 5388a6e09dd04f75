// Whose address a portal request is (README "The portal"): the socket's, or behind SWITCHYARD_TRUSTED_PROXIES the
// address the nearest untrusted hop of X-Forwarded-For names.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { forwardedClient } from './session.js';

describe('forwardedClient', () => {
  const proxies = ['10.0.0.0/8', '2001:db8::/32', '192.0.2.10'];

  it('is the socket address when no proxy is trusted, whatever the header says', () => {
    expect(forwardedClient('203.0.113.9', '198.51.100.1', undefined)).toBe('203.0.113.9');
    expect(forwardedClient('10.0.0.5', '198.51.100.1', undefined)).toBe('10.0.0.5');
  });

  it('is the socket address when the peer is not a trusted proxy: anyone can send the header', () => {
    expect(forwardedClient('203.0.113.9', '198.51.100.1', proxies)).toBe('203.0.113.9');
  });

  it('is the last hop that is not a trusted proxy, skipping proxies in a chain; forged hops to its left are ignored', () => {
    expect(forwardedClient('10.1.2.3', '198.51.100.1', proxies)).toBe('198.51.100.1');
    expect(forwardedClient('10.1.2.3', '1.2.3.4, 198.51.100.1, 192.0.2.10', proxies)).toBe('198.51.100.1');
    expect(forwardedClient('::ffff:10.1.2.3', '198.51.100.1', proxies)).toBe('198.51.100.1');
    expect(forwardedClient('2001:db8::1', '2001:db8::2, 2a00::5', proxies)).toBe('2a00::5');
  });

  it('falls back to the first hop when every hop is a proxy, and to the socket without a header', () => {
    expect(forwardedClient('10.1.2.3', '10.9.9.9, 192.0.2.10', proxies)).toBe('10.9.9.9');
    expect(forwardedClient('10.1.2.3', undefined, proxies)).toBe('10.1.2.3');
    expect(forwardedClient('10.1.2.3', ' , ', proxies)).toBe('10.1.2.3');
  });
});

describe('SWITCHYARD_TRUSTED_PROXIES', () => {
  it('takes addresses and CIDR ranges, comma-separated; unset is off', () => {
    expect(loadConfig({}).SWITCHYARD_TRUSTED_PROXIES).toBeUndefined();
    expect(loadConfig({ SWITCHYARD_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.10,::1' }).SWITCHYARD_TRUSTED_PROXIES).toEqual([
      '10.0.0.0/8',
      '192.0.2.10',
      '::1',
    ]);
  });

  it('refuses anything else with the setting named', () => {
    expect(() => loadConfig({ SWITCHYARD_TRUSTED_PROXIES: 'proxy.internal' })).toThrow(/SWITCHYARD_TRUSTED_PROXIES/);
    expect(() => loadConfig({ SWITCHYARD_TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/SWITCHYARD_TRUSTED_PROXIES/);
  });
});
