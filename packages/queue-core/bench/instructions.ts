/**
 * Instructions per job, counted by valgrind's callgrind in the Node process: raw Bull and queue-core
 * on the four paths issue 12 sets targets for (single and bulk enqueue, processing at a
 * concurrency). Unlike wall-clock or CPU time, an instruction count barely moves with the load of a
 * shared machine, so two checkouts or two variants can be compared at any time.
 * `bash scripts/with-node.sh node --import tsx packages/queue-core/bench/instructions.ts`
 * Env: INSTR_PATHS (comma-separated, default `single,bulk,c10,c100`), INSTR_JOBS (default 1000,2000:
 * each variant runs at both counts and the per-job figure is the difference divided by the
 * difference in jobs, so start-up, connection and JIT warm-up cancel out), INSTR_ROUNDS (default 1),
 * INSTR_SIDES (`raw,core` by default; `core` alone to compare changes of queue-core), INSTR_WARMUP
 * (default 1000: jobs enqueued both ways, single and bulk, before an enqueue path's count starts).
 * Needs `valgrind` and `callgrind_control` in PATH. The private redis-server runs outside valgrind.
 *
 * Instrumentation is off until the measured part starts (`--instr-atstart=no`, turned on and off
 * with `callgrind_control -i`), so loading the sources through tsx is not counted. Under valgrind
 * the Node process is about fifty times slower while Redis is not, so more replies arrive per
 * socket read than in a normal run: the counts compare variants, they are not µs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deletePrefix, RedisServer, testPrefix } from '@coldcopy/testing';
import Bull from 'bull';
import { baseJobOptions } from '../src/definitions/job-options.js';
import { JobSecurity } from '../src/security/job-security.js';
import { Producer } from '../src/producer/producer.js';
import { benchNoop, coreDrain, enqueueNoops, inFlight, payload, preloadSigned } from './shared.js';

type Side = 'raw' | 'core';

/** Turns callgrind's instrumentation on or off in this process (a timer keeps the thread running meanwhile). */
function instrument(on: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const tick = setInterval(() => {}, 1);
    const p = spawn('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], { stdio: process.env.INSTR_DEBUG ? 'inherit' : 'ignore' });
    p.on('exit', (code) => {
      clearInterval(tick);
      if (code === 0) resolve();
      else reject(new Error(`callgrind_control -i exited with ${code}`));
    });
  });
}

/** The measured part of one variant, in the process valgrind runs. */
async function child(): Promise<void> {
  const side = process.env.INSTR_SIDE as Side;
  const path = process.env.INSTR_PATH!;
  const jobs = Number(process.env.INSTR_N);
  const redisUrl = process.env.INSTR_REDIS_URL!;
  const prefix = process.env.INSTR_PREFIX!;
  const security = new JobSecurity({ signingKeys: process.env.INSTR_KEYS! });
  if (path === 'single' || path === 'bulk') {
    const bulk = path === 'bulk';
    // enqueued before the count starts, so that the code is optimised by then
    const warmUp = Number(process.env.INSTR_WARMUP ?? 1000);
    if (side === 'raw') {
      const q = new Bull('maintenance', redisUrl, { prefix });
      await q.add('bench-noop', payload(-1), { ...baseJobOptions(benchNoop) });
      for (let i = 0; i < warmUp; i += 500) {
        await q.addBulk(
          Array.from({ length: Math.min(500, warmUp - i) }, (_, k) => ({ name: 'bench-noop', data: payload(-k), opts: { ...baseJobOptions(benchNoop) } })),
        );
      }
      await inFlight(64, warmUp, (i) => q.add('bench-noop', payload(-i), { ...baseJobOptions(benchNoop) }));
      await instrument(true);
      if (bulk) {
        for (let i = 0; i < jobs; i += 500) {
          await q.addBulk(
            Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: { ...baseJobOptions(benchNoop) } })),
          );
        }
      } else {
        await inFlight(64, jobs, (i) => q.add('bench-noop', payload(i), { ...baseJobOptions(benchNoop) }));
      }
      await instrument(false);
      await q.close();
    } else {
      // valgrind slows connecting far past the default 2 s
      const producer = new Producer({ redisUrl, prefix, bulkChunkSize: 500, security, connectTimeoutMs: 300_000 });
      await producer.enqueue(benchNoop, payload(-1));
      await enqueueNoops(producer, true, warmUp, (i) => payload(-i));
      await enqueueNoops(producer, false, warmUp, (i) => payload(-i));
      await instrument(true);
      await enqueueNoops(producer, bulk, jobs);
      await instrument(false);
      await producer.close();
    }
    return;
  }
  const concurrency = Number(/^c(\d+)$/.exec(path)?.[1]);
  if (side === 'raw') {
    const q = new Bull('maintenance', redisUrl, { prefix, settings: { backoffStrategies: { classified: () => 1000 } } });
    let done = 0;
    const finished = new Promise<void>((resolve) =>
      q.on('completed', () => {
        if (++done === jobs) resolve();
      }),
    );
    await instrument(true);
    void q.process('*', concurrency, async () => undefined);
    await finished;
    await instrument(false);
    await q.close();
  } else {
    const { start, finished } = coreDrain({ redisUrl, prefix, jobs, concurrency, security });
    await instrument(true);
    const worker = await start();
    await finished;
    await instrument(false);
    await worker.close(5000);
  }
}

