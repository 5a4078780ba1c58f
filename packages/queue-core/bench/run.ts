/**
 * `pnpm bench`: queue-core against raw Bull on the same private Redis, in the same run.
 *
 * - processing: N no-op jobs pre-loaded, then drained by a worker at concurrency 1, 10, 100;
 *   queue-core runs with validation, winston JSON logging at the default level (info: one line per
 *   completed job, written to /dev/null so the terminal is not the bottleneck) and metrics on.
 * - enqueue: single adds (64 in flight) and bulk adds, producer vs raw `queue.add` / `addBulk`
 *   with the same job options.
 * Rounds alternate raw and queue-core and report medians, because the machine is shared and noisy.
 * Env: BENCH_JOBS (default 20000), BENCH_ROUNDS (default 5), BENCH_REDIS_URL (default: private server).
 *
 * A/B against an older checkout in the same run: `BENCH_BASELINE_DIR=<path of a checkout> pnpm bench`
 * (e.g. `git worktree add /tmp/base <commit> && (cd /tmp/base && pnpm install)`). Each round then
 * runs one round of each checkout's bench in a fresh child process (same jobs, same Redis), the
 * order swapped every round, and the summary compares both against their own raw Bull runs and
 * against each other. Both sides run alike: neither is a process that has already run earlier
 * rounds, and neither always goes first.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { RedisServer, testPrefix, deletePrefix } from '@coldcopy/testing';
import Bull from 'bull';
import { JobSecurity } from '../src/security/job-security.js';
import { baseJobOptions } from '../src/definitions/job-options.js';
import { Producer } from '../src/producer/producer.js';
import { benchNoop, coreDrain, enqueueNoops, inFlight, payload, preloadSigned } from './shared.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** the workers' default level; set `warn` to see what the per-job lines cost */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
/** `process` or `enqueue` to run only that half */
const ONLY = process.env.BENCH_ONLY;

const bullOpts = () => ({ ...baseJobOptions(benchNoop) });
/** Signing on, as in production: the producer signs, the worker verifies every job. */
const SECURITY = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });

let redisUrl = process.env.BENCH_REDIS_URL ?? '';
let server: RedisServer | undefined;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const preload = (prefix: string) => preloadSigned(redisUrl, prefix, JOBS, SECURITY);

/** Throughput (jobs per wall-clock second) and this process's CPU per job (µs), for one run. */
interface Sample {
  readonly rate: number;
  readonly cpuUs: number;
}

function measure(started: number, cpu: NodeJS.CpuUsage): Sample {
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: JOBS / seconds, cpuUs: (used.user + used.system) / JOBS };
}

async function drainRaw(concurrency: number): Promise<Sample> {
  const prefix = testPrefix();
  await preload(prefix);
  // The queue (and its connections) is made inside the measurement, as queue-core's worker is by
  // startWorker: both sides pay their start-up.
  const started = performance.now();
  const cpu = process.cpuUsage();
  const q = new Bull('maintenance', redisUrl, { prefix, settings: { backoffStrategies: { classified: () => 1000 } } });
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    q.on('completed', () => {
      if (++done === JOBS) resolve();
    });
  });
  void q.process('*', concurrency, async () => undefined);
  await finished;
  const sample = measure(started, cpu);
  await q.close();
  await deletePrefix(redisUrl, prefix);
  return sample;
}

async function drainCore(concurrency: number): Promise<Sample> {
  const prefix = testPrefix();
  await preload(prefix);
  const { start, finished } = coreDrain({ redisUrl, prefix, jobs: JOBS, concurrency, security: SECURITY, logLevel: LOG_LEVEL });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const worker = await start();
  await finished;
  const sample = measure(started, cpu);
  await worker.close(5000);
  await deletePrefix(redisUrl, prefix);
  return sample;
}

async function enqueueRaw(bulk: boolean): Promise<Sample> {
  const prefix = testPrefix();
  const q = new Bull('maintenance', redisUrl, { prefix });
  await q.isReady();
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (bulk) {
    for (let i = 0; i < JOBS; i += 500) {
      await q.addBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: bullOpts() })));
    }
  } else {
    await inFlight(64, JOBS, (i) => q.add('bench-noop', payload(i), bullOpts()));
  }
  const sample = measure(started, cpu);
  await q.close();
  await deletePrefix(redisUrl, prefix);
  return sample;
}

