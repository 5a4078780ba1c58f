/**
 * Benchmark: a 10,000-lead campaign against aws-ses-v2-local, two real worker processes
 * (src/main.ts), SES_MAX_SEND_RATE=100. Measures, at the emulator's front door, the send rate over
 * the run, the largest count in any 1 s window, duplicates (emails per recipient and ledger), and
 * the CPU each process spent per send (/proc utime + stime; Postgres with all its backends), which
 * unlike the wall-clock rate means something on a machine shared with other work.
 *
 *   pnpm --filter @coldcopy/email-worker bench        (needs redis-server and PostgreSQL binaries)
 *
 * Prints, per send, Postgres tuples read (pg_stat_database; by table from pg_stat_user_tables) and
 * Redis commands (INFO stats; by command from INFO commandstats), and a markdown table row:
 * compare BENCH_LEADS=10000 with BENCH_LEADS=50000 (per-send cost must not grow with volume).
 *
 * Knobs: BENCH_LEADS (10000), BENCH_RATE (100/s; set it high, e.g. 100000, to measure CPU per send
 * without the limiter binding), BENCH_WORKERS (2), BENCH_CONCURRENCY (20 per worker),
 * BENCH_POOL_MAX (Postgres pool per worker, 12), BENCH_BATCH_SIZE (tick batch, 500), BENCH_TICK_MS (2000),
 * BENCH_WORKER_NODE_ARGS (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof': a profile per worker on exit),
 * BENCH_SES_NODE_ARGS (the same for the emulator and the proxy processes),
 * BENCH_TIMES_FILE (writes the SendRawEmail arrival times there, one epoch ms per line, and the
 * tick times to <file>.ticks), BENCH_INSTRUMENT=node (stamp in the Node relay even with python3).
 *
 * Own private Redis and Postgres (the @coldcopy/testing servers), never yours; the emulator and its
 * recording relay each run in a child process of their own, as SES is remote in production, and
 * so that the emulator's work cannot skew the arrival times. The relay is
 * @coldcopy/testing's kernel-stamp-relay.py when python3 is there (arrivals stamped by the kernel), else the
 * Node relay of bench/ses-process.ts (stamped when its event loop reads them: a stall of the relay
 * bunches its stamps).
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sendBulkEmail } from '@coldcopy/queue-core';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { benchKnob, leadBenchScale, maxInAnyWindow, type PostgresServer, startBenchServers, startKernelStampRelay, stopWorkerApps } from '@coldcopy/testing';
import { NEEDS_JOB_KEY } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { Redis } from 'ioredis';
import pg from 'pg';
import { seedCampaign } from '../test/fixtures/seed.js';
import { spawnWorkerApp, type WorkerAppProcess } from '@coldcopy/testing';
import { EMAIL_WORKER_TEST_ENV, TEST_SIGNING_KEYS } from '../test/harness-keys.js';
import { type CpuGroup, cpuPerUnit, postmasterPid, sampleCpu } from './cpu.js';
import type { StoredEmail } from '../test/ses-local.js';
import type { SesProcessMessage } from './ses-process.js';

const APP_DIR = new URL('..', import.meta.url);

const { leads: LEADS, rate: RATE, workers: WORKERS, concurrency: CONCURRENCY } = leadBenchScale();
const POOL_MAX = benchKnob('POOL_MAX', 12);
const BATCH_SIZE = benchKnob('BATCH_SIZE', 500);
// Every 2 s (500 per tick = 250/s, 2.5 times the limit; the real schedule ticks every 5 minutes).
// A tick enqueues jobs only for rows that have none (campaign_emails.enqueued_at).
const TICK_MS = benchKnob('TICK_MS', 2000);
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Summed over the workers, from their /metrics: account slots checked right before a request left,
 * how many of those were older than each bucket bound, the stale ones replaced, the sends deferred;
 * and each worker's event-loop delay (a stall makes the slots granted during it stale).
 */
