// GET /v1/endpoints/{id}/stats (src/outbound/routes/endpoint-stats.ts): attempts made to a real receiver, counted by
// outcome and status class, with the success rate and latency percentiles, in total and per hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
let now = new Date('2026-12-01T10:15:00Z').getTime();
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: () => new Date(now) });
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

let n = 0;
async function deliverOne(merchantId: string): Promise<void> {
  const e = await emitEvent(db.sql, {
    merchantId,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: `stats-${++n}`,
    data: { n },
    at: new Date(now),
  });
  await deliverMessage(deps, { messageId: e!.messageIds[0]!, attempt: 1 });
}

describe('GET /v1/endpoints/{id}/stats', () => {
  it('counts attempts by outcome and status class, per hour, with the success rate and latency', async () => {
    const statuses = [200, 500, 200, 404, 200];
    const r = await receiver((i) => statuses[i] ?? 200);
    const merchant = await aMerchant(deps);
    const created = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: r.url }, merchant.apiKey));
    const ep = (await created.json()) as { id: string };
    for (let i = 0; i < 3; i++) await deliverOne(merchant.id); // 10:15: 200, 500, 200
    now = new Date('2026-12-01T11:20:00Z').getTime();
    for (let i = 0; i < 2; i++) await deliverOne(merchant.id); // 11:20: 404, 200
    now = new Date('2026-12-01T11:40:00Z').getTime();

    const res = await testApp(deps).request(`/v1/endpoints/${ep.id}/stats?since=2026-12-01T09:00:00Z`, {
      headers: { authorization: `Bearer ${merchant.apiKey}` },
    });
    expect(res.status).toBe(200);
    const stats = (await res.json()) as Record<string, unknown> & { hours: Record<string, unknown>[] };
    expect(stats).toMatchObject({
      since: '2026-12-01T09:00:00.000Z',
      until: '2026-12-01T11:40:00.000Z',
      attempts: 5,
      succeeded: 3,
      failed: 2,
      byStatusClass: { '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 1, none: 0 },
      successRate: 0.6,
    });
    expect((stats.latencyMs as { p50: number }).p50).toBeGreaterThanOrEqual(0);
    expect(stats.hours.map((h) => [h.hour, h.attempts, h.succeeded, h.successRate])).toEqual([
      ['2026-12-01T10:00:00.000Z', 3, 2, 2 / 3],
      ['2026-12-01T11:00:00.000Z', 2, 1, 0.5],
    ]);

    const later = await testApp(deps).request(`/v1/endpoints/${ep.id}/stats?since=2026-12-01T11:00:00Z`, {
      headers: { authorization: `Bearer ${merchant.apiKey}` },
    });
    expect(await later.json()).toMatchObject({ attempts: 2, byStatusClass: { '4xx': 1, '2xx': 1 } });
  });

  it('answers zeros and a null rate without attempts; 400 for a since in the future or too far back; 404 for another merchant', async () => {
    const merchant = await aMerchant(deps);
    const other = await aMerchant(deps, 'Other');
    const created = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/x' }, merchant.apiKey));
    const ep = (await created.json()) as { id: string };
    const get = (q: string, key = merchant.apiKey) =>
      testApp(deps).request(`/v1/endpoints/${ep.id}/stats${q}`, { headers: { authorization: `Bearer ${key}` } });
    const empty = await get('');
    expect(await empty.json()).toMatchObject({ attempts: 0, successRate: null, latencyMs: { p50: null, p95: null }, hours: [] });
    expect((await get('?since=2030-01-01T00:00:00Z')).status).toBe(400);
    expect((await get('?since=2026-01-01T00:00:00Z')).status).toBe(400);
    expect((await get('?since=yesterday')).status).toBe(400);
    expect((await get('', other.apiKey)).status).toBe(404);
  });
});
