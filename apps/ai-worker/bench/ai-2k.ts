/**
 * `pnpm --filter @coldcopy/ai-worker bench`: 2,000 analyze-sentiment jobs through two worker
 * processes (src/main.ts) against the fake LLM server with 300 ms simulated latency and a
 * requests-per-minute limit equal to the workers' OPENAI_RPM. Reports the provider call rate
 * against the configured limit (or concurrency ÷ latency when lower), the fake's rate-limit
 * answers and each worker's memory, with the machine's load.
 *
 * Memory: every PROBE_MS (5 s) each worker runs a full garbage collection and reports
 * process.memoryUsage() (bench/memory-probe.ts, preloaded). The heap after a full GC is what the
 * process holds; RSS alone rises and falls with the garbage V8 lets pile up between its major
 * collections (up to ~3× the live set here), so a few RSS readings cannot tell a leak. Reported per worker: heap and RSS at the start, after warm-up (the first probe
 * once WARMUP of the jobs are done) and at the end, and the slope of the heap after warm-up (a
 * least-squares fit over those probes, KiB per 1,000 jobs): a leak keeps the slope positive
 * whatever the run's length; flat memory is a slope near 0. Run with JOBS=6000 or more to tell.
 * MEMORY_PROBE_GC=0 reads the same figures without the forced GC: production's RSS.
 * Env: JOBS (2000), RPM (1200), LATENCY_MS (300), CONCURRENCY per process (8), WARMUP (0.25),
 * PROBE_MS (5000), MEMORY_PROBE_GC, MEMORY_PROBE_SNAPSHOTS (a folder: a heap snapshot per probe, slow).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '@coldcopy/db/migrate';
import { analyzeSentiment } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { loadAverages, startBenchServers, stopWorkerApps, waitFor } from '@coldcopy/testing';
import pg from 'pg';
import { startFakeLlmServer } from '../fake-llm/server.js';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '../test/keys.js';
import { spawnWorkerApp, type WorkerAppProcess } from '@coldcopy/testing';

const APP_DIR = new URL('..', import.meta.url);

const JOBS = Number(process.env.JOBS ?? 2000);
const RPM = Number(process.env.RPM ?? 1200);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const WARMUP = Number(process.env.WARMUP ?? 0.25);
const PROBE_MS = Number(process.env.PROBE_MS ?? 5000);
/** MEMORY_PROBE_GC=0: probes read memory as it is, without a full GC first (production's RSS) */
const FORCED_GC = process.env.MEMORY_PROBE_GC !== '0';
const HEAP = FORCED_GC ? 'heap after full GC' : 'heap (no forced GC)';
const PROCESSES = 2;
const PROBE = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));

interface MemorySample {
  readonly at: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}
interface MemorySummary {
  readonly start: MemorySample & { done: number };
  readonly warm: MemorySample & { done: number };
  readonly end: MemorySample & { done: number };
  readonly peakRss: number;
  /** least-squares slope of the heap after full GC over jobs done, after warm-up */
  readonly slopeKiBPer1000: number;
  readonly count: number;
}

function readProbes(file: string): MemorySample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MemorySample);
}

function memorySummary(s: ReadonlyArray<MemorySample & { done: number }>, warmAt: number): MemorySummary {
  const warmIndex = Math.max(
    0,
    s.findIndex((x) => x.done >= warmAt),
  );
  const after = s.slice(warmIndex);
  const n = after.length;
  const mx = after.reduce((a, x) => a + x.done, 0) / n;
  const my = after.reduce((a, x) => a + x.heapUsed, 0) / n;
  const sxx = after.reduce((a, x) => a + (x.done - mx) ** 2, 0);
  const sxy = after.reduce((a, x) => a + (x.done - mx) * (x.heapUsed - my), 0);
  return {
    start: s[0]!,
    warm: s[warmIndex]!,
    end: s[s.length - 1]!,
    peakRss: Math.max(...s.map((x) => x.rss)),
    slopeKiBPer1000: sxx > 0 ? ((sxy / sxx) * 1000) / 1024 : 0,
    count: s.length,
  };
}

