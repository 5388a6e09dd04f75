// The CLI's launcher line (`#!/usr/bin/env -S node …` in index.ts): the Node running these tests accepts its options,
// and they bound the young generation as README "Capacity planning" says.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const firstLine = readFileSync(new URL('./index.ts', import.meta.url), 'utf8').split('\n', 1)[0]!;

/** Allocates 400 MB of short-lived objects, then prints the young generation's committed size, MB. */
const CHURN = `
const v8 = require('node:v8');
let keep = [];
for (let i = 0; i < 4e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 5e4) keep = []; }
const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
console.log(s.space_size / 1048576);`;

function youngGenerationMb(options: string[]): number {
  const r = spawnSync(process.execPath, [...options, '-e', CHURN], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return Number(r.stdout.trim());
}

describe('the launcher line', () => {
  it('runs node through env -S with V8 options this Node accepts, which cap the semi-spaces at 8 MB', () => {
    const m = /^#!\/usr\/bin\/env -S node((?: --[a-z-]+=\d+)+)$/.exec(firstLine);
    expect(m).not.toBeNull();
    const options = m![1]!.trim().split(' ');
    expect(options).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50']);
    // Two semi-spaces of at most 8 MB each; V8's default lets this churn grow them to 16 MB each.
    expect(youngGenerationMb(options)).toBeLessThanOrEqual(16);
    expect(youngGenerationMb([])).toBeGreaterThan(16);
  }, 60_000);

  it("is what the Docker image's entry point runs too (it starts node on the file, which skips the #! line)", () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const options = firstLine.replace(/^#!\/usr\/bin\/env -S node /, '').split(' ');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...options, 'dist/app/cli/index.js']);
  });
});
