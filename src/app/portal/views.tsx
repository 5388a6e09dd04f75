// The portal's page frame and small components. Everything a merchant or a PSP sent is rendered as text children or
// attribute values, which hono/jsx escapes; nothing here builds HTML from strings.
import type { Decimal } from 'decimal.js';
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import { formatMinor } from '../../core/money.js';
import { ASSET_NAMES } from './assets.js';
import type { PortalSession } from './portal-store.js';

const asset = (name: string) => `/portal/assets/${name}`;

/** The navigation: label and path; `current` marks the page's section. */
const NAV: [string, string][] = [
  ['Overview', '/portal'],
  ['Endpoints', '/portal/endpoints'],
  ['Events', '/portal/events'],
  ['Payments', '/portal/payments'],
  ['Inbound events', '/portal/inbound-events'],
  ['Ledger', '/portal/ledger'],
  ['Reviews', '/portal/reviews'],
  ['Reconciliation', '/portal/reconciliation'],
];

/** A whole page: head (CSP-safe: scripts and styles are files), navigation and logout when signed in, then `children`. */
export function Page(props: {
  title: string;
  session?: (PortalSession & { csrf: string }) | undefined;
  current?: string;
  chart?: boolean;
  children?: Child;
}) {
  const s = props.session;
  return (
    <>
      {raw('<!DOCTYPE html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          {/* htmx injects no <style>, evaluates no hx-on / js: attributes and runs no <script> it swaps in. */}
          <meta
            name="htmx-config"
            content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}'
          />
          {s && <meta name="csrf-token" content={s.csrf} />}
          <title>{`${props.title} · Switchyard portal`}</title>
          <link rel="stylesheet" href={asset(ASSET_NAMES.portalCss)} />
          {props.chart && <link rel="stylesheet" href={asset(ASSET_NAMES.uplotCss)} />}
          <script src={asset(ASSET_NAMES.htmx)} defer />
          {props.chart && <script src={asset(ASSET_NAMES.uplotJs)} defer />}
          <script src={asset(ASSET_NAMES.portalJs)} defer />
        </head>
        <body>
          <header>
            <span class="brand">Switchyard</span>
            {s && (
              <nav aria-label="Portal">
                {NAV.map(([label, href]) => (
                  <>
                    <a href={href} aria-current={props.current === href ? 'page' : undefined}>
                      {label}
                    </a>{' '}
                  </>
                ))}
              </nav>
            )}
            {s && (
              <form method="post" action="/portal/logout">
                <input type="hidden" name="_csrf" value={s.csrf} />
                <span class="who">{s.merchantName}</span> <button type="submit">Log out</button>
              </form>
            )}
          </header>
          <main>
            <h1>{props.title}</h1>
            {props.children}
          </main>
        </body>
      </html>
    </>
  );
}

/** A POST form with the session's CSRF token. */
export function PostForm(props: { action: string; csrf: string; class?: string; confirm?: string; children?: Child }) {
  return (
    <form method="post" action={props.action} class={props.class} data-confirm={props.confirm}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
    </form>
  );
}

/** A time in UTC ISO 8601, which the portal script rewrites into the browser's zone. */
export function Time(props: { at: Date | null | undefined }) {
  if (!props.at) return <span class="muted">—</span>;
  const iso = props.at.toISOString();
  return <time datetime={iso}>{iso}</time>;
}

/** Minor units as major units with the currency's ISO 4217 exponent, e.g. 1099 USD → "10.99 USD". */
export function formatMoney(minor: Decimal | string, currency: string): string {
  return `${formatMinor(minor, currency)} ${currency.toUpperCase()}`;
}

/** The "Next page" link of a list: the same query with `startingAfter` = the last id shown. */
export function Pager(props: { path: string; query: Record<string, string | undefined>; lastId: string | undefined; hasMore: boolean }) {
  if (!props.hasMore || !props.lastId) return null;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(props.query)) if (v && k !== 'startingAfter') q.set(k, v);
  q.set('startingAfter', props.lastId);
  return (
    <p>
      <a href={`${props.path}?${q}`}>Next page</a>
    </p>
  );
}

/** Bytes as text for a `<pre>`: pretty-printed when they are JSON, else the UTF-8 text as it is; `null` (purged by retention) says so. */
export function prettyBody(bytes: Uint8Array | string | null): string {
  if (bytes === null) return '(no longer kept: its retention period has passed; README "Retention")';
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A status word styled by its value (`succeeded`, `failed`, `enabled`, …). */
export function Status(props: { value: string }) {
  return <span class={`status-${props.value}`}>{props.value}</span>;
}