const load = loadAverages;
const loadAtStart = load();
const servers = await startBenchServers(migrate);
const { redis, databaseUrl: dbUrl } = servers;
const fake = await startFakeLlmServer({ latencyMs: LATENCY_MS, rpm: RPM });
const workers: WorkerAppProcess[] = [];
const probeDir = mkdtempSync(join(tmpdir(), 'ai-bench-memory-'));
const probeFiles: string[] = [];
try {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  pool.on('error', () => undefined); // the servers stop in `finally`: an idle client's termination must not hide the error
  const workspaceId = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug, status, ai_tokens_balance) VALUES ($1, 'bench', 'bench', 'active', 1000000000)`, [workspaceId]);
  const env = {
    ...servers.workerEnv(),
    DATABASE_POOL_MAX: String(CONCURRENCY),
    AI_CONCURRENCY: String(CONCURRENCY),
    OPENAI_API_KEY: 'bench',
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OPENAI_RPM: String(RPM),
    OPENAI_TPM: '0',
    OPENAI_MAX_CONCURRENT: String(CONCURRENCY * PROCESSES),
    LLM_RATE_WAIT_MAX_MS: '60000',
  };
  for (let i = 0; i < PROCESSES; i++) {
    probeFiles.push(join(probeDir, `worker-${i + 1}.jsonl`));
    workers.push(
      await spawnWorkerApp(
        APP_DIR,
        { ...env, MEMORY_PROBE_FILE: probeFiles[i]!, MEMORY_PROBE_GC: FORCED_GC ? '1' : '0' },
        { nodeArgs: ['--expose-gc', '--import', PROBE] },
      ),
    );
  }
  const producer = new Producer({
    redisUrl: redis.url,
    prefix: env.BULL_PREFIX,
    security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS }),
  });
  for (let i = 0; i < JOBS; i += 200) {
    await producer.enqueueBulk(
      analyzeSentiment,
      Array.from({ length: Math.min(200, JOBS - i) }, () => ({
        data: {
          workspaceId,
          threadKey: `bench:${randomUUID()}`,
          channel: 'email' as const,
          messages: [
            { id: randomUUID(), content: 'Thanks, sounds interesting. What does pricing look like?', isFromLead: true, timestamp: new Date().toISOString() },
          ],
        },
      })),
    );
  }
  // memory: every PROBE_MS each worker runs a full GC and reports process.memoryUsage()
  // (memory-probe.ts); the heap after a full GC is the live set, the honest measure of a leak
  const samples = workers.map(() => [] as Array<{ done: number } & MemorySample>);
  let probes = 0;
  const probe = async (done: number) => {
    probes++;
    for (const w of workers) w.child.kill('SIGUSR2');
    const got = await waitFor(
      async () => {
        const all = workers.map((_, i) => readProbes(probeFiles[i]!));
        return all.every((s) => s.length >= probes) ? all : false;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'memory probes' },
    );
    for (const [i, s] of got.entries()) samples[i]!.push({ done, ...s[probes - 1]! });
  };
  for (;;) {
    const done = Number((await pool.query('SELECT count(*) AS n FROM message_sentiments')).rows[0].n);
    await probe(done);
    if (done >= JOBS) break;
    await new Promise((r) => setTimeout(r, PROBE_MS));
  }
  const served = fake.requests
    .filter((r) => r.status === 200)
    .map((r) => r.at)
    .sort((a, b) => a - b);
  const spanMs = served[served.length - 1]! - served[0]!;
  const perMinute = ((served.length - 1) * 60_000) / spanMs;
  const ceiling = Math.min(RPM, (CONCURRENCY * PROCESSES * 60_000) / LATENCY_MS);
  const memory = samples.map((s) => memorySummary(s, JOBS * WARMUP));
  const mib = (b: number) => (b / 1_048_576).toFixed(0);
  const report = [
    `ai bench: ${JOBS} analyze-sentiment jobs, ${PROCESSES} worker processes × concurrency ${CONCURRENCY}, fake latency ${LATENCY_MS} ms, limit ${RPM} rpm`,
    `  provider calls ${served.length} in ${(spanMs / 1000).toFixed(1)} s = ${perMinute.toFixed(0)} per minute = ${((perMinute / ceiling) * 100).toFixed(1)} % of ${ceiling.toFixed(0)} (min of the rpm limit and concurrency ÷ latency)`,
    `  rate-limit answers from the fake: ${fake.rateLimited()}`,
    ...memory.map(
      (m, i) =>
        `  worker ${i + 1}: ${HEAP} ${mib(m.start.heapUsed)} MiB at start, ${mib(m.warm.heapUsed)} after warm-up (${m.warm.done} jobs done), ${mib(m.end.heapUsed)} at the end ` +
        `(${m.slopeKiBPer1000.toFixed(0)} KiB per 1,000 jobs after warm-up); RSS ${mib(m.start.rss)} → ${mib(m.warm.rss)} → ${mib(m.end.rss)} MiB, peak ${mib(m.peakRss)}; ` +
        `external ${mib(m.warm.external)} → ${mib(m.end.external)} MiB; ${m.count} probes`,
    ),
    `  load average at start ${loadAtStart}, at end ${load()} (${cpus().length} cores)`,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  const cell = (f: (m: MemorySummary) => string) => memory.map(f).join('; ');
  // the row of docs/benchmarks.md's table
  process.stdout.write(
    [
      '',
      `| jobs | workers × concurrency | latency | limit | calls per minute | share of ceiling | 429s from the fake | ${HEAP}: warm → end (per 1,000 jobs after warm-up) | RSS: start → warm → end | load (1 min) start → end |`,
      '|---:|---|---:|---:|---:|---:|---:|---|---|---|',
      `| ${JOBS} | ${PROCESSES} × ${CONCURRENCY} | ${LATENCY_MS} ms | ${RPM} rpm | ${perMinute.toFixed(0)} | **${((perMinute / ceiling) * 100).toFixed(1)} %** of ${ceiling.toFixed(0)} | **${fake.rateLimited()}** | ${cell((m) => `${mib(m.warm.heapUsed)} → ${mib(m.end.heapUsed)} MiB (${m.slopeKiBPer1000 >= 0 ? '+' : ''}${m.slopeKiBPer1000.toFixed(0)} KiB)`)} | ${cell((m) => `${mib(m.start.rss)} → ${mib(m.warm.rss)} → ${mib(m.end.rss)} MiB`)} | ${loadAtStart.split(' ')[0]} → ${load().split(' ')[0]} |`,
      '',
    ].join('\n'),
  );
  await producer.close();
  await pool.end();
} finally {
  await stopWorkerApps(workers);
  await fake.close();
  await servers.stop();
  rmSync(probeDir, { recursive: true, force: true });
}
