// (node) Loads a settlement report: streamed from the body through csv-parse into COPY, hashed on the way.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { enqueueReconciliation } from '../core/jobs/enqueue.js';
import { detectFormat, isLineError, readLine, type ReportFormat, type ReportHeader } from './formats.js';
import { copyItems, copyRow, finishLoad, findRunByHash, insertRun, type RunRow } from './reconciliation-store.js';

/** The providers whose reports Switchyard reads, and the format each writes. */
export const REPORT_FORMATS: Readonly<Record<string, ReportFormat>> = { stripe: 'stripe', adyen: 'adyen' };

/** Reports up to this many bytes are read (the 50 MiB). */
export const MAX_REPORT_BYTES = 50 * 1024 * 1024;

/** How loading a report ended: a new run to match, or the run of the same bytes loaded before. */
export type LoadOutcome = { kind: 'created'; runId: string } | { kind: 'existing'; run: RunRow };

/** Rolls the load back when the same bytes were loaded before. */
class SameReport extends Error {
  constructor(readonly run: RunRow) {
    super('same report');
  }
}

/**
 * Loads a report for a Stripe or Adyen source: the body is read once, as a stream (never held whole), through
 * csv-parse (quoted fields, CRLF, BOM) into COPY of gw.reconciliation_items, one row per data line (a line that
 * cannot be read is stored `invalid` with its line number), then the run is queued for matching. The same bytes again
 * for the source answer the first run and store nothing.
 * @throws AppError 422 `report_format_unknown` (the header is neither format; the detail names the columns each lacks),
 *   422 `report_format_mismatch` (a Stripe report for an Adyen source or the reverse), 413 `payload_too_large` (over
 *   `maxBytes`), 400 `invalid_request` (not UTF-8 or not CSV).
 */
