// Payload filters of endpoints (README "Deliveries to merchants"): a CEL expression over an event's `type` and `data`,
// through the same CEL module as the risk rules. Compiled when the endpoint is saved (to refuse a bad one with its
// position) and once per endpoint and filter version where events fan out (outbox.ts), then evaluated in memory.
import {
  type CompiledExpression,
  createExpressionEnvironment,
  type ExpressionEnvironment,
  type ExpressionProblem,
} from '../expressions/cel.js';
import type { Result } from '../result.js';

/** An event as a filter sees it: its type and its `data` as the merchant receives it (JSON: numbers, strings, …). */
export interface FilterableEvent {
  type: string;
  data: unknown;
}

/** A compiled payload filter. */
export interface EventFilter {
  readonly source: string;
  /**
   * True when the expression yields `true` on the event. An evaluation error (a field the payload lacks, a type
   * mismatch at run time, division by zero) is no match: the event is not sent to the endpoint. Never throws.
   */
  matches(event: FilterableEvent): boolean;
}

// `type` is a CEL built-in (the type of types), so the event's type is declared under a stand-in of its length.
const TYPE_STAND_IN = '_typ';

let environment: ExpressionEnvironment | undefined;

/** The environment is costly to build, and the same for every filter: built on first use. */
function filterEnvironment(): ExpressionEnvironment {
  environment ??= createExpressionEnvironment({ [TYPE_STAND_IN]: 'string', data: 'map<string, dyn>' }, {}, { type: TYPE_STAND_IN });
  return environment;
}

/**
 * Compiles a payload filter: a CEL expression yielding bool over `type` (string) and `data` (the event's data, any
 * JSON), e.g. `data.currency == "EUR" && data.amount >= 10000`. The error names the 0-based character position and
 * the reason (syntax, unknown attribute, a non-bool result, a limit such as 2,000 characters).
 */
export function compileEventFilter(source: string): Result<EventFilter, ExpressionProblem> {
  const compiled = filterEnvironment().compile(source);
  if (!compiled.ok) return compiled;
  return { ok: true, value: filterOf(compiled.value) };
}

function filterOf(expression: CompiledExpression): EventFilter {
  return {
    source: expression.source,
    matches: (event) => expression.matches({ [TYPE_STAND_IN]: event.type, data: event.data }),
  };
}

/** Compiled filters kept per endpoint, with the filter version they were compiled from. */
const cache = new Map<string, { version: number; filter: EventFilter | null }>();
/** Enough for every endpoint of a large installation; past it the cache starts over rather than grow. */
const MAX_CACHED = 10_000;

/**
 * The compiled filter of an endpoint at `version` (gw.endpoints.filter_version, moved by every change of the
 * filter), compiled once per version. A stored filter that no longer compiles (it passed when saved) matches
 * nothing, like an evaluation error. A process-wide memo of a pure function: it holds no connection or secret.
 */
export function endpointFilter(endpointId: string, version: number, source: string): EventFilter | null {
  const hit = cache.get(endpointId);
  if (hit && hit.version === version) return hit.filter;
  const compiled = compileEventFilter(source);
  const filter = compiled.ok ? compiled.value : null;
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(endpointId, { version, filter });
  return filter;
}

/**
 * The event as filters read it: `data` as JSON gives it (what the endpoint would receive), so a Date reads as its ISO
 * text and an absent field as absent.
 */
export function filterableEvent(type: string, data: unknown): FilterableEvent {
  return { type, data: data === undefined ? null : JSON.parse(JSON.stringify(data)) };
}