async function enqueueCore(bulk: boolean): Promise<Sample> {
  const prefix = testPrefix();
  const producer = new Producer({ redisUrl, prefix, bulkChunkSize: 500, security: SECURITY });
  await producer.enqueue(benchNoop, payload(-1)); // connect first, as a long-lived producer is
  const started = performance.now();
  const cpu = process.cpuUsage();
  await enqueueNoops(producer, bulk, JOBS);
  const sample = measure(started, cpu);
  await producer.close();
  await deletePrefix(redisUrl, prefix);
  return sample;
}

interface Row {
  readonly name: string;
  /** median jobs per second */
  readonly raw: number;
  readonly core: number;
  /** median Node CPU µs per job */
  readonly rawCpuUs: number;
  readonly coreCpuUs: number;
}

/**
 * Alternates raw and queue-core rounds. Two ratios: throughput (wall clock, what users see) and
 * CPU per job in this process (what the layer costs; steadier on a shared machine, because other
 * processes' load changes wall-clock time far more than the CPU a run needs).
 */
async function compare(name: string, raw: () => Promise<Sample>, core: () => Promise<Sample>, rounds = ROUNDS): Promise<Row> {
  const r: Sample[] = [];
  const c: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    r.push(await raw());
    c.push(await core());
  }
  const row: Row = {
    name,
    raw: median(r.map((x) => x.rate)),
    core: median(c.map((x) => x.rate)),
    rawCpuUs: median(r.map((x) => x.cpuUs)),
    coreCpuUs: median(c.map((x) => x.cpuUs)),
  };
  process.stdout.write(
    `${name.padEnd(31)} raw ${fmt(row.raw).padStart(7)}/s ${row.rawCpuUs.toFixed(0).padStart(4)} µs   ` +
      `queue-core ${fmt(row.core).padStart(7)}/s ${row.coreCpuUs.toFixed(0).padStart(4)} µs   ` +
      `throughput ratio ${(row.core / row.raw).toFixed(2)}   cpu ratio ${(row.rawCpuUs / row.coreCpuUs).toFixed(2)}\n`,
  );
  return row;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** One round of the bench of the checkout in `dir` in a child process on the same Redis; its JSON line's rows. */
