// Risk rules, rule-set versions, payment facts and decisions (gw.risk_*; sql/0050_risk_rules.sql).
import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { sha256Hex } from '../crypto.js';
import { newId } from '../ids.js';
import type { ComputedFacts } from './attributes.js';

/** The action of a rule, strongest last in Radar's evaluation order (allow, then block, then review). */
export type RiskAction = 'allow' | 'review' | 'block';

/** A rule as stored; `version` moves by one on every change. */
export interface RiskRule {
  id: string;
  merchantId: string;
  name: string;
  action: RiskAction;
  expression: string;
  enabled: boolean;
  priority: number;
  version: number;
  builtIn: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface RuleRow {
  id: string;
  merchant_id: string;
  name: string;
  action: RiskAction;
  expression: string;
  enabled: boolean;
  priority: number;
  version: number;
  built_in: string | null;
  created_at: Date;
  updated_at: Date;
}

const toRule = (r: RuleRow): RiskRule => ({
  id: r.id,
  merchantId: r.merchant_id,
  name: r.name,
  action: r.action,
  expression: r.expression,
  enabled: r.enabled,
  priority: r.priority,
  version: r.version,
  builtIn: r.built_in,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Inserts a rule (version 1); returns it. */
export async function insertRule(
  tx: Tx,
  input: { merchantId: string; name: string; action: RiskAction; expression: string; enabled: boolean; priority: number; now: Date },
): Promise<RiskRule> {
  const [row] = await tx<RuleRow[]>`
    insert into gw.risk_rules (id, merchant_id, name, action, expression, enabled, priority, created_at, updated_at)
    values (${newId('rul', input.now)}, ${input.merchantId}, ${input.name}, ${input.action}, ${input.expression}, ${input.enabled},
            ${input.priority}, ${input.now}, ${input.now})
    returning *`;
  return toRule(row!);
}

/** The merchant's rule, not deleted; `lock` takes it FOR UPDATE. */
export async function getRule(tx: Tx, merchantId: string, id: string, lock = false): Promise<RiskRule | undefined> {
  const rows = lock
    ? await tx<RuleRow[]>`select * from gw.risk_rules where id = ${id} and merchant_id = ${merchantId} and deleted_at is null for update`
    : await tx<RuleRow[]>`select * from gw.risk_rules where id = ${id} and merchant_id = ${merchantId} and deleted_at is null`;
  return rows[0] && toRule(rows[0]);
}

/** The merchant's rules, newest first, `limit + 1` rows after `startingAfter`. */
export async function listRules(tx: Tx, merchantId: string, q: { limit: number; startingAfter?: string | undefined }): Promise<RiskRule[]> {
  const rows = await tx<RuleRow[]>`
    select * from gw.risk_rules
    where merchant_id = ${merchantId} and deleted_at is null ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
    order by id desc limit ${q.limit + 1}`;
  return rows.map(toRule);
}

/** Saves a changed rule as its next version (the trigger appends the version row). */
export async function updateRule(
  tx: Tx,
  rule: RiskRule,
  change: { name: string; action: RiskAction; expression: string; enabled: boolean; priority: number; now: Date },
): Promise<RiskRule> {
  const [row] = await tx<RuleRow[]>`
    update gw.risk_rules set name = ${change.name}, action = ${change.action}, expression = ${change.expression},
      enabled = ${change.enabled}, priority = ${change.priority}, version = version + 1, updated_at = ${change.now}
    where id = ${rule.id} returning *`;
  return toRule(row!);
}

/** Marks a rule deleted (a new version); decisions keep naming it. */
export async function deleteRule(tx: Tx, rule: RiskRule, now: Date): Promise<void> {
  await tx`update gw.risk_rules set deleted_at = ${now}, enabled = false, version = version + 1, updated_at = ${now} where id = ${rule.id}`;
}

/** Each merchant's rule-set version and enabled-rule count (merchants without a row have none). */
export async function ruleSetStates(
  tx: Tx,
  merchantIds: readonly string[],
): Promise<Map<string, { version: string; enabledRules: number }>> {
  const rows = await tx<{ merchant_id: string; version: string; enabled_rules: number }[]>`
    select merchant_id, version::text, enabled_rules from gw.risk_rule_sets where merchant_id = any(${[...merchantIds]}::text[])`;
  return new Map(rows.map((r) => [r.merchant_id, { version: r.version, enabledRules: r.enabled_rules }]));
}

/** The merchant's enabled rules. */
export async function enabledRules(tx: Tx, merchantId: string): Promise<RiskRule[]> {
  const rows = await tx<RuleRow[]>`
    select * from gw.risk_rules where merchant_id = ${merchantId} and enabled and deleted_at is null order by priority, id`;
  return rows.map(toRule);
}

/** What the counts are looked up by, for one payment. */
export interface FactsKey {
  merchantId: string;
  duplicateKey: string | null;
  cardFingerprint: string | null;
  customerId: string | null;
  currency: string;
}

/** Which computed attributes to read. */
export type ComputedNeeds = ReadonlySet<keyof ComputedFacts>;

/** Where a payment came from, to tell one created through `POST /v1/payments` (by its id, or its PSP reference). */
export interface PaymentOrigin {
  paymentId: string | null;
  sourceId: string | null;
  pspReference: string | null;
}

/** The computed attributes of one payment, as {@link readComputedFacts} reads them. */
export interface ComputedRead {
  facts: ComputedFacts;
  duplicateOf: string | null;
  createdByApi: boolean;
  /**
   * With `onlyUnmoved`: the payment had already moved past `pending` when read, so nothing was read for it (it cannot
   * be moved for the first time any more) and `facts` are empty.
   */
  skipped?: boolean;
}

/**
 * Reads the computed attributes `needs` names for each key at `now`, one statement for all keys; each count is one
 * index range scan over the window (sql/0050 indexes). `duplicateOf`: the latest earlier subject with the key;
 * `createdByApi`: `origins[i]` names a payment created through `POST /v1/payments` (a create operation with its id,
 * or with its source and PSP reference). `onlyUnmoved`: a key whose origin (source and PSP reference) names a stored
 * payment already past `pending` costs one index probe and comes back `skipped`.
 */
export async function readComputedFacts(
  tx: Tx,
  keys: readonly FactsKey[],
  needs: ComputedNeeds,
  now: Date,
  origins?: readonly (PaymentOrigin | null)[],
  onlyUnmoved = false,
): Promise<ComputedRead[]> {
  if (keys.length === 0) return [];
  const pids = keys.map((_, i) => origins?.[i]?.paymentId ?? null);
  const srcs = keys.map((_, i) => origins?.[i]?.sourceId ?? null);
  const refs = keys.map((_, i) => origins?.[i]?.pspReference ?? null);
  const dup = needs.has('duplicates_24h');
  const card1h = needs.has('count_same_fingerprint_1h');
  const firstCard = needs.has('is_first_seen_card');
  const cust = needs.has('count_same_customer_24h') || needs.has('amount_same_customer_24h');
  const rows = await tx<
    {
      dup: string | null;
      dup_of: string | null;
      card1h: string | null;
      seen_card: boolean | null;
      cust_n: string | null;
      cust_sum: string | null;
      by_api: boolean;
      moved: boolean;
    }[]
  >`
    select
      mv.moved,
      not mv.moved
        and ((k.pid is not null and exists (select 1 from gw.psp_operations o where o.payment_id = k.pid and o.kind = 'create'))
             or (k.ref is not null and exists (select 1 from gw.psp_operations o
                                                where o.source_id = k.src and o.psp_reference = k.ref and o.kind = 'create'))) as by_api,
      ${dup ? tx`d.n` : tx`null`}::text as dup,
      d.latest as dup_of,
      ${card1h ? tx`(select count(*) from gw.risk_payment_facts f where not mv.moved and f.merchant_id = k.m and f.card_fingerprint = k.cf and f.seen_at > ${now}::timestamptz - interval '1 hour')` : tx`null`}::text as card1h,
      ${firstCard ? tx`exists (select 1 from gw.risk_payment_facts f where not mv.moved and f.merchant_id = k.m and f.card_fingerprint = k.cf)` : tx`null::boolean`} as seen_card,
      ${cust ? tx`u.n` : tx`null`}::text as cust_n,
      ${cust ? tx`u.s` : tx`null`}::text as cust_sum
    from unnest(${keys.map((k) => k.merchantId)}::text[], ${keys.map((k) => k.duplicateKey)}::text[], ${keys.map((k) => k.cardFingerprint)}::text[],
                ${keys.map((k) => k.customerId)}::text[], ${keys.map((k) => k.currency)}::text[], ${pids}::text[], ${srcs}::text[],
                ${refs}::text[])
                with ordinality as k (m, dk, cf, cu, cur, pid, src, ref, n)
    cross join lateral (
      select ${
        onlyUnmoved
          ? tx`exists (select 1 from gw.payments p where p.source_id = k.src and p.psp_reference = k.ref and p.status <> 'pending')`
          : tx`false`
      } as moved offset 0) mv
    -- (offset 0: probed once per key, not inlined into each use below.) One range scan each for the duplicate count and
    -- the latest duplicate, and for the customer's count and sum; none for a payment already moved (the filter on
    -- mv.moved is checked once, before any scan)
    cross join lateral (
      select count(*) as n, (array_agg(f.subject_id order by f.seen_at desc))[1] as latest
      from gw.risk_payment_facts f
      where not mv.moved and f.merchant_id = k.m and f.duplicate_key = k.dk and f.seen_at > ${now}::timestamptz - interval '24 hours') d
    ${
      cust
        ? tx`cross join lateral (
      select count(*) as n, coalesce(sum(f.amount), 0) as s
      from gw.risk_payment_facts f
      where not mv.moved and f.merchant_id = k.m and f.customer_id = k.cu and f.currency = k.cur
        and f.seen_at > ${now}::timestamptz - interval '24 hours') u`
        : tx``
    }
    order by k.n`;
  return rows.map((r, n) => {
    const key = keys[n]!;
    const facts: ComputedFacts = {};
    if (dup && key.duplicateKey !== null) facts.duplicates_24h = Number(r.dup);
    if (card1h && key.cardFingerprint !== null) facts.count_same_fingerprint_1h = Number(r.card1h);
    if (firstCard && key.cardFingerprint !== null) facts.is_first_seen_card = r.seen_card === false;
    if (cust && key.customerId !== null) {
      if (needs.has('count_same_customer_24h')) facts.count_same_customer_24h = Number(r.cust_n);
      if (needs.has('amount_same_customer_24h')) facts.amount_same_customer_24h = new Decimal(r.cust_sum ?? 0);
    }
    if (r.moved) return { facts: {}, duplicateOf: null, createdByApi: false, skipped: true };
    return { facts, duplicateOf: key.duplicateKey === null ? null : r.dup_of, createdByApi: r.by_api };
  });
}

/** One row of gw.risk_payment_facts. */
export interface FactsRow extends FactsKey {
  subjectId: string;
  amount: Decimal;
  duplicateOf: string | null;
  seenAt: Date;
}

/** A rule as a decision names it. */
export interface RuleRef {
  id: string;
  name: string;
  version: number;
  action: RiskAction;
}

/**
 * The rules one rule-set version evaluates, in evaluation order, as gw.risk_rule_set_snapshots keeps them (written once
 * per content; sql/0115). `id` is the lower-case hex SHA-256 of `${merchantId}\n${json}`; `json` is `rules` serialized.
 */
export interface RuleSetSnapshot {
  id: string;
  merchantId: string;
  rules: readonly RuleRef[];
  json: string;
}

/**
 * A snapshot of `rules` for `merchantId`: its content address and serialized form. Computed once per rule-set version
 * (the rules cache keeps it).
 */
export async function ruleSetSnapshot(merchantId: string, rules: readonly RuleRef[]): Promise<RuleSetSnapshot> {
  const json = JSON.stringify(rules.map((r) => ({ id: r.id, name: r.name, version: r.version, action: r.action })));
  return { id: await sha256Hex(`${merchantId}\n${json}`), merchantId, rules, json };
}

/** One evaluation to record: what gw.risk_decisions keeps, the evaluated rules named by their snapshot. */
export interface RiskDecision {
  merchantId: string;
  paymentId: string | null;
  operationId: string | null;
  stage: 'api' | 'inbound';
  action: RiskAction;
  decidedBy: RuleRef | null;
  matched: RuleRef[];
  /** The rules evaluated: stored once, the row names it. */
  ruleSet: RuleSetSnapshot;
  attributes: Record<string, unknown>;
  cause: string;
  decidedAt: Date;
}

/**
 * Records an assessment in one statement: the payments' facts (`facts`; for later counts, a subject already recorded
 * left as it was), the rule-set snapshots the decisions name that are not stored yet, and the decisions. Returns the
 * decisions' ids, in input order. sql/0130 checks once per statement that every named snapshot is stored.
 */
export async function insertAssessment(tx: Tx, facts: readonly FactsRow[], rows: readonly RiskDecision[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const sets = [...new Map(rows.map((r) => [r.ruleSet.id, r.ruleSet])).values()];
  const ids = await tx<{ id: string }[]>`
    with snapshots as (
      insert into gw.risk_rule_set_snapshots (id, merchant_id, rules, created_at)
      select i, m, r::jsonb, ${rows[0]!.decidedAt.toISOString()}::timestamptz
        from unnest(${sets.map((x) => x.id)}::text[], ${sets.map((x) => x.merchantId)}::text[], ${sets.map((x) => x.json)}::text[]) as s (i, m, r)
      on conflict (id) do nothing
    ), facts as (
      insert into gw.risk_payment_facts (subject_id, merchant_id, duplicate_key, card_fingerprint, customer_id, amount, currency, duplicate_of, seen_at)
      select * from unnest(${facts.map((r) => r.subjectId)}::text[], ${facts.map((r) => r.merchantId)}::text[],
        ${facts.map((r) => r.duplicateKey)}::text[], ${facts.map((r) => r.cardFingerprint)}::text[], ${facts.map((r) => r.customerId)}::text[],
        ${facts.map((r) => r.amount.toFixed(0))}::bigint[], ${facts.map((r) => r.currency)}::text[], ${facts.map((r) => r.duplicateOf)}::text[],
        ${facts.map((r) => r.seenAt.toISOString())}::timestamptz[])
      on conflict (subject_id) do nothing
    )
    insert into gw.risk_decisions (merchant_id, payment_id, operation_id, stage, action, decided_by, matched, rule_set_id, attributes, cause, decided_at)
    select m, p, o, s, a, db::jsonb, mt::jsonb, rs, at::jsonb, c, t from unnest(
      ${rows.map((r) => r.merchantId)}::text[], ${rows.map((r) => r.paymentId)}::text[], ${rows.map((r) => r.operationId)}::text[],
      ${rows.map((r) => r.stage)}::text[], ${rows.map((r) => r.action)}::text[], ${rows.map((r) => JSON.stringify(r.decidedBy))}::text[],
      ${rows.map((r) => JSON.stringify(r.matched))}::text[], ${rows.map((r) => r.ruleSet.id)}::text[],
      ${rows.map((r) => JSON.stringify(r.attributes))}::text[], ${rows.map((r) => r.cause)}::text[],
      ${rows.map((r) => r.decidedAt.toISOString())}::timestamptz[]
    ) with ordinality as d (m, p, o, s, a, db, mt, rs, at, c, t, n)
    order by n
    returning id::text`;
  return ids.map((r) => r.id);
}

/** A recorded evaluation, as `GET /v1/payments/{id}/risk` shows it. */
export interface StoredRiskDecision extends Omit<RiskDecision, 'ruleSet'> {
  /** Every rule evaluated, in evaluation order. */
  evaluated: RuleRef[];
}

/** The decisions about a payment (made on it, or on the API operation that created it), oldest first. */
export async function listPaymentDecisions(tx: Tx, paymentId: string): Promise<StoredRiskDecision[]> {
  const rows = await tx<
    {
      merchant_id: string;
      payment_id: string | null;
      operation_id: string | null;
      stage: 'api' | 'inbound';
      action: RiskAction;
      decided_by: RuleRef | null;
      matched: RuleRef[];
      evaluated: RuleRef[];
      attributes: Record<string, unknown>;
      cause: string;
      decided_at: Date;
    }[]
  >`
    select d.merchant_id, d.payment_id, d.operation_id, d.stage, d.action, d.decided_by, d.matched,
           coalesce(d.evaluated, s.rules) as evaluated, d.attributes, d.cause, d.decided_at
    from gw.risk_decisions d
    left join gw.risk_rule_set_snapshots s on s.id = d.rule_set_id
    where d.payment_id = ${paymentId}
       or d.operation_id in (select id from gw.psp_operations where payment_id = ${paymentId} and kind = 'create')
    order by d.id`;
  return rows.map((r) => ({
    merchantId: r.merchant_id,
    paymentId: r.payment_id ?? paymentId,
    operationId: r.operation_id,
    stage: r.stage,
    action: r.action,
    decidedBy: r.decided_by,
    matched: r.matched,
    evaluated: r.evaluated,
    attributes: r.attributes,
    cause: r.cause,
    decidedAt: r.decided_at,
  }));
}

/** The earlier payment this one may duplicate (its facts row's `duplicate_of`, an operation resolved to its payment). */
export async function possibleDuplicateOf(tx: Tx, paymentId: string): Promise<string | null> {
  const [row] = await tx<{ of: string | null }[]>`
    select coalesce(o.payment_id, case when f.duplicate_of like 'pay\\_%' then f.duplicate_of end) as of
    from gw.risk_payment_facts f
    left join gw.psp_operations o on o.id = f.duplicate_of
    where f.duplicate_of is not null
      and (f.subject_id = ${paymentId}
           or f.subject_id in (select id from gw.psp_operations where payment_id = ${paymentId} and kind = 'create'))
    limit 1`;
  return row?.of ?? null;
}
