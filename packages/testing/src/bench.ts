import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { PostgresServer } from './postgres-server.js';
import { RedisServer } from './redis-server.js';
import { databaseUrl } from './test-database.js';
import type { WorkerAppProcess } from './worker-app.js';

/** What the apps' benches (`pnpm bench`, `apps/<app>/bench/*.ts`) share: private servers, the rate a provider saw, teardown. */
export interface BenchServers {
  readonly redis: RedisServer;
  readonly postgres: PostgresServer;
  /** the migrated `bench` database */
  readonly databaseUrl: string;
  /** stops Postgres and Redis */
  stop(): Promise<void>;
  /** the part of a worker app's env that points it at these servers, under `prefix` (default: a fresh `bench…` one) */
  workerEnv(prefix?: string): BenchWorkerEnv;
}

export interface BenchWorkerEnv {
  readonly REDIS_URL: string;
  readonly BULL_PREFIX: string;
  readonly DATABASE_URL: string;
}

/**
 * A private redis-server and Postgres for one bench run, with a `bench` database migrated by
 * `migrate` (@coldcopy/db/migrate's `migrate`: passed in, this package does not depend on db).
 */
export async function startBenchServers(migrate: (url: string) => Promise<unknown>): Promise<BenchServers> {
  const redis = await RedisServer.start();
  const postgres = await PostgresServer.start();
  const stop = async () => {
    await postgres.stop();
    await redis.stop();
  };
  try {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const url = databaseUrl(postgres.url, 'bench');
    await migrate(url);
    const workerEnv = (prefix = `bench${randomUUID().slice(0, 6)}`) => ({ REDIS_URL: redis.url, BULL_PREFIX: prefix, DATABASE_URL: url });
    return { redis, postgres, databaseUrl: url, stop, workerEnv };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** SIGTERM to every worker process, then waits until all have exited. */
export async function stopWorkerApps(workers: readonly WorkerAppProcess[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** Largest number of timestamps inside any half-open window [t, t + windowMs) starting at one of them. */
export function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    best = Math.max(best, end - start);
  }
  return best;
}

/** The 1, 5 and 15 minute load averages, `1.2 0.8 0.5` (a bench's report shows them at start and end). */
export const loadAverages = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/**
 * A bench knob: `BENCH_<name>` from the environment as a positive number, or `fallback` when it is
 * unset. Anything else is an error, not NaN: a mistyped value would silently run another bench.
 */
export function benchKnob(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[`BENCH_${name}`];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`BENCH_${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

/** The scale of the rate-limited lead benches (email send-10k, enrichment enrich-10k). */
export interface LeadBenchScale {
  /** BENCH_LEADS (10,000) */
  readonly leads: number;
  /** the provider's limit per second, BENCH_RATE (100) */
  readonly rate: number;
  /** worker processes, BENCH_WORKERS (2) */
  readonly workers: number;
  /** jobs in flight per worker process, BENCH_CONCURRENCY (20) */
  readonly concurrency: number;
}

export function leadBenchScale(env: NodeJS.ProcessEnv = process.env): LeadBenchScale {
  return {
    leads: benchKnob('LEADS', 10_000, env),
    rate: benchKnob('RATE', 100, env),
    workers: benchKnob('WORKERS', 2, env),
    concurrency: benchKnob('CONCURRENCY', 20, env),
  };
}
