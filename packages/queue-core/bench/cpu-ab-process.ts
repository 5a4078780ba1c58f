/**
 * CPU per processed job, variants alternated in one process on one private Redis (median of
 * BENCH_ROUNDS rounds of BENCH_JOBS jobs, concurrency BENCH_CONCURRENCY): raw Bull, raw Bull with
 * Bull's per-minute metrics (as queue-core's workers have them), and queue-core's worker.
 * `bash scripts/with-node.sh node --import tsx packages/queue-core/bench/cpu-ab-process.ts`
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { RedisServer, testPrefix, deletePrefix } from '@coldcopy/testing';
import Bull from 'bull';
import { JobSecurity } from '../src/security/job-security.js';
import { createBullQueue } from '../src/redis/bull-queue.js';
import { RedisConnections } from '../src/redis/connections.js';
import { baselineRuntime, coreDrain, preloadSigned, printCpuTable, type Runtime } from './shared.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const C = Number(process.env.BENCH_CONCURRENCY ?? 1);
const security = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
const server = await RedisServer.start();
const redisUrl = server.url;

const preload = (prefix: string) => preloadSigned(redisUrl, prefix, JOBS, security);

/** Bull's own processing loop with a no-op handler on the queue `open` gives. */
async function raw(open: () => { queue: Bull.Queue; close?: () => Promise<void> }): Promise<number> {
  // start-up inside the measurement, as startWorker's is for queue-core
  const c = process.cpuUsage();
  const { queue: q, close } = open();
  await q.isReady();
  let done = 0;
  const finished = new Promise<void>((resolve) =>
    q.on('completed', () => {
      if (++done === JOBS) resolve();
    }),
  );
  void q.process('*', C, async () => undefined);
  await finished;
  const u = process.cpuUsage(c);
  await q.close();
  await close?.();
  return (u.user + u.system) / JOBS;
}

const rawQueue = (prefix: string, metrics: boolean) => () => ({
  queue: new Bull('maintenance', redisUrl, {
    prefix,
    settings: { backoffStrategies: { classified: () => 1000 } },
    ...(metrics ? { metrics: { maxDataPoints: 10_080 } } : {}),
  }),
});

/** queue-core's Bull queue (createBullQueue: its connections, lock settings and Bull's metrics). */
const coreQueue = (prefix: string) => () => {
  const connections = new RedisConnections(redisUrl, 'worker');
  return { queue: createBullQueue('maintenance', { prefix, connections, metricsDataPoints: 10_080 }), close: () => connections.close() };
};

async function core(prefix: string, sec: JobSecurity = security, runtime?: Runtime): Promise<number> {
  const { start, finished } = coreDrain({ redisUrl, prefix, jobs: JOBS, concurrency: C, security: sec, ...(runtime ? { runtime } : {}) });
  const c = process.cpuUsage();
  const worker = await start();
  await finished;
  const u = process.cpuUsage(c);
  await worker.close(5000);
  return (u.user + u.system) / JOBS;
}

const variants: Record<string, (prefix: string) => Promise<number>> = {
  'raw Bull': (p) => raw(rawQueue(p, false)),
  'raw Bull + Bull metrics': (p) => raw(rawQueue(p, true)),
  "raw Bull on queue-core's Bull queue": (p) => raw(coreQueue(p)),
  'queue-core worker': (p) => core(p),
  // what the signature check costs here (at concurrency 1 far more than in a tight loop: see docs/benchmarks.md)
  'queue-core worker, verification off': (p) => core(p, new JobSecurity({ signing: 'disabled' })),
};
// BENCH_BASELINE_DIR=<another checkout>: its worker runtime (and its Bull) as one more variant;
// BENCH_VARIANTS=<regex>: only the variants whose name matches
const baseDir = process.env.BENCH_BASELINE_DIR;
if (baseDir) {
  const runtime = await baselineRuntime(baseDir);
  variants['baseline queue-core worker'] = (p) => core(p, security, runtime);
}
if (process.env.BENCH_VARIANTS) {
  const keep = new RegExp(process.env.BENCH_VARIANTS);
  for (const name of Object.keys(variants)) if (!keep.test(name)) delete variants[name];
}
const results = new Map<string, number[]>();
// BENCH_PROFILE=<dir>: a CPU profile of each variant's last round (node:inspector), sampled every
// BENCH_PROFILE_INTERVAL µs (default 100: at the inspector's 1 ms a round has too few samples per job)
const profileDir = process.env.BENCH_PROFILE;
const session = new Session();
if (profileDir) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROFILE_INTERVAL ?? 100) });
}
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(variants)) {
    const prefix = testPrefix();
    await preload(prefix);
    const list = results.get(name) ?? [];
    const profiling = profileDir !== undefined && r === ROUNDS - 1;
    if (profiling) await session.post('Profiler.start');
    list.push(await run(prefix));
    if (profiling) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${profileDir}/${name.replace(/\W+/g, '-')}-c${C}.cpuprofile`, JSON.stringify(profile));
    }
    results.set(name, list);
    await deletePrefix(redisUrl, prefix);
  }
}
printCpuTable(`process at concurrency ${C}, ${JOBS} jobs × ${ROUNDS} rounds`, results, 'raw Bull');
await server.stop();
process.exit(0);
