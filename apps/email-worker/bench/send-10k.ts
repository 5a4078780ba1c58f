/**
 * Benchmark: a 10,000-lead campaign against aws-ses-v2-local, two real worker processes
 * (src/main.ts), SES_MAX_SEND_RATE=100. Measures, at the emulator's front door, the send rate over
 * the run, the largest count in any 1 s window, and duplicates (emails per recipient and ledger).
 *
 *   pnpm --filter @coldcopy/email-worker bench        (needs redis-server and PostgreSQL binaries)
 *
 * Own private Redis and Postgres (the @coldcopy/testing servers), never yours.
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { sendBulkEmail } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { databaseUrl, PostgresServer, RedisServer } from '@coldcopy/testing';
import { migrate } from '@coldcopy/db/migrate';
import pg from 'pg';
import { seedCampaign } from '../test/fixtures/seed.js';
import { startSesLocal } from '../test/ses-local.js';
import { TEST_SIGNING_KEYS } from '../test/harness-keys.js';
import { spawnEmailWorker } from '../test/worker-process.js';

const LEADS = Number(process.env.BENCH_LEADS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '20';

function maxInAnyWindow(sorted: readonly number[], windowMs: number): number {
  let best = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    best = Math.max(best, end - start);
  }
  return best;
}

const redis = await RedisServer.start();
const postgres = await PostgresServer.start();
const ses = await startSesLocal();
const workers: Array<Awaited<ReturnType<typeof spawnEmailWorker>>> = [];
try {
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  const dbUrl = databaseUrl(postgres.url, 'bench');
  await migrate(dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const seed = await seedCampaign(pool, { leads: LEADS, domains: 200 });
  const prefix = `bench${randomUUID().slice(0, 6)}`;
  const env = {
    REDIS_URL: redis.url,
    BULL_PREFIX: prefix,
    DATABASE_URL: dbUrl,
    DATABASE_POOL_MAX: '12',
    SES_ENDPOINT: ses.endpoint,
    EMAIL_CONCURRENCY: CONCURRENCY,
    SES_MAX_SEND_RATE: String(RATE),
    DOMAIN_RATE_PER_MINUTE: '100000',
    LOG_LEVEL: 'warn',
  };
  for (let i = 0; i < WORKERS; i++) workers.push(await spawnEmailWorker(env));
  const producer = new Producer({ redisUrl: redis.url, prefix, security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS }) });

  // the campaign tick, every second with a new slot, as the scheduler would (faster)
  const started = Date.now();
  let slot = 0;
  const ticker = setInterval(() => {
    slot++;
    const at = new Date(Date.UTC(2026, 11, 1, 0, slot));
    const windowSlot = at.toISOString().slice(0, 16).replace(/[-:]/g, '') + 'Z';
    void producer
      .enqueue(sendBulkEmail, { workspaceId: seed.workspaceId, requestedBy: 'bench', campaignId: seed.campaignId, windowSlot, batchSize: 500 })
      .catch(() => undefined);
  }, 1000);
  for (;;) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1 AND status = 'sent'", [seed.campaignId]);
    if (rows[0].n >= LEADS) break;
    if (Date.now() - started > 30 * 60_000) throw new Error(`timed out with ${rows[0].n} sent`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(ticker);

  const sends = ses.requests.filter((r) => r.form.get('Action') === 'SendRawEmail').map((r) => r.at).sort((a, b) => a - b);
  const emails = await ses.emails();
  const perRecipient = new Map<string, number>();
  for (const e of emails) perRecipient.set(e.destination.to[0]!, (perRecipient.get(e.destination.to[0]!) ?? 0) + 1);
  const duplicates = [...perRecipient.values()].filter((n) => n > 1).length;
  const ledger = (
    await pool.query(
      `SELECT count(*)::int AS rows, count(DISTINCT lead_id)::int AS leads, count(DISTINCT message_id)::int AS ids FROM campaign_emails WHERE campaign_id = $1`,
      [seed.campaignId],
    )
  ).rows[0];
  const seconds = (sends.at(-1)! - sends[0]!) / 1000;
  const rate = (sends.length - 1) / seconds;
  // steady state: skip the first and last 5 s (start-up, drain)
  const steady = sends.filter((t) => t >= sends[0]! + 5000 && t <= sends.at(-1)! - 5000);
  const steadyRate = (steady.length - 1) / ((steady.at(-1)! - steady[0]!) / 1000);
  const result = {
    leads: LEADS,
    workers: WORKERS,
    concurrencyPerWorker: Number(CONCURRENCY),
    limitPerSecond: RATE,
    sesRequests: sends.length,
    emailsInEmulator: emails.length,
    distinctRecipients: perRecipient.size,
    recipientsWithDuplicates: duplicates,
    ledger,
    seconds: Number(seconds.toFixed(1)),
    ratePerSecond: Number(rate.toFixed(2)),
    steadyRatePerSecond: Number(steadyRate.toFixed(2)),
    percentOfLimit: Number(((rate / RATE) * 100).toFixed(1)),
    maxInAnyOneSecondWindow: maxInAnyWindow(sends, 1000),
    machine: `${cpus().length} cores, Node ${process.versions.node}`,
  };
  console.log(JSON.stringify(result, null, 2));
  await producer.close();
  await pool.end();
} finally {
  for (const w of workers) {
    w.child.kill('SIGTERM');
    await w.exited;
  }
  await ses.close();
  await postgres.stop();
  await redis.stop();
}