async function accountSlotMetrics(workers: ReadonlyArray<{ healthPort: number }>) {
  let checked = 0;
  let renewed = 0;
  let deferred = 0;
  const atMost = new Map<string, number>();
  // each worker's event-loop delay over the run (prom-client's monitorEventLoopDelay, never scraped before)
  const eventLoopDelayMs: Array<{ p99: number; max: number }> = [];
  for (const w of workers) {
    const text = await (await fetch(`http://127.0.0.1:${w.healthPort}/metrics`)).text();
    const loop = { p99: 0, max: 0 };
    eventLoopDelayMs.push(loop);
    for (const line of text.split('\n')) {
      const [series, value] = line.split(' ');
      const n = Number(value);
      if (series === 'nodejs_eventloop_lag_p99_seconds') loop.p99 = Math.round(n * 1000);
      if (series === 'nodejs_eventloop_lag_max_seconds') loop.max = Math.round(n * 1000);
      if (series === 'email_ses_slot_age_seconds_count') checked += n;
      else if (series === 'email_ses_slots_renewed_total') renewed += n;
      else if (series === 'email_ses_slot_deferrals_total') deferred += n;
      const le = /^email_ses_slot_age_seconds_bucket\{le="([^"]+)"\}$/.exec(series ?? '')?.[1];
      if (le && le !== '+Inf') atMost.set(le, (atMost.get(le) ?? 0) + n);
    }
  }
  const olderThanMs = Object.fromEntries([...atMost].map(([le, n]) => [`${Number(le) * 1000}`, checked - n]));
  return { checked, renewed, deferred, olderThanMs, eventLoopDelayMs };
}

/** One SES-side process (bench/ses-process.ts); resolves once it listens. */
async function startSesProcess(args: string[]) {
  const child = fork(fileURLToPath(new URL('./ses-process.ts', import.meta.url)), args, {
    execArgv: [...(process.env.BENCH_SES_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx'],
  });
  const next = <T extends SesProcessMessage['type']>(type: T) =>
    new Promise<Extract<SesProcessMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: SesProcessMessage) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        resolve(m as Extract<SesProcessMessage, { type: T }>);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`ses process ${args[0]} exited (${code})`)));
    });
  const { url } = await next('ready');
  return {
    child,
    url,
    report() {
      const answer = next('report');
      child.send({ type: 'report' });
      return answer;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      if (child.connected) child.send({ type: 'close' });
      else child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * @coldcopy/testing's kernel-stamp relay in front of the emulator (SendRawEmail is the only
 * `POST / ` the worker makes), with the emulator's recipients in its report; null without python3.
 */
async function kernelStampedSes(emulatorUrl: string) {
  const relay = await startKernelStampRelay(emulatorUrl, { match: ['POST / '] });
  if (!relay) return null;
  return {
    url: relay.url,
    child: { pid: relay.pid },
    async report() {
      const stamps = await relay.report();
      const { emails } = (await (await fetch(`${emulatorUrl}/store`)).json()) as { emails: StoredEmail[] };
      return { sendTimes: stamps.sendTimes, instrument: stamps.instrument, recipients: emails.map((e) => e.destination.to[0]!) };
    },
    close: () => relay.close(),
  };
}

/**
 * Loads pg_stat_statements into the private server (a restart with shared_preload_libraries) and
 * creates it in the bench database; false when the contrib module is not installed.
 */
async function enableStatementStats(server: PostgresServer, dbUrl: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'`);
    if (rowCount === 0) return false;
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
  } finally {
    await admin.end();
  }
  await server.restart();
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.end();
  return true;
}

async function statementsPerSend(pool: pg.Pool): Promise<Array<{ calls: number; blocks: number; rows: number; query: string }>> {
  const { rows } = await pool.query<{ calls: string; blocks: string; rows: string; query: string }>(
    `SELECT calls, shared_blks_hit + shared_blks_read AS blocks, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY shared_blks_hit + shared_blks_read DESC LIMIT 8`,
  );
  return rows.map((r) => ({ calls: Number(r.calls), blocks: Number(r.blocks), rows: Number(r.rows), query: r.query }));
}

