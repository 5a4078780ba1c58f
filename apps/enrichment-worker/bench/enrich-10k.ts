/**
 * Benchmark: a 10,000-lead batch-enrich through two real worker processes (src/main.ts) against
 * the Hunter emulator, with the provider limit configured at 100 requests/s (HUNTER_RATE_PER_SECOND)
 * and the emulator enforcing the same 100/s (sliding 1 s window, 403 beyond it). Reports the rate
 * the emulator saw between its first and last finder call (and as a share of the limit), the
 * largest count in any 1 s window, rate-limit answers, duplicate charges (ledger vs emulator log)
 * and the machine's load.
 *
 *   pnpm --filter @coldcopy/enrichment-worker bench      (needs redis-server and PostgreSQL binaries)
 *
 * Knobs: BENCH_LEADS (10000), BENCH_RATE (100), BENCH_WORKERS (2), BENCH_CONCURRENCY (20 per
 * worker), BENCH_SHARED (true: bottleneck's Redis datastore for the concurrency caps; false: caps
 * per process, only the GCRA spacing in Redis), BENCH_SLACK_MS (PROVIDER_RATE_SLACK_MS, 20).
 * Own private Redis and Postgres (the @coldcopy/testing servers), never yours.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createEnrichmentJob, ensureEnrichmentProvider, getEnrichmentJob, setEnrichmentCredits } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { batchEnrich } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { leadBenchScale, maxInAnyWindow, spawnWorkerApp, startBenchServers, stopWorkerApps, type WorkerAppProcess } from '@coldcopy/testing';
import pg from 'pg';
import { startHunterEmulator } from '../src/emulators/hunter-emulator.js';
import { HUNTER_KEY, TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '../test/keys.js';

const APP_DIR = new URL('..', import.meta.url);

const { leads: LEADS, rate: RATE, workers: WORKERS, concurrency: CONCURRENCY } = leadBenchScale();
const SHARED = process.env.BENCH_SHARED ?? 'true';
const SLACK_MS = process.env.BENCH_SLACK_MS ?? '20';

const servers = await startBenchServers(migrate);
const { redis, databaseUrl: url } = servers;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const hunter = await startHunterEmulator({ apiKey: HUNTER_KEY, perSecond: RATE, perMinute: RATE * 60 });
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
    REDIS_URL: redis.url,
    BULL_PREFIX: 'bench',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: '12',
    HUNTER_BASE_URL: `${hunter.url}/v2`,
    HUNTER_API_KEY: HUNTER_KEY,
    HUNTER_RATE_PER_SECOND: String(RATE),
    HUNTER_RATE_PER_MINUTE: String(RATE * 60),
    HUNTER_MAX_CONCURRENT: String(CONCURRENCY * WORKERS),
    PROVIDER_LIMITS_SHARED: SHARED,
    PROVIDER_RATE_SLACK_MS: SLACK_MS,
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
  const calls = hunter.log('email-finder');
  const stamps = calls.map((c) => c.at).sort((a, b) => a - b);
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
    rateLimitAnswers: rateLimited,
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
  await hunter.close();
  await pool.end();
  await servers.stop();
}
