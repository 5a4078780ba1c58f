import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deletePrefix, testPrefix, waitFor } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, inject } from 'vitest';
import { createSilentLogger } from '../src/observability/logger.js';
import { startWorker, type Worker, type WorkerOptions } from '../src/runtime/worker.js';
import { testHandlers, testJobs, type TestDeps } from './fixtures/test-jobs.js';
import { TEST_SECURITY_ENV, testSecurity } from './fixtures/test-keys.js';

/**
 * Per-test isolation: a random Bull prefix, every opened resource registered for closing, and
 * afterwards only the keys under that prefix deleted (never FLUSHALL).
 */
export function useIsolatedRedis() {
  const redisUrl = inject('redisUrl');
  const state = { prefix: '', redisUrl, cleanups: [] as Array<() => unknown> };
  beforeEach(() => {
    state.prefix = testPrefix();
  });
  afterEach(async () => {
    for (const cleanup of state.cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // keep cleaning
      }
    }
    state.cleanups = [];
    await deletePrefix(redisUrl, state.prefix);
  });
  return {
    get prefix() {
      return state.prefix;
    },
    redisUrl,
    /** registers something to close after the test */
    track<T>(resource: T, close: (r: T) => unknown): T {
      state.cleanups.push(() => close(resource));
      return resource;
    },
    /** a plain client for assertions */
    client(url = redisUrl): Redis {
      const c = new Redis(url, { maxRetriesPerRequest: 1 });
      state.cleanups.push(() => c.disconnect());
      return c;
    },
    /**
     * A maintenance-queue worker on this test's prefix running the test jobs (fixtures/test-jobs.ts),
     * whose handlers record events in `<prefix>:events` (readEvents); closed after the test.
     */
    async worker(overrides: Partial<WorkerOptions<'maintenance', TestDeps>> = {}): Promise<Worker> {
      const events = this.client();
      const deps: TestDeps = { record: async (e) => void (await events.rpush(`${state.prefix}:events`, e)) };
      const w = await startWorker({
        queue: 'maintenance',
        redisUrl,
        prefix: state.prefix,
        definitions: testJobs,
        handlers: testHandlers as never,
        deps,
        logger: createSilentLogger(),
        concurrency: 2,
        security: testSecurity(),
        ...overrides,
      });
      return this.track(w, (x) => x.close(2000));
    },
  };
}

export { waitFor };

export async function readEvents(client: Redis, prefix: string): Promise<string[]> {
  return client.lrange(`${prefix}:events`, 0, -1);
}

const WORKER_SCRIPT = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `fixtures/worker-process.ts` in a new Node process and waits until it is processing. */
export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    env: { ...process.env, HEALTH_PORT: '0', LOG_LEVEL: 'debug', ...TEST_SECURITY_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  await waitFor(() => out.includes('READY') || (done ? Promise.reject(new Error(`worker exited early:\n${out}`)) : false), {
    timeoutMs: 30_000,
    what: 'worker process to start',
  });
  return { child, pid: child.pid!, output: () => out, exited };
}
