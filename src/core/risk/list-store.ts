// Risk lists and their items (gw.risk_lists, gw.risk_list_items; sql/0052_risk_lists.sql).
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';

/** What a list holds (Stripe Radar's value list item types, narrowed to our attributes). */
export type ListItemType = 'card_fingerprint' | 'email' | 'email_domain' | 'ip' | 'customer_id' | 'card_bin' | 'country';

/** A list; rules read it as `list("alias")`. */
export interface RiskList {
  id: string;
  merchantId: string;
  alias: string;
  itemType: ListItemType;
  builtIn: string | null;
  createdAt: Date;
}

interface ListRow {
  id: string;
  merchant_id: string;
  alias: string;
  item_type: ListItemType;
  built_in: string | null;
  created_at: Date;
}

const toList = (r: ListRow): RiskList => ({
  id: r.id,
  merchantId: r.merchant_id,
  alias: r.alias,
  itemType: r.item_type,
  builtIn: r.built_in,
  createdAt: r.created_at,
});

/** Inserts a list; undefined when the alias is taken. */
export async function insertList(
  tx: Tx,
  input: { merchantId: string; alias: string; itemType: ListItemType; now: Date },
): Promise<RiskList | undefined> {
  const [row] = await tx<ListRow[]>`
    insert into gw.risk_lists (id, merchant_id, alias, item_type, created_at)
    values (${newId('rsl', input.now)}, ${input.merchantId}, ${input.alias}, ${input.itemType}, ${input.now})
    on conflict (merchant_id, alias) do nothing returning *`;
  return row && toList(row);
}

/** The merchant's list by id. */
export async function getList(tx: Tx, merchantId: string, id: string): Promise<RiskList | undefined> {
  const [row] = await tx<ListRow[]>`select * from gw.risk_lists where id = ${id} and merchant_id = ${merchantId}`;
  return row && toList(row);
}

/** The merchant's lists, newest first, `limit + 1` rows after `startingAfter`. */
export async function listLists(tx: Tx, merchantId: string, q: { limit: number; startingAfter?: string | undefined }): Promise<RiskList[]> {
  const rows = await tx<ListRow[]>`
    select * from gw.risk_lists where merchant_id = ${merchantId} ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
    order by id desc limit ${q.limit + 1}`;
  return rows.map(toList);
}

/** A list's items, by value, `limit + 1` after `startingAfter` (a value). */
export async function listItems(
  tx: Tx,
  listId: string,
  q: { limit: number; startingAfter?: string | undefined; from?: string },
): Promise<{ value: string; addedBy: string; createdAt: Date }[]> {
  const rows = await tx<{ value: string; added_by: string; created_at: Date }[]>`
    select value, added_by, created_at from gw.risk_list_items
    where list_id = ${listId} ${q.startingAfter ? tx`and value > ${q.startingAfter}` : tx``} ${q.from ? tx`and value >= ${q.from}` : tx``}
    order by value limit ${q.limit + 1}`;
  return rows.map((r) => ({ value: r.value, addedBy: r.added_by, createdAt: r.created_at }));
}

/** Adds items (an item already there stays as it was); returns how many were new. */
export async function addItems(tx: Tx, listId: string, values: readonly string[], addedBy: string, now: Date): Promise<number> {
  if (values.length === 0) return 0;
  const rows = await tx`
    insert into gw.risk_list_items (list_id, value, added_by, created_at)
    select ${listId}, v, ${addedBy}, ${now} from unnest(${[...values]}::text[]) as v
    on conflict (list_id, value) do nothing returning 1`;
  return rows.length;
}

/** Removes an item; false when it was not there. */
export async function removeItem(tx: Tx, listId: string, value: string): Promise<boolean> {
  const rows = await tx`delete from gw.risk_list_items where list_id = ${listId} and value = ${value} returning 1`;
  return rows.length > 0;
}

/**
 * Every list of the merchant, alias → values (for the rules cache); undefined when its lists hold more than `maxItems`
 * items in all (the rows read stop there).
 */
export async function merchantListItems(tx: Tx, merchantId: string, maxItems: number): Promise<Map<string, string[]> | undefined> {
  const rows = await tx<{ alias: string; value: string | null }[]>`
    select l.alias, i.value
    from gw.risk_lists l left join gw.risk_list_items i on i.list_id = l.id
    where l.merchant_id = ${merchantId}
    limit ${maxItems + 1}`;
  if (rows.filter((r) => r.value !== null).length > maxItems) return undefined;
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const values = out.get(r.alias) ?? [];
    if (r.value !== null) values.push(r.value);
    out.set(r.alias, values);
  }
  return out;
}

/**
 * Which of `probes` are on their merchant's list (by alias): one statement, one primary-key lookup per probe. For
 * merchants whose lists are too large to keep in memory.
 */
export async function listMembers(
  tx: Tx,
  probes: readonly { merchantId: string; alias: string; value: string }[],
): Promise<{ merchantId: string; alias: string; value: string }[]> {
  if (probes.length === 0) return [];
  const rows = await tx<{ merchant_id: string; alias: string; value: string }[]>`
    select distinct l.merchant_id, l.alias, i.value
    from unnest(${probes.map((p) => p.merchantId)}::text[], ${probes.map((p) => p.alias)}::text[], ${probes.map((p) => p.value)}::text[])
           as p (m, a, v)
    join gw.risk_lists l on l.merchant_id = p.m and l.alias = p.a
    join gw.risk_list_items i on i.list_id = l.id and i.value = p.v`;
  return rows.map((r) => ({ merchantId: r.merchant_id, alias: r.alias, value: r.value }));
}

/**
 * Adds the card fingerprint and customer id the payment's latest risk decision saw to the merchant's built-in block
 * lists (`blocked_cards`, `blocked_customers`), `added_by` the review; returns the values added.
 */
export async function addToBlockLists(
  tx: Tx,
  input: { merchantId: string; paymentId: string; reviewId: string; now: Date },
): Promise<{ alias: string; value: string }[]> {
  return tx<{ alias: string; value: string }[]>`
    with seen as (
      select d.attributes #>> '{card,fingerprint}' as fp, d.attributes #>> '{customer,id}' as cu
      from gw.risk_decisions d
      where d.payment_id = ${input.paymentId}
         or d.operation_id in (select id from gw.psp_operations where payment_id = ${input.paymentId} and kind = 'create')
      order by d.id desc limit 1
    ), added as (
      insert into gw.risk_list_items (list_id, value, added_by, created_at)
      select l.id, case l.built_in when 'blocked_cards' then s.fp else s.cu end, ${input.reviewId}, ${input.now}
      from gw.risk_lists l cross join seen s
      where l.merchant_id = ${input.merchantId} and l.built_in in ('blocked_cards', 'blocked_customers')
        and case l.built_in when 'blocked_cards' then s.fp else s.cu end is not null
      on conflict (list_id, value) do nothing
      returning list_id, value
    )
    select l.alias, a.value from added a join gw.risk_lists l on l.id = a.list_id order by l.alias`;
}
