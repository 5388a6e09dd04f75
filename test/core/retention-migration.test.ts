// sql/0025_retention.sql on a database that the previous release built and filled: its own
// migrations (0001–0015) and its own stores, taken from git at PREVIOUS, write inbound events,
// events, messages and attempts spread over months; then this tree's migrate() converts the
// tables, and every row and every byte must still be there, each body in its month partition.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { createSql, type Sql } from '../../src/core/db/client.js';
import type { Deps } from '../../src/core/deps.js';
import { migrate } from '../../src/app/db/migrate.js';
import { idTime, monthPartition } from '../../src/core/retention/partitions.js';
import { storeInboundEvents } from '../../src/inbound/inbound-event-store.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, testDeps } from '../app.js';
import { withDatabase } from '../global-setup.js';
import { newId } from '../../src/core/ids.js';

/** The last commit before retention: schema 0001–0015, bodies kept in place. */
const PREVIOUS = 'd659ff2041fe063e9adc921a657303e44ea91894';
const REPO = path.resolve(import.meta.dirname, '../..');

type Tx = Sql;
interface PreviousCode {
  migrate(sql: Sql, url: string): Promise<string[]>;
  storeInboundEvents(
    tx: Tx,
    events: {
      sourceId: string;
      merchantId: string;
      eventId: string;
      eventType: string | null;
      rawBody: Uint8Array;
      headers: Record<string, string>;
    }[],
  ): Promise<{ id: string; duplicate: boolean }[]>;
  emitEvent(
    tx: Tx,
    input: { merchantId: string; type: string; paymentId: string | null; dedupeKey: string; data: unknown; at: Date },
  ): Promise<{ eventId: string; messageIds: string[] } | undefined>;
  recordAttempt(tx: Tx, a: Record<string, unknown>): Promise<boolean>;
}

let dir: string;
let name: string;
let url: string;
let sql: Sql;
let previous: PreviousCode;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-previous-'));
  execFileSync('sh', ['-c', `git -C "${REPO}" archive ${PREVIOUS} src sql | tar -x -C "${dir}"`]);
  await symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  const load = async <T>(file: string): Promise<T> => (await import(path.join(dir, file))) as T;
  previous = {
    ...(await load<Pick<PreviousCode, 'migrate'>>('src/app/db/migrate.ts')),
    ...(await load<Pick<PreviousCode, 'storeInboundEvents'>>('src/inbound/inbound-event-store.ts')),
    ...(await load<Pick<PreviousCode, 'emitEvent'>>('src/core/events/outbox.ts')),
    ...(await load<Pick<PreviousCode, 'recordAttempt'>>('src/outbound/delivery-store.ts')),
  };
  const adminUrl = inject('adminUrl');
  name = `sy_t_${process.ppid}_${process.pid}_prev_${Date.now().toString(36)}`;
  const admin = createSql(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  url = withDatabase(adminUrl, name);
  sql = createSql(url, { max: 4 });
}, 120_000);

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  const admin = createSql(inject('adminUrl'), { max: 1 });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Instants across month ends, a leap day and a year end, in the past and ahead. */
const INSTANTS = [
  '2024-02-29T23:59:59.999Z',
  '2024-03-01T00:00:00.000Z',
  '2025-12-31T23:59:59.999Z',
  '2026-01-01T00:00:00.000Z',
  '2026-06-15T12:00:00.000Z',
].map((s) => new Date(s));

/** Bytes that are not UTF-8 text, to prove the copy is byte-exact. */
const binary = (i: number): Uint8Array => Uint8Array.from({ length: 64 + i }, (_, k) => (k * 37 + i * 11) % 256);

