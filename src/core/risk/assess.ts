// Runs a merchant's risk rules on payments inside the caller's transaction (README "Risk rules"): compiled once per
// rule version, counts read only when a rule needs them, one decision row per payment.
import type { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { emitEvents } from '../events/outbox.js';
import type { Payment } from '../payments/payment-store.js';
import { linkOperationReviews, openReviews, reviewView } from './review-store.js';
import type { Outcome } from '../payments/state-machine.js';
import type { CompiledExpression, ExpressionEnvironment } from '../expressions/cel.js';
import {
  attributeValues,
  COMPUTED_ATTRIBUTES,
  createRiskEnvironment,
  valuesJson,
  type ComputedFacts,
  type PaymentFacts,
  type ListItems,
  type PspRiskFacts,
} from './attributes.js';
import { listMembers, merchantListItems } from './list-store.js';
import {
  enabledRules,
  insertAssessment,
  readComputedFacts,
  ruleSetSnapshot,
  ruleSetStates,
  type ComputedRead,
  type FactsKey,
  type FactsRow,
  type RiskAction,
  type RiskDecision,
  type RiskRule,
  type RuleRef,
  type RuleSetSnapshot,
} from './risk-store.js';

interface CompiledRule {
  ref: RuleRef;
  priority: number;
  expression: CompiledExpression;
}

/** A merchant's enabled rules, compiled, in evaluation order, and the computed attributes they read. */
export interface RuleSet {
  version: string;
  rules: CompiledRule[];
  needs: Set<keyof ComputedFacts>;
  /** The rules as every decision of this version names them: stored once, by content address. */
  snapshot: RuleSetSnapshot;
  /** The merchant's lists, alias → values, when a rule calls `list()` and they hold at most the cache's `maxListItems`. */
  lists?: ListItems;
  /**
   * Instead of `lists`, when they hold more and every `list()` call is `attribute in list("alias")`: the (alias,
   * attribute) pairs whose membership is looked up for each batch ({@link listMembers}).
   */
  listProbes?: { alias: string; path: string[] }[];
}

/**
 * Compiled rules per merchant, keyed by the merchant's rule-set version (gw.risk_rule_sets), and compiled
 * expressions per rule version. One per process, built by the entry file (src/app); safe to share across requests.
 */
export class RiskRuleCache {
  readonly environment: ExpressionEnvironment = createRiskEnvironment();
  private readonly sets = new Map<string, RuleSet>();
  private readonly compiled = new Map<string, CompiledExpression | null>();

  /**
   * `maxMerchants`: rule sets kept (least recently used dropped first; default 10,000); `maxExpressions`: compiled
   * rule versions kept (default 50,000). A dropped entry is read and compiled again on its next use. `maxListItems`:
   * list items kept per merchant (default 10,000); a merchant with more has its list memberships looked up per
   * evaluation with an index, unless a rule uses a list otherwise than `attribute in list("alias")`.
   */
  constructor(
    private readonly maxMerchants = 10_000,
    private readonly maxExpressions = 50_000,
    private readonly maxListItems = 10_000,
  ) {}

  /**
   * The merchants' enabled rules at their current versions (one query, plus one per merchant whose rules changed).
   * `cached` on the answer: the rule sets this cache held for them when called (any version), known at once, so a
   * read that depends on them can be sent before the query's answer ({@link readInboundRiskAhead}).
   */
  load(tx: Tx, merchantIds: readonly string[]): RuleSetsLoad {
    const cached = new Map<string, RuleSet>();
    for (const merchantId of merchantIds) {
      const set = this.sets.get(merchantId);
      if (set) cached.set(merchantId, set);
    }
    return Object.assign(this.loadNow(tx, merchantIds), { cached });
  }

  private async loadNow(tx: Tx, merchantIds: readonly string[]): Promise<Map<string, RuleSet>> {
    const states = await ruleSetStates(tx, merchantIds);
    const out = new Map<string, RuleSet>();
    for (const merchantId of merchantIds) {
      const state = states.get(merchantId);
      if (!state || state.enabledRules === 0) {
        // not cached as having rules: a read sent ahead ({@link RuleSetsLoad.cached}) is for merchants with rules
        this.sets.delete(merchantId);
        continue;
      }
      let set = this.sets.get(merchantId);
      if (set?.version !== state.version) {
        set = await this.build(merchantId, state.version, await enabledRules(tx, merchantId));
        if (set.rules.some((r) => r.expression.functions.has('list'))) await this.loadLists(tx, merchantId, set);
      }
      remember(this.sets, merchantId, set, this.maxMerchants);
      out.set(merchantId, set);
    }
    return out;
  }

  private async loadLists(tx: Tx, merchantId: string, set: RuleSet): Promise<void> {
    const lists = await merchantListItems(tx, merchantId, this.maxListItems);
    if (lists) {
      set.lists = lists;
    } else if (set.rules.every((r) => r.expression.onlyMembership)) {
      const probes = new Map<string, { alias: string; path: string[] }>();
      for (const r of set.rules)
        for (const m of r.expression.memberships)
          probes.set(`${m.argument}\u0000${m.attribute}`, { alias: m.argument, path: m.attribute.split('.') });
      set.listProbes = [...probes.values()];
    } else {
      set.lists = await merchantListItems(tx, merchantId, Number.MAX_SAFE_INTEGER - 1);
    }
  }

  private async build(merchantId: string, version: string, rules: RiskRule[]): Promise<RuleSet> {
    const compiledRules: CompiledRule[] = [];
    const needs = new Set<keyof ComputedFacts>();
    for (const rule of rules) {
      const key = `${rule.id}:${rule.version}`;
      let expression = this.compiled.get(key);
      if (expression === undefined) {
        const r = this.environment.compile(rule.expression);
        // validated at creation; a rule the environment no longer accepts never matches
        expression = r.ok ? r.value : null;
      }
      remember(this.compiled, key, expression, this.maxExpressions);
      if (!expression) continue;
      for (const name of COMPUTED_ATTRIBUTES) if (expression.attributes.has(name)) needs.add(name);
      compiledRules.push({
        ref: { id: rule.id, name: rule.name, version: rule.version, action: rule.action },
        priority: rule.priority,
        expression,
      });
    }
    compiledRules.sort((a, b) => ORDER[a.ref.action] - ORDER[b.ref.action] || a.priority - b.priority || (a.ref.id < b.ref.id ? -1 : 1));
    const snapshot = await ruleSetSnapshot(
      merchantId,
      compiledRules.map((r) => r.ref),
    );
    return { version, rules: compiledRules, needs, snapshot };
  }
}

/** The merchants' rule sets as {@link RiskRuleCache.load} answers them, and those it held when called. */
export type RuleSetsLoad = Promise<Map<string, RuleSet>> & { cached?: ReadonlyMap<string, RuleSet> };

/** Sets `key` as the most recently used entry of `map` (insertion order), dropping the least recently used beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

/** The deps' cache, or a fresh one (rules then compile on each use) when the entry file made none. */
export function riskRulesOf(deps: { riskRules?: RiskRuleCache }): RiskRuleCache {
  return deps.riskRules ?? new RiskRuleCache();
}

/** Radar's evaluation order: allow rules first, then block, then review. */
const ORDER: Record<RiskAction, number> = { allow: 0, block: 1, review: 2 };

/** A payment to assess: who, what is known, and what to record the decision under. */
export interface RiskSubject {
  merchantId: string;
  /** `pay_…` (inbound), or the create operation `pop_…` (API): the facts row's key. Absent: a refused API request. */
  subjectId: string | null;
  paymentId: string | null;
  operationId: string | null;
  stage: 'api' | 'inbound';
  /** The inbound event or API operation that caused the evaluation. */
  cause: string;
  facts: PaymentFacts;
}

/** The outcome for one subject: the decision (also written), or null when the merchant has no enabled rule. */
export type Assessment = RiskDecision | null;

/** Assessments decided in memory ({@link planInboundAssessment}); {@link writeAssessment} writes them. */
export interface PlannedAssessment {
  decisions: RiskDecision[];
  factRows: FactsRow[];
}

/**
 * Assesses `subjects` in `tx` at `now`: each merchant's enabled rules (cached by version) run in Radar's order and the
 * first match of the strongest action decides (allow, else block, else review; no match allows). Records the
 * payments' facts (for duplicate and velocity counts) and one gw.risk_decisions row each, and opens a review for each
 * `review` decision. Returns one assessment per subject, in order. A payment of a merchant without enabled rules is
 * neither assessed nor recorded. Throws only database errors.
 */
export async function assessPayments(tx: Tx, cache: RiskRuleCache, subjects: readonly RiskSubject[], now: Date): Promise<Assessment[]> {
  if (subjects.length === 0) return [];
  const sets = await cache.load(tx, [...new Set(subjects.map((s) => s.merchantId))]);
  const out: Assessment[] = subjects.map(() => null);
  const todo = subjects.flatMap((s, n) => (sets.has(s.merchantId) ? [n] : []));
  if (todo.length === 0) return out;
  const plan = await readAndPlan(
    tx,
    sets,
    todo.map((n) => subjects[n]!),
    now,
  );
  await writeAssessment(tx, plan);
  let i = 0;
  for (const n of todo) out[n] = plan.decisions[i++] ?? null;
  return out;
}

/** An inbound report as risk rules see it: the merchant, source and PSP reference, and what the payload says. */
export interface InboundRiskReport {
  merchantId: string;
  sourceId: string;
  /** The inbound event id. */
  cause: string;
  provider: string;
  pspReference: string;
  kind: string;
  /** Minor units, when the report names the payment's amount. */
  amount?: Decimal | undefined;
  currency: string;
  riskFacts?: PspRiskFacts | undefined;
}

/** The batch's rule sets and the computed attributes read ahead for its likely subjects ({@link readInboundRiskAhead}). */
export interface InboundRiskRead {
  sets: Map<string, RuleSet>;
  /** By payment (source and PSP reference): the key read and what was read under it. */
  ahead: Map<string, { key: FactsKey; read: ComputedRead }>;
  /** By payment: what all the batch's reports on it say (a charge's card beside its PaymentIntent's customer). */
  facts: Map<string, PspRiskFacts>;
  /** The computed attributes `ahead` holds. */
  needs: ReadonlySet<keyof ComputedFacts>;
}

const paymentKey = (r: { sourceId: string; pspReference: string }): string => `${r.sourceId}\u0000${r.pspReference}`;

/**
 * Starts the risk reads of an inbound batch: one statement reads the computed attributes of every payment a report
 * (with an amount, of a merchant with an enabled rule) may move for the first time, one row per payment, keyed by the
 * amount of its `authorized` or `captured` report, else of its first report (a refund reported before its capture names
 * the charge's amount). A payment already past `pending` costs one index probe and nothing else
 * ({@link readComputedFacts}' `onlyUnmoved`), so refunds of payments long captured stay cheap. Which merchants have
 * rules, and which attributes they read, come from `sets.cached` when the cache held the batch's merchants: the
 * statement is then sent at once, ahead of the reports' own reads and before they lock any payment; else from `sets`
 * once answered. A subject whose rules changed since (a merchant not cached, an attribute not read) is read again by
 * {@link planInboundAssessment}. Call it before applying the reports, without awaiting. Costs nothing when no merchant
 * of the batch has an enabled rule.
 */
export async function readInboundRiskAhead(
  tx: Tx,
  sets: RuleSetsLoad,
  reports: readonly InboundRiskReport[],
  now: Date,
): Promise<InboundRiskRead> {
  const facts = mergedRiskFacts(reports);
  const early = sets.cached && sets.cached.size > 0 ? readAhead(tx, sets.cached, reports, facts, now) : undefined;
  early?.catch(() => undefined); // awaited below, after `sets`; a failure there fails the transaction
  const ruleSets = await sets;
  if (ruleSets.size === 0) return { sets: ruleSets, ahead: new Map(), facts, needs: new Set() };
  const { ahead, needs } = await (early ?? readAhead(tx, ruleSets, reports, facts, now));
  return { sets: ruleSets, ahead, facts, needs };
}

/** By payment: what all of `reports` on it say, the earlier report's value first where two give one. */
function mergedRiskFacts(reports: readonly InboundRiskReport[]): Map<string, PspRiskFacts> {
  const facts = new Map<string, PspRiskFacts>();
  for (const r of reports) {
    if (!r.riskFacts) continue;
    const k = paymentKey(r);
    facts.set(k, { ...r.riskFacts, ...facts.get(k) });
  }
  return facts;
}

/** {@link readInboundRiskAhead}'s statement, for the merchants of `sets`; `facts` as {@link mergedRiskFacts} gives them. */
async function readAhead(
  tx: Tx,
  sets: ReadonlyMap<string, RuleSet>,
  reports: readonly InboundRiskReport[],
  facts: ReadonlyMap<string, PspRiskFacts>,
  now: Date,
): Promise<Pick<InboundRiskRead, 'ahead' | 'needs'>> {
  const ahead = new Map<string, { key: FactsKey; read: ComputedRead }>();
  const picked = new Map<string, InboundRiskReport>();
  const needs = new Set<keyof ComputedFacts>(['duplicates_24h']);
  for (const r of reports) {
    if (!sets.has(r.merchantId)) continue;
    const k = paymentKey(r);
    if (r.amount === undefined) continue;
    // the payment's own report first: a first move's amount is the payment's for every provider
    const earlier = picked.get(k);
    if (earlier && (FIRST_MOVES.has(earlier.kind) || !FIRST_MOVES.has(r.kind))) continue;
    picked.set(k, r);
    for (const x of sets.get(r.merchantId)!.needs) needs.add(x);
  }
  if (picked.size === 0) return { ahead, needs };
  const list = [...picked];
  const keys = list.map(([k, r]) =>
    factsKey({ ...facts.get(k), amount: r.amount!, currency: r.currency, provider: r.provider }, r.merchantId, now),
  );
  const read = await readComputedFacts(
    tx,
    keys,
    needs,
    now,
    list.map(([, r]) => ({ paymentId: null, sourceId: r.sourceId, pspReference: r.pspReference })),
    true,
  );
  list.forEach(([k], i) => {
    ahead.set(k, { key: keys[i]!, read: read[i]! });
  });
  return { ahead, needs };
}

/**
 * Plans the assessment of the payments an inbound batch moved to `authorized` or `captured` for the first time (from
 * `pending`, or created so), leaving out those created through `POST /v1/payments` (their rules ran there). A
 * payment's attributes are what all the batch's reports on it say. `read` is {@link readInboundRiskAhead}'s answer; the
 * subjects it did not read ahead (first moved by a refund, or an amount not the report's) cost one more statement.
 */
export async function planInboundAssessment(
  tx: Tx,
  read: InboundRiskRead,
  reports: readonly InboundRiskReport[],
  results: readonly { result: string; payment: Payment; outcome?: Outcome }[],
  now: Date,
): Promise<PlannedAssessment> {
  const { sets } = read;
  const subjects: RiskSubject[] = [];
  const keys: FactsKey[] = [];
  const prior: (ComputedRead | undefined)[] = [];
  reports.forEach((r, n) => {
    const res = results[n]!;
    if (!sets.has(r.merchantId) || res.result !== 'applied') return;
    if (!res.outcome?.steps.some((st) => FIRST_MOVES.has(st.to) && (st.from === null || st.from === 'pending'))) return;
    const p = res.payment;
    const k = paymentKey(r);
    const subject: RiskSubject = {
      merchantId: r.merchantId,
      subjectId: p.id,
      paymentId: p.id,
      operationId: null,
      stage: 'inbound',
      cause: r.cause,
      facts: { ...read.facts.get(k), ...r.riskFacts, amount: p.amount, currency: p.currency, provider: r.provider },
    };
    const ahead = read.ahead.get(k);
    const key = factsKey(subject.facts, subject.merchantId, now);
    subjects.push(subject);
    keys.push(key);
    // read again: read ahead as already moved (it moved back to pending since), or under rules that read less
    const usable =
      ahead && !ahead.read.skipped && sameKey(ahead.key, key) && [...sets.get(r.merchantId)!.needs].every((x) => read.needs.has(x));
    prior.push(usable ? ahead.read : undefined);
  });
  if (subjects.length === 0) return { decisions: [], factRows: [] };
  const missing = subjects.flatMap((_, i) => (prior[i] ? [] : [i]));
  if (missing.length > 0) {
    const needs = new Set<keyof ComputedFacts>(['duplicates_24h']);
    for (const i of missing) for (const x of sets.get(subjects[i]!.merchantId)!.needs) needs.add(x);
    const late = await readComputedFacts(
      tx,
      missing.map((i) => keys[i]!),
      needs,
      now,
      missing.map((i) => ({ paymentId: subjects[i]!.paymentId, sourceId: null, pspReference: null })),
    );
    missing.forEach((i, j) => {
      prior[i] = late[j];
    });
  }
  return plan_(sets, subjects, keys, prior as ComputedRead[], await lookUpLists(tx, sets, subjects), now);
}

const FIRST_MOVES = new Set(['authorized', 'captured']);

const sameKey = (a: FactsKey, b: FactsKey): boolean =>
  a.merchantId === b.merchantId &&
  a.duplicateKey === b.duplicateKey &&
  a.cardFingerprint === b.cardFingerprint &&
  a.customerId === b.customerId &&
  a.currency === b.currency;

/** Reads the computed attributes of `all` (one statement) and plans their assessment. */
async function readAndPlan(tx: Tx, sets: Map<string, RuleSet>, all: readonly RiskSubject[], now: Date): Promise<PlannedAssessment> {
  const needs = new Set<keyof ComputedFacts>(['duplicates_24h']);
  for (const s of all) for (const x of sets.get(s.merchantId)!.needs) needs.add(x);
  const keys = all.map((s) => factsKey(s.facts, s.merchantId, now));
  const [read, lists] = await Promise.all([readComputedFacts(tx, keys, needs, now), lookUpLists(tx, sets, all)]);
  return plan_(sets, all, keys, read, lists, now);
}

/**
 * For the merchants whose lists are looked up ({@link RuleSet.listProbes}): each list cut down to the subjects' values
 * on it, by merchant (one statement; none when no merchant needs it). `x in list("a")` answers as on the whole list.
 */
async function lookUpLists(tx: Tx, sets: Map<string, RuleSet>, subjects: readonly RiskSubject[]): Promise<Map<string, ListItems>> {
  const out = new Map<string, ListItems>();
  const probes: { merchantId: string; alias: string; value: string }[] = [];
  for (const s of subjects) {
    const set = sets.get(s.merchantId)!;
    if (!set.listProbes) continue;
    const values = attributeValues(s.facts, {});
    for (const p of set.listProbes) {
      let x: unknown = values;
      for (const key of p.path) x = typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[key] : undefined;
      if (typeof x === 'string') probes.push({ merchantId: s.merchantId, alias: p.alias, value: x });
    }
    if (!out.has(s.merchantId)) out.set(s.merchantId, new Map());
  }
  for (const m of await listMembers(tx, probes)) {
    const lists = out.get(m.merchantId) as Map<string, string[]>;
    lists.set(m.alias, [...(lists.get(m.alias) ?? []), m.value]);
  }
  return out;
}

/**
 * Decides each subject in memory from its computed attributes (`keys[i]`: its {@link factsKey} at `now`) and, for a
 * merchant whose lists are looked up, `lookedUp`'s lists; a payment created through the API is left out.
 */
function plan_(
  sets: Map<string, RuleSet>,
  all: readonly RiskSubject[],
  keys: readonly FactsKey[],
  read: readonly ComputedRead[],
  lookedUp: ReadonlyMap<string, ListItems>,
  now: Date,
): PlannedAssessment {
  const keep = all.flatMap((_, i) => (read[i]!.createdByApi ? [] : [i]));
  const subjects = keep.map((i) => all[i]!);
  const keysKept = keep.map((i) => keys[i]!);
  // copies: the batch counts below add to them
  const computed = keep.map((i) => ({ facts: { ...read[i]!.facts }, duplicateOf: read[i]!.duplicateOf }));
  // payments of the same batch see each other, as if recorded one by one
  addBatchCounts(keysKept, subjects, computed);

  const decisions: RiskDecision[] = [];
  const factRows: FactsRow[] = [];
  for (const [i, s] of subjects.entries()) {
    const set = sets.get(s.merchantId)!;
    const values = attributeValues(s.facts, computed[i]!.facts);
    const matched: RuleRef[] = [];
    const lists = lookedUp.get(s.merchantId) ?? set.lists;
    for (const rule of set.rules) if (rule.expression.matches(values, lists)) matched.push(rule.ref);
    const decidedBy = matched[0] ?? null;
    decisions.push({
      merchantId: s.merchantId,
      paymentId: s.paymentId,
      operationId: s.operationId,
      stage: s.stage,
      action: decidedBy?.action ?? 'allow',
      decidedBy,
      matched,
      ruleSet: set.snapshot,
      attributes: valuesJson(values),
      cause: s.cause,
      decidedAt: now,
    });
    if (s.subjectId) {
      // A refused API attempt is recorded for the velocity counts (card testing shows there), but it is no payment:
      // it is not a duplicate of anything a later attempt could be flagged for.
      const refused = s.stage === 'api' && decisions.at(-1)!.action === 'block';
      factRows.push({
        ...keysKept[i]!,
        ...(refused ? { duplicateKey: null } : {}),
        subjectId: s.subjectId,
        amount: s.facts.amount,
        duplicateOf: computed[i]!.duplicateOf,
        seenAt: now,
      });
    }
  }
  return { decisions, factRows };
}

/**
 * Writes a planned assessment: facts and decisions (one statement); then, for each `review` decision
 * (and each inbound `block`: the PSP already took that payment, so a person must look), a review and its
 * `review.opened` event (Stripe's name) to the merchant's endpoints.
 */
export async function writeAssessment(tx: Tx, plan: PlannedAssessment): Promise<void> {
  if (plan.decisions.length === 0) return;
  const ids = await insertAssessment(tx, plan.factRows, plan.decisions);
  const toOpen = plan.decisions.flatMap((d, i) =>
    d.decidedBy && (d.action === 'review' || (d.action === 'block' && d.stage === 'inbound'))
      ? [
          {
            merchantId: d.merchantId,
            paymentId: d.paymentId,
            operationId: d.operationId,
            decisionId: ids[i]!,
            openedBy: d.decidedBy,
            at: d.decidedAt,
          },
        ]
      : [],
  );
  if (toOpen.length === 0) return;
  // a review opened at POST /v1/payments is announced once its payment is stored (announceApiReviews)
  const reviews = (await openReviews(tx, toOpen)).filter((r) => r.paymentId !== null);
  await emitEvents(
    tx,
    reviews.map((r) => ({
      merchantId: r.merchantId,
      type: 'review.opened',
      paymentId: r.paymentId,
      dedupeKey: `${r.id}:review.opened`,
      data: reviewView(r),
      at: r.openedAt,
    })),
  );
}

/**
 * The lookup keys of a payment. The duplicate key is (customer id, else card fingerprint, else e-mail), amount (minor
 * units), currency and the UTC day of `now`; null when the payment names no customer, card or e-mail.
 */
export function factsKey(facts: PaymentFacts, merchantId: string, now: Date): FactsKey {
  const who = facts.customerId
    ? `customer:${facts.customerId}`
    : facts.cardFingerprint
      ? `card:${facts.cardFingerprint}`
      : facts.customerEmail
        ? `email:${facts.customerEmail.toLowerCase()}`
        : null;
  return {
    merchantId,
    duplicateKey: who && `${who}|${facts.amount.toFixed(0)}|${facts.currency}|${now.toISOString().slice(0, 10)}`,
    cardFingerprint: facts.cardFingerprint ?? null,
    customerId: facts.customerId ?? null,
    currency: facts.currency,
  };
}

function addBatchCounts(
  keys: FactsKey[],
  subjects: readonly RiskSubject[],
  computed: { facts: ComputedFacts; duplicateOf: string | null }[],
): void {
  if (keys.length < 2) return;
  // earlier payments of the batch, by key: how many, their amount, the latest subject
  const seen = new Map<string, { n: number; amount: Decimal; last: string | null }>();
  const bump = (key: string, amount: Decimal, subject: string | null) => {
    const e = seen.get(key);
    seen.set(key, e ? { n: e.n + 1, amount: e.amount.plus(amount), last: subject ?? e.last } : { n: 1, amount, last: subject });
  };
  for (const [i, k] of keys.entries()) {
    const c = computed[i]!;
    const s = subjects[i]!;
    const dupKey = k.duplicateKey !== null ? `${k.merchantId}\u0000d\u0000${k.duplicateKey}` : null;
    const cardKey = k.cardFingerprint !== null ? `${k.merchantId}\u0000c\u0000${k.cardFingerprint}` : null;
    const custKey = k.customerId !== null ? `${k.merchantId}\u0000u\u0000${k.customerId}\u0000${k.currency}` : null;
    const dup = dupKey ? seen.get(dupKey) : undefined;
    if (dup) {
      if (c.facts.duplicates_24h !== undefined) c.facts.duplicates_24h += dup.n;
      c.duplicateOf = dup.last ?? c.duplicateOf;
    }
    const card = cardKey ? seen.get(cardKey) : undefined;
    if (card) {
      if (c.facts.count_same_fingerprint_1h !== undefined) c.facts.count_same_fingerprint_1h += card.n;
      if (c.facts.is_first_seen_card !== undefined) c.facts.is_first_seen_card = false;
    }
    const cust = custKey ? seen.get(custKey) : undefined;
    if (cust) {
      if (c.facts.count_same_customer_24h !== undefined) c.facts.count_same_customer_24h += cust.n;
      if (c.facts.amount_same_customer_24h !== undefined)
        c.facts.amount_same_customer_24h = c.facts.amount_same_customer_24h.plus(cust.amount);
    }
    if (dupKey) bump(dupKey, s.facts.amount, s.subjectId);
    if (cardKey) bump(cardKey, s.facts.amount, s.subjectId);
    if (custKey) bump(custKey, s.facts.amount, s.subjectId);
  }
}

/**
 * Links the reviews opened on a `POST /v1/payments` create operation to its payment `paymentId`, now stored, and
 * announces them: `review.opened` with the payment's id (once per review, whenever called). Call it in the transaction
 * that links the operation to its payment. One statement, plus the events' when there is a review.
 */
export async function announceApiReviews(tx: Tx, operationId: string, paymentId: string): Promise<void> {
  const reviews = await linkOperationReviews(tx, operationId, paymentId);
  if (reviews.length === 0) return;
  await emitEvents(
    tx,
    reviews.map((r) => ({
      merchantId: r.merchantId,
      type: 'review.opened',
      paymentId,
      dedupeKey: `${r.id}:review.opened`,
      data: reviewView(r),
      at: r.openedAt,
    })),
  );
}
