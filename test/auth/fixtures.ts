// Seams of the API-key and audit tests: the OpenAPI document's operations, and a merchant owning one object of
// every kind an operation takes an id of.
import { expect } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { jsonRequest, type testApp } from '../app.js';
import { aShop, stripeEvent, stripeReport, upload } from '../reconciliation/harness.js';

type App = ReturnType<typeof testApp>;

/** One operation of the document: method (upper case), path, operationId, declared permission and path parameters. */
export interface Operation {
  method: string;
  path: string;
  operationId: string;
  permission: string | undefined;
  audit: string | undefined;
  params: { name: string; example: string | undefined }[];
}

/** Every /v1 and /admin operation of the app's OpenAPI document. */
export async function operationsOf(app: App): Promise<Operation[]> {
  const doc = (await (await app.request('/openapi.json')).json()) as {
    paths: Record<
      string,
      Record<
        string,
        { operationId: string; parameters?: { name: string; in: string; example?: string; schema?: { example?: string } }[] } & Record<
          string,
          unknown
        >
      >
    >;
  };
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!/^\/(v1|admin)\//.test(path)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      out.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        permission: op['x-switchyard-permission'] as string | undefined,
        audit: op['x-switchyard-audit'] as string | undefined,
        params: (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => ({ name: p.name, example: p.example ?? p.schema?.example })),
      });
    }
  }
  return out;
}

/** The id prefix a path parameter's example shows (`ep_…` → `ep`), or undefined for a parameter that is not an id. */
export function prefixOf(example: string | undefined): string | undefined {
  return example?.match(/^([a-z]{2,4})_/)?.[1];
}

/** A well-formed id of `prefix` that names nothing. */
export function unknownId(prefix: string): string {
  return `${prefix}_${'0'.repeat(12)}${'f'.repeat(20)}`;
}

/** `path` with each parameter replaced by `value(param)`. */
export function fillPath(op: Operation, value: (p: Operation['params'][number]) => string): string {
  let path = op.path;
  for (const p of op.params) path = path.replace(`{${p.name}}`, encodeURIComponent(value(p)));
  return path;
}

/** Calls `app` as `apiKey` with a JSON body (always an Idempotency-Key too, which the payment commands require). */
export function call(app: App, apiKey: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${apiKey}`,
      'idempotency-key': `idem-${Math.random().toString(36).slice(2)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A merchant (its full key) owning one object of each id prefix below, made through the API where it can be. */
export interface Owner {
  merchantId: string;
  apiKey: string;
  sourceId: string;
  /** id prefix → an object of that kind the merchant owns. */
  objects: Record<string, string>;
  /** Every secret made along the way (keys, signing secrets), for the audit log's no-secret check. */
  secrets: string[];
}

async function created(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBeLessThan(300);
  return body;
}

/**
 * A merchant with a Stripe source, a payment made by a processed webhook (its inbound event and emitted event), an
 * endpoint, a risk rule, a risk list, a replay, a settlement run, an API key and a review (inserted: the review
 * queue opens one only for a payment made through a PSP call).
 */
export async function anOwner(deps: Deps, app: App): Promise<Owner> {
  const shop = await aShop(deps, app, 'stripe');
  const objects: Record<string, string> = { src: shop.sourceId };
  const secrets: string[] = [shop.apiKey];
  const ep = await created(await app.request('/v1/endpoints', jsonRequest('POST', { url: 'https://example.com/hook' }, shop.apiKey)));
  objects.ep = ep.id as string;
  secrets.push(ep.secret as string);
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { amount: 1000 });
  const [pay] = await deps.sql<{ id: string }[]>`select id from gw.payments where merchant_id = ${shop.merchantId} limit 1`;
  objects.pay = pay!.id;
  const [iev] = await deps.sql<{ id: string }[]>`select id from gw.inbound_events where source_id = ${shop.sourceId} limit 1`;
  objects.iev = iev!.id;
  const [evt] = await deps.sql<{ id: string }[]>`select id from gw.events where merchant_id = ${shop.merchantId} limit 1`;
  objects.evt = evt!.id;
  objects.rul = (
    await created(
      await app.request(
        '/v1/risk/rules',
        jsonRequest('POST', { name: 'Big', action: 'review', expression: 'amount > 100000' }, shop.apiKey),
      ),
    )
  ).id as string;
  objects.rsl = (
    await created(
      await app.request('/v1/risk/lists', jsonRequest('POST', { alias: 'blocked_domains', itemType: 'email_domain' }, shop.apiKey)),
    )
  ).id as string;
  objects.rpl = (
    await created(
      await app.request('/v1/replays', jsonRequest('POST', { since: new Date(Date.now() - 3_600_000).toISOString() }, shop.apiKey)),
    )
  ).id as string;
  const run = await upload(app, shop, stripeReport([]));
  objects.rcn = run.body.id as string;
  const key = await created(await app.request('/v1/api-keys', jsonRequest('POST', { name: 'spare' }, shop.apiKey)));
  objects.key = key.id as string;
  secrets.push(key.key as string);
  const [decision] = await deps.sql<{ id: string }[]>`
    insert into gw.risk_decisions (merchant_id, payment_id, stage, action, matched, evaluated, attributes, cause, decided_at)
    values (${shop.merchantId}, ${objects.pay}, 'inbound', 'review', '[]', '[]', '{}', 'test', now())
    returning id`;
  const reviewId = unknownId('rev').replace(/^rev_0{12}/, `rev_${Date.now().toString(16).padStart(12, '0')}`);
  await deps.sql`
    insert into gw.reviews (id, merchant_id, payment_id, decision_id, opened_by, opened_at)
    values (${reviewId}, ${shop.merchantId}, ${objects.pay}, ${decision!.id}, '{"id": "rul_x", "name": "x", "version": 1, "action": "review"}', now())`;
  objects.rev = reviewId;
  return { merchantId: shop.merchantId, apiKey: shop.apiKey, sourceId: shop.sourceId, objects, secrets };
}
