import { defineConfig } from 'vitest/config';

/**
 * Workspace packages that ship built JavaScript (queue-core, web) export their TypeScript sources
 * under this condition: vitest resolves it, and so does every Node process a test starts (through
 * NODE_OPTIONS), so tests run the sources without a build step.
 */
const SOURCE_CONDITION = '@coldcopy/source';
const nodeOptions = (process.env.NODE_OPTIONS ?? '').includes(`--conditions=${SOURCE_CONDITION}`)
  ? (process.env.NODE_OPTIONS ?? '')
  : [`--conditions=${SOURCE_CONDITION}`, process.env.NODE_OPTIONS].filter(Boolean).join(' ');
// ours, then vitest's default server conditions (vite's without 'module': Node loads externals)
const conditions = [SOURCE_CONDITION, 'node', 'development|production'];

const resolveSources = { resolve: { conditions }, ssr: { resolve: { conditions } } };

// Three projects: `unit` needs nothing; `types` runs tsc over the type tests; `integration` gets a private redis-server (and Postgres)
// from the global setup, unless TEST_REDIS_URL / TEST_DATABASE_URL point at servers you own.
export default defineConfig({
  test: {
    projects: [
      {
        ...resolveSources,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          // a unit test reads only the repository's files and installs nothing (unit-hygiene.ts)
          setupFiles: ['packages/testing/src/unit-hygiene.ts'],
          environment: 'node',
          env: { NODE_OPTIONS: nodeOptions },
        },
      },
      {
        test: {
          // Type tests (`*.test-d.ts`: expectTypeOf and @ts-expect-error), run by tsc, not executed.
          name: 'types',
          sequence: { groupOrder: 0 },
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['packages/*/src/**/*.test-d.ts', 'apps/*/src/**/*.test-d.ts'],
            tsconfig: 'tsconfig.test-d.json',
          },
        },
      },
      {
        ...resolveSources,
        test: {
          name: 'integration',
          // after the unit project, with its own worker limit
          sequence: { groupOrder: 1 },
          include: ['packages/*/test/**/*.int.test.ts', 'apps/*/test/**/*.int.test.ts', 'examples/*/test/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          environment: 'node',
          env: { NODE_OPTIONS: nodeOptions },
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
