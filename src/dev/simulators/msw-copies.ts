// A second copy of msw (switchyard installed as a symlink keeps its own, from its devDependencies)
// makes handlers the project's setupServer() does not recognise: msw 2.15 groups handlers by a `kind`
// field that 2.9 does not set, so requests meant for the simulator go to the network and end in
// ENOTFOUND without a word. These checks name the two copies instead.

/** One installed msw package: its directory (symlinks resolved) and version. */
export interface MswCopy {
  root: string;
  version: string;
}

type NodeModule = typeof import('node:module');
type NodeFs = typeof import('node:fs');
type NodePath = typeof import('node:path');

/**
 * The msw that Node's resolution finds from `from` (a file URL, or an absolute path; a directory
 * path ends with `/`), or undefined when there is none or when not running on Node (a browser
 * bundle has one copy by construction).
 */
export function resolveMsw(from: string): MswCopy | undefined {
  const load = globalThis.process?.getBuiltinModule;
  if (typeof load !== 'function') return undefined;
  const { createRequire } = load('node:module') as NodeModule;
  const { readFileSync, realpathSync } = load('node:fs') as NodeFs;
  const { dirname } = load('node:path') as NodePath;
  try {
    const file = realpathSync(createRequire(from).resolve('msw/package.json'));
    const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
    return { root: dirname(file), version: String(version) };
  } catch {
    return undefined;
  }
}

/**
 * Why `ours` (the msw the simulators import) and `theirs` (the project's) cannot work together, or
 * undefined when they can: one copy, a missing side, or two copies of one version (same handler shape).
 */
export function secondMswProblem(ours: MswCopy | undefined, theirs: MswCopy | undefined): string | undefined {
  if (!ours || !theirs || ours.root === theirs.root || ours.version === theirs.version) return undefined;
  return (
    `switchyard/simulators: two copies of msw are loaded: ${ours.version} at ${ours.root} (the simulators' handlers) ` +
    `and ${theirs.version} at ${theirs.root} (your project's). setupServer() of one copy does not see handlers made ` +
    'by the other, so requests meant for the simulator would go to the network (getaddrinfo ENOTFOUND). msw is a peer ' +
    'dependency of switchyard: install switchyard so that it uses your msw, from its packed tarball (`npm pack` in the ' +
    'switchyard checkout, then `npm install -D <switchyard-x.y.z.tgz>`) or from a directory with `npm install -D --install-links <dir>`.'
  );
}

/**
 * Throws an Error naming both copies when the msw the simulators import differs from the one
 * `projectDir` (default: the working directory) resolves ({@link secondMswProblem}).
 */
export function assertSingleMsw(projectDir: string | undefined = globalThis.process?.cwd?.()): void {
  if (!projectDir) return;
  const problem = secondMswProblem(resolveMsw(import.meta.url), resolveMsw(`${projectDir.replace(/\/+$/, '')}/`));
  if (problem) throw new Error(problem);
}
