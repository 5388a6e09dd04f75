// (node) A settlement report in two steps: the request (or pull) spools the raw bytes and checks the header; the job
// streams the spooled chunks through csv-parse into COPY.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { enqueueReconciliation } from '../core/jobs/enqueue.js';
import { detectFormat, isLineError, readLine, type ReportFormat, type ReportHeader } from './formats.js';
import {
  copyItems,
  copyRow,
  deleteSpool,
  findRunByHash,
  finishLoad,
  insertRun,
  insertSpoolChunk,
  readSpoolChunk,
  setRunHash,
  type RunRow,
} from './reconciliation-store.js';

/** The providers whose reports Switchyard reads, and the format each writes. */
export const REPORT_FORMATS: Readonly<Record<string, ReportFormat>> = { stripe: 'stripe', adyen: 'adyen' };

/** Reports up to this many bytes are read (the 50 MiB). */
export const MAX_REPORT_BYTES = 50 * 1024 * 1024;

/** Bytes per spool row: large enough that a 50 MiB report is a dozen rows, small enough to hold one in memory. */
export const SPOOL_CHUNK_BYTES = 4 * 1024 * 1024;

/** The header row must end within this many characters (a real one is a few hundred). */
const MAX_HEADER_CHARS = 64 * 1024;

/** How receiving a report ended: a new run for the job, or the run of the same bytes received before. */
export type LoadOutcome = { kind: 'created'; runId: string } | { kind: 'existing'; run: RunRow };

/** Rolls the spool back when the same bytes were reconciled before. */
class SameReport extends Error {
  constructor(readonly run: RunRow) {
    super('same report');
  }
}

/**
 * The first CSV record of `text` (a BOM already stripped), once its line has ended (or at the end of the body when
 * `atEnd`); leading blank lines are skipped as the job's parser skips them. Undefined while the line is incomplete.
 * @throws AppError 400 `invalid_request` when the line is not CSV.
 */
function firstRecord(text: string, atEnd: boolean): string[] | undefined {
  const start = /^[\r\n]*/.exec(text)![0].length;
  let quoted = false;
  let end = -1;
  for (let i = start; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 34) quoted = !quoted;
    else if (!quoted && (ch === 10 || ch === 13)) {
      end = i;
      break;
    }
  }
  if (end < 0 && !atEnd) return undefined;
  const line = text.slice(start, end < 0 ? text.length : end);
  if (line === '') return undefined;
  try {
    return (parseSync(line, { relax_column_count: true }) as string[][])[0];
  } catch (err) {
    throw csvError(err);
  }
}

/**
 * Receives a report for a Stripe or Adyen source without reading its lines: the body is streamed (never held whole)
 * into gw.reconciliation_spool in chunks of `chunkBytes` (default {@link SPOOL_CHUNK_BYTES}), hashed and checked UTF-8
 * on the way; the header row is checked as soon as it has arrived, so a report that is not one Switchyard reads is
 * refused at once. One transaction creates the run (`processing`, `counts.lines` 0 until the job reads it), its spool
 * rows and its `reconcile_settlement_report` job: a body cut short stores nothing. The same bytes again for the source
 * answer the first run and store nothing. The time this takes depends on the body's size, never on its lines.
 * @throws AppError 422 `report_format_unknown` (the header is neither format; the detail names the columns each lacks),
 *   422 `report_format_mismatch` (a Stripe report for an Adyen source or the reverse), 413 `payload_too_large` (over
 *   `maxBytes`), 400 `invalid_request` (not UTF-8, or a header row that is not CSV); the body stream's own error when
 *   it is cut.
 */
