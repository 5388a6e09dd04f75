// The ledger's balance check as sql/0135 and sql/0136 run it: set-based, by gw.post_transactions itself, for what it
// posts; deferred to commit for what is inserted by hand; an entry added to a transaction another database transaction
// created always refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let receivable: string;
let payable: string;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`insert into gw.merchants (id, name) values ('mch_1', 'Acme')`;
  await db.sql`select gw.post_transaction('mch_1', null, 'seed', 'capture', ${db.sql.json(entries('seed', 100))})`;
  const accounts = await db.sql<{ code: string; id: string }[]>`select code, id::text from gw.ledger_accounts where merchant_id = 'mch_1'`;
  receivable = accounts.find((a) => a.code === 'psp_receivable')!.id;
  payable = accounts.find((a) => a.code === 'merchant_payable')!.id;
});
afterAll(async () => db.drop());

function entries(_label: string, amount: number, creditAmount = amount) {
  return [
    { account: 'psp_receivable', direction: 'debit', amount, currency: 'USD' },
    { account: 'merchant_payable', direction: 'credit', amount: creditAmount, currency: 'USD' },
  ];
}

async function post(cause: string, amount: number): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    select gw.post_transaction('mch_1', null, ${cause}, 'capture', ${db.sql.json(entries(cause, amount))}) as id`;
  return row!.id;
}

async function count(transactionId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_entries where transaction_id = ${transactionId}`;
  return row!.n;
}

