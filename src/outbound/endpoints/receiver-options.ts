// An endpoint's custom headers and auth to its receiver: how they are stored (secrets sealed) and shown (masked).
import type { SecretBox } from '../../core/secrets.js';

/** A custom header as given to `POST`/`PATCH /v1/endpoints`: `secret: true` seals the value at rest and masks it. */
export interface HeaderInput {
  name: string;
  value: string;
  secret?: boolean | undefined;
}

/** Auth to the receiver as given to `POST`/`PATCH /v1/endpoints` (RFC 7617 basic, or RFC 6749 §4.4 client credentials). */
export type AuthInput =
  | { type: 'basic'; username: string; password: string }
  | { type: 'oauth2_client_credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string | undefined };

/** A custom header as stored in `gw.endpoints.headers`: in clear, or its value as a SecretBox envelope. */
export type StoredHeader = { name: string; value: string } | { name: string; envelope: string };

/** Auth as stored in `gw.endpoints.auth`: the password and client secret as SecretBox envelopes only. */
export type StoredAuth =
  | { type: 'basic'; username: string; passwordEnvelope: string }
  | { type: 'oauth2_client_credentials'; tokenUrl: string; clientId: string; clientSecretEnvelope: string; scope: string | null };

/** What a secret header value is shown as. */
export const MASK = '********';

/** A custom header as the API shows it: a secret value as {@link MASK}. */
export interface HeaderView {
  name: string;
  value: string;
  secret: boolean;
}

/** Auth as the API shows it: never the password or client secret. */
export type AuthView =
  | { type: 'basic'; username: string }
  | { type: 'oauth2_client_credentials'; tokenUrl: string; clientId: string; scope: string | null };

/** `headers` ready to store: values marked secret sealed with `box`. */
export async function sealHeaders(box: SecretBox, headers: readonly HeaderInput[]): Promise<StoredHeader[]> {
  return Promise.all(
    headers.map(async (h) => (h.secret ? { name: h.name, envelope: await box.encrypt(h.value) } : { name: h.name, value: h.value })),
  );
}

/** `auth` ready to store: its password or client secret sealed with `box`; null stays null. */
export async function sealAuth(box: SecretBox, auth: AuthInput | null): Promise<StoredAuth | null> {
  if (auth === null) return null;
  if (auth.type === 'basic') return { type: 'basic', username: auth.username, passwordEnvelope: await box.encrypt(auth.password) };
  return {
    type: 'oauth2_client_credentials',
    tokenUrl: auth.tokenUrl,
    clientId: auth.clientId,
    clientSecretEnvelope: await box.encrypt(auth.clientSecret),
    scope: auth.scope ?? null,
  };
}

/** The headers as the API shows them, secret values masked. */
export function headersView(stored: readonly StoredHeader[]): HeaderView[] {
  return stored.map((h) =>
    'envelope' in h ? { name: h.name, value: MASK, secret: true } : { name: h.name, value: h.value, secret: false },
  );
}

/** The auth as the API shows it, without its secret; null when there is none. */
export function authView(stored: StoredAuth | null): AuthView | null {
  if (stored === null) return null;
  if (stored.type === 'basic') return { type: 'basic', username: stored.username };
  return { type: stored.type, tokenUrl: stored.tokenUrl, clientId: stored.clientId, scope: stored.scope };
}
