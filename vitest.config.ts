import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code beside its source, no database) and `db` (everything
// that touches PostgreSQL: one server per run, a migrated template cloned per test file).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // beside the source; a test file may use Node's own modules (the rooms it tests may not)
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'db',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
