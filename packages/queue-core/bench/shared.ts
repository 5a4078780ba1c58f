/**
 * What the queue-core benches share: the no-op job, a queue-core worker that says when it has
 * completed a given number of jobs, and the CPU-time loops and tables of the tools that measure
 * CPU per job (steadier than wall-clock throughput on a shared machine).
 */
import { createWriteStream } from 'node:fs';
import Bull from 'bull';
import winston from 'winston';
import { z } from 'zod';
import { defineJob } from '../src/definitions/define-job.js';
import { baseJobOptions } from '../src/definitions/job-options.js';
import { createLogger } from '../src/observability/logger.js';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import type { Producer } from '../src/producer/producer.js';
import type { JobSecurity } from '../src/security/job-security.js';
import { startWorker, type Worker } from '../src/runtime/worker.js';

export const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

/** A benchmark-only job with a realistic small payload (uuid + ints + trace fields). */
const benchNoopSpec = { name: 'bench-noop', queue: 'maintenance', description: 'benchmark no-op', scope: 'workspace' } as const;
export const benchNoop = defineJob({ ...benchNoopSpec, payload: { leadId: z.uuid(), n: z.number().int() } });
export const payload = (n: number) => ({ workspaceId: WS, leadId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f', n, requestedBy: 'system' });

/**
 * Adds `jobs` no-op jobs to the maintenance queue, signed like the producer does (an id of their
 * own, bound by the signature), so queue-core's worker verifies real signatures; raw Bull
 * processes the very same jobs.
 */
export async function preloadSigned(redisUrl: string, prefix: string, jobs: number, security: JobSecurity): Promise<void> {
  const q = new Bull('maintenance', redisUrl, { prefix });
  for (let i = 0; i < jobs; i += 1000) {
    await q.addBulk(
      Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => {
        const data = payload(i + k);
        const opts = { ...baseJobOptions(benchNoop), jobId: `bench.${i + k}` };
        return { name: 'bench-noop', data, opts: { ...opts, signature: security.sign('bench-noop', data, opts) } };
      }),
    );
  }
  await q.close();
}

/**
 * queue-core's worker on the maintenance queue with a no-op handler, winston writing to /dev/null
 * at `logLevel` and metrics on (created here, outside any measurement); `start()` starts it, and
 * `finished` resolves once `jobs` have completed.
 * Completions are counted by the worker's own `bull_jobs_completed_total` series (bumped in the
 * same Bull 'completed' event raw Bull is timed by): a listener added after startWorker returns
 * could miss the first jobs, as processing starts before it resolves.
 */
export function coreDrain(o: {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly jobs: number;
  readonly concurrency: number;
  readonly security: JobSecurity;
  readonly logLevel?: string;
  /** another checkout's runtime (baselineRuntime), for A/B runs in one process */
  readonly runtime?: Runtime;
}): { readonly start: () => Promise<Worker>; readonly finished: Promise<void> } {
  const runtime = o.runtime ?? thisRuntime;
  const logger = runtime.createLogger({ level: o.logLevel ?? 'info', transports: [new winston.transports.Stream({ stream: createWriteStream('/dev/null') })] });
  const metrics = runtime.createWorkerMetrics();
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const completed = metrics.completed.labels('maintenance', runtime.benchNoop.name);
  const inc = completed.inc.bind(completed);
  completed.inc = (by?: number) => {
    inc(by);
    if (completed.value === o.jobs) resolveDone();
  };
  const start = () =>
    runtime.startWorker({
      queue: 'maintenance',
      redisUrl: o.redisUrl,
      prefix: o.prefix,
      definitions: [runtime.benchNoop],
      handlers: { 'bench-noop': async () => undefined } as never,
      deps: {},
      logger,
      metrics,
      concurrency: o.concurrency,
      security: o.security,
    });
  return { start, finished };
}

/** The modules a queue-core worker is built from, from this checkout or another (A/B in one process). */
export interface Runtime {
  readonly createLogger: typeof createLogger;
  readonly createWorkerMetrics: typeof createWorkerMetrics;
  readonly startWorker: typeof startWorker;
  readonly benchNoop: typeof benchNoop;
}
const thisRuntime: Runtime = { createLogger, createWorkerMetrics, startWorker, benchNoop };

/**
 * The runtime of the checkout in `dir` (its sources, run by tsx like these), with the bench job
 * defined by its own defineJob; the security object stays ours (JobSecurity verifies the same
 * signatures in both while signing is unchanged).
 */
export async function baselineRuntime(dir: string): Promise<Runtime> {
  const src = `${dir}/packages/queue-core/src`;
  const [logger, metrics, worker, define] = await Promise.all([
    import(`${src}/observability/logger.ts`) as Promise<{ createLogger: typeof createLogger }>,
    import(`${src}/observability/metrics.ts`) as Promise<{ createWorkerMetrics: typeof createWorkerMetrics }>,
    import(`${src}/runtime/worker.ts`) as Promise<{ startWorker: typeof startWorker }>,
    import(`${src}/definitions/define-job.ts`) as Promise<{ defineJob: typeof defineJob }>,
  ]);
  const job = define.defineJob({ ...benchNoopSpec, payload: { leadId: z.uuid(), n: z.number().int() } }) as unknown as typeof benchNoop;
  return { createLogger: logger.createLogger, createWorkerMetrics: metrics.createWorkerMetrics, startWorker: worker.startWorker, benchNoop: job };
}

/** Process CPU µs per call of `fn` over `n` calls: median (and min) of 9 rounds, printed. */
export async function cpuPerCall(name: string, n: number, fn: (i: number) => unknown, awaitEach = false): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < 9; r++) {
    const c = process.cpuUsage();
    if (awaitEach) for (let i = 0; i < n; i++) await fn(i);
    else for (let i = 0; i < n; i++) fn(i);
    const u = process.cpuUsage(c);
    rounds.push((u.user + u.system) / n);
  }
  rounds.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(44)} ${rounds[4]!.toFixed(2).padStart(6)} µs (min ${rounds[0]!.toFixed(2)})\n`);
  return rounds[4]!;
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Prints each variant's median CPU µs per job (min–max) and its ratio to the variant `rawName`. */
export function printCpuTable(title: string, results: ReadonlyMap<string, readonly number[]>, rawName: string): void {
  const rawUs = median(results.get(rawName)!);
  process.stdout.write(`${title}, CPU µs per job (median; min–max)\n`);
  for (const [name, xs] of results) {
    const m = median(xs);
    process.stdout.write(
      `${name.padEnd(34)} ${m.toFixed(1).padStart(6)}  (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})  cpu ratio ${(rawUs / m).toFixed(2)}\n`,
    );
  }
}

/** Runs `fn(0)` … `fn(total - 1)` with at most `limit` calls in flight. */
export async function inFlight(limit: number, total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

/** Enqueues `count` no-op jobs through the producer: `enqueueBulk` calls of 500, or single enqueues with 64 in flight. */
export async function enqueueNoops(producer: Producer, bulk: boolean, count: number, data: (i: number) => ReturnType<typeof payload> = payload): Promise<void> {
  if (!bulk) return inFlight(64, count, (i) => producer.enqueue(benchNoop, data(i)));
  for (let i = 0; i < count; i += 500) {
    await producer.enqueueBulk(
      benchNoop,
      Array.from({ length: Math.min(500, count - i) }, (_, k) => ({ data: data(i + k) })),
    );
  }
}
