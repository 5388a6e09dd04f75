// Text PostgreSQL can store. Runs on Node and on Workers alike.

// A NUL or an unpaired surrogate; no `u` flag, so the pattern sees UTF-16 code units and lone surrogates match.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Index (UTF-16 code units) of the first character of `s` PostgreSQL `text`/`jsonb` cannot hold (U+0000, an unpaired
 * surrogate), or -1. Source: PostgreSQL manual §8.3 (character types), §8.14 (JSON types).
 * @example
 * unstorableAt('evt_\u0000'); // 4
 */
export function unstorableAt(s: string): number {
  const m = UNSTORABLE.exec(s);
  return m ? m.index : -1;
}

/** What {@link findUnstorable} found in a parsed JSON value. */
type UnstorableFinding = { kind: 'text'; path: (string | number)[] } | { kind: 'depth'; path: (string | number)[] };

/**
 * The first unstorable place in a parsed JSON value, walked without recursion: a string or key {@link unstorableAt}
 * refuses (`text`), or nesting beyond `maxDepth` (`depth`; the top level is 1); undefined when all is storable.
 * @example
 * findUnstorable({ name: 'a\u0000' }, 64); // { kind: 'text', path: ['name'] }
 */
export function findUnstorable(value: unknown, maxDepth: number): UnstorableFinding | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (unstorableAt(v) >= 0) return { kind: 'text', path };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (path.length >= maxDepth) return { kind: 'depth', path };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i -= 1) stack.push({ value: v[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i]!;
      if (unstorableAt(key) >= 0) return { kind: 'text', path: [...path, key] };
      stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return undefined;
}
