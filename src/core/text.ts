// Text PostgreSQL can store. Runs on Node and on Workers alike.

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
// Without the `u` flag the pattern sees UTF-16 code units, so lone surrogates are matchable.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The index (UTF-16 code units) of the first character of `s` PostgreSQL `text` and `jsonb`
 * cannot hold, U+0000 or an unpaired surrogate (no UTF-8 form), or -1 when there is none.
 * Source: PostgreSQL manual §8.3 (character types) and §8.14 (JSON types).
 *
 * @example
 * unstorableAt('evt_1');       // -1
 * unstorableAt('evt_\u0000');  // 4
 */
export function unstorableAt(s: string): number {
  const m = UNSTORABLE.exec(s);
  return m ? m.index : -1;
}

/** What {@link findUnstorable} found in a parsed JSON value. */
type UnstorableFinding =
  | { kind: 'text'; path: (string | number)[] }
  | { kind: 'depth'; path: (string | number)[] };

/**
 * The first unstorable place in a parsed JSON value, walked without recursion: a string or
 * key {@link unstorableAt} refuses (`text`), or nesting beyond `maxDepth` (`depth`; the top
 * level is 1); undefined when all is storable.
 *
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
