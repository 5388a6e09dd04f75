// What graphile-worker holds for inbound processing: the `process_inbound_event` jobs and the
// inbound event ids they carry (`{"inboundEventIds": [...]}` for an ingest batch, or
// `{"inboundEventId"}`).
import type { Sql } from '../src/core/db/client.js';

/** The queued `process_inbound_event` jobs that carry `inboundEventId`, with their keys and the ids each carries. */
export async function processJobsFor(sql: Sql, inboundEventId: string): Promise<{ key: string | null; ids: string[] }[]> {
  return sql<{ key: string | null; ids: string[] }[]>`
    select j.key, array(select jsonb_array_elements_text(coalesce(j.payload::jsonb->'inboundEventIds', jsonb_build_array(j.payload::jsonb->'inboundEventId')))) as ids
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'process_inbound_event'
       and (j.payload::jsonb->'inboundEventIds' ? ${inboundEventId} or j.payload::jsonb->>'inboundEventId' = ${inboundEventId})`;
}

/** How many queued `process_inbound_event` jobs carry each inbound event id. */
export async function processJobCounts(sql: Sql): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; n: number }[]>`
    select e.id, count(*)::int as n
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     cross join lateral jsonb_array_elements_text(
             coalesce(j.payload::jsonb->'inboundEventIds', jsonb_build_array(j.payload::jsonb->'inboundEventId'))) as e(id)
     where t.identifier = 'process_inbound_event'
     group by e.id`;
  return new Map(rows.map((r) => [r.id, r.n]));
}

/** Inbound event ids carried by all queued `process_inbound_event` jobs together (an id in two jobs counts twice). */
export async function queuedInboundEvents(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select coalesce(sum(coalesce(json_array_length(j.payload->'inboundEventIds'), 1)), 0)::int as n
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'process_inbound_event'`;
  return row!.n;
}
