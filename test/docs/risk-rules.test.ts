// README "Risk rules": every attribute in the table is declared, and every example rule compiles.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRiskEnvironment } from '../../src/core/risk/attributes.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Risk rules'), readme.indexOf('## Testing with the simulators'));
const rows = (header: string) => {
  const at = section.indexOf(header);
  const out: string[][] = [];
  for (const line of section.slice(at).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    out.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return out;
};
const unquote = (c: string) => c.replace(/^`|`$/g, '');

describe('README "Risk rules"', () => {
  const env = createRiskEnvironment();

  it('documents declared attributes, with their type', () => {
    const attributes = rows('| attribute | type | unit | meaning |');
    expect(attributes).toHaveLength(20);
    for (const [name, type] of attributes) {
      const probe = type === 'map(string, string)' ? `size(${unquote(name!)}) >= 0` : `${unquote(name!)} == ${unquote(name!)}`;
      expect(env.compile(probe).ok, name).toBe(true);
    }
  });

  it('gives five example rules that compile', () => {
    const examples = rows('| name | action | expression |');
    expect(examples).toHaveLength(5);
    for (const [, , expression] of examples) expect(env.compile(unquote(expression!)), expression).toMatchObject({ ok: true });
  });
});
