// Retention: bodies in month partitions, made ahead and dropped whole by the cron tasks, on a
// real database; the rows they belong to stay (docs/architecture.md "Retention").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { idLowerBound, monthPartition } from '../../src/core/retention/partitions.js';
import { createMonthPartition } from '../../src/core/retention/retention-store.js';
import { createRetentionPartitions, purgeExpiredPartitions } from '../../src/core/retention/retention.task.js';
import { storeInboundEvents } from '../../src/inbound/inbound-event-store.js';
import { processInboundEvents } from '../../src/inbound/process-event.task.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { createTaskList, retentionCronItems } from '../../src/app/worker.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

/** The partition (relation name) holding `table`'s row whose key column `keyCol` is `key`. */
async function partitionOf(table: string, keyCol: string, key: string): Promise<string | undefined> {
  const [row] = await db.sql.unsafe<{ part: string }[]>(`select tableoid::regclass::text as part from gw.${table} where ${keyCol} = $1`, [
    key,
  ]);
  return row?.part;
}

/** A merchant with a Stripe source and one endpoint at `url`, through the API. */
async function merchantWith(d: Deps, url: string) {
  const app = testApp(d);
  const merchant = await aMerchant(d);
  const src = await app.request(
    '/v1/sources',
    jsonRequest('POST', { provider: 'stripe', secret: 'whsec_retention_test_0123456789abcdef' }, merchant.apiKey),
  );
  expect(src.status).toBe(201);
  const ep = await app.request('/v1/endpoints', jsonRequest('POST', { url }, merchant.apiKey));
  expect(ep.status).toBe(201);
  return {
    app,
    merchant,
    sourceId: ((await src.json()) as { id: string }).id,
    endpointId: ((await ep.json()) as { id: string }).id,
  };
}

// First: ids are monotonic within a process (src/core/ids.ts), so the test made at today's time runs before the
// ones that make ids at later, shifted times.
describe('purging expired raw bodies', () => {
  it('keeps detecting a PSP retry exactly after its raw body is purged, and fails an event whose body expired unprocessed', async () => {
    const { app, merchant, sourceId } = await merchantWith(deps, 'https://example.com/hook');
    const body = new TextEncoder().encode('{"id":"evt_retention_1","type":"payment_intent.succeeded"}');
    const [stored] = await storeInboundEvents(db.sql, [
      {
        sourceId,
        merchantId: merchant.id,
        eventId: 'evt_retention_1',
        eventType: 'payment_intent.succeeded',
        rawBody: body,
        headers: { a: 'b' },
      },
    ]);
    const [unprocessed] = await storeInboundEvents(db.sql, [
      { sourceId, merchantId: merchant.id, eventId: 'evt_retention_2', eventType: 'payment_intent.succeeded', rawBody: body, headers: {} },
    ]);
    const auth = { headers: { authorization: `Bearer ${merchant.apiKey}` } };
    expect(((await (await app.request(`/v1/inbound-events/${stored!.id}`, auth)).json()) as { rawBody: string }).rawBody).toBe(
      new TextDecoder().decode(body),
    );

    // Far enough ahead that this month's partition is past its 30 days.
    const later = new Date(Date.now() + 100 * 86_400_000);
    const dropped = await purgeExpiredPartitions({ ...deps, clock: fixedClock(later) });
    expect(dropped.map((p) => p.name)).toContain(monthPartition('inbound_event_bodies', new Date()).name);

    const view = (await (await app.request(`/v1/inbound-events/${stored!.id}`, auth)).json()) as {
      rawBody: unknown;
      headers: unknown;
      eventId: string;
    };
    expect(view).toMatchObject({ eventId: 'evt_retention_1', rawBody: null, headers: null });

    const [again] = await storeInboundEvents(db.sql, [
      { sourceId, merchantId: merchant.id, eventId: 'evt_retention_1', eventType: 'payment_intent.succeeded', rawBody: body, headers: {} },
    ]);
    expect(again).toEqual({ id: stored!.id, duplicate: true });

    const [outcome] = await processInboundEvents(deps, [unprocessed!.id]);
    expect(outcome).toMatchObject({ result: 'failed', reason: expect.stringMatching(/raw body expired/) });
    const [row] = await db.sql<{ status: string }[]>`select status from gw.inbound_events where id = ${unprocessed!.id}`;
    expect(row!.status).toBe('failed');
  });
});