function runRound(dir: string, label: string): Row[] {
  process.stdout.write(`${label} (${dir}):\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'packages/queue-core/bench/run.ts'], {
    cwd: dir,
    env: { ...process.env, BENCH_BASELINE_DIR: '', BENCH_ROUNDS: '1', BENCH_JOBS: String(JOBS), BENCH_REDIS_URL: redisUrl },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const json = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (r.status !== 0 || !json) throw new Error(`the bench in ${dir} failed (exit ${r.status}):\n${r.stdout.slice(-3000)}`);
  process.stdout.write(
    r.stdout
      .split('\n')
      .filter((l) => l.includes(' raw '))
      .map((l) => `  ${l}`)
      .join('\n') + '\n',
  );
  return (JSON.parse(json) as { rows: Row[] }).rows;
}

/** Each round's row of that name. */
const rowsNamed = (rounds: readonly Row[][], name: string): Row[] =>
  rounds.map((rows) => rows.find((r) => r.name === name)).filter((r): r is Row => r !== undefined);

/** Per row name, the median of each figure over the rounds. */
function medianRows(rounds: readonly Row[][]): Row[] {
  return rounds[0]!.map((first) => {
    const all = rowsNamed(rounds, first.name);
    return {
      name: first.name,
      raw: median(all.map((r) => r.raw)),
      core: median(all.map((r) => r.core)),
      rawCpuUs: median(all.map((r) => r.rawCpuUs)),
      coreCpuUs: median(all.map((r) => r.coreCpuUs)),
    };
  });
}

/**
 * Per row name, the median over the rounds of each round's own throughput ratio (queue-core /
 * raw Bull): within a round the two ran back to back in one process, so a slower or faster
 * stretch of a shared machine moves both, while the ratio of the medians mixes rounds.
 */
function pairedRatios(rounds: readonly Row[][]): Map<string, number> {
  return new Map(rounds[0]!.map((first) => [first.name, median(rowsNamed(rounds, first.name).map((r) => r.core / r.raw))]));
}

/** Markdown rows for docs/benchmarks.md: this checkout and the baseline, each against its raw Bull. */
function printAb(rounds: readonly Row[][], baseRounds: readonly Row[][], dir: string): void {
  const rows = medianRows(rounds);
  const base = medianRows(baseRounds);
  const paired = pairedRatios(rounds);
  const basePaired = pairedRatios(baseRounds);
  process.stdout.write(
    `\nA/B, medians of ${ROUNDS} alternating rounds (baseline: ${dir}); "paired": the median of each round's own ratio\n\n` +
      '| path | raw Bull µs/job | baseline µs/job | this µs/job | baseline throughput ratio | this throughput ratio | baseline paired | this paired | baseline cpu ratio | this cpu ratio |\n' +
      '|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of rows) {
    const b = base.find((x) => x.name === r.name);
    if (!b) continue;
    process.stdout.write(
      `| ${r.name} | ${r.rawCpuUs.toFixed(0)} | ${b.coreCpuUs.toFixed(0)} | ${r.coreCpuUs.toFixed(0)} | ${(b.core / b.raw).toFixed(2)} | ${(r.core / r.raw).toFixed(2)} | ` +
        `${basePaired.get(r.name)!.toFixed(2)} | ${paired.get(r.name)!.toFixed(2)} | ${(b.rawCpuUs / b.coreCpuUs).toFixed(2)} | ${(r.rawCpuUs / r.coreCpuUs).toFixed(2)} |\n`,
    );
  }
}

async function main(): Promise<void> {
  if (!redisUrl) {
    server = await RedisServer.start();
    redisUrl = server.url;
  }
  process.stdout.write(
    `queue-core vs raw Bull — ${JOBS} jobs per round, median of ${ROUNDS} rounds; ` +
      `log level ${LOG_LEVEL}; node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB\n\n`,
  );
  const baselineDir = process.env.BENCH_BASELINE_DIR;
  const rounds: Row[][] = [];
  const baseline: Row[][] = [];
  if (baselineDir) {
    // one round of each checkout per round, each in a fresh process, who goes first alternating
    const thisDir = process.cwd();
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        rounds.push(runRound(thisDir, 'this checkout'));
        baseline.push(runRound(baselineDir, 'baseline'));
      } else {
        baseline.push(runRound(baselineDir, 'baseline'));
        rounds.push(runRound(thisDir, 'this checkout'));
      }
    }
  } else {
    const rows: Row[] = [];
    if (ONLY !== 'enqueue') {
      for (const c of [1, 10, 100])
        rows.push(
          await compare(
            `process, concurrency ${c}`,
            () => drainRaw(c),
            () => drainCore(c),
          ),
        );
    }
    if (ONLY !== 'process') {
      rows.push(
        await compare(
          'enqueue, single (64 in flight)',
          () => enqueueRaw(false),
          () => enqueueCore(false),
        ),
      );
      rows.push(
        await compare(
          'enqueue, bulk (500 per call)',
          () => enqueueRaw(true),
          () => enqueueCore(true),
        ),
      );
    }
    rounds.push(rows);
  }
  const rows = rounds.length === 1 ? rounds[0]! : medianRows(rounds);
  if (baselineDir) printAb(rounds, baseline, baselineDir);
  process.stdout.write(`\n${JSON.stringify({ jobs: JOBS, rounds: ROUNDS, rows, ...(baselineDir ? { baseline: medianRows(baseline) } : {}) })}\n`);
  await server?.stop();
}

await main();
// Everything above is closed and awaited, but Bull v4 sometimes leaves a closed queue's blocking
// client reconnecting to the stopped private server (seen: three ioredis reconnect timers keeping
// the process alive for minutes); the results are out, so do not wait for them.
process.exit(0);
