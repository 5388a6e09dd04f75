// (node) The portal's overview: deliveries per minute and success rate over 24 h, endpoint health, waiting
// messages, inbound events by provider.
import type { Hono } from 'hono';
import { countWaitingMessages, deliveriesPerMinute, endpointHealth, inboundByProvider, type MinuteDeliveries } from './portal-store.js';
import { requireCapability, type PortalEnv } from './session.js';
import { Page, Status, Time } from './views.js';

const MINUTE_MS = 60_000;
/** The chart's span: the last 24 hours, one point a minute. */
const CHART_MINUTES = 24 * 60;

/**
 * The chart's series over the `CHART_MINUTES` minutes ending with `now`'s minute: `t` in Unix seconds, `attempts` per
 * minute (0 when none), `rate` the percentage that succeeded (null when none).
 */
export function chartSeries(rows: readonly MinuteDeliveries[], now: Date): { t: number[]; attempts: number[]; rate: (number | null)[] } {
  const byMinute = new Map(rows.map((r) => [r.minute.getTime(), r]));
  const last = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
  const t: number[] = [];
  const attempts: number[] = [];
  const rate: (number | null)[] = [];
  for (let i = CHART_MINUTES - 1; i >= 0; i--) {
    const at = last - i * MINUTE_MS;
    const r = byMinute.get(at);
    t.push(at / 1000);
    attempts.push(r?.attempts ?? 0);
    rate.push(r && r.attempts > 0 ? Math.round((r.succeeded / r.attempts) * 1000) / 10 : null);
  }
  return { t, attempts, rate };
}

const percent = (part: number, whole: number) => (whole === 0 ? '—' : `${Math.round((part / whole) * 1000) / 10}%`);

/** Adds `GET /` (the overview; capability `read`) to the portal's session router. */
export function addOverviewPage(app: Hono<PortalEnv>): void {
  app.get('/', async (c) => {
    requireCapability(c, 'read');
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.portal.merchantId;
    const now = clock();
    const since = new Date(Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS - (CHART_MINUTES - 1) * MINUTE_MS);
    const [minutes, health, waiting, inbound] = await Promise.all([
      deliveriesPerMinute(sql, merchantId, since),
      endpointHealth(sql, merchantId, since, now),
      countWaitingMessages(sql, merchantId),
      inboundByProvider(sql, merchantId),
    ]);
    const series = chartSeries(minutes, now);
    const total = minutes.reduce((n, m) => n + m.attempts, 0);
    const ok = minutes.reduce((n, m) => n + m.succeeded, 0);
    return c.html(
      <Page title="Overview" session={c.var.portal} current="/portal" chart>
        <div class="box">
          <h2>Deliveries in the last 24 hours</h2>
          <p>
            {total} attempts, {percent(ok, total)} succeeded. <span class="muted">{waiting} messages waiting to be delivered.</span>
          </p>
          <figure>
            <div
              id="deliveries-chart"
              class="chart"
              data-series={JSON.stringify(series)}
              role="img"
              aria-label="Deliveries per minute and success rate, last 24 hours"
            />
            <figcaption class="muted">
              Deliveries per minute (left axis) and the share that succeeded (right axis), in your time zone.
            </figcaption>
          </figure>
        </div>
        <h2>Endpoint health</h2>
        <div class="scroll">
          <table class="health">
            <thead>
              <tr>
                <th>Endpoint</th>
                <th>Status</th>
                <th>Circuit</th>
                <th>Last error</th>
                <th class="num">Success rate (24 h)</th>
                <th class="num">p95 latency</th>
              </tr>
            </thead>
            <tbody>
              {health.map((e) => (
                <tr>
                  <td>
                    <a href={`/portal/endpoints/${e.id}`}>{e.url}</a>
                  </td>
                  <td>
                    <Status value={e.status} />
                    {e.disabledReason && <span class="muted"> ({e.disabledReason})</span>}
                  </td>
                  <td>
                    {e.circuitOpenUntil ? (
                      <span class="bad">
                        open until <Time at={e.circuitOpenUntil} />
                      </span>
                    ) : (
                      'closed'
                    )}
                  </td>
                  <td>{e.lastError ?? <span class="muted">—</span>}</td>
                  <td class="num">
                    {percent(e.succeeded, e.attempts)} <span class="muted">of {e.attempts}</span>
                  </td>
                  <td class="num">{e.p95Ms === null ? '—' : `${e.p95Ms} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {health.length === 0 && (
          <p class="muted">
            No endpoints yet. <a href="/portal/endpoints">Add one</a>.
          </p>
        )}
        <h2>Inbound events by provider</h2>
        {inbound.length === 0 ? (
          <p class="muted">No PSP has sent anything yet.</p>
        ) : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Provider</th>
                  <th>Status</th>
                  <th class="num">Events</th>
                </tr>
              </thead>
              <tbody>
                {inbound.map((r) => (
                  <tr>
                    <td>{r.provider}</td>
                    <td>
                      <a href={`/portal/inbound-events?status=${encodeURIComponent(r.status)}`}>
                        <Status value={r.status} />
                      </a>
                    </td>
                    <td class="num">{r.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Page>,
    );
  });
}