describe('retention partitions', () => {
  it('puts each body in the UTC month partition of the time its id was made, whatever the session time zone', async () => {
    const p = monthPartition('event_payloads', new Date('2031-03-15T00:00:00Z'));
    const next = monthPartition('event_payloads', new Date('2031-04-15T00:00:00Z'));
    await db.sql.begin(async (tx) => {
      // UTC+14: local time is already April 1st at 10:00 UTC on March 31st.
      await tx`set local timezone = 'Pacific/Kiritimati'`;
      await createMonthPartition(tx, p);
      await createMonthPartition(tx, next);
    });
    // The migration computes bounds in SQL: the same keys as the TS module under a far-off session time zone.
    const [bounds] = await db.sql.begin(async (tx) => {
      await tx`set local timezone = 'Pacific/Kiritimati'`;
      return tx<{ from: string; to: string }[]>`
        select gw.id_lower_bound('evt', date_trunc('month', ${new Date('2031-03-31T23:59:59.999Z')}::timestamptz, 'UTC')) as from,
               gw.id_lower_bound('evt', date_trunc('month', ${new Date('2031-04-01T00:00:00Z')}::timestamptz, 'UTC')) as to`;
    });
    expect(bounds).toEqual({ from: p.fromKey, to: next.fromKey });
    const merchant = await aMerchant(deps);
    const last = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'tz-last',
      data: {},
      at: new Date('2031-03-31T23:59:59.999Z'),
    });
    const first = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'tz-first',
      data: {},
      at: new Date('2031-04-01T00:00:00.000Z'),
    });
    expect(await partitionOf('event_payloads', 'event_id', last!.eventId)).toBe('gw.event_payloads_y2031m03');
    expect(await partitionOf('event_payloads', 'event_id', first!.eventId)).toBe('gw.event_payloads_y2031m04');
  });

  it('refuses UPDATE and DELETE of bodies on the parent and on a partition the cron task created', async () => {
    const created = await createRetentionPartitions(deps, new Date('2032-06-10T00:00:00Z'));
    expect(created.map((p) => p.name)).toContain('attempt_response_bodies_y2032m06');
    const merchant = await aMerchant(deps);
    const emitted = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'append-only',
      data: {},
      at: new Date('2032-06-10T00:00:00Z'),
    });
    const id = emitted!.eventId;
    await expect(db.sql`update gw.event_payloads set payload = '\\x00' where event_id = ${id}`).rejects.toThrow(/append-only/);
    await expect(db.sql`delete from gw.event_payloads where event_id = ${id}`).rejects.toThrow(/append-only/);
    await expect(db.sql`delete from gw.event_payloads_y2032m06 where event_id = ${id}`).rejects.toThrow(/append-only/);
    for (const table of ['inbound_event_bodies', 'event_payloads', 'attempt_response_bodies']) {
      const [t] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_trigger
         where tgrelid = to_regclass(${`gw.${table}_y2032m06`}) and tgname like '%append_only%'`;
      expect(t!.n, table).toBe(1);
    }
  });

  it('runs both tasks from the worker: hourly cron items, payloads parsed by the job catalog', async () => {
    expect(retentionCronItems().map((c) => [c.task, c.identifier])).toEqual([
      ['create_retention_partitions', 'create_retention_partitions'],
      ['purge_expired_partitions', 'purge_expired_partitions'],
    ]);
    const tasks = createTaskList({ ...deps, clock: fixedClock(new Date('2035-05-05T00:00:00Z')) });
    await tasks.create_retention_partitions!({ _cron: { ts: '2035-05-05T00:00:00Z', backfilled: false } }, {} as never);
    const [made] = await db.sql<{ ok: boolean }[]>`select to_regclass('gw.event_payloads_y2035m07') is not null as ok`;
    expect(made!.ok).toBe(true);
    await expect(tasks.purge_expired_partitions!([], {} as never)).rejects.toThrow();
  });

  it('creates each partition once: a second run creates none', async () => {
    const at = new Date('2033-01-20T00:00:00Z');
    expect((await createRetentionPartitions(deps, at)).map((p) => p.name)).toHaveLength(9);
    expect(await createRetentionPartitions(deps, at)).toEqual([]);
  });

  it('drops only month partitions: never the default one, never another table', async () => {
    await expect(db.sql`select gw.drop_month_partition('event_payloads', 'event_payloads_default')`).rejects.toThrow(
      /not a month partition/,
    );
    await expect(db.sql`select gw.drop_month_partition('event_payloads', 'inbound_event_bodies_y2033m01')`).rejects.toThrow(
      /not a month partition/,
    );
    await expect(db.sql`select gw.drop_month_partition('events', 'events')`).rejects.toThrow();
  });
});

describe('purging expired event payloads and response bodies', () => {
  const JAN = new Date('2034-01-15T12:00:00Z');
  const MARCH = new Date('2034-03-05T00:00:00Z');

  it('drops the expired months: the event answers 410 event_expired, its attempts are still listed, the rest stays', async () => {
    const r = await receiver((n) => (n === 0 ? 500 : 200));
    const janDeps = { ...deps, clock: fixedClock(JAN) };
    await createRetentionPartitions(janDeps);
    const { app, merchant, endpointId } = await merchantWith(janDeps, r.url);

    // Delivered in January: a failed attempt (500) then a success, both with response bodies.
    const delivered = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'jan-1',
      data: { n: 1 },
      at: JAN,
    });
    await deliverMessage(janDeps, { messageId: delivered!.messageIds[0]!, attempt: 1 });
    await deliverMessage(janDeps, { messageId: delivered!.messageIds[0]!, attempt: 2 });
    // Still pending when its payload expires.
    const pending = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'jan-2',
      data: { n: 2 },
      at: JAN,
    });
    // Emitted in March: kept.
    const recent = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'mar-1',
      data: { n: 3 },
      at: MARCH,
    });
    expect(await partitionOf('event_payloads', 'event_id', delivered!.eventId)).toBe('gw.event_payloads_y2034m01');

    const before = await app.request(`/v1/events/${delivered!.eventId}/attempts`, {
      headers: { authorization: `Bearer ${merchant.apiKey}` },
    });
    expect(((await before.json()) as { data: { responseBody: string | null }[] }).data.map((a) => a.responseBody !== null)).toEqual([
      true,
      true,
    ]);

    const dropped = await purgeExpiredPartitions({ ...deps, clock: fixedClock(MARCH) });
    const names = dropped.map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(['event_payloads_y2034m01', 'attempt_response_bodies_y2034m01', 'inbound_event_bodies_y2034m01']),
    );
    expect(names.some((n) => n.endsWith('_y2034m02') || n.endsWith('_y2034m03'))).toBe(false);
    expect(await purgeExpiredPartitions({ ...deps, clock: fixedClock(MARCH) })).toEqual([]);

    const auth = { headers: { authorization: `Bearer ${merchant.apiKey}` } };
    const gone = await app.request(`/v1/events/${delivered!.eventId}`, auth);
    expect(gone.status).toBe(410);
    expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await gone.json()).toMatchObject({ status: 410, code: 'event_expired' });

    const attempts = await app.request(`/v1/events/${delivered!.eventId}/attempts`, auth);
    expect(attempts.status).toBe(200);
    const listed = (
      (await attempts.json()) as {
        data: { attemptNumber: number; status: string; responseStatus: number; responseBody: string | null; endpointId: string }[];
      }
    ).data;
    expect(listed.map((a) => [a.attemptNumber, a.status, a.responseStatus, a.responseBody, a.endpointId])).toEqual([
      [1, 'failed', 500, null, endpointId],
      [2, 'succeeded', 200, null, endpointId],
    ]);

    const redeliver = await app.request(`/v1/events/${delivered!.eventId}/redeliver`, jsonRequest('POST', {}, merchant.apiKey));
    expect(redeliver.status).toBe(410);
    expect(await redeliver.json()).toMatchObject({ code: 'event_expired' });

    const list = await app.request('/v1/events', auth);
    const page = ((await list.json()) as { data: { id: string; payload: unknown }[] }).data;
    expect(page.find((e) => e.id === delivered!.eventId)?.payload).toBeNull();
    expect(page.find((e) => e.id === recent!.eventId)?.payload).toMatchObject({ type: 'payment.captured', data: { n: 3 } });
    expect((await app.request(`/v1/events/${recent!.eventId}`, auth)).status).toBe(200);

    // The pending message of the expired event fails unsent.
    const sent = r.received.length;
    await deliverMessage({ ...deps, clock: fixedClock(MARCH) }, { messageId: pending!.messageIds[0]!, attempt: 1 });
    expect(r.received.length).toBe(sent);
    const [msg] = await db.sql<
      { status: string; attempts: number }[]
    >`select status, attempts from gw.messages where id = ${pending!.messageIds[0]!}`;
    expect(msg).toEqual({ status: 'failed', attempts: 0 });

    // Events, messages and attempts rows are all still there; a replayed dedupe key still emits nothing.
    const [kept] = await db.sql<{ events: number; attempts: number }[]>`
      select (select count(*)::int from gw.events where merchant_id = ${merchant.id}) as events,
             (select count(*)::int from gw.attempts where event_id = ${delivered!.eventId}) as attempts`;
    expect(kept).toEqual({ events: 3, attempts: 2 });
    expect(
      await emitEvent(db.sql, {
        merchantId: merchant.id,
        type: 'payment.captured',
        paymentId: null,
        dedupeKey: 'jan-1',
        data: {},
        at: MARCH,
      }),
    ).toBeUndefined();
  });

  it('keeps everything when retention is 0', async () => {
    const forever = await testDeps(db, {
      clock: fixedClock(new Date('2099-01-01T00:00:00Z')),
      env: {
        SWITCHYARD_RETENTION_INBOUND_BODY_DAYS: '0',
        SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS: '0',
        SWITCHYARD_RETENTION_ATTEMPT_RESPONSE_DAYS: '0',
      },
    });
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_inherits where inhparent = 'gw.event_payloads'::regclass`;
    expect(await purgeExpiredPartitions(forever)).toEqual([]);
    const [m] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_inherits where inhparent = 'gw.event_payloads'::regclass`;
    expect(m!.n).toBe(n!.n);
  });
});

// Last: the purge below runs at 2041 and drops every earlier month the tests above made.
describe('rows in a default partition', () => {
  it('moves them into their month partitions, made then, so the purge drops the expired ones; an id without a time stays', async () => {
    const NOW = new Date('2041-05-20T00:00:00Z');
    // Ids made at chosen times (this process's generator never goes back in time).
    const at = testDeps(db, { clock: fixedClock(NOW) });
    const old = { evt: idLowerBound('evt', new Date('2019-03-10T00:00:00Z')), att: idLowerBound('att', new Date('2019-03-11T00:00:00Z')) };
    const current = {
      evt: idLowerBound('evt', new Date('2041-05-10T00:00:00Z')),
      att: idLowerBound('att', new Date('2041-05-11T00:00:00Z')),
      iev: idLowerBound('iev', new Date('2041-05-12T00:00:00Z')),
    };
    const stray = 'evt_stray_without_a_time';
    await db.sql`
      insert into gw.event_payloads (event_id, payload)
      values (${old.evt}, '\\x01'), (${current.evt}, '\\x02'), (${stray}, '\\x03')`;
    await db.sql`
      insert into gw.attempt_response_bodies (attempt_id, response_body) values (${old.att}, 'old'), (${current.att}, 'current')`;
    await db.sql`insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers) values (${current.iev}, '\\x04', '{"a":"b"}')`;
    for (const id of [old.evt, current.evt, stray])
      expect(await partitionOf('event_payloads', 'event_id', id)).toBe('gw.event_payloads_default');
    expect(await partitionOf('attempt_response_bodies', 'attempt_id', current.att)).toBe('gw.attempt_response_bodies_default');
    // While the default holds a row of this month, this month's partition cannot be made.
    await expect(db.sql.begin((tx) => createMonthPartition(tx, monthPartition('event_payloads', NOW)))).rejects.toMatchObject({
      code: '23514',
    });

    const created = await createRetentionPartitions(await at);
    expect(created.map((p) => p.name)).toEqual(expect.arrayContaining(['event_payloads_y2041m06', 'event_payloads_y2041m07']));
    expect(await partitionOf('event_payloads', 'event_id', old.evt)).toBe('gw.event_payloads_y2019m03');
    expect(await partitionOf('event_payloads', 'event_id', current.evt)).toBe('gw.event_payloads_y2041m05');
    expect(await partitionOf('event_payloads', 'event_id', stray)).toBe('gw.event_payloads_default');
    expect(await partitionOf('attempt_response_bodies', 'attempt_id', old.att)).toBe('gw.attempt_response_bodies_y2019m03');
    expect(await partitionOf('attempt_response_bodies', 'attempt_id', current.att)).toBe('gw.attempt_response_bodies_y2041m05');
    expect(await partitionOf('inbound_event_bodies', 'inbound_event_id', current.iev)).toBe('gw.inbound_event_bodies_y2041m05');
    const bytes = await db.sql<{ id: string; payload: Uint8Array }[]>`
      select event_id as id, payload from gw.event_payloads where event_id in (${old.evt}, ${current.evt}, ${stray}) order by payload`;
    expect(bytes.map((r) => [r.id, Buffer.from(r.payload).toString('hex')])).toEqual([
      [old.evt, '01'],
      [current.evt, '02'],
      [stray, '03'],
    ]);
    // Still append-only, on the new default partition and on the partitions made for the moved rows.
    await expect(db.sql`delete from gw.event_payloads_default where event_id = ${stray}`).rejects.toThrow(/append-only/);
    await expect(db.sql`delete from gw.event_payloads_y2041m05 where event_id = ${current.evt}`).rejects.toThrow(/append-only/);

    const dropped = await purgeExpiredPartitions(await at);
    expect(dropped.map((p) => p.name)).toEqual(expect.arrayContaining(['event_payloads_y2019m03', 'attempt_response_bodies_y2019m03']));
    const [leftRows] = await db.sql<{ old: number; kept: number }[]>`
      select (select count(*)::int from gw.event_payloads where event_id = ${old.evt})
           + (select count(*)::int from gw.attempt_response_bodies where attempt_id = ${old.att}) as old,
             (select count(*)::int from gw.event_payloads where event_id in (${current.evt}, ${stray}))
           + (select count(*)::int from gw.attempt_response_bodies where attempt_id = ${current.att}) as kept`;
    expect(leftRows).toEqual({ old: 0, kept: 3 });
    // Nothing more to move: the stray row is left where it is, and a second run changes nothing.
    const [before] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from pg_inherits where inhparent = 'gw.event_payloads'::regclass`;
    expect(await createRetentionPartitions(await at)).toEqual([]);
    const [after] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from pg_inherits where inhparent = 'gw.event_payloads'::regclass`;
    expect(after!.n).toBe(before!.n);
    expect(await partitionOf('event_payloads', 'event_id', stray)).toBe('gw.event_payloads_default');
  });
});
