import type { Tx } from '../core/db/client.js';

/** One hour (or the whole window) of an endpoint's attempts, as counted by {@link endpointStats}. */
export interface StatsBucket {
  /** Start of the hour (UTC); null for the whole window. */
  hour: Date | null;
  attempts: number;
  succeeded: number;
  failed: number;
  /** Attempts by the response's status class; `none`: no response (timeout, refused, blocked, auth_failed). */
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  statusNone: number;
  /** Attempt duration percentiles, ms; null when there was no attempt. */
  p50Ms: number | null;
  p95Ms: number | null;
}

/**
 * An endpoint's attempts made in [`since`, `until`): the whole window first (`hour` null), then one bucket per hour
 * that had attempts, oldest first. One query over `attempts_endpoint_time_idx`.
 */
export async function endpointStats(tx: Tx, endpointId: string, since: Date, until: Date): Promise<StatsBucket[]> {
  const rows = await tx<
    {
      hour: Date | null;
      attempts: number;
      succeeded: number;
      failed: number;
      s2: number;
      s3: number;
      s4: number;
      s5: number;
      none: number;
      p50: number | null;
      p95: number | null;
    }[]
  >`
    select date_trunc('hour', attempted_at) as hour,
           count(*)::int as attempts,
           count(*) filter (where status = 'succeeded')::int as succeeded,
           count(*) filter (where status = 'failed')::int as failed,
           count(*) filter (where response_status between 200 and 299)::int as s2,
           count(*) filter (where response_status between 300 and 399)::int as s3,
           count(*) filter (where response_status between 400 and 499)::int as s4,
           count(*) filter (where response_status >= 500)::int as s5,
           count(*) filter (where response_status is null or response_status < 200)::int as none,
           percentile_cont(0.5) within group (order by duration_ms) as p50,
           percentile_cont(0.95) within group (order by duration_ms) as p95
      from gw.attempts
     where endpoint_id = ${endpointId} and attempted_at >= ${since} and attempted_at < ${until}
     group by grouping sets ((), (date_trunc('hour', attempted_at)))
     order by hour nulls first`;
  return rows.map((r) => ({
    hour: r.hour,
    attempts: r.attempts,
    succeeded: r.succeeded,
    failed: r.failed,
    status2xx: r.s2,
    status3xx: r.s3,
    status4xx: r.s4,
    status5xx: r.s5,
    statusNone: r.none,
    p50Ms: r.p50 === null ? null : Math.round(Number(r.p50)),
    p95Ms: r.p95 === null ? null : Math.round(Number(r.p95)),
  }));
}
