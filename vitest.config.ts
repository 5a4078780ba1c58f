import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing; `integration` gets a private redis-server (and Postgres)
// from the global setup, unless TEST_REDIS_URL / TEST_DATABASE_URL point at servers you own.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          // after the unit project, with its own worker limit
          sequence: { groupOrder: 1 },
          include: ['packages/*/test/**/*.int.test.ts', 'apps/*/test/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          environment: 'node',
          globalSetup: ['packages/testing/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: fault tests spawn worker processes; keep file parallelism modest.
          maxWorkers: 2,
        },
      },
    ],
  },
});
