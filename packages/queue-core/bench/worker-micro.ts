/**
 * CPU per job of the worker runtime's own work, no Redis: the processor Bull calls (signature
 * check, schema, context, handler, settling) and the 'completed' listener, on fake Bull jobs.
 * `bash scripts/with-node.sh node --import tsx packages/queue-core/bench/worker-micro.ts`
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import type Bull from 'bull';
import winston from 'winston';
import { baseJobOptions } from '../src/definitions/job-options.js';
import { createLogger } from '../src/observability/logger.js';
import { createWorkerMetrics } from '../src/observability/metrics.js';
import { JobSecurity } from '../src/security/job-security.js';
import { benchNoop, cpuPerCall, payload } from './shared.js';
import type { Attempt, WorkerScope } from '../src/runtime/attempt.js';
import { buildDispatchTable, createDispatch } from '../src/runtime/dispatch.js';
import { attachWorkerEvents } from '../src/runtime/worker-events.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 50_000);
const def = benchNoop;
const security = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
const log = createLogger({ level: 'info', transports: [new winston.transports.Stream({ stream: createWriteStream('/dev/null') })] });
const metrics = createWorkerMetrics();
const options = { handlers: { 'bench-noop': async () => undefined }, definitions: [def] };
const table = buildDispatchTable('maintenance', options, metrics);
const inflight = new Set<Attempt<object>>();
const state = { shuttingDown: false };
const scope = { deps: {}, log, queue: 'maintenance' } as unknown as WorkerScope<object>;
const dispatch = createDispatch({ queueName: 'maintenance', table, security, scope, inflight, log, state });
const shard = new EventEmitter();
attachWorkerEvents({
  queueName: 'maintenance',
  shardQueues: [shard as unknown as Bull.Queue],
  table,
  metrics,
  log,
  deadLetters: undefined,
  onFinalFailure: undefined,
  state,
});

/** Jobs as Bull hands them to the processor: data and opts parsed from the stored JSON. */
const jobs = Array.from({ length: 1000 }, (_, i) => {
  const data = payload(i);
  const opts = { ...baseJobOptions(def), jobId: randomUUID() } as Record<string, unknown>;
  opts.signature = security.sign('bench-noop', data, opts);
  const stored = { ...JSON.parse(JSON.stringify(opts)), delay: 0, timestamp: Date.now() };
  return {
    id: opts.jobId,
    name: 'bench-noop',
    data: JSON.parse(JSON.stringify(data)),
    opts: stored,
    attemptsMade: 0,
    timestamp: Date.now(),
    processedOn: Date.now(),
    discard() {},
  } as unknown as Bull.Job;
});

const cost = (name: string, fn: (i: number) => unknown, awaitEach = false) => cpuPerCall(name, N, fn, awaitEach);

await cost(
  'processor + completed listener',
  async (i) => {
    const job = jobs[i % 1000]!;
    await dispatch(job);
    shard.emit('completed', job, undefined);
  },
  true,
);
await cost('  security.admit', (i) => security.admit(def, jobs[i % 1000]!), false);
await cost('  schema.safeParse', (i) => def.schema.safeParse(jobs[i % 1000]!.data), false);
await cost('  completed listener', (i) => shard.emit('completed', jobs[i % 1000]!, undefined), false);
await cost('  async no-op handler, awaited', () => options.handlers['bench-noop'](), true);
process.exit(0);
