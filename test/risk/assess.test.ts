// Where risk rules run: POST /v1/payments before the PSP call, and the processing of inbound events; duplicates.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { stripeSimulator, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { processInboundEvents } from '../../src/inbound/process-event.task.js';
import { RiskRuleCache } from '../../src/core/risk/assess.js';
import stripeCharge from '../fixtures/stripe/charge.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '../db.js';
import { jsonRequest, testDeps } from '../app.js';
import { aShop, apps, command, getJson, processReceived, STRIPE_BASE, type Shop } from '../payments-api/harness.js';

const SECRET = 'whsec_risk_rules_0123456789abcdef';
const SK = 'sk_test_simulated_risk_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
let now = new Date('2026-03-02T10:00:00Z');
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: () => now });
  ({ app, commands } = apps(deps));
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await db.drop();
});

async function stripeShop(): Promise<{ shop: Shop; sim: StripeSimulator }> {
  const shop = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
  const sim = stripeSimulator({
    baseUrl: STRIPE_BASE,
    apiKey: SK,
    webhooks: { url: shop.inboundUrl, secret: SECRET, delivery: 'manual', send: async (r) => app.request(r) },
  });
  server.use(...sim.handlers);
  return { shop, sim };
}

async function addRule(shop: Shop, rule: Record<string, unknown>): Promise<{ id: string; name: string }> {
  const res = await app.request('/v1/risk/rules', jsonRequest('POST', rule, shop.apiKey));
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string };
}

const createBody = (shop: Shop, extra: Record<string, unknown> = {}) => ({
  amount: 2000,
  currency: 'usd',
  sourceId: shop.sourceId,
  merchantReference: 'order-1',
  paymentMethod: 'pm_card_visa',
  ...extra,
});

async function postWebhook(shop: Shop, event: Record<string, unknown>): Promise<void> {
  const raw = JSON.stringify(event);
  const res = await app.request(shop.inboundUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(raw, SECRET, now) },
    body: raw,
  });
  expect(res.status).toBe(200);
}

