import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code beside its source, no database) and `db` (everything
// that touches PostgreSQL: one server per run, a migrated template cloned per test file).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // beside the source, and, for tests that need Node's own modules (files, an
          // independent HMAC), under test/unit: src/inbound must stay free of them
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'db',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          environment: 'node',
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
