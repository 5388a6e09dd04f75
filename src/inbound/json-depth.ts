// Runs on Node and on Workers alike: plain byte scanning, no parsing.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * True when `body`, read as JSON text, nests arrays and objects more than `maxDepth`
 * levels deep (the top-level object is level 1). A linear scan of the bytes that skips
 * string contents (escapes included), with no recursion and no parse, so it is safe to run
 * on any body before anything parses or re-serialises it: `JSON.stringify` and recursive
 * walkers overflow the stack on a few thousand levels. Bytes that are not JSON are scanned
 * the same way; the answer then only counts their brackets.
 *
 * @example
 * nestedDeeperThan(utf8('{"a":{"b":[1]}}'), 2); // true (3 levels)
 */
export function nestedDeeperThan(body: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i += 1) {
    const b = body[i]!;
    if (inString) {
      if (b === BACKSLASH) i += 1;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}
