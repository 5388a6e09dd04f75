// sql/0025_retention.sql converting a database that the previous release filled, while that release's own writers
// keep writing (README "Upgrading under load"): inbound events, events and attempts commit throughout the copy, no
// write waits longer than the short final step, and every row committed before or during it has its body, byte for
// byte. The previous code and migrations are taken from git, as in retention-migration.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../src/app/db/migrate.js';
import { splitStatements } from '../../src/app/db/sql-statements.js';
import { createSql, type Sql } from '../../src/core/db/client.js';
import { newId } from '../../src/core/ids.js';
import { withDatabase } from '../global-setup.js';

/** The last commit before retention: schema 0001–0015, bodies kept in their rows. */
const PREVIOUS = 'd659ff2041fe063e9adc921a657303e44ea91894';
const REPO = path.resolve(import.meta.dirname, '../..');
/** Rows stored before the upgrade, and the batch the copy takes them in: many batches, so the writers meet the copy. */
const INBOUND = 20_000;
const EVENTS = 6_000;
const BATCH_ROWS = 250;
/**
 * The longest a write may wait: the final step's lock waits (500 ms per table, three tables) and the drop itself,
 * with room for a loaded machine. The released file made writers wait for the whole copy.
 */
const MAX_WAIT_MS = 3_000;

interface PreviousCode {
  migrate(sql: Sql, url: string): Promise<string[]>;
  storeInboundEvents(
    tx: Sql,
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
    tx: Sql,
    input: { merchantId: string; type: string; paymentId: string | null; dedupeKey: string; data: unknown; at: Date },
  ): Promise<{ eventId: string; messageIds: string[] } | undefined>;
  recordAttempt(tx: Sql, a: Record<string, unknown>): Promise<boolean>;
}

let dir: string;
let name: string;
let url: string;
let sql: Sql;
let writerSql: Sql;
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
  name = `sy_t_${process.ppid}_${process.pid}_online_${Date.now().toString(36)}`;
  const admin = createSql(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
    await admin.unsafe(`alter database ${name} set switchyard.conversion_batch_rows = '${BATCH_ROWS}'`);
  } finally {
    await admin.end();
  }
  url = withDatabase(adminUrl, name);
  sql = createSql(url, { max: 2 });
  writerSql = createSql(url, { max: 6 });
}, 120_000);

