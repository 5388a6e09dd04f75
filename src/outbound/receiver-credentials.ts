// (node) What an attempt adds for its receiver: custom headers and auth, decrypted once per endpoint version, and
// OAuth2 client-credentials tokens fetched through the SSRF-guarded dispatcher and kept until they expire.
import { z } from 'zod';
import { toBase64, utf8 } from '../core/crypto.js';
import type { Deps } from '../core/deps.js';
import { err, ok, type Result } from '../core/result.js';
import type { DeliveryRow } from './delivery-store.js';
import { dispatch } from './dispatcher.js';

/** Token response bytes read at most. */
const MAX_TOKEN_RESPONSE_BYTES = 16 * 1024;
/** A token without `expires_in` is kept this long, seconds. */
const DEFAULT_TOKEN_SECONDS = 300;
/** A token is fetched again this long before it expires, ms (at most a tenth of its lifetime). */
const TOKEN_EARLY_MS = 30_000;
/** Endpoints kept decrypted per process at most; past it the oldest entry goes. */
const MAX_ENTRIES = 10_000;

/** The reason an attempt failed before it was sent because the receiver's credentials could not be had. */
export const AUTH_FAILED = 'auth_failed';

/** RFC 6749 §5.1 token response; other fields are ignored. */
const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type is not bearer'),
  expires_in: z.number().positive().optional(),
});

interface OAuthClient {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string | null;
}

interface Entry {
  version: number;
  /** The decrypted headers (basic auth's `authorization` included) and the OAuth client, if any. */
  opened: Promise<{ headers: Record<string, string>; oauth: OAuthClient | null }>;
  token?: { value: string; expiresAt: number };
  fetching?: Promise<Result<string, string>>;
}

const NONE: Result<Record<string, string>, string> = ok({});

/**
 * Per-process cache of receiver credentials (one per {@link Deps}, see {@link receiverCredentials}): decrypted headers and
 * auth per (endpoint, `receiver_version`), and OAuth2 tokens until they expire. No database round trip: the
 * sealed values come with the delivery row.
 */
class ReceiverCredentials {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly deps: Deps) {}

  /**
   * The headers an attempt to `m`'s endpoint adds (custom headers, then `authorization`), or `auth_failed: <why>` when
   * an OAuth2 token cannot be had (the token server failed, refused, or answered no bearer token). Throws
   * SecretUnreadableError when the master key cannot open a sealed value.
   */
  async headersFor(m: DeliveryRow): Promise<Result<Record<string, string>, string>> {
    if (m.headers.length === 0 && m.auth === null) return NONE;
    const entry = this.entry(m);
    const opened = await entry.opened;
    if (!opened.oauth) return ok(opened.headers);
    const token = await this.token(entry, opened.oauth);
    if (!token.ok) return token;
    return ok({ ...opened.headers, authorization: `Bearer ${token.value}` });
  }

  /** Forgets `endpointId`'s OAuth2 token (its receiver answered 401), so the next attempt fetches a new one. */
  dropToken(endpointId: string): void {
    const entry = this.entries.get(endpointId);
    if (entry) delete entry.token;
  }

  private entry(m: DeliveryRow): Entry {
    const cached = this.entries.get(m.endpoint_id);
    if (cached && cached.version === m.receiver_version) return cached;
    const opened = this.open(m);
    const entry: Entry = { version: m.receiver_version, opened };
    // A failure (wrong master key) is not kept: the next batch tries again.
    opened.catch(() => {
      if (this.entries.get(m.endpoint_id) === entry) this.entries.delete(m.endpoint_id);
    });
    this.entries.delete(m.endpoint_id);
    this.entries.set(m.endpoint_id, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }

  private async open(m: DeliveryRow): Promise<{ headers: Record<string, string>; oauth: OAuthClient | null }> {
    const box = this.deps.secretBox;
    const headers: Record<string, string> = {};
    for (const h of m.headers) headers[h.name.toLowerCase()] = 'envelope' in h ? await box.decrypt(h.envelope) : h.value;
    const auth = m.auth;
    if (auth?.type === 'basic') {
      // RFC 7617 §2: base64 of user-id ":" password, in UTF-8.
      headers.authorization = `Basic ${toBase64(utf8(`${auth.username}:${await box.decrypt(auth.passwordEnvelope)}`))}`;
    }
    const oauth =
      auth?.type === 'oauth2_client_credentials'
        ? {
            tokenUrl: auth.tokenUrl,
            clientId: auth.clientId,
            clientSecret: await box.decrypt(auth.clientSecretEnvelope),
            scope: auth.scope,
          }
        : null;
    return { headers, oauth };
  }

  private async token(entry: Entry, client: OAuthClient): Promise<Result<string, string>> {
    const now = this.deps.clock().getTime();
    if (entry.token && entry.token.expiresAt > now) return ok(entry.token.value);
    // Lanes of one batch share one request.
    entry.fetching ??= this.fetchToken(client).then((got) => {
      delete entry.fetching;
      if (!got.ok) return got;
      const lifetimeMs = (got.value.expiresIn ?? DEFAULT_TOKEN_SECONDS) * 1000;
      entry.token = { value: got.value.token, expiresAt: now + lifetimeMs - Math.min(TOKEN_EARLY_MS, lifetimeMs / 10) };
      return ok(got.value.token);
    });
    return entry.fetching;
  }

  /** RFC 6749 §4.4: POST `grant_type=client_credentials` with the client's id and secret as HTTP basic auth (§2.3.1). */
  private async fetchToken(client: OAuthClient): Promise<Result<{ token: string; expiresIn?: number }, string>> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (client.scope) form.set('scope', client.scope);
    const credentials = `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`;
    const outcome = await dispatch({
      url: client.tokenUrl,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${toBase64(utf8(credentials))}`,
      },
      body: utf8(form.toString()),
      timeoutMs: this.deps.config.SWITCHYARD_DELIVERY_TIMEOUT_MS,
      maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES,
      ...(this.deps.dispatcher ? { dispatcher: this.deps.dispatcher } : {}),
    });
    if (outcome.kind === 'error') return err(`${AUTH_FAILED}: token endpoint: ${outcome.error}`);
    if (outcome.status < 200 || outcome.status > 299) return err(`${AUTH_FAILED}: token endpoint answered ${outcome.status}`);
    let parsed: z.infer<typeof tokenResponse>;
    try {
      parsed = tokenResponse.parse(JSON.parse(outcome.body));
    } catch {
      return err(`${AUTH_FAILED}: token endpoint answered no bearer access_token`);
    }
    return ok({ token: parsed.access_token, ...(parsed.expires_in === undefined ? {} : { expiresIn: parsed.expires_in }) });
  }
}

const perDeps = new WeakMap<Deps, ReceiverCredentials>();

/** The {@link ReceiverCredentials} of a process (one per `deps`, built on first use). */
export function receiverCredentials(deps: Deps): ReceiverCredentials {
  let c = perDeps.get(deps);
  if (!c) {
    c = new ReceiverCredentials(deps);
    perDeps.set(deps, c);
  }
  return c;
}
