// A self-time summary of a V8 .cpuprofile (what `node --cpu-prof` writes), for
// `BENCH_PROFILE=1 npm run bench:e2e`: functions grouped by name and url:line, the
// heaviest first, as shares of the time the thread was not idle. V8 reports positions in
// the code it ran, tsx's one-line output for our .ts files: those are mapped back to .ts
// lines through the source map tsx makes when this process imports the same file. The
// profile spans the process's whole life, start-up (module loading, migrations) included.
import { readFile } from 'node:fs/promises';
import { findSourceMap, type SourceMap } from 'node:module';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One line of the summary: a function (name and url:line), its self time (ms) and share of the busy (not idle) sampled time (%). */
export interface SelfTime {
  fn: string;
  selfMs: number;
  pct: number;
}

/** `url` without the `file://` scheme and the `root` prefix (`root` ends with a slash). */
function shorten(url: string, root: string): string {
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? path.slice(root.length) : path;
}

// Entry files run their command when imported: their positions stay unmapped.
const ENTRY_FILES = ['src/app/cli/index.ts', 'src/app/server.ts'];
const sourceMaps = new Map<string, SourceMap | null>();

/** `file.ts:line` (1-based) of a 0-based generated position in one of our .ts files under `root`; undefined when it cannot be mapped. */
async function originalLine(url: string, line: number, column: number, root: string): Promise<string | undefined> {
  const file = shorten(url, root);
  if (!url.startsWith(`file://${root}`) || !file.endsWith('.ts') || file.includes('node_modules/') || ENTRY_FILES.includes(file))
    return undefined;
  if (!sourceMaps.has(url)) {
    try {
      await import(url);
      sourceMaps.set(url, findSourceMap(url) ?? null);
    } catch {
      sourceMaps.set(url, null);
    }
  }
  const entry = sourceMaps.get(url)?.findEntry(line, column);
  return entry && 'originalLine' in entry ? `${file}:${entry.originalLine + 1}` : undefined;
}

/**
 * Reads the .cpuprofile at `file` and returns the sampled time (ms) and the `top` functions
 * by self time. A sample lasts until the next one (the last until the profile's end), as
 * Chrome DevTools counts it. Throws when the file is not a readable profile.
 */
export async function summariseCpuProfile(
  file: string,
  root: string,
  top = 20,
): Promise<{ totalMs: number; busyMs: number; rows: SelfTime[] }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const keyOf = new Map<number, string>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    // An unmapped .ts position keeps its column: tsx's output is one line.
    const generated = `${shorten(url, root)}:${lineNumber + 1}${url.endsWith('.ts') ? `:${columnNumber + 1}` : ''}`;
    const where = url ? ((await originalLine(url, lineNumber, columnNumber, root)) ?? generated) : '';
    keyOf.set(n.id, `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`);
  }
  const selfUs = new Map<string, number>();
  let t = profile.startTime;
  const stamps = deltas.map((d) => (t += d));
  let totalUs = 0;
  for (let k = 0; k < samples.length; k++) {
    const until = k + 1 < stamps.length ? stamps[k + 1]! : profile.endTime;
    const us = Math.max(0, until - stamps[k]!);
    const key = keyOf.get(samples[k]!) ?? '?';
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
    totalUs += us;
  }
  const busyUs = totalUs - (selfUs.get('(idle)') ?? 0);
  const rows = [...selfUs]
    .filter(([fn]) => fn !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({ fn, selfMs: Math.round(us / 100) / 10, pct: busyUs > 0 ? Math.round((1000 * us) / busyUs) / 10 : 0 }));
  return { totalMs: Math.round(totalUs / 1000), busyMs: Math.round(busyUs / 1000), rows };
}
