import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`insert into gw.merchants (id, name) values ('mch_1', 'Acme')`;
});
afterAll(async () => db.drop());

const entries = (amount: number, creditAmount = amount) => [
  { account: 'psp_receivable', direction: 'debit', amount, currency: 'USD' },
  { account: 'merchant_payable', direction: 'credit', amount: creditAmount, currency: 'USD' },
];

describe('the ledger, as PostgreSQL enforces it', () => {
  it('posts a balanced transaction once per (payment, cause, kind) and moves balances', async () => {
    const first = await db.sql<{ id: string | null }[]>`
      select gw.post_transaction('mch_1', null, 'cause-1', 'capture', ${db.sql.json(entries(1099))}) as id`;
    expect(first[0]?.id).toMatch(/^ltx_/);
    const balances = await db.sql<{ code: string; balance: string }[]>`
      select code, balance from gw.ledger_accounts where merchant_id = 'mch_1' order by code`;
    expect(balances).toEqual([
      { code: 'merchant_payable', balance: '-1099' },
      { code: 'psp_receivable', balance: '1099' },
    ]);
  });

  it('refuses an unbalanced transaction at commit', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await tx`select gw.post_transaction('mch_1', null, 'cause-2', 'capture', ${tx.json(entries(1000, 999))})`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('does not balance') });
    const [row] = await db.sql`select count(*)::int as n from gw.ledger_transactions where cause = 'cause-2'`;
    expect(row?.n).toBe(0);
  });

  it('refuses, at commit, a transaction inserted by hand with fewer than two entries', async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await tx`insert into gw.ledger_transactions (id, merchant_id, cause, kind) values ('ltx_x', 'mch_1', 'c3', 'capture')`;
        const [acct] = await tx<{ id: string }[]>`select id from gw.ledger_accounts where code = 'psp_receivable'`;
        await tx`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
                 values ('ltx_x', ${acct!.id}, 'debit', 5, 'USD')`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('at least 2') });
  });

  it('refuses UPDATE and DELETE of entries and transactions', async () => {
    await expect(db.sql`update gw.ledger_entries set amount = amount + 1`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`delete from gw.ledger_entries`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`delete from gw.ledger_transactions`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`truncate gw.ledger_entries cascade`).rejects.toMatchObject({ code: '23001' });
  });

  it('posts nothing the second time the same cause is applied', async () => {
    const [again] = await db.sql<{ id: string | null }[]>`
      select gw.post_transaction('mch_1', null, 'cause-1', 'capture', ${db.sql.json(entries(1099))}) as id`;
    expect(again?.id).toBeNull();
    const [n] = await db.sql`select count(*)::int as n from gw.ledger_transactions where cause = 'cause-1'`;
    expect(n?.n).toBe(1);
  });
});

describe('the payment audit tables, as PostgreSQL enforces them', () => {
  beforeAll(async () => {
    await db.sql`insert into gw.sources (id, merchant_id, provider) values ('src_1', 'mch_1', 'stripe')`;
    await db.sql`insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, currency)
                 values ('pay_1', 'mch_1', 'src_1', 'pi_1', 'captured', 1000, 'USD')`;
    await db.sql`insert into gw.payment_transitions (payment_id, from_status, to_status, cause) values ('pay_1', null, 'pending', 'iev_1')`;
    await db.sql`insert into gw.payment_operations (payment_id, kind, psp_reference, outcome, amount, cause)
                 values ('pay_1', 'capture', 'cap_1', 'succeeded', 1000, 'iev_1')`;
  });

  it('refuses UPDATE, DELETE and TRUNCATE of transitions and operations', async () => {
    await expect(db.sql`update gw.payment_transitions set to_status = 'refunded'`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`delete from gw.payment_transitions`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`truncate gw.payment_transitions cascade`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`update gw.payment_operations set outcome = 'failed'`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`delete from gw.payment_operations`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`truncate gw.payment_operations cascade`).rejects.toMatchObject({ code: '23001' });
  });

  it('records an outcome of an operation once: a second report of the same outcome is a conflict', async () => {
    await expect(
      db.sql`insert into gw.payment_operations (payment_id, kind, psp_reference, outcome, amount, cause)
             values ('pay_1', 'capture', 'cap_1', 'succeeded', 1000, 'iev_2')`,
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('refuses a refunded amount above the captured amount, and a dispute outcome on a capture', async () => {
    await expect(db.sql`update gw.payments set refunded_amount = 1001, captured_amount = 1000 where id = 'pay_1'`).rejects.toMatchObject({
      code: '23514',
    });
    await expect(
      db.sql`insert into gw.payment_operations (payment_id, kind, psp_reference, outcome, cause) values ('pay_1', 'capture', 'cap_2', 'lost', 'iev_3')`,
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('posts several transactions in one call, each once per (payment, cause, kind), and refuses an unbalanced one at commit', async () => {
    const txs = (amount: number, creditAmount = amount) => [
      { paymentId: 'pay_1', cause: 'iev_9', kind: 'capture', entries: entries(amount) },
      {
        paymentId: 'pay_1',
        cause: 'iev_9',
        kind: 'refund',
        entries: entries(amount, creditAmount).map((e) => ({ ...e, direction: e.direction === 'debit' ? 'credit' : 'debit' })),
      },
    ];
    const [first] = await db.sql<{ ids: string[] }[]>`select gw.post_transactions('mch_1', ${db.sql.json(txs(300))}) as ids`;
    expect(first!.ids).toHaveLength(2);
    const [again] = await db.sql<{ ids: string[] }[]>`select gw.post_transactions('mch_1', ${db.sql.json(txs(300))}) as ids`;
    expect(again!.ids).toEqual([]);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where cause = 'iev_9'`;
    expect(n!.n).toBe(2);

    await expect(
      db.sql.begin(async (tx) => {
        await tx`select gw.post_transactions('mch_1', ${tx.json(txs(500, 499).map((t) => ({ ...t, cause: 'iev_10' })))})`;
      }),
    ).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('does not balance') });
    const [none] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where cause = 'iev_10'`;
    expect(none!.n).toBe(0);
  });
});
