// (node) The SSRF guard: merchants choose endpoint URLs, so none may reach loopback, private networks or cloud
// metadata. Checked when a URL is saved and on every connection, because DNS answers can change in between.
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { err, ok, type Result } from '../core/result.js';

interface Rule {
  reason: string;
  v4?: string[];
  v6?: string[];
}

// Ranges from the IANA special-purpose registries (RFC 6890 and updates). Order matters:
// the first matching rule names the reason.
const RULES: Rule[] = [
  { reason: 'unspecified address', v4: ['0.0.0.0/32'], v6: ['::/128'] },
  { reason: 'loopback', v4: ['127.0.0.0/8'], v6: ['::1/128'] },
  { reason: '"this network" (0.0.0.0/8)', v4: ['0.0.0.0/8'] },
  { reason: 'private network (RFC 1918)', v4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] },
  { reason: 'shared address space (CGNAT, RFC 6598)', v4: ['100.64.0.0/10'] },
  // 169.254.169.254 and fd00:ec2::254 are the cloud metadata services.
  { reason: 'link-local (cloud metadata)', v4: ['169.254.0.0/16'], v6: ['fe80::/10'] },
  { reason: 'unique local address (ULA)', v6: ['fc00::/7'] },
  { reason: 'site-local (deprecated)', v6: ['fec0::/10'] },
  { reason: 'multicast', v4: ['224.0.0.0/4'], v6: ['ff00::/8'] },
  { reason: 'broadcast', v4: ['255.255.255.255/32'] },
  { reason: 'reserved (240.0.0.0/4)', v4: ['240.0.0.0/4'] },
  { reason: 'IETF protocol assignments', v4: ['192.0.0.0/24'], v6: ['2001::/23'] },
  {
    reason: 'documentation range',
    v4: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'],
    v6: ['2001:db8::/32', '3fff::/20'],
  },
  { reason: 'benchmarking range', v4: ['198.18.0.0/15'], v6: ['2001:2::/48'] },
  { reason: '6to4 relay anycast (deprecated)', v4: ['192.88.99.0/24'] },
  { reason: 'discard-only prefix', v6: ['100::/64'] },
  { reason: 'local-use NAT64 prefix', v6: ['64:ff9b:1::/48'] },
  // These embed an IPv4 address the tunnel will reach that we cannot judge from here.
  { reason: 'IPv4-compatible IPv6 (deprecated)', v6: ['::/96'] },
  { reason: '6to4 tunnel address', v6: ['2002::/16'] },
];

// IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96, RFC 6052) addresses reach the IPv4 they carry and are
// judged as it; IPv6 text takes a dotted-quad tail, so no bit math is needed.
const EMBEDDING_PREFIXES = ['::ffff:', '64:ff9b::'];

const LISTS: { reason: string; list: BlockList }[] = RULES.map(({ reason, v4 = [], v6 = [] }) => {
  const list = new BlockList();
  for (const cidr of v4) {
    const [net, bits] = splitCidr(cidr);
    list.addSubnet(net, bits, 'ipv4');
    for (const prefix of EMBEDDING_PREFIXES) list.addSubnet(prefix + net, 96 + bits, 'ipv6');
  }
  for (const cidr of v6) {
    const [net, bits] = splitCidr(cidr);
    list.addSubnet(net, bits, 'ipv6');
  }
  return { reason, list };
});

function splitCidr(cidr: string): [string, number] {
  const [net, bits] = cidr.split('/');
  return [net!, Number(bits)];
}

/**
 * Why an IP address must not be contacted (a special-purpose range of RFC 6890, see RULES), or undefined for a
 * global unicast address. IPv4-mapped and NAT64 IPv6 are judged as the IPv4 they carry; 6to4 and
 * IPv4-compatible tunnel addresses are refused outright.
 *
 * @param ip An IPv4 or IPv6 literal without brackets; a zone id (`%eth0`) is ignored.
 * @returns A short reason such as `'loopback'`; also one for a non-IP string, so the guard fails closed.
 * @example isForbiddenAddress('169.254.169.254'); // 'link-local (cloud metadata)'
 */
export function isForbiddenAddress(ip: string): string | undefined {
  const address = ip.replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return LISTS.find(({ list }) => list.check(address, type))?.reason;
}

/** What a private-address refusal adds, so the message names the setting that lifts it. */
const ALLOW_PRIVATE_HINT = 'SWITCHYARD_ALLOW_PRIVATE_URLS=true allows private addresses (development only)';

/**
 * The guarded agent's refusal of a forbidden address; `dispatch` returns it as `blocked: …` (the attempt's recorded
 * error), never throws it. Its message names SWITCHYARD_ALLOW_PRIVATE_URLS.
 */
export class SsrfBlockedError extends Error {
  readonly code = 'ERR_SSRF_BLOCKED';

  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`${address} is ${reason}; ${ALLOW_PRIVATE_HINT}`);
    this.name = 'SsrfBlockedError';
  }
}