export async function spoolReport(
  deps: Pick<Deps, 'sql' | 'clock'>,
  input: {
    merchantId: string;
    sourceId: string;
    provider: string;
    body: ReadableStream<Uint8Array> | null;
    maxBytes?: number;
    chunkBytes?: number;
  },
): Promise<LoadOutcome> {
  const expected = REPORT_FORMATS[input.provider];
  if (!expected)
    throw new AppError(
      'report_format_mismatch',
      422,
      `Source ${input.sourceId} is a ${input.provider} source: only Stripe and Adyen reports are reconciled.`,
    );
  const maxBytes = input.maxBytes ?? MAX_REPORT_BYTES;
  const chunkBytes = input.chunkBytes ?? SPOOL_CHUNK_BYTES;
  const runId = newId('rcn', deps.clock());
  let sha256: Uint8Array | undefined;
  try {
    return await deps.sql.begin(async (tx) => {
      const hash = createHash('sha256');
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const utf8 = (chunk?: Uint8Array): string => {
        try {
          return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
        } catch {
          throw new AppError('invalid_request', 400, 'The report is not UTF-8 text.');
        }
      };
      let bytes = 0;
      let head: string | undefined = '';
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      let seq = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        await insertSpoolChunk(tx, runId, seq++, pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      };
      // the run exists once its header is known: its format is the header's, and spool rows reference it
      const startRun = async (record: string[] | undefined): Promise<void> => {
        const header = checkHeader(record, expected, input.sourceId, input.provider);
        await insertRun(tx, { id: runId, merchantId: input.merchantId, sourceId: input.sourceId, format: header.format, at: deps.clock() });
        head = undefined;
      };
      if (input.body) {
        for await (const chunk of input.body as unknown as AsyncIterable<Uint8Array>) {
          if (chunk.byteLength === 0) continue;
          bytes += chunk.byteLength;
          if (bytes > maxBytes) throw new AppError('payload_too_large', 413, `The report exceeds ${maxBytes} bytes.`);
          const text = utf8(chunk);
          hash.update(chunk);
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
          if (head !== undefined) {
            head += text;
            const record = firstRecord(head, false);
            if (record) await startRun(record);
            else if (head.length > MAX_HEADER_CHARS)
              throw new AppError(
                'report_format_unknown',
                422,
                `The first line runs past ${MAX_HEADER_CHARS} characters: it is no header row.`,
              );
          }
          if (head === undefined && pendingBytes >= chunkBytes) await flush();
        }
      }
      const rest = utf8();
      if (head !== undefined) await startRun(firstRecord(head + rest, true));
      await flush();
      sha256 = new Uint8Array(hash.digest());
      const earlier = await findRunByHash(tx, input.sourceId, sha256);
      if (earlier) throw new SameReport(earlier);
      await setRunHash(tx, runId, sha256);
      await enqueueReconciliation(tx, runId);
      return { kind: 'created' as const, runId };
    });
  } catch (err) {
    if (err instanceof SameReport) return { kind: 'existing', run: err.run };
    // two uploads of the same bytes at once: the second's hash collides with the first's
    if (sha256 && (err as { constraint_name?: string }).constraint_name === 'reconciliation_runs_source_sha256_key') {
      const run = await findRunByHash(deps.sql, input.sourceId, sha256);
      if (run) return { kind: 'existing', run };
    }
    throw err;
  }
}

/** The spooled chunks of a run, in order, each read by its own query (on `deps.sql`, not the loading transaction). */
async function* spooledChunks(deps: Pick<Deps, 'sql'>, runId: string): AsyncGenerator<Uint8Array> {
  for (let seq = 0; ; seq++) {
    const chunk = await readSpoolChunk(deps.sql, runId, seq);
    if (!chunk) return;
    yield chunk;
  }
}

/**
 * Loads a spooled run (what {@link spoolReport} stored): the chunks are streamed through csv-parse (quoted fields,
 * CRLF, BOM) into COPY of gw.reconciliation_items, one row per data line (a line that cannot be read is stored
 * `invalid` with its line number); in the same transaction the run gets its line count, payout or batch and period,
 * and its spool rows are deleted. Returns the number of lines.
 * @throws AppError 400 `invalid_request` (CSV that csv-parse gives up on), 422 (the header, should it no longer be
 *   one the source reads): the run cannot be read, and retrying will not change that.
 */
export async function loadSpooledReport(deps: Pick<Deps, 'sql'>, run: { id: string; sourceId: string; provider: string }): Promise<number> {
  const runId = run.id;
  const expected = REPORT_FORMATS[run.provider];
  if (!expected) throw new AppError('report_format_mismatch', 422, `Source ${run.sourceId} is a ${run.provider} source.`);
  return deps.sql.begin(async (tx) => {
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
    // one spooled chunk read ahead at most (Readable.from would otherwise buffer 16)
    const feeding = pipeline(Readable.from(spooledChunks(deps, runId), { highWaterMark: 1 }), parser).catch((err: unknown) => {
      throw csvError(err);
    });
    feeding.catch(() => {}); // awaited below; this only keeps an early refusal from going unhandled
    let header: ReportHeader;
    try {
      const first = await records.next();
      header = checkHeader(first.done ? undefined : first.value.record, expected, run.sourceId, run.provider);
    } catch (err) {
      parser.destroy();
      await feeding.catch(() => {});
      throw err;
    }
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
          null,
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
            null,
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
          line.netCurrency,
        ]);
      }
    };
    const copy = await copyItems(tx);
    await Promise.all([feeding, pipeline(Readable.from(rows()), copy)]);
    await deleteSpool(tx, runId);
    const single = payouts.size === 1 ? [...payouts][0]! : null;
    await finishLoad(tx, runId, {
      lines,
      payoutId: header.format === 'stripe' ? single : null,
      batchNumber: header.format === 'adyen' ? single : null,
    });
    return lines;
  });
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

/** The format of a header record, checked against the source's provider. Throws the 422s of {@link spoolReport}. */
function checkHeader(record: string[] | undefined, expected: ReportFormat, sourceId: string, provider: string): ReportHeader {
  if (!record) throw new AppError('report_format_unknown', 422, 'The report is empty: there is no header row.');
  const found = detectFormat(record);
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
