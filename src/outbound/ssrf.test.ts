import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from './dispatcher.js';
import { checkEndpointUrl, createGuardedAgent, isForbiddenAddress } from './ssrf.js';

describe('isForbiddenAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private network (RFC 1918)'],
    ['172.16.0.1', 'private network (RFC 1918)'],
    ['192.168.1.1', 'private network (RFC 1918)'],
    ['100.64.0.1', 'shared address space (CGNAT, RFC 6598)'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['0.0.0.0', 'unspecified address'],
    ['0.1.2.3', '"this network" (0.0.0.0/8)'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved (240.0.0.0/4)'],
    ['192.0.2.10', 'documentation range'],
    ['::1', 'loopback'],
    ['::', 'unspecified address'],
    ['fe80::1', 'link-local (cloud metadata)'],
    ['fe80::1%eth0', 'link-local (cloud metadata)'],
    ['fd00:ec2::254', 'unique local address (ULA)'],
    ['fc00::1', 'unique local address (ULA)'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private network (RFC 1918)'],
    ['64:ff9b::169.254.169.254', 'link-local (cloud metadata)'],
    ['2002:7f00:1::', '6to4 tunnel address'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation range'],
    ['not-an-ip', 'not an IP address'],
  ])('forbids %s as %s', (ip, reason) => {
    expect(isForbiddenAddress(ip)).toBe(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8', '172.32.0.1', '100.128.0.1'])(
    'allows the global address %s',
    (ip) => {
      expect(isForbiddenAddress(ip)).toBeUndefined();
    },
  );
});

describe('checkEndpointUrl', () => {
  const strict = { allowPrivate: false, requireHttps: false };
  const resolvesTo =
    (...addresses: string[]) =>
    async (): Promise<string[]> =>
      addresses;

  it('accepts an https URL whose host resolves only to global addresses', async () => {
    const r = await checkEndpointUrl('https://hooks.example.com/in?x=1', {
      ...strict,
      requireHttps: true,
      lookup: resolvesTo('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'),
    });
    expect(r.ok && r.value.url.href).toBe('https://hooks.example.com/in?x=1');
    expect(r.ok && r.value.warning).toBeUndefined();
  });

  it('rejects a hostname that resolves to a private address', async () => {
    const r = await checkEndpointUrl('https://internal.example.com/', { ...strict, lookup: resolvesTo('10.0.0.5') });
    expect(r).toEqual({
      ok: false,
      error:
        'internal.example.com resolves to 10.0.0.5, which is private network (RFC 1918); ' +
        'SWITCHYARD_ALLOW_PRIVATE_URLS=true allows private addresses (development only)',
    });
  });

  it('rejects a hostname when any one of its DNS answers is forbidden', async () => {
    const r = await checkEndpointUrl('https://mixed.example.com/', { ...strict, lookup: resolvesTo('8.8.8.8', '::1') });
    expect(r.ok).toBe(false);
  });

  it('accepts a host that does not resolve (the lookup fails or answers nothing) with a url_unresolvable warning', async () => {
    const failing = async (): Promise<string[]> => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const failed = await checkEndpointUrl('https://nowhere.invalid/', { ...strict, lookup: failing });
    expect(failed.ok && failed.value.url.href).toBe('https://nowhere.invalid/');
    expect(failed.ok && failed.value.warning).toMatch(/^nowhere\.invalid does not resolve \(ENOTFOUND\): check the host name\./);
    const empty = await checkEndpointUrl('https://empty.example/', { ...strict, lookup: resolvesTo() });
    expect(empty.ok && empty.value.warning).toMatch(/^empty\.example does not resolve: check the host name\./);
  });

  it.each([
    ['decimal IPv4', 'http://2130706433/'],
    ['hex IPv4', 'http://0x7f000001/'],
    ['short hex IPv4', 'http://0x7f.1/'],
    ['octal IPv4', 'http://0177.0.0.1/'],
    ['IPv4-mapped IPv6', 'http://[::ffff:7f00:1]/'],
    ['IPv6 loopback', 'http://[::1]:8080/'],
    ['metadata service', 'http://169.254.169.254/latest/meta-data/'],
    ['localhost', 'http://localhost:3000/'],
    ['a name under localhost', 'http://api.localhost/'],
    ['localhost with a trailing dot', 'http://localhost./'],
  ])('rejects a %s URL without looking it up (%s)', async (_label, url) => {
    const lookup = async (): Promise<string[]> => {
      throw new Error('must not be called');
    };
    const r = await checkEndpointUrl(url, { ...strict, lookup });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/(loopback|link-local).*; SWITCHYARD_ALLOW_PRIVATE_URLS=true allows private addresses/);
  });

  it.each([
    ['not a URL', 'hooks.example.com/in', 'not a valid URL'],
    ['a non-http scheme', 'ftp://hooks.example.com/', 'URL scheme must be http or https'],
    ['a file URL', 'file:///etc/passwd', 'URL scheme must be http or https'],
    ['credentials in the URL', 'https://user:pw@hooks.example.com/', 'URL must not contain credentials'],
  ])('rejects %s', async (_label, url, error) => {
    expect(await checkEndpointUrl(url, { ...strict, lookup: resolvesTo('8.8.8.8') })).toEqual({ ok: false, error });
  });

  it('rejects plain http when https is required', async () => {
    const r = await checkEndpointUrl('http://hooks.example.com/', {
      allowPrivate: false,
      requireHttps: true,
      lookup: resolvesTo('8.8.8.8'),
    });
    expect(r).toEqual({ ok: false, error: 'URL must use https' });
  });

  it('accepts a loopback URL when private addresses are allowed, without a lookup', async () => {
    const r = await checkEndpointUrl('http://127.0.0.1:1234/', { allowPrivate: true, requireHttps: false });
    expect(r.ok && r.value.url.href).toBe('http://127.0.0.1:1234/');
  });
});

describe('createGuardedAgent', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = (url: string, agent: ReturnType<typeof createGuardedAgent>): ReturnType<typeof dispatch> =>
    dispatch({ url, headers: {}, body: new Uint8Array(), timeoutMs: 5_000, maxResponseBytes: 1024, dispatcher: agent });

  it('refuses to connect to a loopback IP literal, reporting blocked', async () => {
    const agent = createGuardedAgent({ allowPrivate: false });
    const before = hits;
    const outcome = await send(`http://127.0.0.1:${port}/`, agent);
    await agent.close();
    expect(outcome).toMatchObject({
      kind: 'error',
      error: 'blocked: 127.0.0.1 is loopback; SWITCHYARD_ALLOW_PRIVATE_URLS=true allows private addresses (development only)',
    });
    expect(hits).toBe(before);
  });

  it('refuses an IPv4-mapped IPv6 literal that points at loopback', async () => {
    const agent = createGuardedAgent({ allowPrivate: false });
    const outcome = await send(`http://[::ffff:127.0.0.1]:${port}/`, agent);
    await agent.close();
    expect(outcome.kind === 'error' && outcome.error).toMatch(/^blocked: .* is loopback; SWITCHYARD_ALLOW_PRIVATE_URLS=true/);
  });

  it('refuses a hostname at connect time when DNS answers with a forbidden address', async () => {
    // localhost goes through the guarded lookup, just as a rebound DNS name would.
    const agent = createGuardedAgent({ allowPrivate: false });
    const before = hits;
    const outcome = await send(`http://localhost:${port}/`, agent);
    await agent.close();
    expect(outcome.kind === 'error' && outcome.error).toMatch(/^blocked: /);
    expect(hits).toBe(before);
  });

  it('connects to the same local server when private addresses are allowed', async () => {
    const agent = createGuardedAgent({ allowPrivate: true, connectTimeoutMs: 2_000 });
    const outcome = await send(`http://127.0.0.1:${port}/`, agent);
    await agent.close();
    expect(outcome).toMatchObject({ kind: 'response', status: 200, body: 'ok' });
  });
});
