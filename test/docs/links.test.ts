// Every relative link in README.md and docs/*.md points at a file of the repository, and a
// `#heading` at a heading that exists there (GitHub's anchors), so the docs a user reads from
// a clone never send them outside it (issue #16 item 3).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const documents = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks and inline code spans, where a `[text](target)` is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives the headings of `markdown`: lower-cased, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Each relative link of `file`: its target as written. */
function relativeLinks(file: string): string[] {
  const text = prose(readFileSync(path.join(root, file), 'utf8'));
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe('relative links in the docs', () => {
  it('finds the documents and their links', () => {
    expect(documents).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/http-api.md']));
    expect(relativeLinks('README.md')).toEqual(expect.arrayContaining(['docs/architecture.md', 'docs/http-api.md']));
  });

  it.each(documents)('%s: every relative link names a file and heading that exist', (file) => {
    const broken: string[] = [];
    for (const target of relativeLinks(file)) {
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const resolved = pathPart === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), pathPart);
      if (!resolved.startsWith(root) || !existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no document sends the reader outside the repository (../shared)', () => {
    for (const file of documents) expect(readFileSync(path.join(root, file), 'utf8'), file).not.toContain('../shared');
  });

  it("computes GitHub's anchors", () => {
    expect(anchors('## URLs that Switchyard calls\n## Ledger postings\n## Ledger postings\n```\n# not a heading\n```')).toEqual(
      new Set(['urls-that-switchyard-calls', 'ledger-postings', 'ledger-postings-1']),
    );
    expect(anchors('### `v1a` (Ed25519) signatures, optional')).toEqual(new Set(['v1a-ed25519-signatures-optional']));
  });
});
