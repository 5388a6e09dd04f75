import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertSingleMsw, resolveMsw, secondMswProblem } from './msw-copies.js';
import { stripeSimulator } from './stripe.js';
import { adyenSimulator } from './adyen.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchyard-msw-copies-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A project directory whose node_modules holds a stand-in msw of `version`. */
function projectWithMsw(name: string, version: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, 'node_modules/msw'), { recursive: true });
  writeFileSync(path.join(dir, 'node_modules/msw/package.json'), JSON.stringify({ name: 'msw', version, main: 'index.js' }));
  writeFileSync(path.join(dir, 'node_modules/msw/index.js'), '');
  return dir;
}

describe('a second copy of msw', () => {
  it('resolves the msw a directory sees, symlinks followed, and nothing where there is none', () => {
    const dir = projectWithMsw('resolves', '2.15.0');
    const linked = path.join(tmp, 'linked');
    symlinkSync(dir, linked);
    expect(resolveMsw(`${linked}/`)).toEqual({ root: path.join(dir, 'node_modules/msw'), version: '2.15.0' });
    expect(resolveMsw('/')).toBeUndefined();
  });

  it('is no problem when it is the same copy, the same version, or one side has none', () => {
    const a = { root: '/p/node_modules/msw', version: '2.9.0' };
    expect(secondMswProblem(a, { ...a })).toBeUndefined();
    expect(secondMswProblem(a, { root: '/q/node_modules/msw', version: '2.9.0' })).toBeUndefined();
    expect(secondMswProblem(a, undefined)).toBeUndefined();
    expect(secondMswProblem(undefined, a)).toBeUndefined();
  });

  it('names both copies, the ENOTFOUND it would cause, and how to install switchyard instead', () => {
    const problem = secondMswProblem(
      { root: '/switchyard/node_modules/msw', version: '2.9.0' },
      { root: '/app/node_modules/msw', version: '2.15.0' },
    );
    expect(problem).toContain('2.9.0 at /switchyard/node_modules/msw');
    expect(problem).toContain('2.15.0 at /app/node_modules/msw');
    expect(problem).toContain('ENOTFOUND');
    expect(problem).toContain('npm pack');
    expect(problem).toContain('--install-links');
  });

  it("throws from assertSingleMsw when the project's msw is another version than the simulators'", () => {
    const dir = projectWithMsw('other-version', '0.0.0-stand-in');
    expect(() => assertSingleMsw(dir)).toThrow(/two copies of msw are loaded: \S+ at .* and 0\.0\.0-stand-in at /);
  });

  it('lets both simulators be made in this repository, where msw is one copy', () => {
    expect(() => assertSingleMsw()).not.toThrow();
    expect(stripeSimulator().handlers.length).toBeGreaterThan(0);
    expect(adyenSimulator().handlers.length).toBeGreaterThan(0);
  });
});