describe('converting a database filled by the previous release (sql/0025_retention.sql)', () => {
  it('keeps every row and every byte, puts each body in its month partition, and keeps dedup and append-only', async () => {
    const applied = await previous.migrate(sql, url);
    expect(applied.at(-1)).toBe('0015_master_key_check.sql');

    const deps: Deps = await testDeps({ url, sql, drop: async () => {} }, { clock: fixedClock(new Date('2026-06-15T12:00:00Z')) });
    const merchant = await aMerchant(deps);
    // The source too as the previous schema holds it: today's app needs tables later files add (rate limits, audit log).
    const sourceId = newId('src', new Date('2024-01-01T00:00:00Z'));
    await sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchant.id}, 'stripe')`;
    await sql`
      insert into gw.source_secrets (source_id, ciphertext)
      values (${sourceId}, ${await deps.secretBox.encrypt('whsec_migration_test_0123456789')})`;
    // The endpoint as the previous schema holds it (today's route writes columns later files add), with an id
    // from this tree's generator: the previous code's own ids must not be pushed ahead of the shifted times below.
    const endpointId = newId('ep', new Date('2024-01-01T00:00:00Z'));
    await sql`insert into gw.endpoints (id, merchant_id, url) values (${endpointId}, ${merchant.id}, 'https://example.com/hooks')`;
    await sql`
      insert into gw.endpoint_secrets (endpoint_id, ciphertext, created_at)
      values (${endpointId}, ${await deps.secretBox.encrypt('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')}, now())`;

    // The previous code paths: stored inbound events (in batches, one a duplicate), events emitted at shifted times
    // with their messages, attempts with and without response bodies.
    // Events first: ids never go backwards within a process, so the shifted times must increase.
    let n = 0;
    for (const at of INSTANTS) {
      for (let k = 0; k < 6; k++) {
        n++;
        const emitted = await previous.emitEvent(sql, {
          merchantId: merchant.id,
          type: 'payment.captured',
          paymentId: null,
          dedupeKey: `prev-${n}`,
          data: { n, at: at.toISOString() },
          at,
        });
        const messageId = emitted!.messageIds[0]!;
        for (const attempt of [1, 2]) {
          const last = attempt === 2;
          await previous.recordAttempt(sql, {
            messageId,
            eventId: emitted!.eventId,
            endpointId,
            attempt,
            succeeded: last,
            responseStatus: k === 0 ? null : last ? 200 : 503,
            responseBody: k === 0 ? null : last ? `ok ${n} ✓` : '',
            error: k === 0 ? 'timeout' : null,
            durationMs: 10 * attempt,
            attemptedAt: new Date(at.getTime() + attempt * 1000),
            nextAttemptAt: last ? null : new Date(at.getTime() + 5000),
            messageStatus: last ? 'succeeded' : 'pending',
          });
        }
      }
    }

    for (let b = 0; b < 4; b++) {
      const batch = Array.from({ length: 25 }, (_, i) => ({
        sourceId,
        merchantId: merchant.id,
        eventId: `evt_prev_${b}_${i}`,
        eventType: i % 5 === 0 ? null : 'payment_intent.succeeded',
        rawBody: i % 2 === 0 ? binary(i) : new TextEncoder().encode(JSON.stringify({ id: `evt_prev_${b}_${i}`, note: 'café ✓' })),
        headers: { 'stripe-signature': `t=${i},v1=00`, 'x-batch': String(b) },
      }));
      await previous.storeInboundEvents(sql, batch);
    }
    expect(
      (
        await previous.storeInboundEvents(sql, [
          { sourceId, merchantId: merchant.id, eventId: 'evt_prev_0_0', eventType: null, rawBody: binary(1), headers: {} },
        ])
      )[0]!.duplicate,
    ).toBe(true);
    const before = {
      inbound: await sql<Record<string, unknown>[]>`select * from gw.inbound_events order by id`,
      events: await sql<Record<string, unknown>[]>`select * from gw.events order by id`,
      messages: await sql<Record<string, unknown>[]>`select * from gw.messages order by id`,
      attempts: await sql<Record<string, unknown>[]>`select * from gw.attempts order by id`,
    };
    expect(before.inbound).toHaveLength(100);
    expect(Object.keys(before.inbound[0]!)).toEqual(expect.arrayContaining(['raw_body', 'headers']));
    expect(Object.keys(before.events[0]!)).toContain('payload');
    expect(Object.keys(before.attempts[0]!)).toContain('response_body');
    expect(before.events).toHaveLength(30);
    expect(before.attempts).toHaveLength(60);

    const now = await migrate(sql, url);
    expect(now).toContain('0025_retention.sql');

    // Every row kept with its other columns unchanged; every body, byte for byte, joined back by (id, time).
    const after = {
      inbound: await sql<Record<string, unknown>[]>`
        select i.*, b.raw_body, b.headers
          from gw.inbound_events i join gw.inbound_event_bodies b on b.inbound_event_id = i.id
         order by i.id`,
      events: await sql<Record<string, unknown>[]>`
        select e.*, p.payload from gw.events e join gw.event_payloads p on p.event_id = e.id order by e.id`,
      messages: await sql<Record<string, unknown>[]>`select * from gw.messages order by id`,
      attempts: await sql<Record<string, unknown>[]>`
        select a.*, b.response_body
          from gw.attempts a left join gw.attempt_response_bodies b on b.attempt_id = a.id
         order by a.id`,
    };
    for (const table of ['inbound', 'events', 'messages', 'attempts'] as const) {
      expect(after[table], table).toEqual(before[table]);
    }
    const [empty] = await sql<{ n: number }[]>`select count(*)::int as n from gw.attempt_response_bodies where response_body = ''`;
    expect(empty!.n).toBe(INSTANTS.length * 5);

    // Each body in the month partition of its row's time, none in a default partition.
    const placed = await sql<{ part: string; id: string }[]>`
      select tableoid::regclass::text as part, event_id as id from gw.event_payloads
      union all select tableoid::regclass::text, attempt_id from gw.attempt_response_bodies
      union all select tableoid::regclass::text, inbound_event_id from gw.inbound_event_bodies`;
    for (const { part, id } of placed) {
      const table = part.replace(/^gw\./, '').replace(/_y\d{4}m\d{2}$|_default$/, '') as Parameters<typeof monthPartition>[0];
      expect(part, id).toBe(`gw.${monthPartition(table, idTime(id)!).name}`);
    }
    const months = new Set(placed.filter((p) => p.part.startsWith('gw.event_payloads')).map((p) => p.part));
    // one month partition per instant: 2024-02 (leap day), 2024-03, 2025-12, 2026-01, 2026-06
    expect(months.size).toBe(INSTANTS.length);
    expect(placed).toHaveLength(100 + 30 + 50);

    // Dedup stays exact across the conversion; the converted tables take new rows; append-only still holds.
    const [dup] = await storeInboundEvents(sql, [
      { sourceId, merchantId: merchant.id, eventId: 'evt_prev_3_24', eventType: null, rawBody: binary(2), headers: {} },
    ]);
    expect(dup).toEqual({ id: before.inbound.find((r) => r.event_id === 'evt_prev_3_24')!.id, duplicate: true });
    expect(
      await emitEvent(sql, {
        merchantId: merchant.id,
        type: 'payment.captured',
        paymentId: null,
        dedupeKey: 'prev-1',
        data: {},
        at: new Date(),
      }),
    ).toBeUndefined();
    expect(
      await emitEvent(sql, {
        merchantId: merchant.id,
        type: 'payment.captured',
        paymentId: null,
        dedupeKey: 'new-1',
        data: {},
        at: new Date(),
      }),
    ).toBeDefined();
    await expect(sql`delete from gw.events where id = ${before.events[0]!.id as string}`).rejects.toThrow(/append-only/);
    await expect(sql`delete from gw.attempts where id = ${before.attempts[0]!.id as string}`).rejects.toThrow(/append-only/);
    await expect(sql`delete from gw.event_payloads where event_id = ${before.events[0]!.id as string}`).rejects.toThrow(/append-only/);
  });
});