afterAll(async () => {
  await writerSql?.end({ timeout: 5 });
  await sql?.end({ timeout: 5 });
  const admin = createSql(inject('adminUrl'), { max: 1 });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** One write's span, ms since the time origin. */
interface Span {
  start: number;
  end: number;
}

describe('converting under load (sql/0025_retention.sql, online)', () => {
  it('lets the previous release keep writing during the copy, none waiting longer than the final step, and loses no body', async () => {
    expect((await previous.migrate(sql, url)).at(-1)).toBe('0015_master_key_check.sql');
    const merchantId = newId('mch');
    const sourceId = newId('src');
    const endpointId = newId('ep');
    await sql`insert into gw.merchants (id, name) values (${merchantId}, 'Online conversion')`;
    await sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchantId}, 'stripe')`;
    await sql`insert into gw.endpoints (id, merchant_id, url) values (${endpointId}, ${merchantId}, 'https://example.com/hooks')`;

    // What the upgrade finds: inbound events, events with a message each, half of them delivered (an attempt with
    // its response body), the other half pending (the attempt writer below records theirs).
    await sql`
      insert into gw.inbound_events (id, source_id, merchant_id, event_id, event_type, raw_body, headers)
      select gw.new_id('iev'), ${sourceId}, ${merchantId}, 'fill-' || k, 'payment_intent.succeeded',
             decode(repeat(md5(k::text), 8), 'hex'), jsonb_build_object('stripe-signature', 't=' || k)
        from generate_series(1, ${INBOUND}::int) as k`;
    await sql`
      insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, payload)
      select gw.new_id('evt'), ${merchantId}, 'payment.captured', null, 'fill-' || k, convert_to(repeat(md5(k::text), 6), 'UTF8')
        from generate_series(1, ${EVENTS}::int) as k`;
    await sql`
      insert into gw.messages (id, event_id, endpoint_id, merchant_id, status, attempts)
      select gw.new_id('msg'), e.id, ${endpointId}, ${merchantId},
             case when right(e.dedupe_key, 1) in ('0', '2', '4', '6', '8') then 'succeeded' else 'pending' end,
             case when right(e.dedupe_key, 1) in ('0', '2', '4', '6', '8') then 1 else 0 end
        from gw.events e`;
    await sql`
      insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status, response_body,
                               duration_ms, attempted_at)
      select gw.new_id('att'), m.id, m.event_id, ${endpointId}, 1, 'succeeded', 200, 'fill ' || m.id, 5, now()
        from gw.messages m where m.status = 'succeeded'`;
    const pending = await sql<{ id: string; eventId: string }[]>`
      select id, event_id as "eventId" from gw.messages where status = 'pending' order by id`;
    const checksums = () => sql<{ inbound: string; events: string; attempts: string }[]>`
      select (select md5(string_agg(i.id || ':' || encode(b.raw_body, 'hex') || ':' || b.headers::text, ',' order by i.id))
                from gw.inbound_events i join gw.inbound_event_bodies b on b.inbound_event_id = i.id
               where i.event_id like 'fill-%') as inbound,
             (select md5(string_agg(e.id || ':' || encode(p.payload, 'hex'), ',' order by e.id))
                from gw.events e join gw.event_payloads p on p.event_id = e.id
               where e.dedupe_key like 'fill-%') as events,
             (select md5(string_agg(a.id || ':' || b.response_body, ',' order by a.id))
                from gw.attempts a join gw.attempt_response_bodies b on b.attempt_id = a.id
               where b.response_body like 'fill %') as attempts`;
    // The same digests over the previous schema's columns.
    const [before] = await sql<{ inbound: string; events: string; attempts: string }[]>`
      select (select md5(string_agg(id || ':' || encode(raw_body, 'hex') || ':' || headers::text, ',' order by id))
                from gw.inbound_events where event_id like 'fill-%') as inbound,
             (select md5(string_agg(id || ':' || encode(payload, 'hex'), ',' order by id))
                from gw.events where dedupe_key like 'fill-%') as events,
             (select md5(string_agg(id || ':' || response_body, ',' order by id))
                from gw.attempts where response_body like 'fill %') as attempts`;

    // The previous release's writers, back to back, until the conversion is over. A write refused because the old
    // columns are gone (the final step) was never committed, so never acked: the writer stops there.
    let stop = false;
    const spans: Record<'inbound' | 'events' | 'attempts', Span[]> = { inbound: [], events: [], attempts: [] };
    const refused: Span[] = [];
    const written = {
      inbound: new Map<string, string>(),
      events: new Map<string, number>(),
      attempts: new Map<string, string>(),
    };
    const columnsGone = async () =>
      (
        await sql<{ gone: boolean }[]>`
          select not exists (select 1 from pg_attribute
                              where attrelid = 'gw.inbound_events'::regclass and attname = 'raw_body' and not attisdropped) as gone`
      )[0]!.gone;
    // `write` answers false when it has nothing left to write.
    const loop = async (kind: keyof typeof spans, write: (i: number) => Promise<boolean>) => {
      for (let i = 0; !stop; i++) {
        const start = performance.now();
        try {
          if (!(await write(i))) return;
        } catch (error) {
          const end = performance.now();
          if (!(await columnsGone())) throw error;
          // Its wait counts too: a write held for the whole copy and then refused waited as long as one that committed.
          refused.push({ start, end });
          return;
        }
        spans[kind].push({ start, end: performance.now() });
      }
    };
    const writers = [
      loop('inbound', async (i) => {
        const body = `{"id":"evt_online_${i}","n":${i}}`;
        const [stored] = await previous.storeInboundEvents(writerSql, [
          {
            sourceId,
            merchantId,
            eventId: `online-${i}`,
            eventType: 'payment_intent.succeeded',
            rawBody: new TextEncoder().encode(body),
            headers: { 'x-n': String(i) },
          },
        ]);
        written.inbound.set(stored!.id, body);
        return true;
      }),
      loop('events', async (i) => {
        const emitted = await writerSql.begin((tx) =>
          previous.emitEvent(tx as unknown as Sql, {
            merchantId,
            type: 'payment.captured',
            paymentId: null,
            dedupeKey: `online-${i}`,
            data: { online: i },
            at: new Date(),
          }),
        );
        written.events.set(emitted!.eventId, i);
        return true;
      }),
      loop('attempts', async (i) => {
        const m = pending[i];
        if (!m) return false;
        const recorded = await previous.recordAttempt(writerSql, {
          messageId: m.id,
          eventId: m.eventId,
          endpointId,
          attempt: 1,
          succeeded: true,
          responseStatus: 200,
          responseBody: `online ${m.id}`,
          error: null,
          durationMs: 7,
          attemptedAt: new Date(),
          nextAttemptAt: null,
          messageStatus: 'succeeded',
        });
        expect(recorded).toBe(true);
        written.attempts.set(m.id, `online ${m.id}`);
        return true;
      }),
    ];
    // Let the writers run alone for a moment: the baseline of one write's time on this machine.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const started = performance.now();
    const applied = await migrate(sql, url);
    const ended = performance.now();
    stop = true;
    await Promise.all(writers);
    expect(applied).toContain('0025_retention.sql');

    const all = [...spans.inbound, ...spans.events, ...spans.attempts, ...refused];
    const during = (s: Span) => s.end > started && s.start < ended;
    const longest = Math.max(...all.filter(during).map((s) => s.end - s.start));
    const baseline = Math.max(...all.filter((s) => s.end <= started).map((s) => s.end - s.start));
    const counts = Object.fromEntries(Object.entries(spans).map(([k, v]) => [k, v.filter(during).length]));
    console.log(
      `online conversion: ${Math.round(ended - started)} ms for ${INBOUND} inbound bodies, ${EVENTS} payloads, ${EVENTS / 2} responses ` +
        `in batches of ${BATCH_ROWS}; writes meanwhile ${JSON.stringify(counts)}; longest write ${Math.round(longest)} ms ` +
        `(${refused.length} refused after the columns went) ` +
        `(before the conversion: ${Math.round(baseline)} ms)`,
    );
    // The writers kept committing while the copy ran, and none waited long.
    for (const kind of ['inbound', 'events', 'attempts'] as const) expect(counts[kind], kind).toBeGreaterThan(5);
    expect(longest).toBeLessThan(MAX_WAIT_MS);

    // Every stored byte copied; every row committed meanwhile has its body; nothing without one.
    expect((await checksums())[0]).toEqual(before);
    const inbound = await sql<{ id: string; body: string }[]>`
      select inbound_event_id as id, convert_from(raw_body, 'UTF8') as body
        from gw.inbound_event_bodies where inbound_event_id = any(${[...written.inbound.keys()]}::text[])`;
    expect(new Map(inbound.map((r) => [r.id, r.body]))).toEqual(written.inbound);
    const events = await sql<{ id: string; n: number }[]>`
      select event_id as id, (convert_from(payload, 'UTF8')::jsonb #>> '{data,online}')::int as n
        from gw.event_payloads where event_id = any(${[...written.events.keys()]}::text[])`;
    expect(new Map(events.map((r) => [r.id, r.n]))).toEqual(written.events);
    const attempts = await sql<{ id: string; body: string }[]>`
      select a.message_id as id, b.response_body as body
        from gw.attempts a join gw.attempt_response_bodies b on b.attempt_id = a.id
       where a.message_id = any(${[...written.attempts.keys()]}::text[])`;
    expect(new Map(attempts.map((r) => [r.id, r.body]))).toEqual(written.attempts);
    const [missing] = await sql<{ inbound: number; events: number; attempts: number }[]>`
      select (select count(*)::int from gw.inbound_events i
               where not exists (select 1 from gw.inbound_event_bodies b where b.inbound_event_id = i.id)) as inbound,
             (select count(*)::int from gw.events e
               where not exists (select 1 from gw.event_payloads p where p.event_id = e.id)) as events,
             (select count(*)::int from gw.attempts a
               where not exists (select 1 from gw.attempt_response_bodies b where b.attempt_id = a.id)) as attempts`;
    expect(missing).toEqual({ inbound: 0, events: 0, attempts: 0 });

    // Nothing of the conversion's own machinery is left.
    const [left] = await sql<{ triggers: number; functions: number }[]>`
      select (select count(*)::int from pg_trigger where tgname like '%retention_copy') as triggers,
             (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'gw' and p.proname like 'retention_conversion%') as functions`;
    expect(left).toEqual({ triggers: 0, functions: 0 });
  }, 180_000);

  it('runs whole again after failing part way, and once more on a converted database, changing nothing', async () => {
    const adminUrl = inject('adminUrl');
    const other = `${name}_again`;
    const admin = createSql(adminUrl, { max: 1 });
    await admin.unsafe(`create database ${other}`);
    const otherUrl = withDatabase(adminUrl, other);
    const db = createSql(otherUrl, { max: 2 });
    try {
      await previous.migrate(db, otherUrl);
      const merchantId = newId('mch');
      const sourceId = newId('src');
      await db`insert into gw.merchants (id, name) values (${merchantId}, 'Again')`;
      await db`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchantId}, 'stripe')`;
      const store = (from: number, to: number) =>
        previous.storeInboundEvents(
          db,
          Array.from({ length: to - from }, (_, k) => ({
            sourceId,
            merchantId,
            eventId: `again-${from + k}`,
            eventType: null,
            rawBody: new TextEncoder().encode(`body ${from + k}`),
            headers: { n: String(from + k) },
          })),
        );
      await store(0, 50);
      // A run that stopped before its last step (the final lock not had, say): functions, tables, triggers and the
      // batch copy done, the old columns still there.
      const statements = splitStatements(await readFile(path.join(REPO, 'sql/0025_retention.sql'), 'utf8'));
      const last = statements.findIndex((st) => st.includes("gw.retention_conversion_lock('access exclusive')"));
      expect(last).toBeGreaterThan(0);
      for (const st of statements.slice(0, last)) await db.unsafe(st);
      await store(50, 80); // through the trigger
      expect(await migrate(db, otherUrl)).toContain('0025_retention.sql');
      await expect(store(80, 90)).rejects.toMatchObject({ code: '42703' }); // the previous code, refused now: its columns are gone
      const bodies = await db<{ eventId: string; body: string; n: string }[]>`
        select i.event_id as "eventId", convert_from(b.raw_body, 'UTF8') as body, b.headers ->> 'n' as n
          from gw.inbound_events i join gw.inbound_event_bodies b on b.inbound_event_id = i.id
         order by i.received_at, i.event_id`;
      expect(bodies).toHaveLength(80);
      for (const b of bodies) expect(b.body).toBe(`body ${b.eventId.slice('again-'.length)}`);
      const [counted] = await db<{ rows: number; bodies: number }[]>`
        select (select count(*)::int from gw.inbound_events) as rows, (select count(*)::int from gw.inbound_event_bodies) as bodies`;
      expect(counted).toEqual({ rows: 80, bodies: 80 });

      // Every statement once more on the converted database: no error, nothing changed, nothing left behind.
      const catalog = () => db<{ n: number }[]>`
        select count(*)::int as n from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname = 'gw'`;
      const [relations] = await catalog();
      for (const st of statements) await db.unsafe(st);
      expect((await catalog())[0]).toEqual(relations);
      const [again] = await db<{ bodies: number; triggers: number; functions: number }[]>`
        select (select count(*)::int from gw.inbound_event_bodies) as bodies,
               (select count(*)::int from pg_trigger where tgname like '%retention_copy') as triggers,
               (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'gw' and p.proname like 'retention_conversion%') as functions`;
      expect(again).toEqual({ bodies: 80, triggers: 0, functions: 0 });
    } finally {
      await db.end({ timeout: 5 });
      await admin.unsafe(`drop database if exists ${other} with (force)`);
      await admin.end();
    }
  }, 120_000);
});