const servers = await startBenchServers(migrate);
const { redis, postgres, databaseUrl: dbUrl } = servers;
const emulator = await startSesProcess(['emulator']);
// the instrument: kernel receive stamps where python3 exists, else the Node relay's own stamps
const ses = (await kernelStampedSes(emulator.url)) ?? (await startSesProcess(['proxy', emulator.url]));
const workers: WorkerAppProcess[] = [];
try {
  // pg_stat_statements (contrib), to name the statements that read the tuples
  const statements = await enableStatementStats(postgres, dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const seed = await seedCampaign(pool, { leads: LEADS, domains: 200 });
  // statistics, as autovacuum keeps them in production: without them the planner takes the freshly
  // bulk-loaded tables for empty and the tick's enrolment query goes quadratic
  await pool.query('ANALYZE');
  const env = {
    ...servers.workerEnv(),
    DATABASE_POOL_MAX: String(POOL_MAX),
    SES_ENDPOINT: ses.url,
    EMAIL_CONCURRENCY: String(CONCURRENCY),
    SES_MAX_SEND_RATE: String(RATE),
    DOMAIN_RATE_PER_MINUTE: '100000',
    LOG_LEVEL: 'warn',
    // as long as the bench's tick interval: exercised, without starving the start of the run
    SEND_JITTER_MS: String(TICK_MS),
  };
  for (let i = 0; i < WORKERS; i++) workers.push(await spawnWorkerApp(APP_DIR, { ...EMAIL_WORKER_TEST_ENV, ...env }, { nodeArgs: WORKER_NODE_ARGS }));
  const producer = new Producer({ redisUrl: redis.url, prefix: env.BULL_PREFIX, security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS }) });

  const info = new Redis(redis.url);
  const redisPid = Number(/process_id:(\d+)/.exec(await info.info('server'))![1]);
  // round trips per send, besides CPU: Postgres transactions (one per autocommit statement) and Redis commands
  const counters = async () => {
    const db = (
      await pool.query<{ xacts: string; returned: string; fetched: string }>(
        `SELECT xact_commit + xact_rollback AS xacts, tup_returned AS returned, tup_fetched AS fetched FROM pg_stat_database WHERE datname = 'bench'`,
      )
    ).rows[0]!;
    const commands = Number(/total_commands_processed:(\d+)/.exec(await info.info('stats'))![1]);
    return { pgTransactions: Number(db.xacts), pgTuplesRead: Number(db.returned) + Number(db.fetched), redisCommands: commands };
  };
  // where they go: tuples read per table (pg_stat_user_tables: sequential + index fetches) and
  // calls per Redis command (INFO commandstats)
  const breakdown = async () => {
    // by table, then split: its sequential scans (`<table> seq`) and each index's fetches (`<table>.<index>`)
    const tables = (
      await pool.query<{ relname: string; read: string }>(
        `SELECT relname, (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text AS read FROM pg_stat_user_tables
         UNION ALL SELECT relname || ' seq', coalesce(seq_tup_read, 0)::text FROM pg_stat_user_tables
         UNION ALL SELECT relname || '.' || indexrelname, coalesce(idx_tup_fetch, 0)::text FROM pg_stat_user_indexes`,
      )
    ).rows;
    const commands: Record<string, number> = {};
    for (const m of (await info.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands[m[1]!] = Number(m[2]);
    return { tables: Object.fromEntries(tables.map((t) => [t.relname, Number(t.read)])), commands };
  };
  const groups: Record<string, CpuGroup> = {
    // the driver alone (its children are measured on their own)
    bench: { pid: process.pid, tree: false },
    ...Object.fromEntries(workers.map((w, i) => [`worker${i + 1}`, { pid: w.child.pid!, tree: true }])),
    ses: { pid: emulator.child.pid!, tree: true },
    sesProxy: { pid: ses.child.pid!, tree: true },
    postgres: { pid: postmasterPid(postgres.dataDir), tree: true },
    redis: { pid: redisPid, tree: false },
  };
  // the tables the poll for the end reads, and their indexes (for its own count of tuples read)
  const pollRelations = (
    await pool.query<{ oid: number }>(
      `SELECT c.oid FROM pg_class c WHERE c.relname IN ('campaign_emails', 'campaign_send_counts')
       UNION ALL SELECT i.indexrelid FROM pg_index i WHERE i.indrelid IN ('campaign_emails'::regclass, 'campaign_send_counts'::regclass)`,
    )
  ).rows.map((r) => r.oid);
  if (statements) await pool.query('SELECT pg_stat_statements_reset()');
  const cpuBefore = sampleCpu(groups);
  const sysBefore = sampleCpu(groups, true);
  const countersBefore = await counters();
  const breakdownBefore = await breakdown();

  // the campaign tick with a new slot every BENCH_TICK_MS, as the scheduler would (much faster)
  const started = Date.now();
  let slot = 0;
  const tickTimes: number[] = [];
  const ticker = setInterval(() => {
    slot++;
    tickTimes.push(Date.now());
    const at = new Date(Date.UTC(2026, 11, 1, 0, slot));
    const windowSlot = at.toISOString().slice(0, 16).replace(/[-:]/g, '') + 'Z';
    void producer
      .enqueue(sendBulkEmail, { workspaceId: seed.workspaceId, requestedBy: 'bench', campaignId: seed.campaignId, windowSlot, batchSize: BATCH_SIZE })
      .catch(() => undefined);
  }, TICK_MS);
  // Statistics of a ledger with rows, as a running database has them: ANALYZE once the first tick
  // has scheduled its rows (the one after seeding saw campaign_emails empty, and plans made on that,
  // generic plans of the workers' prepared statements too, took any index led by workspace_id for
  // a lookup by id: the backlog of the workspace read on every claim). ANALYZE invalidates the plans.
  for (let analyzed = false; !analyzed;) {
    const { rows } = await pool.query<{ n: number }>(`SELECT coalesce(sum(created), 0)::int AS n FROM campaign_send_counts WHERE campaign_id = $1`, [
      seed.campaignId,
    ]);
    if (rows[0]!.n > 0) {
      await pool.query('ANALYZE campaign_emails, campaign_leads');
      analyzed = true;
    } else await new Promise((r) => setTimeout(r, 200));
  }
  // until every lead has a ledger row and none is still to send or in flight (an `unknown` outcome
  // waits for an SES event the emulator never sends: it is reported, not waited for). The poll is
  // part of the tuples counted per send, so it must cost the same at any campaign size: the
  // counters and the first entry of the partial indexes of claimable and sending rows in their
  // order (an EXISTS was planned as a sequential scan expected to stop early, and with sequential
  // scans off as a scan of campaign_emails_campaign_sent_idx: both read the campaign's sent rows
  // first). What it read is counted (its transaction's pg_stat_xact counts) and printed as
  // `benchPollTuplesPerSend`.
  const poller = await pool.connect();
  let pollTuples = 0;
  try {
    for (;;) {
      await poller.query('BEGIN');
      const { rows } = await poller.query<{ rows: number; open: boolean }>(
        // the first entry of each partial index in its order (as completeCampaignIfFinished asks)
        `SELECT (SELECT coalesce(sum(created), 0) FROM campaign_send_counts WHERE campaign_id = $1)::int AS rows,
                coalesce((SELECT true FROM campaign_emails WHERE campaign_id = $1 AND workspace_id = $2 AND status IN ('scheduled', 'retryable')
                          ORDER BY ${NEEDS_JOB_KEY}, scheduled_at, id LIMIT 1), false)
                OR coalesce((SELECT true FROM campaign_emails WHERE campaign_id = $1 AND status = 'sending' ORDER BY claimed_at LIMIT 1), false) AS open`,
        [seed.campaignId, seed.workspaceId],
      );
      // what pg_stat_xact_user_tables shows, without reading the catalogs it is a view of
      const own = await poller.query<{ n: string }>(
        `SELECT (SELECT sum(pg_stat_get_xact_tuples_returned(o) + pg_stat_get_xact_tuples_fetched(o)) FROM unnest($1::oid[]) o)::text AS n`,
        [pollRelations],
      );
      await poller.query('COMMIT');
      pollTuples += Number(own.rows[0]!.n);
      if (rows[0]!.rows >= LEADS && !rows[0]!.open) break;
      if (Date.now() - started > 30 * 60_000) throw new Error(`timed out with ${rows[0]!.rows} ledger rows`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    poller.release();
  }
  clearInterval(ticker);
  const cpuAfter = sampleCpu(groups);
  const sysAfter = sampleCpu(groups, true);
  await new Promise((r) => setTimeout(r, 1000)); // backends report their statistics at most once a second
  const countersAfter = await counters();
  const breakdownAfter = await breakdown();
  await info.quit();
  const topStatements = statements ? await statementsPerSend(pool) : [];

  const slots = await accountSlotMetrics(workers);
  const report = await ses.report();
  const sends = [...report.sendTimes].sort((a, b) => a - b);
  if (process.env.BENCH_TIMES_FILE) writeFileSync(process.env.BENCH_TIMES_FILE, sends.join('\n'));
  if (process.env.BENCH_TIMES_FILE) writeFileSync(`${process.env.BENCH_TIMES_FILE}.ticks`, tickTimes.join('\n'));
  const perRecipient = new Map<string, number>();
  for (const to of report.recipients) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
  const duplicates = [...perRecipient.values()].filter((n) => n > 1).length;
  const ledger = (
    await pool.query(
      `SELECT count(*)::int AS rows, count(DISTINCT lead_id)::int AS leads, count(DISTINCT message_id)::int AS ids,
              count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*) FILTER (WHERE status <> 'sent')::int AS "notSent"
       FROM campaign_emails WHERE campaign_id = $1`,
      [seed.campaignId],
    )
  ).rows[0];
  const notSent = (
    await pool.query(
      `SELECT status, left(coalesce(last_error, cancelled_reason, ''), 120) AS reason, count(*)::int AS n
       FROM campaign_emails WHERE campaign_id = $1 AND status <> 'sent' GROUP BY 1, 2 ORDER BY 3 DESC`,
      [seed.campaignId],
    )
  ).rows;
  const seconds = (sends.at(-1)! - sends[0]!) / 1000;
  const rate = (sends.length - 1) / seconds;
  // steady state: skip the first and last 5 s (start-up, drain)
  const steady = sends.filter((t) => t >= sends[0]! + 5000 && t <= sends.at(-1)! - 5000);
  const steadyRate = (steady.length - 1) / ((steady.at(-1)! - steady[0]!) / 1000);
  const cpu = cpuPerUnit(cpuBefore, cpuAfter, sends.length);
  const sys = cpuPerUnit(sysBefore, sysAfter, sends.length);
  const result = {
    leads: LEADS,
    workers: WORKERS,
    concurrencyPerWorker: CONCURRENCY,
    limitPerSecond: RATE,
    sesRequests: sends.length,
    emailsInEmulator: report.recipients.length,
    distinctRecipients: perRecipient.size,
    recipientsWithDuplicates: duplicates,
    ledger,
    ...(notSent.length > 0 ? { notSent } : {}),
    seconds: Number(seconds.toFixed(1)),
    ratePerSecond: Number(rate.toFixed(2)),
    steadyRatePerSecond: Number(steadyRate.toFixed(2)),
    percentOfLimit: Number(((rate / RATE) * 100).toFixed(1)),
    maxInAnyOneSecondWindow: maxInAnyWindow(sends, 1000),
    instrument: 'instrument' in report ? report.instrument : 'Node relay (bench/ses-process.ts), stamped when its event loop read the request',
    ...('proxyEventLoopDelayMs' in report ? { proxyEventLoopDelayMs: report.proxyEventLoopDelayMs } : {}),
    // the workers' email_ses_slot_* metrics: how old the account slots were when their requests left
    accountSlots: slots,
    // CPU ms per SES request, per process, from the first tick until every row was sent
    cpuMsPerSend: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.msPerSend])),
    // of which in the kernel (system calls: every round trip to Postgres, Redis, SES costs some)
    sysMsPerSend: Object.fromEntries(Object.entries(sys).map(([k, v]) => [k, v.msPerSend])),
    cpuMs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.cpuMs])),
    perSend: Object.fromEntries(
      (Object.keys(countersAfter) as Array<keyof typeof countersAfter>).map((k) => [
        k,
        Number(((countersAfter[k] - countersBefore[k]) / sends.length).toFixed(1)),
      ]),
    ),
    // of the tuples read per send, those of the bench's own poll for the end (included above)
    benchPollTuplesPerSend: Number((pollTuples / sends.length).toFixed(2)),
    machine: `${cpus().length} cores, Node ${process.versions.node}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  };
  const perSendOf = (after: Record<string, number>, before: Record<string, number>) =>
    Object.entries(after)
      .map(([k, v]) => [k, (v - (before[k] ?? 0)) / sends.length] as const)
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1]);
  const tablesPerSend = perSendOf(breakdownAfter.tables, breakdownBefore.tables);
  const commandsPerSend = perSendOf(breakdownAfter.commands, breakdownBefore.commands);
  console.log(
    JSON.stringify(
      {
        ...result,
        tuplesReadPerSendByTable: Object.fromEntries(tablesPerSend.map(([k, v]) => [k, Number(v.toFixed(1))])),
        redisCallsPerSendByCommand: Object.fromEntries(commandsPerSend.map(([k, v]) => [k, Number(v.toFixed(2))])),
        // the statements that touch the most buffers, per send (pg_stat_statements; the bench's own polling included)
        topStatementsPerSend: topStatements.map((t) => ({
          calls: Number((t.calls / sends.length).toFixed(2)),
          blocksPerSend: Number((t.blocks / sends.length).toFixed(1)),
          rowsPerSend: Number((t.rows / sends.length).toFixed(1)),
          query: t.query,
        })),
      },
      null,
      2,
    ),
  );
  // for docs/benchmarks.md
  const top = (list: ReadonlyArray<readonly [string, number]>, n: number) =>
    list
      .slice(0, n)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
  console.log(
    '| leads | sends | % of limit | Postgres tuples read / send | transactions / send | Redis commands / send | tuples by table | Redis calls by command |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${LEADS} | ${sends.length} | ${result.percentOfLimit} | ${result.perSend.pgTuplesRead} | ${result.perSend.pgTransactions} | ${result.perSend.redisCommands} | ${top(tablesPerSend, 5)} | ${top(commandsPerSend, 6)} |`,
  );
  console.log(
    `CPU ms per send (kernel part): ${Object.entries(result.cpuMsPerSend)
      .map(([k, v]) => `${k} ${v} (${result.sysMsPerSend[k]})`)
      .join(', ')}`,
  );
  await producer.close();
  await pool.end();
} finally {
  await stopWorkerApps(workers);
  await ses.close();
  await emulator.close();
  await servers.stop();
}
