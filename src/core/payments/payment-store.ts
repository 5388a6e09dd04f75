// Payments, their operation reports and transitions (gw.payments, gw.payment_operations, gw.payment_transitions).
import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { toMinorText } from '../money.js';
import type { OperationKind, OperationOutcome, OperationReport, PaymentState, PaymentStatus } from './payment-state.js';

/** An operation report as recorded: a row of `gw.payment_operations`. */
interface RecordedOperation extends OperationReport {
  /** The inbound event (`iev_…`) or API request that reported it. */
  cause: string;
  at: Date;
}

/** A payment row with its operation reports; amounts in minor units as Decimal. */
export interface Payment extends PaymentState {
  id: string;
  merchantId: string;
  sourceId: string;
  pspReference: string;
  currency: string;
  merchantReference: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  operations: RecordedOperation[];
}

interface PaymentDbRow {
  id: string;
  merchant_id: string;
  source_id: string;
  psp_reference: string;
  status: PaymentStatus;
  amount: string;
  currency: string;
  captured_amount: string;
  refunded_amount: string;
  charged_back_amount: string;
  over_refunded_amount: string;
  reported_amount: string;
  reported_captured: string;
  reported_refunded: string;
  merchant_reference: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface OperationJson {
  kind: OperationKind;
  reference: string;
  outcome: OperationOutcome;
  amount: string | null;
  cause: string;
  at: string;
}

const toOperation = (o: OperationJson): RecordedOperation => ({
  kind: o.kind,
  reference: o.reference,
  outcome: o.outcome,
  amount: o.amount === null ? null : new Decimal(o.amount),
  cause: o.cause,
  at: new Date(o.at),
});

const toPayment = (r: PaymentDbRow, operations: RecordedOperation[]): Payment => ({
  id: r.id,
  merchantId: r.merchant_id,
  sourceId: r.source_id,
  pspReference: r.psp_reference,
  status: r.status,
  amount: new Decimal(r.amount),
  reportedAmount: new Decimal(r.reported_amount),
  currency: r.currency,
  capturedAmount: new Decimal(r.captured_amount),
  refundedAmount: new Decimal(r.refunded_amount),
  chargedBackAmount: new Decimal(r.charged_back_amount),
  overRefundedAmount: new Decimal(r.over_refunded_amount),
  reportedCaptured: new Decimal(r.reported_captured),
  reportedRefunded: new Decimal(r.reported_refunded),
  merchantReference: r.merchant_reference,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  operations,
});

const OPS_JSON = (tx: Tx) => tx`
  coalesce((select json_agg(json_build_object('kind', o.kind, 'reference', o.psp_reference, 'outcome', o.outcome,
                                              'amount', o.amount::text, 'cause', o.cause, 'at', o.at) order by o.id)
              from gw.payment_operations o
             where o.payment_id = p.id), '[]'::json) as ops`;

/** A row locked `for update` with its operations, and its version as the locking statement's snapshot saw it. */
type LockedRow = PaymentDbRow & { ops: OperationJson[]; snapshot_version: number | null };

/**
 * Payments from locked rows. A statement that waited for a row lock returns the row as the holder committed it, but its
 * subqueries as of the statement's start (READ COMMITTED): the operations of a row whose version moved meanwhile are
 * read again, in a statement of their own, so that an operation the holder recorded is never applied twice.
 */
async function lockedPayments(tx: Tx, rows: readonly LockedRow[]): Promise<Payment[]> {
  const moved = rows.filter((r) => r.snapshot_version !== r.version).map((r) => r.id);
  const fresh = new Map<string, OperationJson[]>();
  if (moved.length > 0) {
    const reread = await tx<{ id: string; ops: OperationJson[] }[]>`
      select p.id, ${OPS_JSON(tx)} from gw.payments p where p.id = any(${moved}::text[])`;
    for (const r of reread) fresh.set(r.id, r.ops);
  }
  return rows.map((r) => toPayment(r, (fresh.get(r.id) ?? r.ops).map(toOperation)));
}

/** What {@link lockOrCreatePayments} needs to create a payment on first sight; amounts in minor units. */
interface PaymentToLock {
  merchantId: string;
  sourceId: string;
  pspReference: string;
  currency: string;
  /** The payment's amount if the report gave it, else 0 (unknown). */
  amount: Decimal;
  merchantReference: string | null;
  now: Date;
}

/**
 * The payments for (source, PSP reference) with their operations, created `pending` on first sight, locked `for update`
 * for the caller's transaction: one entry per input, in order (`created`: this call inserted it). One payment: select,
 * then insert (concurrent first sights serialize on the unique key; the loser reads the winner's row). Several: two
 * statements, insert then lock, both in (source, PSP reference) `collate "C"` order, so callers cannot deadlock.
 */
export async function lockOrCreatePayments(tx: Tx, inputs: readonly PaymentToLock[]): Promise<{ payment: Payment; created: boolean }[]> {
  if (inputs.length === 0) return [];
  if (inputs.length === 1) return [await lockOrCreateOne(tx, inputs[0]!)];
  const rows = inputs.map((i) => ({
    id: newId('pay', i.now),
    merchantId: i.merchantId,
    sourceId: i.sourceId,
    pspReference: i.pspReference,
    currency: i.currency,
    amount: toMinorText(i.amount),
    merchantReference: i.merchantReference,
    at: i.now.toISOString(),
  }));
  const inserted = await tx<{ source_id: string; psp_reference: string }[]>`
    insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, reported_amount, currency,
                             merchant_reference, created_at, updated_at)
    select x.id, x."merchantId", x."sourceId", x."pspReference", 'pending', x.amount::bigint, x.amount::bigint, x.currency,
           x."merchantReference", x.at, x.at
      from json_to_recordset(${tx.json(rows)}::json)
           as x(id text, "merchantId" text, "sourceId" text, "pspReference" text, currency text, amount text,
                "merchantReference" text, at timestamptz)
     order by x."sourceId" collate "C", x."pspReference" collate "C"
    on conflict (source_id, psp_reference) do nothing
    returning source_id, psp_reference`;
  const keys = rows.map((r) => ({ s: r.sourceId, r: r.pspReference }));
  const locked = await tx<LockedRow[]>`
    select p.*, ${OPS_JSON(tx)}, (select s.version from gw.payments s where s.id = p.id) as snapshot_version
      from gw.payments p
      join json_to_recordset(${tx.json(keys)}::json) as k(s text, r text)
        on p.source_id = k.s and p.psp_reference = k.r
     order by p.source_id collate "C", p.psp_reference collate "C"
       for update of p`;
  const key = (s: string, r: string): string => `${s}\u0000${r}`;
  const created = new Set(inserted.map((i) => key(i.source_id, i.psp_reference)));
  const payments = await lockedPayments(tx, locked);
  const byKey = new Map(payments.map((payment) => [key(payment.sourceId, payment.pspReference), payment]));
  return inputs.map((i) => {
    const k = key(i.sourceId, i.pspReference);
    return { payment: byKey.get(k)!, created: created.has(k) };
  });
}

async function lockOrCreateOne(tx: Tx, input: PaymentToLock): Promise<{ payment: Payment; created: boolean }> {
  const lock = async (): Promise<Payment | undefined> => {
    const rows = await tx<LockedRow[]>`
      select p.*, ${OPS_JSON(tx)}, (select s.version from gw.payments s where s.id = p.id) as snapshot_version
        from gw.payments p
       where p.source_id = ${input.sourceId} and p.psp_reference = ${input.pspReference}
         for update of p`;
    return (await lockedPayments(tx, rows))[0];
  };
  const existing = await lock();
  if (existing) return { payment: existing, created: false };
  const amount = toMinorText(input.amount);
  const [inserted] = await tx<PaymentDbRow[]>`
    insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, reported_amount, currency,
                             merchant_reference, created_at, updated_at)
    values (${newId('pay', input.now)}, ${input.merchantId}, ${input.sourceId}, ${input.pspReference}, 'pending',
            ${amount}, ${amount}, ${input.currency}, ${input.merchantReference}, ${input.now}, ${input.now})
    on conflict (source_id, psp_reference) do nothing
    returning *`;
  if (inserted) return { payment: toPayment(inserted, []), created: true };
  return { payment: (await lock())!, created: false };
}

/** What {@link savePaymentOutcomes} writes; amounts in minor units. */
export interface PaymentOutcomes {
  /** Each payment's final state, under the `version` it was locked at. */
  payments: { id: string; version: number; state: PaymentState; merchantReference: string | null; updatedAt: Date }[];
  /** New operation reports; one already recorded is skipped. */
  operations: { paymentId: string; report: OperationReport; cause: string; at: Date }[];
  /** Status moves, appended in the order given. */
  transitions: { paymentId: string; from: PaymentStatus | null; to: PaymentStatus; cause: string; at: Date }[];
}

/**
 * Saves what applying reports did to locked payments in ONE statement: state (version + 1; a set `merchantReference` kept),
 * new operation reports and transitions, each with its cause. Throws an Error on a version mismatch (a bug: rows are locked).
 */
export async function savePaymentOutcomes(tx: Tx, input: PaymentOutcomes): Promise<void> {
  if (input.payments.length === 0) return;
  const payments = input.payments.map((p) => ({
    id: p.id,
    version: p.version,
    status: p.state.status,
    amount: toMinorText(p.state.amount),
    reportedAmount: toMinorText(p.state.reportedAmount),
    captured: toMinorText(p.state.capturedAmount),
    refunded: toMinorText(p.state.refundedAmount),
    chargedBack: toMinorText(p.state.chargedBackAmount),
    overRefunded: toMinorText(p.state.overRefundedAmount),
    reportedCaptured: toMinorText(p.state.reportedCaptured),
    reportedRefunded: toMinorText(p.state.reportedRefunded),
    merchantReference: p.merchantReference,
    updatedAt: p.updatedAt.toISOString(),
  }));
  const operations = input.operations.map((o) => ({
    paymentId: o.paymentId,
    kind: o.report.kind,
    reference: o.report.reference,
    outcome: o.report.outcome,
    amount: o.report.amount === null ? null : toMinorText(o.report.amount),
    cause: o.cause,
    at: o.at.toISOString(),
  }));
  const transitions = input.transitions.map((t, n) => ({ ...t, at: t.at.toISOString(), n }));
  const [row] = await tx<{ saved: number }[]>`
    with saved as (
      update gw.payments p
         set status = x.status,
             amount = x.amount::bigint,
             reported_amount = x."reportedAmount"::bigint,
             captured_amount = x.captured::bigint,
             refunded_amount = x.refunded::bigint,
             charged_back_amount = x."chargedBack"::bigint,
             over_refunded_amount = x."overRefunded"::bigint,
             reported_captured = x."reportedCaptured"::bigint,
             reported_refunded = x."reportedRefunded"::bigint,
             merchant_reference = coalesce(p.merchant_reference, x."merchantReference"),
             version = p.version + 1,
             updated_at = x."updatedAt"
        from json_to_recordset(${tx.json(payments)}::json)
             as x(id text, version int, status text, amount text, "reportedAmount" text, captured text, refunded text,
                  "chargedBack" text, "overRefunded" text, "reportedCaptured" text, "reportedRefunded" text,
                  "merchantReference" text, "updatedAt" timestamptz)
       where p.id = x.id and p.version = x.version
       returning p.id
    ), ops as (
      insert into gw.payment_operations (payment_id, kind, psp_reference, outcome, amount, cause, at)
      select x."paymentId", x.kind, x.reference, x.outcome, x.amount::bigint, x.cause, x.at
        from json_to_recordset(${tx.json(operations)}::json)
             as x("paymentId" text, kind text, reference text, outcome text, amount text, cause text, at timestamptz)
      on conflict (payment_id, kind, psp_reference, outcome) do nothing
    ), moves as (
      insert into gw.payment_transitions (payment_id, from_status, to_status, cause, at)
      select x."paymentId", x."from", x."to", x.cause, x.at
        from json_to_recordset(${tx.json(transitions)}::json)
             as x("paymentId" text, "from" text, "to" text, cause text, at timestamptz, n int)
       order by x.n
    )
    select count(*)::int as saved from saved`;
  if (row!.saved !== payments.length) throw new Error(`${payments.length - row!.saved} payment(s) changed under their lock`);
}

/** The merchant's payment locked `for update`, or undefined. */
export async function lockPayment(tx: Tx, merchantId: string, id: string): Promise<Payment | undefined> {
  // Read in a second statement: one that waited for the lock sees the new row but operations as of its start.
  const [row] = await tx<{ id: string }[]>`select id from gw.payments where id = ${id} and merchant_id = ${merchantId} for update`;
  return row ? getPayment(tx, merchantId, row.id) : undefined;
}

/** Gives a payment still under `pending:<operation id>` its real PSP reference, so webhooks find it; false if it had one. */
export async function resolvePendingReference(tx: Tx, paymentId: string, pspReference: string): Promise<boolean> {
  const rows = await tx`
    update gw.payments
       set psp_reference = ${pspReference}
     where id = ${paymentId} and psp_reference like 'pending:%'
    returning id`;
  return rows.length > 0;
}

/** One of the merchant's payments with its operations, or undefined. */
export async function getPayment(tx: Tx, merchantId: string, id: string): Promise<Payment | undefined> {
  const [row] = await tx<(PaymentDbRow & { ops: OperationJson[] })[]>`
    select p.*, ${OPS_JSON(tx)} from gw.payments p where p.id = ${id} and p.merchant_id = ${merchantId}`;
  return row && toPayment(row, row.ops.map(toOperation));
}

/** The merchant's payments with their operations, newest first, filtered; `limit + 1` rows (see toPage). */
export async function listPayments(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; status?: string; pspReference?: string; sourceId?: string },
): Promise<Payment[]> {
  const rows = await tx<(PaymentDbRow & { ops: OperationJson[] })[]>`
    select p.*, ${OPS_JSON(tx)} from gw.payments p
     where p.merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and p.id < ${q.startingAfter}` : tx``}
       ${q.status ? tx`and p.status = ${q.status}` : tx``}
       ${q.pspReference ? tx`and p.psp_reference = ${q.pspReference}` : tx``}
       ${q.sourceId ? tx`and p.source_id = ${q.sourceId}` : tx``}
     order by p.id desc
     limit ${q.limit + 1}`;
  return rows.map((r) => toPayment(r, r.ops.map(toOperation)));
}

/** A payment's audit trail, oldest first. */
export async function listTransitions(tx: Tx, paymentId: string): Promise<{ from: string | null; to: string; cause: string; at: Date }[]> {
  return tx<{ from: string | null; to: string; cause: string; at: Date }[]>`
    select from_status as "from", to_status as "to", cause, at
      from gw.payment_transitions
     where payment_id = ${paymentId}
     order by id`;
}
