// A transaction whose connection is cut (a failover) must end there: postgres.js rejects its `begin`, and any
// statement its body still sends afterwards is refused, never run on the pool's reconnected connection (where it
// would commit on its own, outside the transaction, or inside another caller's). patches/postgres+3.4.9.patch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/core/db/client.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { startCuttingProxy, type CuttingProxy } from './postgres-server.js';

let db: TestDatabase;
let proxy: CuttingProxy;
let sql: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  const url = new URL(db.url);
  proxy = await startCuttingProxy(Number(url.port || 5432));
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  // One connection: the transaction's connection is the one the pool reconnects for the next statement.
  sql = createSql(url.toString(), { max: 1 });
  await db.sql`create table dead_tx (n int not null)`;
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await proxy?.close();
  await db?.drop();
});

/** A promise and its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('a transaction whose connection is cut', () => {
  it('refuses the statements its body sends after the cut, before and after the pool reconnects; none of them runs', async () => {
    const inserted = gate();
    const cutDone = gate();
    const reconnected = gate();
    const late: { before?: unknown; after?: unknown } = {};
    const tx = sql.begin(async (t) => {
      await t`insert into dead_tx values (1)`;
      inserted.open();
      await cutDone.promise;
      // The connection is gone and not yet reconnected.
      late.before = await t`insert into dead_tx values (2)`.then(
        () => 'ran',
        (e: { code?: string }) => e.code ?? String(e),
      );
      await reconnected.promise;
      // The pool's one connection now serves other statements.
      late.after = await t`insert into dead_tx values (3)`.then(
        () => 'ran',
        (e: { code?: string }) => e.code ?? String(e),
      );
    });
    const outcome = tx.then(
      () => 'committed',
      (e: { code?: string }) => e.code ?? String(e),
    );
    // Cut once the first insert has answered (the transaction is open on the server, its body waiting).
    await inserted.promise;
    expect(proxy.cutAll()).toBeGreaterThan(0);
    expect(await outcome).toBe('CONNECTION_CLOSED');
    cutDone.open();
    await expect.poll(() => late.before).toBe('CONNECTION_CLOSED');

    expect((await sql`select 1 as one`)[0]!.one).toBe(1); // reconnects the same connection
    reconnected.open();
    await expect.poll(() => late.after).toBe('CONNECTION_CLOSED');
    expect((await sql`select 2 as two`)[0]!.two).toBe(2); // the connection still answers its own statements

    // The server rolled back the first insert when the connection died; the later two never ran.
    expect(await db.sql`select n from dead_tx`).toEqual([]);
  });
});