describe('risk rules on POST /v1/payments', () => {
  it('a block rule refuses with 402 payment_blocked naming the rule; nothing reaches the PSP; the key replays the refusal', async () => {
    const { shop, sim } = await stripeShop();
    const rule = await addRule(shop, { name: 'Big tickets', action: 'block', expression: 'amount_major >= 1000.0 && currency == "USD"' });
    const send = () => commands.request('/v1/payments', command(shop, 'blocked-1', createBody(shop, { amount: 150000 })));
    const res = await send();
    expect(res.status).toBe(402);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'payment_blocked', status: 402, rule: { id: rule.id, name: 'Big tickets' } });
    const again = await send();
    expect(again.status).toBe(402);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(body);
    expect(sim.calls).toHaveLength(0);
    expect(await db.sql`select 1 from gw.psp_operations where merchant_id = ${shop.merchantId}`).toHaveLength(0);
    const [decision] = await db.sql<{ action: string; stage: string; decided_by: { id: string; version: number } }[]>`
      select action, stage, decided_by from gw.risk_decisions where merchant_id = ${shop.merchantId}`;
    expect(decision).toMatchObject({ action: 'block', stage: 'api', decided_by: { id: rule.id, version: 1 } });

    // under the limit: allowed and sent
    const ok = await commands.request('/v1/payments', command(shop, 'allowed-1', createBody(shop, { amount: 99999 })));
    expect(ok.status).toBe(201);
    expect(sim.calls).toHaveLength(1);
  });

  it('sees the shopper IP and its country the merchant sends as customer.ip and customer.ipCountry', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop, { name: 'Embargo', action: 'block', expression: 'ip_country in ["KP", "IR"] && ip.startsWith("175.45.")' });
    const customer = { reference: 'cus_ip', ip: '175.45.176.1', ipCountry: 'kp' };
    const res = await commands.request('/v1/payments', command(shop, 'ip-1', createBody(shop, { customer })));
    expect(res.status).toBe(402);
    expect(sim.calls).toHaveLength(0);
    const ok = await commands.request(
      '/v1/payments',
      command(shop, 'ip-2', createBody(shop, { customer: { ...customer, ipCountry: 'FR' } })),
    );
    expect(ok.status).toBe(201);
    // the refused attempt counts for velocity (same customer) but is no payment to be a duplicate of
    const facts = await db.sql<{ duplicate_key: string | null; customer_id: string }[]>`
      select duplicate_key, customer_id from gw.risk_payment_facts where merchant_id = ${shop.merchantId} order by seen_at, subject_id`;
    expect(facts.map((f) => [f.duplicate_key === null, f.customer_id]).sort()).toEqual([
      [false, 'cus_ip'],
      [true, 'cus_ip'],
    ]);
    const [allowed] = await db.sql<{ action: string; attributes: { duplicates_24h: string } }[]>`
      select action, attributes from gw.risk_decisions where merchant_id = ${shop.merchantId} and action <> 'block'`;
    expect(allowed).toMatchObject({ action: 'allow', attributes: { duplicates_24h: '0' } });
  });

  it('keeps at most the configured rule sets and compiled rules, and decides the same after dropping them', async () => {
    const one = await stripeShop();
    const two = await stripeShop();
    await addRule(one.shop, { name: 'r1', action: 'review', expression: 'amount > 1' });
    await addRule(two.shop, { name: 'r2', action: 'review', expression: 'amount > 2' });
    const cache = new RiskRuleCache(1, 3);
    const sizes = () => {
      const inner = cache as unknown as { sets: Map<string, unknown>; compiled: Map<string, unknown> };
      return [inner.sets.size, inner.compiled.size];
    };
    const names = async (merchantId: string) =>
      db.sql.begin(async (tx) =>
        (await cache.load(tx, [merchantId]))
          .get(merchantId)!
          .rules.map((r) => r.ref.name)
          .sort(),
      );
    const builtIn = ['Blocked card or customer', 'Possible duplicate payment'];
    expect(await names(one.shop.merchantId)).toEqual([...builtIn, 'r1']);
    expect(await names(two.shop.merchantId)).toEqual([...builtIn, 'r2']);
    expect(sizes()).toEqual([1, 3]);
    expect(await names(one.shop.merchantId)).toEqual([...builtIn, 'r1']);
    expect(sizes()).toEqual([1, 3]);
  });

  it('runs allow, then block, then review: the first match of the strongest action decides', async () => {
    const { shop } = await stripeShop();
    await addRule(shop, { name: 'review all', action: 'review', expression: 'amount > 0' });
    const block = await addRule(shop, { name: 'block vip-less', action: 'block', expression: 'amount > 1000', priority: 2 });
    const block2 = await addRule(shop, { name: 'block earlier', action: 'block', expression: 'amount > 1000', priority: 1 });
    const allow = await addRule(shop, { name: 'allow vip', action: 'allow', expression: 'metadata.tier == "vip"' });
    const decide = async (key: string, extra: Record<string, unknown>) => {
      const res = await commands.request('/v1/payments', command(shop, key, createBody(shop, extra)));
      if (res.status === 402) return { status: 402, rule: ((await res.json()) as { rule: { id: string } }).rule.id };
      const p = (await res.json()) as { id: string };
      const risk = await getJson<{ data: { action: string; decidedBy: { id: string } | null; matched: unknown[] }[] }>(
        app,
        shop,
        `/v1/payments/${p.id}/risk`,
      );
      return { status: res.status, action: risk.data[0]!.action, rule: risk.data[0]!.decidedBy?.id, matched: risk.data[0]!.matched.length };
    };
    expect(await decide('o-1', { amount: 5000, metadata: { tier: 'vip' } })).toEqual({
      status: 201,
      action: 'allow',
      rule: allow.id,
      matched: 4,
    });
    expect(await decide('o-2', { amount: 5000 })).toEqual({ status: 402, rule: block2.id });
    expect(await decide('o-3', { amount: 500 })).toMatchObject({ status: 201, action: 'review', matched: 1 });
    expect(block.id).not.toBe(block2.id);
  });

  it('finds a duplicate pair (same customer, amount, day) by the built-in rule, and not a near miss on another day', async () => {
    const { shop } = await stripeShop();
    const create = async (key: string, extra: Record<string, unknown> = {}) => {
      const res = await commands.request(
        '/v1/payments',
        command(shop, key, createBody(shop, { customer: { reference: 'cust-7' }, ...extra })),
      );
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    now = new Date('2026-03-02T10:00:00Z');
    const first = await create('d-1');
    now = new Date('2026-03-02T18:00:00Z');
    const second = await create('d-2');
    const other = await create('d-3', { amount: 2001 });
    expect(await getJson(app, shop, `/v1/payments/${first}`)).toMatchObject({ possibleDuplicateOf: null });
    expect(await getJson(app, shop, `/v1/payments/${second}`)).toMatchObject({ possibleDuplicateOf: first });
    expect(await getJson(app, shop, `/v1/payments/${other}`)).toMatchObject({ possibleDuplicateOf: null });
    const risk = await getJson<{ data: Record<string, any>[] }>(app, shop, `/v1/payments/${second}/risk`);
    expect(risk.data).toEqual([
      expect.objectContaining({
        stage: 'api',
        action: 'review',
        decidedBy: expect.objectContaining({ name: 'Possible duplicate payment', version: 1 }),
        attributes: expect.objectContaining({ amount: '2000', currency: 'USD', duplicates_24h: '1', customer: { id: 'cust-7' } }),
      }),
    ]);
    // the next UTC day (within 24 h of the second): another fingerprint
    now = new Date('2026-03-03T01:00:00Z');
    const nextDay = await create('d-4');
    expect(await getJson(app, shop, `/v1/payments/${nextDay}`)).toMatchObject({ possibleDuplicateOf: null });
    const nd = await getJson<{ data: { action: string; attributes: Record<string, unknown> }[] }>(
      app,
      shop,
      `/v1/payments/${nextDay}/risk`,
    );
    expect(nd.data[0]).toMatchObject({ action: 'allow', attributes: { duplicates_24h: '0' } });
  });

  it('stores the rules evaluated once per rule-set version; each decision names it, and the risk page lists them as before', async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop, { name: 'Big', action: 'review', expression: 'amount > 100000' });
    const pay = async (key: string) => {
      const res = await commands.request('/v1/payments', command(shop, key, createBody(shop, { merchantReference: key })));
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const ids = [await pay('s-1'), await pay('s-2')];
    const rows = await db.sql<{ evaluated: unknown; rule_set_id: string; matched: unknown[] }[]>`
      select evaluated, rule_set_id, matched from gw.risk_decisions where merchant_id = ${shop.merchantId} order by id`;
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.evaluated)).toEqual([null, null]);
    expect(rows[0]!.rule_set_id).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[1]!.rule_set_id).toBe(rows[0]!.rule_set_id);
    const snapshots = await db.sql<{ id: string; rules: { id: string; name: string; version: number; action: string }[] }[]>`
      select id, rules from gw.risk_rule_set_snapshots where merchant_id = ${shop.merchantId}`;
    expect(snapshots).toHaveLength(1);
    const builtIn = await db.sql<{ id: string; name: string; action: string }[]>`
      select id, name, action from gw.risk_rules where merchant_id = ${shop.merchantId} and built_in is not null`;
    const blockLists = builtIn.find((r) => r.action === 'block')!;
    const duplicate = builtIn.find((r) => r.action === 'review')!;
    // evaluation order: block before review, then priority and id
    const evaluated = [
      { id: blockLists.id, name: blockLists.name, version: 1, action: 'block' },
      ...[
        { id: duplicate.id, name: duplicate.name, version: 1, action: 'review' },
        { id: rule.id, name: 'Big', version: 1, action: 'review' },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    ];
    expect(snapshots[0]!.rules).toEqual(evaluated);
    const risk = await getJson<{ data: Record<string, unknown>[] }>(app, shop, `/v1/payments/${ids[1]}/risk`);
    expect(risk.data).toEqual([expect.objectContaining({ action: 'allow', decidedBy: null, matched: [], evaluated })]);
    await expect(db.sql`update gw.risk_rule_set_snapshots set rules = '[]'`).rejects.toBeTruthy();

    // a new version of the rules: a new snapshot; the earlier decisions keep naming theirs
    const patched = await app.request(`/v1/risk/rules/${rule.id}`, jsonRequest('PATCH', { expression: 'amount > 1000' }, shop.apiKey));
    expect(patched.status).toBe(200);
    const third = await pay('s-3');
    const [snapshotCount] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from gw.risk_rule_set_snapshots where merchant_id = ${shop.merchantId}`;
    expect(snapshotCount!.n).toBe(2);
    const after = await getJson<{ data: { action: string; evaluated: { id: string; version: number }[] }[] }>(
      app,
      shop,
      `/v1/payments/${third}/risk`,
    );
    expect(after.data[0]!.action).toBe('review');
    expect(after.data[0]!.evaluated.find((r) => r.id === rule.id)!.version).toBe(2);
    expect((await getJson<{ data: unknown[] }>(app, shop, `/v1/payments/${ids[0]}/risk`)).data).toEqual([
      expect.objectContaining({ evaluated }),
    ]);

    // a decision written before snapshots (its own evaluated array) reads as it always did
    await db.sql`
      insert into gw.risk_decisions (merchant_id, payment_id, stage, action, matched, evaluated, attributes, cause, decided_at)
      values (${shop.merchantId}, ${ids[0]!}, 'inbound', 'allow', '[]', ${db.sql.json(evaluated)}, '{}', 'legacy', now())`;
    const legacy = await getJson<{ data: { cause: string; evaluated: unknown }[] }>(app, shop, `/v1/payments/${ids[0]}/risk`);
    expect(legacy.data.find((d) => d.cause === 'legacy')!.evaluated).toEqual(evaluated);
    await expect(
      db.sql`insert into gw.risk_decisions (merchant_id, payment_id, stage, action, matched, attributes, cause, decided_at)
             values (${shop.merchantId}, ${ids[0]!}, 'inbound', 'allow', '[]', '{}', 'neither', now())`,
    ).rejects.toThrow(/risk_decisions_names_rules/);
    // a snapshot is checked once per statement (sql/0130), not by a foreign key
    await expect(
      db.sql`insert into gw.risk_decisions (merchant_id, payment_id, stage, action, matched, rule_set_id, attributes, cause, decided_at)
             values (${shop.merchantId}, ${ids[0]!}, 'inbound', 'allow', '[]', ${'0'.repeat(64)}, '{}', 'unknown set', now())`,
    ).rejects.toThrow(/risk_decisions_rule_set_stored|not stored/);
  });

  it('assesses a payment first reported by its refund from the batch read, and not again a payment captured before', async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop, { name: 'High value', action: 'review', expression: 'amount >= 100000' });
    await postWebhook(shop, buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_captured_before', amount: 200000, at: now }));
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    // one transaction: a refund of the payment captured above, and a refund that is the first word of another payment
    await postWebhook(
      shop,
      buildStripeEvent('charge.refunded', { paymentIntent: 'pi_captured_before', amount: 200000, amountRefunded: 1000, at: now }),
    );
    await postWebhook(
      shop,
      buildStripeEvent('charge.refunded', { paymentIntent: 'pi_refund_first', amount: 300000, amountRefunded: 1000, at: now }),
    );
    const ids = await db.sql<{ id: string }[]>`
      select id from gw.inbound_events where source_id = ${shop.sourceId} and status = 'received' order by id`;
    expect(
      (
        await processInboundEvents(
          deps,
          ids.map((r) => r.id),
        )
      ).map((o) => o.result),
    ).toEqual(['applied', 'applied']);
    const decisionsOf = async (pi: string) => {
      const [p] = await db.sql<{ id: string }[]>`select id from gw.payments where psp_reference = ${pi}`;
      return (await getJson<{ data: Record<string, any>[] }>(app, shop, `/v1/payments/${p!.id}/risk`)).data;
    };
    expect(await decisionsOf('pi_captured_before')).toEqual([expect.objectContaining({ action: 'review', cause: expect.any(String) })]);
    const first = await decisionsOf('pi_refund_first');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ action: 'review', decidedBy: { id: rule.id }, attributes: { amount: '300000' } });
    expect(first[0]!.cause).toBe(ids[1]!.id);
  });

  it('a rule added between two batches is evaluated on the attribute it reads, though the batch read went out under the cached rules', async () => {
    const { shop } = await stripeShop();
    const succeeded = (pi: string, amount: number) => {
      const event = buildStripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount, at: now });
      (event.data as { object: Record<string, unknown> }).object.customer = 'cus_between_batches';
      return event;
    };
    await postWebhook(shop, succeeded('pi_between_1', 1500));
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    // the cache now holds the merchant's rules, none of which reads the customer's count
    const rule = await addRule(shop, { name: 'Repeat customer', action: 'review', expression: 'count_same_customer_24h >= 1' });
    await postWebhook(shop, succeeded('pi_between_2', 1600));
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    const [p] = await db.sql<{ id: string }[]>`select id from gw.payments where psp_reference = 'pi_between_2'`;
    const risk = await getJson<{ data: Record<string, any>[] }>(app, shop, `/v1/payments/${p!.id}/risk`);
    expect(risk.data).toEqual([
      expect.objectContaining({
        action: 'review',
        decidedBy: expect.objectContaining({ id: rule.id }),
        attributes: expect.objectContaining({ count_same_customer_24h: '1' }),
      }),
    ]);
  });

  it("counts and sums the customer's payments of the last 24 h in the currency, and reviews by them", async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop, {
      name: 'Busy customer',
      action: 'review',
      expression: 'count_same_customer_24h >= 2 && amount_same_customer_24h > 3000',
    });
    const create = async (key: string, amount: number, currency = 'usd') => {
      const res = await commands.request(
        '/v1/payments',
        command(shop, key, createBody(shop, { amount, currency, merchantReference: key, customer: { reference: 'cust-v' } })),
      );
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { id: string }).id;
      const risk = await getJson<{ data: { action: string; decidedBy: { id: string } | null; attributes: Record<string, unknown> }[] }>(
        app,
        shop,
        `/v1/payments/${id}/risk`,
      );
      return risk.data[0]!;
    };
    now = new Date('2026-04-01T08:00:00Z');
    await create('v-0', 5000); // more than 24 h before the last: not counted then
    now = new Date('2026-04-02T09:00:00Z');
    expect((await create('v-1', 2000)).attributes).toMatchObject({ count_same_customer_24h: '0', amount_same_customer_24h: '0' });
    expect((await create('v-2', 1500, 'eur')).attributes).toMatchObject({ count_same_customer_24h: '0', amount_same_customer_24h: '0' });
    now = new Date('2026-04-02T10:00:00Z');
    const third = await create('v-3', 1200);
    expect(third).toMatchObject({ action: 'allow', attributes: { count_same_customer_24h: '1', amount_same_customer_24h: '2000' } });
    const fourth = await create('v-4', 1300);
    expect(fourth).toMatchObject({
      action: 'review',
      decidedBy: { id: rule.id },
      attributes: { count_same_customer_24h: '2', amount_same_customer_24h: '3200', duplicates_24h: '0' },
    });
  });

  it('a merchant with every rule disabled is not assessed', async () => {
    const { shop } = await stripeShop();
    const rules = await db.sql<{ id: string }[]>`select id from gw.risk_rules where merchant_id = ${shop.merchantId}`;
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      const res = await app.request(`/v1/risk/rules/${rule.id}`, jsonRequest('PATCH', { enabled: false }, shop.apiKey));
      expect(res.status).toBe(200);
    }
    const p = await commands.request('/v1/payments', command(shop, 'n-1', createBody(shop)));
    const id = ((await p.json()) as { id: string }).id;
    expect(await getJson(app, shop, `/v1/payments/${id}/risk`)).toEqual({ data: [] });
  });
});

describe('risk rules on inbound events', () => {
  it('a high-value rule reviews a payment that arrives by webhook, once, with the attributes it saw', async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop, {
      name: 'High value',
      action: 'review',
      expression: 'amount >= 100000 && source.provider == "stripe"',
    });
    const pi = 'pi_made_in_dashboard_1';
    await postWebhook(shop, buildStripeEvent('payment_intent.amount_capturable_updated', { paymentIntent: pi, amount: 250000, at: now }));
    await postWebhook(shop, buildStripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 250000, at: now }));
    await postWebhook(shop, buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_small_1', amount: 500, at: now }));
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied', 'applied', 'applied']);
    const [big] = await db.sql<{ id: string }[]>`select id from gw.payments where psp_reference = ${pi}`;
    const risk = await getJson<{ data: Record<string, any>[] }>(app, shop, `/v1/payments/${big!.id}/risk`);
    expect(risk.data).toHaveLength(1);
    expect(risk.data[0]).toMatchObject({
      stage: 'inbound',
      action: 'review',
      decidedBy: { id: rule.id, name: 'High value', version: 1, action: 'review' },
      attributes: { amount: '250000', amount_major: 2500, currency: 'USD', is_round_amount: true, source: { provider: 'stripe' } },
    });
    expect(risk.data[0]!.cause).toMatch(/^iev_/);
    const [small] = await db.sql<{ id: string }[]>`select id from gw.payments where psp_reference = 'pi_small_1'`;
    expect((await getJson<{ data: { action: string }[] }>(app, shop, `/v1/payments/${small!.id}/risk`)).data).toEqual([
      expect.objectContaining({ action: 'allow', decidedBy: null }),
    ]);
  });

  it('reads the card from Stripe charge events: charge.succeeded first, or beside its PaymentIntent in one batch', async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop, {
      name: 'US cards',
      action: 'review',
      expression: 'card.country == "US" && payment_method.type == "card" && card.fingerprint == "AOB934RVNwzk6xtn"',
    });
    // Stripe's own Charge fixture (payment_method_details.card: US, fingerprint AOB934RVNwzk6xtn), captured
    const base = { charge: stripeCharge as Record<string, unknown> };
    await postWebhook(shop, buildStripeEvent('charge.succeeded', { paymentIntent: 'pi_charge_first', amount: 3000, base, at: now }));
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    // the PaymentIntent event first, its charge in the same processing transaction
    await postWebhook(shop, buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_same_batch', amount: 4000, at: now }));
    await postWebhook(shop, buildStripeEvent('charge.succeeded', { paymentIntent: 'pi_same_batch', amount: 4000, base, at: now }));
    const ids = await db.sql<{ id: string }[]>`
      select id from gw.inbound_events where source_id = ${shop.sourceId} and status = 'received' order by id`;
    expect(
      (
        await processInboundEvents(
          deps,
          ids.map((r) => r.id),
        )
      ).map((o) => o.result),
    ).toEqual(['applied', 'stale']);
    for (const pi of ['pi_charge_first', 'pi_same_batch']) {
      const [p] = await db.sql<{ id: string; status: string }[]>`select id, status from gw.payments where psp_reference = ${pi}`;
      expect(p!.status).toBe('captured');
      const risk = await getJson<{ data: Record<string, any>[] }>(app, shop, `/v1/payments/${p!.id}/risk`);
      expect(risk.data).toHaveLength(1);
      expect(risk.data[0]).toMatchObject({
        action: 'review',
        decidedBy: { id: rule.id },
        attributes: { card: { country: 'US', fingerprint: 'AOB934RVNwzk6xtn' }, payment_method: { type: 'card' } },
      });
    }
  });

  it('does not assess again a payment created through the API when its webhooks arrive', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop, { name: 'any', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'api-1', createBody(shop)));
    const id = ((await res.json()) as { id: string }).id;
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    const risk = await getJson<{ data: { stage: string }[] }>(app, shop, `/v1/payments/${id}/risk`);
    expect(risk.data.map((d) => d.stage)).toEqual(['api']);
  });
});
