/**
 * `pnpm --filter @coldcopy/ai-worker bench`: 2,000 analyze-sentiment jobs through two worker
 * processes (src/main.ts) against the fake LLM server with 300 ms simulated latency and a
 * requests-per-minute limit equal to the workers' OPENAI_RPM. Reports the provider call rate
 * against the configured limit (or concurrency ÷ latency when lower), the fake's rate-limit
 * answers and each worker's resident memory over the run, with the machine's load.
 * Env: JOBS (2000), RPM (1200), LATENCY_MS (300), CONCURRENCY per process (8).
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { migrate } from '@coldcopy/db/migrate';
import { analyzeSentiment } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { loadAverages, startBenchServers, stopWorkerApps } from '@coldcopy/testing';
import pg from 'pg';
import { startFakeLlmServer } from '../fake-llm/server.js';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '../test/keys.js';
import { spawnWorkerApp, type WorkerAppProcess } from '@coldcopy/testing';

const APP_DIR = new URL('..', import.meta.url);

const JOBS = Number(process.env.JOBS ?? 2000);
const RPM = Number(process.env.RPM ?? 1200);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const PROCESSES = 2;

const load = loadAverages;
const loadAtStart = load();
const servers = await startBenchServers(migrate);
const { redis, databaseUrl: dbUrl } = servers;
const fake = await startFakeLlmServer({ latencyMs: LATENCY_MS, rpm: RPM });
const workers: WorkerAppProcess[] = [];
try {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const workspaceId = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug, status, ai_tokens_balance) VALUES ($1, 'bench', 'bench', 'active', 1000000000)`, [workspaceId]);
  const prefix = `bench${randomUUID().slice(0, 6)}`;
  const env = {
    REDIS_URL: redis.url,
    BULL_PREFIX: prefix,
    DATABASE_URL: dbUrl,
    DATABASE_POOL_MAX: String(CONCURRENCY),
    AI_CONCURRENCY: String(CONCURRENCY),
    OPENAI_API_KEY: 'bench',
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OPENAI_RPM: String(RPM),
    OPENAI_TPM: '0',
    OPENAI_MAX_CONCURRENT: String(CONCURRENCY * PROCESSES),
    LLM_RATE_WAIT_MAX_MS: '60000',
  };
  for (let i = 0; i < PROCESSES; i++) workers.push(await spawnWorkerApp(APP_DIR, env));
  const producer = new Producer({
    redisUrl: redis.url,
    prefix,
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
  const memory: number[][] = workers.map(() => []);
  const rss = async (w: WorkerAppProcess) => {
    const text = await (await fetch(`http://127.0.0.1:${w.healthPort}/metrics`)).text();
    return Number(/^process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? 0) / 1_048_576;
  };
  for (;;) {
    const done = Number((await pool.query('SELECT count(*) AS n FROM message_sentiments')).rows[0].n);
    for (const [i, w] of workers.entries()) memory[i]!.push(await rss(w));
    if (done >= JOBS) break;
    await new Promise((r) => setTimeout(r, 5000));
  }
  const served = fake.requests
    .filter((r) => r.status === 200)
    .map((r) => r.at)
    .sort((a, b) => a - b);
  const spanMs = served[served.length - 1]! - served[0]!;
  const perMinute = ((served.length - 1) * 60_000) / spanMs;
  const ceiling = Math.min(RPM, (CONCURRENCY * PROCESSES * 60_000) / LATENCY_MS);
  const mem = memory.map((m) => `${m[0]!.toFixed(0)} → ${m[Math.floor(m.length / 2)]!.toFixed(0)} → ${m[m.length - 1]!.toFixed(0)} MiB`);
  const report = [
    `ai bench: ${JOBS} analyze-sentiment jobs, ${PROCESSES} worker processes × concurrency ${CONCURRENCY}, fake latency ${LATENCY_MS} ms, limit ${RPM} rpm`,
    `  provider calls ${served.length} in ${(spanMs / 1000).toFixed(1)} s = ${perMinute.toFixed(0)} per minute = ${((perMinute / ceiling) * 100).toFixed(1)} % of ${ceiling.toFixed(0)} (min of the rpm limit and concurrency ÷ latency)`,
    `  rate-limit answers from the fake: ${fake.rateLimited()}`,
    `  worker RSS (start → middle → end): ${mem.join('; ')}`,
    `  load average at start ${loadAtStart}, at end ${load()} (${cpus().length} cores)`,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  // the row of docs/benchmarks.md's table
  process.stdout.write(
    [
      '',
      '| jobs | workers × concurrency | latency | limit | calls per minute | share of ceiling | 429s from the fake | worker RSS start → middle → end | load (1 min) start → end |',
      '|---:|---|---:|---:|---:|---:|---:|---|---|',
      `| ${JOBS} | ${PROCESSES} × ${CONCURRENCY} | ${LATENCY_MS} ms | ${RPM} rpm | ${perMinute.toFixed(0)} | **${((perMinute / ceiling) * 100).toFixed(1)} %** of ${ceiling.toFixed(0)} | **${fake.rateLimited()}** | ${mem.join('; ')} | ${loadAtStart.split(' ')[0]} → ${load().split(' ')[0]} |`,
      '',
    ].join('\n'),
  );
  await producer.close();
  await pool.end();
} finally {
  await stopWorkerApps(workers);
  await fake.close();
  await servers.stop();
}
