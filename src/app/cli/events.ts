// (node) `switchyard events replay`: one more delivery attempt of an event's messages.
import { getEvent } from '../../outbound/event-store.js';
import { redeliverEvent } from '../../outbound/redeliver.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';
import { findEvent } from './operator-store.js';

const USAGE = `switchyard events replay <evt_…> [--endpoint <ep_…>]

Queues one more delivery attempt of the event's messages to every enabled endpoint that
has one, or with --endpoint to that endpoint only (creating its message when it subscribes
to the event's type). An event whose payload expired (retention) is refused, as the API's
410 event_expired. Needs a running worker to deliver. ${DB_NOTE}`;

/**
 * `events replay <evt_…> [--endpoint <ep_…>]`: prints the message ids queued; exit 1 when the event or endpoint refuses,
 * or the event's payload expired (POST /v1/events/{id}/redeliver's 410 `event_expired`).
 */
export async function eventsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, { help: { type: 'boolean' }, endpoint: { type: 'string' } });
  if (values.help) return help(USAGE);
  const [sub, eventId, extra] = positionals;
  if (sub !== 'replay') usageError(USAGE, sub === undefined ? 'missing subcommand (replay)' : `unknown subcommand ${sub}`);
  if (!eventId) usageError(USAGE, 'missing the event id (evt_…)');
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const endpointId = values.endpoint;
  const outcome = await withDatabase(readConfig(), async (sql) => {
    const event = await findEvent(sql, eventId);
    if (!event) return { ok: false as const, error: 'event_not_found' as const };
    const stored = await getEvent(sql, event.merchantId, event.id);
    if (!stored?.payload) return { ok: false as const, error: 'event_expired' as const, createdAt: stored?.createdAt };
    return sql.begin((tx) =>
      redeliverEvent(tx, {
        merchantId: event.merchantId,
        event: { id: event.id, type: event.type },
        ...(endpointId === undefined ? {} : { endpointId }),
        at: new Date(),
      }),
    );
  });
  if (!outcome.ok) {
    switch (outcome.error) {
      case 'event_not_found':
        return die(`no event ${eventId} (event ids look like evt_…; GET /v1/events lists a merchant's)`);
      case 'event_expired':
        return die(
          `event ${eventId} (created ${outcome.createdAt?.toISOString() ?? 'earlier'}) has expired under the retention setting (the API answers 410 event_expired): its payload is gone, so it cannot be sent again; its attempts are still listed at /v1/events/${eventId}/attempts`,
        );
      case 'endpoint_not_found':
        return die(`no endpoint ${String(endpointId)} of this event's merchant (GET /v1/endpoints lists them)`);
      case 'endpoint_disabled':
        return die(
          `endpoint ${String(endpointId)} is disabled; enable it (PATCH /v1/endpoints/${String(endpointId)} {"status":"enabled"}) first`,
        );
      case 'not_subscribed':
        return die(`endpoint ${String(endpointId)} has no message for ${eventId} and does not subscribe to its type`);
    }
  }
  const ids = outcome.value;
  process.stdout.write(
    ids.length === 0
      ? `nothing queued: no enabled endpoint has a message for ${eventId} (pass --endpoint to send it to one)\n`
      : `queued ${ids.length} message(s) for one more attempt: ${ids.join(', ')}\n`,
  );
}
