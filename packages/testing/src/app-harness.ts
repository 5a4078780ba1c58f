import type { QueueName } from '@coldcopy/queue-core';
import { Producer, type JobSecurity } from '@coldcopy/queue-core/producer';
import { createSilentLogger, startWorker, type Worker, type WorkerOptions } from '@coldcopy/queue-core/runtime';
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
  /**
   * Starts an in-process worker on the run's Redis and this test's prefix, with the producer's
   * security, a silent logger and no dead letters unless given; closed after the test.
   */
  startWorker<Q extends QueueName, D>(options: AppWorkerOptions<Q, D>): Promise<Worker>;
  /**
   * Runs `close` after the test, before the prefix is deleted. Last registered, first run: a worker
   * started on deps closes before the deps' own connections do.
   */
  defer(close: () => unknown): void;
}

/** `startWorker`'s options without what the test base fills in (connection, prefix). */
export type AppWorkerOptions<Q extends QueueName, D> = Omit<WorkerOptions<Q, D>, 'redisUrl' | 'connections' | 'prefix' | 'logger'> &
  Partial<Pick<WorkerOptions<Q, D>, 'logger'>> & {
    /** how long the worker may take to finish its jobs when the test ends (default 5 s) */
    readonly closeGraceMs?: number;
  };

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
 * closed and deleted after the test. Call it first in the app's harness: its own hooks (emulators)
 * then run after these set up and, as vitest runs after-hooks in reverse (`sequence.hooks`
 * 'stack'), before these tear down. What a test opens (workers, deps' connections) goes through
 * `state.defer`/`state.startWorker` and is closed in reverse order before its prefix goes.
 */
export function useAppTestBase<P, S extends AppTestBase<P>>(state: S, options: AppTestBaseOptions<P>): S {
  let deferred: Array<() => unknown> = [];
  state.defer = (close) => {
    deferred.push(close);
  };
  state.startWorker = async ({ closeGraceMs = 5000, ...workerOptions }) => {
    const worker = await startWorker({
      logger: createSilentLogger(),
      security: options.security(),
      deadLetters: false,
      ...workerOptions,
      redisUrl: inject('redisUrl'),
      prefix: state.prefix,
    });
    state.defer(() => worker.close(closeGraceMs));
    return worker;
  };
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
    const closing = deferred;
    deferred = [];
    const errors: unknown[] = [];
    while (closing.length) {
      try {
        await closing.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    await state.producer?.close();
    await deletePrefix(inject('redisUrl'), state.prefix);
    if (errors.length) throw new AggregateError(errors, `${errors.length} of the test's deferred closes failed`);
  });
  return state;
}