function isLocalhostName(hostname: string): boolean {
  // RFC 6761 §6.3: localhost and every name under it are loopback, whatever DNS says.
  const name = hostname.replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

async function defaultLookup(host: string): Promise<string[]> {
  const answers = await dns.promises.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

/** A URL that passed {@link checkEndpointUrl}; `warning` when it is accepted with a caveat (its host does not resolve now). */
export interface CheckedUrl {
  url: URL;
  warning?: string;
}

/**
 * Validates a merchant's endpoint URL when it is saved: `http:`/`https:` only (`https:` with `requireHttps`), no
 * `user:password@`; unless `allowPrivate`, no `localhost`/`*.localhost`, no forbidden IP literal
 * ({@link isForbiddenAddress}; the WHATWG parser has already turned `http://0x7f.1/` into `127.0.0.1`), and no
 * hostname with any forbidden DNS answer.
 *
 * A host that does not resolve (the lookup fails or answers nothing) is accepted with a `warning`, as Svix accepts
 * it: DNS may not exist yet or fail for a moment, and every connection is checked again by
 * {@link createGuardedAgent}, so accepting it opens nothing.
 *
 * @param opts.lookup All addresses of a host; defaults to `dns.promises.lookup(host, { all: true })`.
 * @returns The parsed URL (with a `warning` for a host that does not resolve), or a message fit to show the merchant;
 *   a private-address refusal names SWITCHYARD_ALLOW_PRIVATE_URLS.
 */
export async function checkEndpointUrl(
  raw: string,
  opts: { allowPrivate: boolean; requireHttps: boolean; lookup?: (host: string) => Promise<string[]> },
): Promise<Result<CheckedUrl, string>> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return err('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return err('URL scheme must be http or https');
  if (url.username !== '' || url.password !== '') return err('URL must not contain credentials');
  if (opts.requireHttps && url.protocol !== 'https:') return err('URL must use https');
  if (opts.allowPrivate) return ok({ url });

  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isLocalhostName(host)) return err(`${host} is loopback; ${ALLOW_PRIVATE_HINT}`);
  if (isIP(host) !== 0) {
    const reason = isForbiddenAddress(host);
    return reason === undefined ? ok({ url }) : err(`${host} is ${reason}; ${ALLOW_PRIVATE_HINT}`);
  }

  let addresses: string[];
  try {
    addresses = await (opts.lookup ?? defaultLookup)(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return ok({ url, warning: unresolvable(host, code) });
  }
  if (addresses.length === 0) return ok({ url, warning: unresolvable(host, undefined) });
  for (const address of addresses) {
    const reason = isForbiddenAddress(address);
    if (reason !== undefined) return err(`${host} resolves to ${address}, which is ${reason}; ${ALLOW_PRIVATE_HINT}`);
  }
  return ok({ url });
}

function unresolvable(host: string, code: string | undefined): string {
  return (
    `${host} does not resolve${code ? ` (${code})` : ''}: check the host name. The URL is saved; every connection ` +
    'resolves it again, and fails until it resolves.'
  );
}

// Runs for every new socket and fails it when any address is forbidden: catches DNS rebinding after checkEndpointUrl.
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  if (isLocalhostName(hostname)) return callback(new SsrfBlockedError(hostname, 'loopback'), []);
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    for (const { address } of addresses) {
      const reason = isForbiddenAddress(address);
      if (reason !== undefined) return callback(new SsrfBlockedError(address, reason), []);
    }
    const first = addresses[0];
    if (first === undefined) {
      const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      notFound.code = 'ENOTFOUND';
      return callback(notFound, []);
    }
    // Node asks for one address unless it is racing address families (autoSelectFamily).
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};

/**
 * The undici Agent all deliveries go through: a connection fails with {@link SsrfBlockedError} when the host is
 * a forbidden IP literal (Node skips the lookup for literals, so a custom connector checks them) or resolves to
 * any forbidden address. With `allowPrivate` (local development) it is a plain Agent.
 *
 * @param opts.connectTimeoutMs TCP/TLS connect timeout in **ms** (undici's default: 10 000).
 */
export function createGuardedAgent(opts: { allowPrivate: boolean; connectTimeoutMs?: number }): Agent {
  const timeout = opts.connectTimeoutMs;
  if (opts.allowPrivate) return new Agent({ connect: { timeout } });

  const connector = buildConnector({ timeout, lookup: guardedLookup });
  return new Agent({
    connect(options, callback) {
      // undici has already stripped the brackets of an IPv6 literal.
      const host = options.hostname;
      if (isIP(host.replace(/%.*$/, '')) !== 0) {
        const reason = isForbiddenAddress(host);
        if (reason !== undefined) return callback(new SsrfBlockedError(host, reason), null);
      }
      connector(options, callback);
    },
  });
}