describe('the balance check, once per ledger transaction', () => {
  it('refuses a balanced pair of entries added later, by another database transaction, to a committed transaction', async () => {
    const id = await post('later-pair', 500);
    await expect(
      db.sql`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
             values (${id}, ${receivable}, 'debit', 7, 'USD'), (${id}, ${payable}, 'credit', 7, 'USD')`,
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('created by an earlier database transaction') });
    expect(await count(id)).toBe(2);
  });

  it('refuses a single unbalanced entry added later to a committed transaction', async () => {
    const id = await post('later-one', 500);
    await expect(
      db.sql`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
             values (${id}, ${receivable}, 'debit', 1, 'USD')`,
    ).rejects.toMatchObject({ code: '23514' });
    expect(await count(id)).toBe(2);
  });

  it('refuses entries added to a transaction created before sql/0135 (no creating database transaction recorded)', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await tx`insert into gw.ledger_transactions (id, merchant_id, cause, kind, created_xid)
                 values ('ltx_old', 'mch_1', 'old', 'capture', null)`;
        await tx`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values ('ltx_old', ${receivable}, 'debit', 3, 'USD'), ('ltx_old', ${payable}, 'credit', 3, 'USD')`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('ltx_old') });
  });

  it('still checks, at commit, an entry added by hand after SET CONSTRAINTS ALL IMMEDIATE has checked its transaction', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        const [row] = await tx<{ id: string }[]>`
          select gw.post_transaction('mch_1', null, 'immediate', 'capture', ${tx.json(entries('immediate', 40))}) as id`;
        await tx`set constraints all immediate`;
        await tx`set constraints all deferred`;
        await tx`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values (${row!.id}, ${receivable}, 'debit', 1, 'USD')`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('does not balance') });
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where cause = 'immediate'`;
    expect(n!.n).toBe(0);
  });

  it('accepts entries inserted by hand, in a savepoint, for a transaction the same database transaction created', async () => {
    await db.sql.begin(async (tx) => {
      await tx`insert into gw.ledger_transactions (id, merchant_id, cause, kind) values ('ltx_hand', 'mch_1', 'hand', 'capture')`;
      await tx.savepoint(async (sp) => {
        await sp`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values ('ltx_hand', ${receivable}, 'debit', 9, 'USD')`;
        await sp`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values ('ltx_hand', ${payable}, 'credit', 9, 'USD')`;
      });
    });
    expect(await count('ltx_hand')).toBe(2);
  });

  it('refuses an unbalanced transaction posted by gw.post_transactions inside a savepoint', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await tx.savepoint(
          (sp) =>
            sp`select gw.post_transactions('mch_1', ${sp.json([{ paymentId: null, cause: 'sp', kind: 'capture', entries: entries('sp', 5, 4) }])})`,
        );
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('does not balance') });
  });

  it('clears its transaction-local mark once its statement is done, so later hand entries are checked per entry', async () => {
    const [mark] = await db.sql.begin(async (tx) => {
      await tx`select gw.post_transactions('mch_1', ${tx.json([{ paymentId: null, cause: 'mark', kind: 'capture', entries: entries('mark', 5) }])})`;
      return tx<{ v: string | null }[]>`select current_setting('gw.entries_checked_by_transaction', true) as v`;
    });
    expect(mark?.v ?? '').toBe('');
  });

  it('refuses, when gw.post_transactions is called, a transaction of one entry, and one unbalanced in one of its two currencies', async () => {
    const one = [{ paymentId: null, cause: 'one', kind: 'capture', entries: entries('one', 5).slice(0, 1) }];
    await expect(db.sql`select gw.post_transactions('mch_1', ${db.sql.json(one)})`).rejects.toMatchObject({
      code: '23514',
      message: expect.stringMatching(/^ledger transaction ltx_\w+ has 1 entries; at least 2 are required$/),
    });
    const twoCurrencies = [
      {
        paymentId: null,
        cause: 'two',
        kind: 'capture',
        entries: [...entries('two', 5), ...entries('two', 7, 6).map((e) => ({ ...e, currency: 'EUR' }))],
      },
    ];
    await expect(db.sql`select gw.post_transactions('mch_1', ${db.sql.json(twoCurrencies)})`).rejects.toMatchObject({
      code: '23514',
      message: expect.stringMatching(/^ledger transaction ltx_\w+ does not balance in EUR$/),
    });
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where cause in ('one', 'two')`;
    expect(n!.n).toBe(0);
  });

  it('still checks at commit a transaction inserted by hand, entries and all', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await tx`insert into gw.ledger_transactions (id, merchant_id, cause, kind) values ('ltx_hand2', 'mch_1', 'hand2', 'capture')`;
        await tx`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values ('ltx_hand2', ${receivable}, 'debit', 9, 'USD'), ('ltx_hand2', ${payable}, 'credit', 8, 'USD')`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: 'ledger transaction ltx_hand2 does not balance in USD' });
  });

  it('refuses, through gw.post_transactions, a transaction given no entries', async () => {
    const none = [{ paymentId: null, cause: 'none', kind: 'capture', entries: [] }];
    await expect(db.sql`select gw.post_transactions('mch_1', ${db.sql.json(none)})`).rejects.toMatchObject({
      code: '23514',
      message: 'ledger transaction of cause none has 0 entries; at least 2 are required',
    });
  });

  it('posts legs given as rows (gw.post_legs): transactions in n order, entries in leg order, each (payment, cause, kind) once', async () => {
    const legs = db.sql`array[
      row(2, null, 'legs-b', 'capture', 'psp_receivable', 'debit', 30, 'USD')::gw.ledger_leg,
      row(2, null, 'legs-b', 'capture', 'merchant_payable', 'credit', 30, 'USD')::gw.ledger_leg,
      row(1, null, 'legs-a', 'capture', 'merchant_payable', 'credit', 20, 'USD')::gw.ledger_leg,
      row(1, null, 'legs-a', 'capture', 'psp_receivable', 'debit', 20, 'USD')::gw.ledger_leg]`;
    const [first] = await db.sql<{ ids: string[] }[]>`select gw.post_legs('mch_1', ${legs}) as ids`;
    expect(first!.ids).toHaveLength(2);
    const causes = await db.sql<{ cause: string; directions: string[] }[]>`
      select t.cause, array_agg(e.direction order by e.id) as directions
        from gw.ledger_transactions t join gw.ledger_entries e on e.transaction_id = t.id
       where t.id = any(${first!.ids}) group by t.cause order by min(e.id)`;
    expect(causes).toEqual([
      { cause: 'legs-a', directions: ['credit', 'debit'] },
      { cause: 'legs-b', directions: ['debit', 'credit'] },
    ]);
    const [again] = await db.sql<{ ids: string[] }[]>`select gw.post_legs('mch_1', ${legs}) as ids`;
    expect(again!.ids).toEqual([]);
  });
});