export async function loadReport(
  deps: Pick<Deps, 'sql' | 'clock'>,
  input: { merchantId: string; sourceId: string; provider: string; body: ReadableStream<Uint8Array> | null; maxBytes?: number },
): Promise<LoadOutcome> {
  const expected = REPORT_FORMATS[input.provider];
  if (!expected)
    throw new AppError(
      'report_format_mismatch',
      422,
      `Source ${input.sourceId} is a ${input.provider} source: only Stripe and Adyen reports are reconciled.`,
    );
  const maxBytes = input.maxBytes ?? MAX_REPORT_BYTES;
  const runId = newId('rcn', deps.clock());
  const hash = createHash('sha256');
  let sha256: Uint8Array | undefined;
  let bytes = 0;
  const metered = async function* (body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
    if (!body) return;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new AppError('payload_too_large', 413, `The report exceeds ${maxBytes} bytes.`);
      try {
        decoder.decode(chunk, { stream: true });
      } catch {
        throw new AppError('invalid_request', 400, 'The report is not UTF-8 text.');
      }
      hash.update(chunk);
      yield chunk;
    }
  };
  try {
    return await deps.sql.begin(async (tx) => {
      let lines = 0;
      const payouts = new Set<string>();
      // A record csv-parse cannot read (an unclosed quote, …) is a line error; the rest of the report still loads.
      const skipped: { lineNo: number; error: string }[] = [];
      const parser = parse({
        bom: true,
        info: true,
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        on_skip: (err) => {
          skipped.push({ lineNo: (err as { lines?: number } | undefined)?.lines ?? 0, error: err?.message ?? 'unreadable CSV' });
          return undefined;
        },
      });
      const records = (parser as AsyncIterable<{ record: string[]; info: { lines: number } }>)[Symbol.asyncIterator]();
      const feeding = pipeline(Readable.from(metered(input.body)), parser).catch((err: unknown) => {
        throw csvError(err);
      });
      feeding.catch(() => {}); // awaited below; this only keeps an early refusal from going unhandled
      let header: ReportHeader;
      try {
        header = await readHeader(records, expected, input.sourceId, input.provider);
      } catch (err) {
        parser.destroy();
        await feeding.catch(() => {});
        throw err;
      }
      // the run exists before COPY starts: its rows reference it, and no other statement may run during COPY
      await insertRun(tx, { id: runId, merchantId: input.merchantId, sourceId: input.sourceId, format: header.format, at: deps.clock() });
      const skippedRows = function* (): Generator<string> {
        for (const s of skipped.splice(0)) {
          lines++;
          yield copyRow([
            runId,
            s.lineNo,
            s.lineNo,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            'invalid',
            `line ${s.lineNo}: ${s.error}`,
          ]);
        }
      };
      const rows = async function* (): AsyncGenerator<string> {
        for (;;) {
          const next = await records.next();
          yield* skippedRows();
          if (next.done) break;
          const { record, info } = next.value;
          lines++;
          const line = readLine(record, header, info.lines);
          if (isLineError(line)) {
            yield copyRow([
              runId,
              line.lineNo,
              line.lineNo,
              line.lineId,
              null,
              line.pspType,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              'invalid',
              `line ${line.lineNo}: ${line.error}`,
            ]);
            continue;
          }
          if (line.payoutRef) payouts.add(line.payoutRef);
          yield copyRow([
            runId,
            line.lineNo,
            line.lineNo,
            line.lineId,
            line.category,
            line.pspType,
            line.paymentRef,
            line.operationRef,
            line.currency,
            line.gross,
            line.fee,
            line.net,
            line.occurredAt ? line.occurredAt.toISOString() : null,
            line.payoutRef,
            null,
            null,
          ]);
        }
      };
      const copy = await copyItems(tx);
      await Promise.all([feeding, pipeline(Readable.from(rows()), copy)]);
      sha256 = new Uint8Array(hash.digest());
      const earlier = await findRunByHash(tx, input.sourceId, sha256);
      if (earlier) throw new SameReport(earlier);
      const single = payouts.size === 1 ? [...payouts][0]! : null;
      await finishLoad(tx, runId, {
        sha256,
        lines,
        payoutId: header.format === 'stripe' ? single : null,
        batchNumber: header.format === 'adyen' ? single : null,
      });
      await enqueueReconciliation(tx, runId);
      return { kind: 'created' as const, runId };
    });
  } catch (err) {
    if (err instanceof SameReport) return { kind: 'existing', run: err.run };
    // two uploads of the same bytes at once: the second's hash collides at commit
    if (sha256 && (err as { constraint_name?: string }).constraint_name === 'reconciliation_runs_source_sha256_key') {
      const run = await findRunByHash(deps.sql, input.sourceId, sha256);
      if (run) return { kind: 'existing', run };
    }
    throw err;
  }
}

/** csv-parse's errors (unclosed quote, …) as 400 naming the line; our own AppErrors pass through. */
function csvError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; message?: string; lines?: number };
  if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
    return new AppError('invalid_request', 400, `The report is not valid CSV: ${e.message ?? e.code}`);
  }
  return err;
}

/** Reads the header record: the format, checked against the source's provider. Throws the 422s of {@link loadReport}. */
async function readHeader(
  records: AsyncIterator<{ record: string[] }>,
  expected: ReportFormat,
  sourceId: string,
  provider: string,
): Promise<ReportHeader> {
  const first = await records.next();
  if (first.done) throw new AppError('report_format_unknown', 422, 'The report is empty: there is no header row.');
  const found = detectFormat(first.value.record);
  if ('missing' in found) {
    throw new AppError(
      'report_format_unknown',
      422,
      `The header row is neither a Stripe itemized report (missing ${found.missing.stripe.join(', ')}) nor an Adyen Settlement details report (missing ${found.missing.adyen.join(', ')}).`,
    );
  }
  if (found.format !== expected) {
    throw new AppError(
      'report_format_mismatch',
      422,
      `This is ${found.format === 'stripe' ? 'a Stripe' : 'an Adyen'} report, and source ${sourceId} is a ${provider} source.`,
    );
  }
  return found;
}
