// SQL of the stuck-payments check (sql/0100 gw.stuck_payments): payments left `pending` past their source's settling time.
import type { Tx } from '../core/db/client.js';

/** A newly found stuck payment, with what the merchant is told about it. */
export interface NewStuckPayment {
  paymentId: string;
  merchantId: string;
  sourceId: string;
  pspReference: string;
  currency: string;
  amount: string;
  pendingSince: Date;
  detail: string;
}

/**
 * Records every payment `pending` for longer than its source's `stuck_after_seconds` at `now` and not recorded yet,
 * with why it will or will not be asked of the PSP (Stripe with an apiKey: asked; Adyen: no status read; no apiKey).
 * Returns the new ones (pending payments read through sql/0101's partial index).
 */
export async function recordStuckPayments(tx: Tx, now: Date): Promise<NewStuckPayment[]> {
  return tx<NewStuckPayment[]>`
    with found as (
      select p.id, p.merchant_id, p.source_id, p.psp_reference, p.currency, p.amount, p.created_at,
             case when s.provider = 'stripe' and s.api_key_ciphertext is not null
                    then 'pending since ' || to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                         || ': its status is asked of Stripe'
                  when s.provider = 'stripe'
                    then 'pending since ' || to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                         || ': the source has no apiKey to ask Stripe with; check it at the PSP'
                  else 'pending since ' || to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                       || ': ' || s.provider || ' documents no payment status read; check it at the PSP'
             end as detail
        from gw.sources s
        join gw.payments p on p.source_id = s.id and p.status = 'pending'
                          and p.created_at < ${now}::timestamptz - make_interval(secs => s.stuck_after_seconds)
       where not exists (select 1 from gw.stuck_payments sp where sp.payment_id = p.id)
    ), ins as (
      insert into gw.stuck_payments (payment_id, merchant_id, source_id, pending_since, detected_at, detail)
      select id, merchant_id, source_id, created_at, ${now}, detail from found
      on conflict (payment_id) do nothing
      returning payment_id, merchant_id, source_id, pending_since, detail
    )
    select ins.payment_id as "paymentId", ins.merchant_id as "merchantId", ins.source_id as "sourceId",
           f.psp_reference as "pspReference", f.currency, f.amount::text as amount, ins.pending_since as "pendingSince", ins.detail
      from ins join found f on f.id = ins.payment_id
     order by ins.pending_since, ins.payment_id`;
}

/** Marks open stuck payments that have left `pending` resolved, with the status they reached. Returns how many. */
export async function resolveStuckPayments(tx: Tx, now: Date): Promise<number> {
  const rows = await tx`
    update gw.stuck_payments sp
       set resolved_at = ${now}, resolved_status = p.status
      from gw.payments p
     where sp.resolved_at is null and p.id = sp.payment_id and p.status <> 'pending'
    returning sp.payment_id`;
  return rows.length;
}

/** An open stuck payment whose PSP can be asked. */
export interface AskableStuckPayment {
  paymentId: string;
  merchantId: string;
  sourceId: string;
  pspReference: string;
  currency: string;
}

/**
 * Open stuck payments of Stripe sources with an apiKey not asked since `askedBefore`, oldest first, at most `limit`;
 * a payment still stored under its provisional `pending:` reference is left out (there is nothing to ask by).
 */
export async function listAskableStuckPayments(tx: Tx, askedBefore: Date, limit: number): Promise<AskableStuckPayment[]> {
  return tx<AskableStuckPayment[]>`
    select sp.payment_id as "paymentId", sp.merchant_id as "merchantId", sp.source_id as "sourceId",
           p.psp_reference as "pspReference", p.currency
      from gw.stuck_payments sp
      join gw.sources s on s.id = sp.source_id and s.provider = 'stripe' and s.api_key_ciphertext is not null
      join gw.payments p on p.id = sp.payment_id
     where sp.resolved_at is null and (sp.checked_at is null or sp.checked_at < ${askedBefore})
       and p.psp_reference not like 'pending:%'
     order by sp.pending_since, sp.payment_id
     limit ${limit}`;
}

/** Records what the PSP said of a stuck payment when asked at `now`. */
export async function recordStuckCheck(tx: Tx, paymentId: string, now: Date, pspStatus: string, detail: string): Promise<void> {
  await tx`
    update gw.stuck_payments set checked_at = ${now}, psp_status = ${pspStatus}, detail = ${detail}
     where payment_id = ${paymentId}`;
}
