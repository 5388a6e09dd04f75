// Checks emitted events against the event catalogue's JSON Schemas (src/app/event-catalogue.ts) with ajv, so a
// payload the code builds that its published schema would refuse fails the test that produced it.
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';
import { dataJsonSchema, EVENT_CATALOGUE } from '../src/app/event-catalogue.js';
import type { Sql } from '../src/core/db/client.js';

// ajv-formats is CommonJS (`exports.default = formatsPlugin`): under NodeNext its function is the namespace's `default`.
const addFormats = addFormatsModule.default as unknown as typeof addFormatsModule.default.default;

/** A validator per catalogued event type, of the body's `data`. */
export function catalogueValidators(): Map<string, (data: unknown) => string | undefined> {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const out = new Map<string, (data: unknown) => string | undefined>();
  for (const entry of EVENT_CATALOGUE) {
    const validate = ajv.compile(dataJsonSchema(entry));
    out.set(entry.type, (data) => (validate(data) ? undefined : ajv.errorsText(validate.errors)));
  }
  return out;
}

/**
 * Every event in the database: its body is `{"type", "timestamp", "data"}`, its type is catalogued and its `data` valid
 * against the type's JSON Schema. Returns how many events there were, by type.
 */
export async function expectEventsMatchCatalogue(sql: Sql): Promise<Record<string, number>> {
  const validators = catalogueValidators();
  const rows = await sql<{ id: string; type: string; body: string }[]>`
    select e.id, e.type, convert_from(p.payload, 'UTF8') as body
      from gw.events e join gw.event_payloads p on p.event_id = e.id
     order by e.id`;
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const body = JSON.parse(row.body) as { type: string; timestamp: string; data: unknown };
    expect(body.type, row.id).toBe(row.type);
    expect(Number.isNaN(Date.parse(body.timestamp)), row.id).toBe(false);
    const validate = validators.get(row.type);
    expect(validate, `${row.type} is not in the event catalogue`).toBeDefined();
    expect(validate!(body.data), `${row.id} (${row.type})`).toBeUndefined();
    counts[row.type] = (counts[row.type] ?? 0) + 1;
  }
  return counts;
}
