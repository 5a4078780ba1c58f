import { Producer, type JobSecurity } from '@coldcopy/queue-core/producer';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { deletePrefix, testPrefix } from './isolation.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** What every worker app's integration harness holds: filled by `useAppTestBase`. */
export interface AppTestBase<P> {
  /** this file's database (a clone of the migrated template) */
  db: TestDatabase;
  pool: P;
  /** a command connection to the run's private Redis */
  redis: Redis;
  /** this test's Bull/Redis prefix (deleted after the test) */
  prefix: string;
  /** a producer on this test's prefix */
  producer: Producer;
}

export interface AppTestBaseOptions<P> {
  /** the app's pool on the test database, e.g. `(url) => createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '12' }))` */
  readonly openPool: (databaseUrl: string) => P;
  readonly closePool: (pool: P) => Promise<void>;
  /** the producer's signing (and encryption) keys */
  readonly security: () => JobSecurity;
}

/**
 * The life of a worker app's integration tests (vitest hooks), filling `state`: per file a test
 * database, the app's pool and a Redis connection; per test a fresh prefix and a producer on it,
 * closed and deleted after the test. Call it first in the app's harness: its own hooks (emulators,
 * workers) then run after these set up and, as vitest runs after-hooks in reverse (`sequence.hooks`
 * 'stack'), before these tear down (workers close before their prefix goes).
 */
export function useAppTestBase<P, S extends AppTestBase<P>>(state: S, options: AppTestBaseOptions<P>): S {
  beforeAll(async () => {
    state.db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
    state.pool = options.openPool(state.db.url);
    state.redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    await state.redis?.quit();
    if (state.pool) await options.closePool(state.pool);
    await state.db?.drop();
  });
  beforeEach(() => {
    state.prefix = testPrefix();
    state.producer = new Producer({ redisUrl: inject('redisUrl'), prefix: state.prefix, security: options.security() });
  });
  afterEach(async () => {
    await state.producer?.close();
    await deletePrefix(inject('redisUrl'), state.prefix);
  });
  return state;
}