/** Runs one variant at `jobs` under callgrind; its instruction count. */
async function countOne(side: Side, path: string, jobs: number, redisUrl: string, keys: string, security: JobSecurity): Promise<number> {
  const prefix = testPrefix();
  // processing drains `jobs` pre-loaded signed jobs; the enqueue paths start from an empty queue
  if (/^c\d+$/.test(path)) await preloadSigned(redisUrl, prefix, jobs, security);
  const dir = mkdtempSync(join(tmpdir(), 'instr-'));
  const out = join(dir, 'callgrind.out');
  const r = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)],
    {
      env: {
        ...process.env,
        INSTR_CHILD: '1',
        INSTR_SIDE: side,
        INSTR_PATH: path,
        INSTR_N: String(jobs),
        INSTR_REDIS_URL: redisUrl,
        INSTR_PREFIX: prefix,
        INSTR_KEYS: keys,
      },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  await deletePrefix(redisUrl, prefix);
  if (r.status !== 0) throw new Error(`valgrind run ${side} ${path} ${jobs} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  const summary = /^totals: (\d+)/m.exec(readFileSync(out, 'utf8'));
  // INSTR_KEEP=<dir>: keep each run's callgrind file there (callgrind_annotate shows the native
  // functions: OpenSSL, V8's builtins and runtime, libuv; JIT-compiled JavaScript stays anonymous)
  const keep = process.env.INSTR_KEEP;
  if (keep) copyFileSync(out, join(keep, `callgrind.${side}.${path}.${jobs}.out`));
  rmSync(dir, { recursive: true, force: true });
  if (!summary) throw new Error(`no totals line in the callgrind output of ${side} ${path} ${jobs}`);
  return Number(summary[1]);
}

async function driver(): Promise<void> {
  const paths = (process.env.INSTR_PATHS ?? 'single,bulk,c10,c100').split(',');
  const [small, large] = (process.env.INSTR_JOBS ?? '1000,2000').split(',').map(Number) as [number, number];
  const rounds = Number(process.env.INSTR_ROUNDS ?? 1);
  const sides = (process.env.INSTR_SIDES ?? 'raw,core').split(',') as Side[];
  const keys = `bench:${randomBytes(32).toString('base64')}`;
  const security = new JobSecurity({ signingKeys: keys });
  const server = await RedisServer.start();
  try {
    process.stdout.write(`instructions per job (callgrind, Node process only), (count at ${large} − count at ${small}) / ${large - small}\n`);
    for (let round = 0; round < rounds; round++) {
      for (const path of paths) {
        const perJob: Record<Side, number> = { raw: NaN, core: NaN };
        for (const side of sides) {
          const a = await countOne(side, path, small, server.url, keys, security);
          const b = await countOne(side, path, large, server.url, keys, security);
          perJob[side] = (b - a) / (large - small);
        }
        process.stdout.write(
          `${path.padEnd(7)} raw Bull ${Math.round(perJob.raw).toLocaleString('en-US').padStart(9)}   queue-core ${Math.round(perJob.core).toLocaleString('en-US').padStart(9)}   ` +
            `queue-core adds ${Math.round(perJob.core - perJob.raw)
              .toLocaleString('en-US')
              .padStart(8)}   ratio raw/queue-core ${(perJob.raw / perJob.core).toFixed(3)}\n`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}

if (process.env.INSTR_CHILD) {
  await child();
  process.exit(0);
} else {
  await driver();
  process.exit(0);
}
