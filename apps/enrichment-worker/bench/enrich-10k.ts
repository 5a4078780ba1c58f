/**
 * Benchmark: a 10,000-lead batch-enrich through two real worker processes (src/main.ts) against
 * the Hunter emulator, with the provider limit configured at 100 requests/s (HUNTER_RATE_PER_SECOND)
 * and the emulator enforcing the same 100/s (sliding 1 s window, 403 beyond it). Reports the rate
 * the emulator saw between its first and last finder call (and as a share of the limit), the
 * largest count in any 1 s window, rate-limit answers (each with the window that refused it: its
 * arrivals and which worker sent them), duplicate charges (ledger vs emulator log) and the
 * machine's load.
 *
 * The emulator runs in a process of its own (bench/hunter-process.ts), as Hunter is remote, behind
 * @coldcopy/testing's kernel-stamp relay when python3 is there: every request is stamped with the
 * kernel's receive time (SO_TIMESTAMPNS) and the emulator judges its windows on that stamp, as a
 * provider's edge would, so that no stall of the emulator's event loop can bunch arrivals into one
 * window. Without python3 (or with BENCH_INSTRUMENT=node) the emulator stamps them itself, and the
 * report says so.
 *
 *   pnpm --filter @coldcopy/enrichment-worker bench      (needs redis-server and PostgreSQL binaries)
 *
 * Knobs: BENCH_LEADS (10000), BENCH_RATE (100), BENCH_WORKERS (2), BENCH_CONCURRENCY (20 per
 * worker), BENCH_SHARED (true: bottleneck's Redis datastore for the concurrency caps; false: caps
 * per process, only the GCRA spacing in Redis), BENCH_SLACK_MS (PROVIDER_RATE_SLACK_MS, 20),
 * BENCH_MARGIN_PERCENT (PROVIDER_RATE_MARGIN_PERCENT; unset: the worker's default), BENCH_STAMPS_FILE
 * (writes the finder calls' arrival stamps there, as JSON).
 *
 * Besides the emulator's answers, the report replays the finder calls' arrival stamps in stamp
 * order through the windows a provider might apply (sliding 1 s, fixed 1 s buckets on the clock's
 * seconds, fixed windows opened by the first request), and reads each worker's /metrics: how long
 * after asking its window check each request was written, and how many stale admissions were
 * released (enrichment_provider_admit_to_write_seconds, enrichment_provider_stale_admissions_total).
 * Own private Redis and Postgres (the @coldcopy/testing servers), never yours.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEnrichmentJob, ensureEnrichmentProvider, getEnrichmentJob, setEnrichmentCredits } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { batchEnrich } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import {
  ancestorAmong,
  leadBenchScale,
  type KernelStampReport,
  maxInAnyWindow,
  spawnWorkerApp,
  startBenchServers,
  startKernelStampRelay,
  stopWorkerApps,
  type WorkerAppProcess,
} from '@coldcopy/testing';
import { FixedWindow, type RequestLogEntry, SlidingWindow } from '@coldcopy/testing/emulator';
import { Redis } from 'ioredis';
import pg from 'pg';
import { HUNTER_KEY, TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '../test/keys.js';

const APP_DIR = new URL('..', import.meta.url);

const { leads: LEADS, rate: RATE, workers: WORKERS, concurrency: CONCURRENCY } = leadBenchScale();
const SHARED = process.env.BENCH_SHARED ?? 'true';
const SLACK_MS = process.env.BENCH_SLACK_MS ?? '20';
const MARGIN_PERCENT = process.env.BENCH_MARGIN_PERCENT;

const ARRIVAL_HEADER = 'X-Arrived-At';

/** bench/hunter-process.ts; resolves once it listens */
async function startHunterProcess(arrivalHeader: string | undefined) {
  const args = [HUNTER_KEY, String(RATE), String(RATE * 60), ...(arrivalHeader ? [arrivalHeader] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./hunter-process.ts', import.meta.url)), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  if (first.done) throw new Error(`hunter-process.ts exited (${child.exitCode})`);
  const { url } = JSON.parse(first.value) as { url: string };
  return {
    url,
    async log(): Promise<RequestLogEntry[]> {
      return ((await (await fetch(`${url}/__emulator/requests`)).json()) as { requests: RequestLogEntry[] }).requests;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * Each rate-limit answer with the window that refused it: the arrivals of the second before it
 * (ms before the refused one, and the worker that sent each), the count per worker, and the
 * smallest gaps, to tell a burst of one worker from two workers' calls landing together.
 */
function refusedWindows(calls: readonly RequestLogEntry[], workerOf: (c: RequestLogEntry) => string) {
  const taken = calls.filter((c) => !c.rateLimited).sort((a, b) => a.at - b.at);
  return calls
    .filter((c) => c.rateLimited)
    .map((refused) => {
      const before = taken.filter((c) => c.at > refused.at - 1000 && c.at <= refused.at);
      const perWorker: Record<string, number> = {};
      for (const c of before) perWorker[workerOf(c)] = (perWorker[workerOf(c)] ?? 0) + 1;
      const gaps = before.slice(1).map((c, i) => c.at - before[i]!.at);
      return {
        at: new Date(refused.at).toISOString(),
        worker: workerOf(refused),
        takenInWindow: before.length,
        perWorker,
        smallestGapsMs: [...gaps]
          .sort((a, b) => a - b)
          .slice(0, 5)
          .map((g) => Number(g.toFixed(2))),
        // the window's first and last arrivals: [ms before the refused call, worker]
        first: before.slice(0, 5).map((c) => [Number((refused.at - c.at).toFixed(1)), workerOf(c)]),
        last: before.slice(-10).map((c) => [Number((refused.at - c.at).toFixed(1)), workerOf(c)]),
      };
    });
}

/**
 * BENCH_TRACE=1: when each worker's call was admitted (queue-core's window check records it with
 * a ZADD in its Lua script, on the Redis clock, and MONITOR shows it after the script call of the
 * worker's connection), to pair with when it arrived: the k-th admit of a worker with its k-th
 * arrival (one limiter connection per worker, its calls leave in admit order, up to reordering
 * among concurrent ones). The delays are what the limiter's slack must cover.
 */
async function traceAdmits(redisUrl: string) {
  const monitor = await new Redis(redisUrl).monitor();
  const admits: Array<{ at: number; port: number }> = [];
  let lastPort = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') lastPort = Number(source.split(':').pop());
    else if (args[0]?.toLowerCase() === 'zadd' && /:hunter:[0-9a-f]+:person:log$/.test(args[1] ?? '')) admits.push({ at: Number(args[2]), port: lastPort });
  });
  return { admits, stop: () => monitor.disconnect() };
}

/** pid holding the client end of a loopback TCP connection from `localPort` to `remotePort` (among `pids`) */
function ownerOfPort(localPort: number, remotePort: number, pids: readonly number[]): number | undefined {
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f.length > 9 && parseInt(f[1]!.split(':')[1]!, 16) === localPort && parseInt(f[2]!.split(':')[1]!, 16) === remotePort);
  if (!line) return undefined;
  const target = `socket:[${line[9]}]`;
  return pids.find((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/**
 * Rate answers a provider would give to these arrivals, judged in stamp order (no reordering on
 * the way to the emulator): a sliding window, fixed buckets on the clock's seconds, and fixed
 * windows that open at the first request after the last one closed (Apollo's kind, providers.md §6).
 */
function replayRefusals(stamps: readonly number[], max: number, windowMs: number) {
  const sliding = new SlidingWindow(max, windowMs);
  const opened = new FixedWindow(max, windowMs);
  const buckets = new Map<number, number>();
  let slidingRefused = 0;
  let bucketRefused = 0;
  let openedRefused = 0;
  for (const t of stamps) {
    if (!sliding.take(t)) slidingRefused++;
    if (!opened.take(t)) openedRefused++;
    const b = Math.floor(t / windowMs);
    if ((buckets.get(b) ?? 0) >= max) bucketRefused++;
    else buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  return { sliding: slidingRefused, fixedClockSeconds: bucketRefused, fixedFromFirstRequest: openedRefused };
}

/** A worker's admit-to-write histogram and stale admissions, from its /metrics (Prometheus text). */
async function wireMetrics(healthPort: number) {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const bucket = (le: string) => value(new RegExp(`enrichment_provider_admit_to_write_seconds_bucket\\{[^}]*le="${le}"[^}]*\\} (\\S+)`));
  const writes = value(/enrichment_provider_admit_to_write_seconds_count\{[^}]*\} (\S+)/);
  return {
    writes,
    within5ms: bucket('0.005'),
    within10ms: bucket('0.01'),
    within20ms: bucket('0.02'),
    staleAdmissionsReleased: value(/enrichment_provider_stale_admissions_total\{[^}]*\} (\S+)/),
  };
}

const percentiles = (values: number[]) => {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => Number((v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? NaN).toFixed(1));
  return { n: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) };
};

const servers = await startBenchServers(migrate);
const { redis, databaseUrl: url } = servers;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const kernelStamps = process.env.BENCH_INSTRUMENT !== 'node';
const hunter = await startHunterProcess(kernelStamps ? ARRIVAL_HEADER : undefined);
const relay = kernelStamps ? await startKernelStampRelay(hunter.url, { match: ['GET /v2/'], stampHeader: ARRIVAL_HEADER }) : null;
const workers: WorkerAppProcess[] = [];
try {
  const workspaceId = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'Bench', 'bench', 'active')`, [workspaceId]);
  const provider = await ensureEnrichmentProvider(pool, { name: 'hunter', type: 'multi' });
  await setEnrichmentCredits(pool, workspaceId, provider.id, LEADS * 2);
  const domains = ['acme.com', 'globex.com', 'initech.io', 'umbrella.co'];
  const ids = Array.from({ length: LEADS }, () => randomUUID());
  await pool.query(
    `INSERT INTO leads (id, workspace_id, email, first_name, last_name)
     SELECT id, $1, 'p' || n || '.bench@' || ($3::text[])[1 + n % 4], 'p' || n, 'bench' FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, n)`,
    [workspaceId, ids, domains],
  );
  // statistics, as autovacuum keeps them in production (freshly bulk-loaded tables look empty)
  await pool.query('ANALYZE');
  const env = {
    ...servers.workerEnv('bench'),
    DATABASE_POOL_MAX: '12',
    HUNTER_BASE_URL: `${relay?.url ?? hunter.url}/v2`,
    HUNTER_API_KEY: HUNTER_KEY,
    HUNTER_RATE_PER_SECOND: String(RATE),
    HUNTER_RATE_PER_MINUTE: String(RATE * 60),
    HUNTER_MAX_CONCURRENT: String(CONCURRENCY * WORKERS),
    PROVIDER_LIMITS_SHARED: SHARED,
    PROVIDER_RATE_SLACK_MS: SLACK_MS,
    ...(MARGIN_PERCENT === undefined ? {} : { PROVIDER_RATE_MARGIN_PERCENT: MARGIN_PERCENT }),
    ENRICHMENT_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'warn',
  };
  for (let i = 0; i < WORKERS; i++) workers.push(await spawnWorkerApp(APP_DIR, env));
  const batch = await createEnrichmentJob(pool, workspaceId, { providerId: provider.id, enrichmentTypes: ['email'], leadIds: ids });
  const producer = new Producer({
    redisUrl: redis.url,
    prefix: 'bench',
    security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS }),
  });
  const trace = process.env.BENCH_TRACE === '1' ? await traceAdmits(redis.url) : undefined;
  const load1 = loadavg()[0]!;
  const started = Date.now();
  await producer.enqueue(batchEnrich, { workspaceId, requestedBy: 'bench', enrichmentJobId: batch.id, providerId: provider.id, enrichmentTypes: ['email'] });
  for (;;) {
    const j = await getEnrichmentJob(pool, workspaceId, batch.id);
    if (j?.status === 'completed') break;
    if (Date.now() - started > 30 * 60_000) throw new Error(`timed out at ${j?.processed}/${j?.total}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const wallMs = Date.now() - started;
  await producer.close();
  const wire = await Promise.all(workers.map((w) => wireMetrics(w.healthPort).catch((err: Error) => ({ error: err.message }))));
  const stampReport: KernelStampReport | undefined = await relay?.report();
  const calls = (await hunter.log()).filter((c) => c.endpoint === 'email-finder');
  // which worker sent each call: the relay's stamp → its connection's client port → that port's process
  const workerPids = workers.map((w) => w.child.pid!);
  const portOfStamp = new Map<string, number>();
  stampReport?.sendTimes.forEach((t, i) => portOfStamp.set(t.toFixed(3), stampReport.ports[i]!));
  const workerOf = (c: RequestLogEntry) => {
    const port = portOfStamp.get(c.at.toFixed(3));
    const pid = port === undefined ? undefined : stampReport?.owners[String(port)];
    const root = pid === undefined ? undefined : ancestorAmong(pid, workerPids);
    return root === undefined ? '?' : `w${workerPids.indexOf(root) + 1}`;
  };
  const stamps = calls.map((c) => c.at).sort((a, b) => a - b);
  let admitToArrival: Record<string, unknown> | undefined;
  if (trace) {
    trace.stop();
    const redisPort = Number(new URL(redis.url).port);
    const pidOfPort = new Map<number, number | undefined>();
    const byWorker = new Map<string, number[]>();
    for (const a of trace.admits) {
      if (!pidOfPort.has(a.port)) pidOfPort.set(a.port, ownerOfPort(a.port, redisPort, workerPids));
      const pid = pidOfPort.get(a.port);
      const w = pid === undefined ? '?' : `w${workerPids.indexOf(pid) + 1}`;
      byWorker.set(w, [...(byWorker.get(w) ?? []), a.at]);
    }
    admitToArrival = {};
    const all: number[] = [];
    const refusedDelays: number[] = [];
    for (const [w, admits] of byWorker) {
      const arrivals = calls.filter((c) => workerOf(c) === w).sort((a, b) => a.at - b.at);
      const delays = arrivals.slice(0, admits.length).map((c, i) => c.at - admits[i]!);
      arrivals.slice(0, admits.length).forEach((c, i) => c.rateLimited && refusedDelays.push(delays[i]!));
      all.push(...delays);
      admitToArrival[w] = { admits: admits.length, arrivals: arrivals.length, delayMs: percentiles(delays) };
    }
    admitToArrival.all = percentiles(all);
    admitToArrival.refused = refusedDelays.map((d) => Number(d.toFixed(1)));
    if (process.env.BENCH_TRACE_FILE)
      writeFileSync(
        process.env.BENCH_TRACE_FILE,
        JSON.stringify({ admits: Object.fromEntries(byWorker), calls: calls.map((c) => [c.at, workerOf(c), c.rateLimited ? 1 : 0]) }),
      );
  }
  // the arrival stamps, for a look at the run's shape (calls per second over time)
  if (process.env.BENCH_STAMPS_FILE) writeFileSync(process.env.BENCH_STAMPS_FILE, JSON.stringify(stamps));
  const spanS = (stamps.at(-1)! - stamps[0]!) / 1000;
  const rate = (stamps.length - 1) / spanS;
  const rateLimited = calls.filter((c) => c.rateLimited).length;
  const charged = new Map<string, number>();
  for (const c of calls.filter((c) => c.credits > 0)) charged.set(c.inputHash, (charged.get(c.inputHash) ?? 0) + 1);
  const ledger = (
    await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT lead_id)::int AS leads, sum(credits)::int AS credits FROM enrichment_ledger WHERE workspace_id = $1 AND outcome = 'charged'`,
      [workspaceId],
    )
  ).rows[0];
  const done = await getEnrichmentJob(pool, workspaceId, batch.id);
  const result = {
    leads: LEADS,
    workers: WORKERS,
    concurrencyPerWorker: CONCURRENCY,
    limitPerSecond: RATE,
    bottleneckShared: SHARED,
    slackMs: Number(SLACK_MS),
    finderCalls: calls.length,
    rateSeen: Number(rate.toFixed(1)),
    shareOfLimit: `${((100 * rate) / RATE).toFixed(1)} %`,
    maxInAny1sWindow: maxInAnyWindow(stamps, 1000),
    maxAnsweredInAny1sWindow: maxInAnyWindow(
      calls.filter((c) => !c.rateLimited).map((c) => c.at),
      1000,
    ),
    rateLimitAnswers: rateLimited,
    replayInStampOrder: replayRefusals(stamps, RATE, 1000),
    marginPercent: MARGIN_PERCENT ?? "the worker's default",
    wirePerWorker: wire,
    ...(admitToArrival ? { admitToArrivalMs: admitToArrival } : {}),
    refusedWindows: refusedWindows(calls, workerOf)
      .slice(0, 12)
      .map((w) => JSON.stringify(w)),
    callsPerWorker: calls.reduce<Record<string, number>>((m, c) => ((m[workerOf(c)] = (m[workerOf(c)] ?? 0) + 1), m), {}),
    instrument: stampReport?.instrument ?? "the emulator process's event loop (no python3, or BENCH_INSTRUMENT=node)",
    wallSeconds: Number((wallMs / 1000).toFixed(1)),
    enriched: done?.succeeded,
    failed: done?.failed,
    ledgerCharged: ledger.n,
    ledgerLeads: ledger.leads,
    duplicateChargesLedger: ledger.n - ledger.leads,
    leadsChargedTwiceByEmulator: [...charged.values()].filter((n) => n > 1).length,
    loadavg1mAtStart: Number(load1.toFixed(2)),
    loadavg1mAtEnd: Number(loadavg()[0]!.toFixed(2)),
    cpus: cpus().length,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  // the row of docs/benchmarks.md's table
  const n = (v: number) => v.toLocaleString('en-US');
  process.stdout.write(
    [
      '',
      '| run | finder calls | rate seen | share of limit | max in any 1 s | rate-limit answers | duplicate charges (ledger / emulator) | wall | load avg (1 min) start → end |',
      '|---|---|---|---|---|---|---|---|---|',
      `| ${n(LEADS)} leads, ${WORKERS} workers × ${CONCURRENCY}, \`PROVIDER_LIMITS_SHARED=${SHARED}\`, slack ${SLACK_MS} ms | ${n(calls.length)} | ${result.rateSeen}/s | **${result.shareOfLimit}** of ${RATE}/s | ${result.maxInAny1sWindow} | **${rateLimited}** | **${result.duplicateChargesLedger} / ${result.leadsChargedTwiceByEmulator}** | ${result.wallSeconds} s | ${result.loadavg1mAtStart} → ${result.loadavg1mAtEnd} |`,
      '',
    ].join('\n'),
  );
} finally {
  await stopWorkerApps(workers);
  await relay?.close();
  await hunter.close();
  await pool.end();
  await servers.stop();
}
