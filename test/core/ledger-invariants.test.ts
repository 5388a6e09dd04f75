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
