/**
 * `pnpm bench`: queue-core against raw Bull on the same private Redis, in the same run.
 *
 * - processing: N no-op jobs pre-loaded, then drained by a worker at concurrency 1, 10, 100;
 *   queue-core runs with validation, winston JSON logging at the default level (info: one line per
 *   completed job, written to /dev/null so the terminal is not the bottleneck) and metrics on.
 * - enqueue: single adds (64 in flight) and bulk adds, producer vs raw `queue.add` / `addBulk`
 *   with the same job options.
 * Rounds alternate raw and queue-core and report medians, because the machine is shared and noisy.
 * Env: BENCH_JOBS (default 20000), BENCH_ROUNDS (default 3), BENCH_REDIS_URL (default: private server).
 */
import { createWriteStream } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { RedisServer, testPrefix, deletePrefix } from '@coldcopy/testing';
import Bull from 'bull';
import winston from 'winston';
import { z } from 'zod';
import { defineJob } from '../src/define-job.js';
import { baseJobOptions } from '../src/job-options.js';
import { createLogger } from '../src/logger.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { Producer } from '../src/producer.js';
import { startWorker } from '../src/worker.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

/** A benchmark-only job with a realistic small payload (uuid + ints + trace fields). */
const benchNoop = defineJob({
  name: 'bench-noop',
  queue: 'maintenance',
  description: 'benchmark no-op',
  scope: 'workspace',
  payload: { leadId: z.uuid(), n: z.number().int() },
});
const payload = (n: number) => ({ workspaceId: WS, leadId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f', n, requestedBy: 'system' });
const bullOpts = () => ({ ...baseJobOptions(benchNoop) });

let redisUrl = process.env.BENCH_REDIS_URL ?? '';
let server: RedisServer | undefined;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function preload(prefix: string): Promise<void> {
  const q = new Bull('maintenance', redisUrl, { prefix });
  for (let i = 0; i < JOBS; i += 1000) {
    await q.addBulk(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: bullOpts() })));
  }
  await q.close();
}

async function drainRaw(concurrency: number): Promise<number> {
  const prefix = testPrefix();
  await preload(prefix);
  const q = new Bull('maintenance', redisUrl, { prefix, settings: { backoffStrategies: { classified: () => 1000 } } });
  let done = 0;
  const started = performance.now();
  const finished = new Promise<void>((resolve) => {
    q.on('completed', () => {
      if (++done === JOBS) resolve();
    });
  });
  void q.process('*', concurrency, async () => undefined);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await q.close();
  await deletePrefix(redisUrl, prefix);
  return JOBS / seconds;
}

async function drainCore(concurrency: number): Promise<number> {
  const prefix = testPrefix();
  await preload(prefix);
  const logger = createLogger({ level: 'info', transports: [new winston.transports.Stream({ stream: createWriteStream('/dev/null') })] });
  const metrics = createWorkerMetrics();
  let done = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const started = performance.now();
  const worker = await startWorker({
    queue: 'maintenance',
    redisUrl,
    prefix,
    definitions: [benchNoop],
    handlers: { 'bench-noop': async () => undefined } as never,
    deps: {},
    logger,
    metrics,
    concurrency,
  });
  worker.bull.on('completed', () => {
    if (++done === JOBS) resolveDone();
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close(5000);
  await deletePrefix(redisUrl, prefix);
  return JOBS / seconds;
}

async function enqueueRaw(bulk: boolean): Promise<number> {
  const prefix = testPrefix();
  const q = new Bull('maintenance', redisUrl, { prefix });
  await q.isReady();
  const started = performance.now();
  if (bulk) {
    for (let i = 0; i < JOBS; i += 500) {
      await q.addBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: bullOpts() })));
    }
  } else {
    await inFlight(64, JOBS, (i) => q.add('bench-noop', payload(i), bullOpts()));
  }
  const rate = JOBS / ((performance.now() - started) / 1000);
  await q.close();
  await deletePrefix(redisUrl, prefix);
  return rate;
}

async function enqueueCore(bulk: boolean): Promise<number> {
  const prefix = testPrefix();
  const producer = new Producer({ redisUrl, prefix, bulkChunkSize: 500 });
  await producer.enqueue(benchNoop, payload(-1)); // connect first, as a long-lived producer is
  const started = performance.now();
  if (bulk) {
    for (let i = 0; i < JOBS; i += 500) {
      await producer.enqueueBulk(benchNoop, Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ data: payload(i + k) })));
    }
  } else {
    await inFlight(64, JOBS, (i) => producer.enqueue(benchNoop, payload(i)));
  }
  const rate = JOBS / ((performance.now() - started) / 1000);
  await producer.close();
  await deletePrefix(redisUrl, prefix);
  return rate;
}

async function inFlight(limit: number, total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

interface Row {
  readonly name: string;
  readonly raw: number;
  readonly core: number;
}

async function compare(name: string, raw: () => Promise<number>, core: () => Promise<number>): Promise<Row> {
  const r: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    r.push(await raw());
    c.push(await core());
  }
  const row = { name, raw: median(r), core: median(c) };
  process.stdout.write(
    `${name.padEnd(28)} raw ${fmt(row.raw).padStart(8)}/s   queue-core ${fmt(row.core).padStart(8)}/s   ratio ${(row.core / row.raw).toFixed(2)}\n`,
  );
  return row;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  if (!redisUrl) {
    server = await RedisServer.start();
    redisUrl = server.url;
  }
  process.stdout.write(
    `queue-core vs raw Bull — ${JOBS} jobs per round, median of ${ROUNDS} rounds; ` +
      `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB\n\n`,
  );
  const rows: Row[] = [];
  for (const c of [1, 10, 100]) rows.push(await compare(`process, concurrency ${c}`, () => drainRaw(c), () => drainCore(c)));
  rows.push(await compare('enqueue, single (64 in flight)', () => enqueueRaw(false), () => enqueueCore(false)));
  rows.push(await compare('enqueue, bulk (500 per call)', () => enqueueRaw(true), () => enqueueCore(true)));
  process.stdout.write(`\n${JSON.stringify({ jobs: JOBS, rounds: ROUNDS, rows })}\n`);
  await server?.stop();
}

await main();
