import { sendBulkEmail } from '@coldcopy/queue-core';
import { Producer } from '@coldcopy/queue-core/producer';
import { RedisServer, spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { emailsPerRecipient, statusCounts } from './campaign-checks.js';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, useEmailHarness } from './harness.js';
import { EMAIL_WORKER_TEST_ENV } from './harness-keys.js';
import { startTcpProxy } from './tcp-proxy.js';

/*
 * The crash matrix (issue 20): a campaign sent by two email worker processes, with the SES event
 * simulator posting the signed SNS Send and Delivery events of every accepted message to the web
 * app's webhook route, while the test kills worker processes (kill -9 six times across the two),
 * kills Redis with kill -9 (AOF on) and restarts it on the same port and data dir, takes Postgres
 * away for a few seconds (a relay that resets every connection and refuses new ones, as a stopped
 * server; the test database lives on the run's shared Postgres, which no test may stop) and stops
 * a worker with SIGTERM and a 2 s grace. Every lead must end with exactly one email in the SES
 * emulator and every row `sent` with that email's MessageId: none `unknown` or `failed_unknown`.
 *
 * Policy: CRASH_MATRIX_POLICY, `resend-once` here. Under the default (`review`) the matrix does not
 * hold yet: a kill -9 that lands between a row's claim and its SES request leaves a row no Send
 * event can settle, which `review` ends `failed_unknown` (that lead gets no email); issue 20's
 * acceptance asks for 0 of those under the default policy. `CRASH_MATRIX_POLICY=review` runs the
 * same matrix with the same assertions, to show it.
 *
 * Size: CRASH_MATRIX_LEADS leads, 300 in the test suite (a few minutes on a quiet machine); the
 * acceptance's 1,000-lead run is `pnpm --filter @coldcopy/email-worker crash-matrix` (this file
 * with CRASH_MATRIX_LEADS=1000).
 */

const APP_DIR = new URL('..', import.meta.url);
const LEADS = Number(process.env.CRASH_MATRIX_LEADS ?? 300);
/** send rate: the campaign lasts long enough for every crash to land while it sends */
const RATE = Math.max(5, Math.round(LEADS / 40));
/** worker processes and servers on a loaded machine: generous, polled at an easy pace */
const patient = { timeoutMs: 300_000, intervalMs: 250 };
const POLICY = process.env.CRASH_MATRIX_POLICY === 'review' ? 'review' : 'resend-once';
const h = useEmailHarness({ simulator: true });

type Crash = 'kill -9 A' | 'kill -9 B' | 'Redis kill -9' | 'Postgres down' | 'SIGTERM B';
/** each crash once the emulator holds this share of the campaign's emails */
const MATRIX: ReadonlyArray<[number, Crash]> = [
  [0.08, 'kill -9 A'],
  [0.16, 'kill -9 B'],
  [0.26, 'Redis kill -9'],
  [0.36, 'kill -9 A'],
  [0.46, 'Postgres down'],
  [0.56, 'kill -9 B'],
  [0.66, 'kill -9 A'],
  [0.76, 'SIGTERM B'],
  [0.86, 'kill -9 B'],
];

describe(`crash matrix over a ${LEADS}-lead campaign on the SES event simulator (${POLICY})`, () => {
  it('kill -9 ×6 across two workers, Redis kill -9 (AOF), Postgres down, SIGTERM: every lead exactly one email, no row unknown or failed_unknown', async () => {
    const started = Date.now();
    const seed = await seedCampaign(h.pool, { leads: LEADS, domains: 25 });
    const redis = await RedisServer.start({ appendOnly: true });
    const pg = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(h.db.url).port) });
    // the workers, the ticks and the webhook route (the harness's producer) use the killable Redis
    await h.producer.close();
    h.producer = new Producer({ redisUrl: redis.url, prefix: h.prefix, security: testSecurity() });
    const env = {
      ...EMAIL_WORKER_TEST_ENV,
      REDIS_URL: redis.url,
      BULL_PREFIX: h.prefix,
      DATABASE_URL: pg.via(h.db.url),
      DATABASE_POOL_MAX: '6',
      SES_ENDPOINT: h.ses.endpoint,
      EMAIL_CONCURRENCY: '5',
      SES_MAX_SEND_RATE: String(RATE),
      DOMAIN_RATE_PER_MINUTE: '100000',
      SES_TIMEOUT_MS: '3000',
      // the shortest lease allowed: send-email's 60 s budget + SES_TIMEOUT_MS + 5 s (deps.ts)
      SEND_LEASE_MS: '68000',
      LOCK_DURATION_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
      // from the claim: a crash's unknown rows (lease expired: 68 s after their claim) resolve at
      // once; a Send event held up by a crash still has 30 s to settle its row before `resend-once`
      UNKNOWN_EVENT_WINDOW_MS: '30000',
      UNKNOWN_OUTCOME_POLICY: POLICY,
      SHUTDOWN_GRACE_SECONDS: '2',
      SEND_JITTER_MS: '2000',
    };
    const workers: Record<'A' | 'B', WorkerAppProcess | undefined> = { A: undefined, B: undefined };
    const spawn = async (name: 'A' | 'B') => (workers[name] = await spawnWorkerApp(APP_DIR, env, { readyTimeoutMs: 120_000 }));
    const figures = { killed: 0, sigterm: 0, redisKills: 0, postgresDown: 0, ticks: 0, ticksFailed: 0 };

    // the campaign's tick every 3 s, as the scheduler would: it enqueues due rows (again, when a
    // crash lost their job) and settles outcomes; a tick that Redis refused is simply the next one's
    let ticking = true;
    const ticker = (async () => {
      for (let i = 0; ticking; i++) {
        const slot = `20261201T${String(1000 + Math.floor(i / 60) * 100 + (i % 60)).padStart(4, '0')}Z`;
        try {
          await h.producer.enqueue(sendBulkEmail, {
            workspaceId: seed.workspaceId,
            requestedBy: 'test',
            campaignId: seed.campaignId,
            windowSlot: slot,
            batchSize: 500,
          });
          figures.ticks++;
        } catch {
          figures.ticksFailed++;
        }
        await new Promise((r) => setTimeout(r, 3000));
      }
    })();

    try {
      await Promise.all([spawn('A'), spawn('B')]);
      for (const [share, crash] of MATRIX) {
        const target = Math.ceil(share * LEADS);
        await waitFor(async () => (await h.ses.emails()).length >= target || false, { ...patient, what: `${target} emails before ${crash}` });
        if (crash === 'kill -9 A' || crash === 'kill -9 B' || crash === 'SIGTERM B') {
          const name = crash.endsWith('A') ? 'A' : 'B';
          const worker = workers[name]!;
          workers[name] = undefined;
          const exit = await worker.kill(crash === 'SIGTERM B' ? 'SIGTERM' : 'SIGKILL');
          if (crash === 'SIGTERM B') {
            figures.sigterm++;
            expect(exit.code, worker.output().slice(-2000)).toBe(0);
          } else {
            figures.killed++;
            expect(exit.signal).toBe('SIGKILL');
          }
          await spawn(name);
        } else if (crash === 'Redis kill -9') {
          await redis.stopProcess('SIGKILL');
          figures.redisKills++;
          await new Promise((r) => setTimeout(r, 2000));
          await redis.startProcess();
        } else {
          pg.cut();
          figures.postgresDown++;
          await new Promise((r) => setTimeout(r, 8000));
          pg.restore();
        }
      }

      // every row reaches its outcome: a send cut off by a crash is reconciled by its Send event
      await waitFor(
        async () => {
          const c = await statusCounts(h.pool, seed.campaignId);
          return !c.scheduled && !c.retryable && !c.sending && !c.unknown ? c : false;
        },
        { ...patient, what: 'every row settled' },
      );
      await h.ses.simulator.idle();

      const counts = await statusCounts(h.pool, seed.campaignId);
      const emails = await h.ses.emails();
      const perRecipient = emailsPerRecipient(emails);
      console.log(
        `crash matrix (${POLICY}): ${LEADS} leads, kill -9 ${figures.killed}, SIGTERM ${figures.sigterm}, Redis kill -9 ${figures.redisKills}, Postgres down ${figures.postgresDown}; ` +
          `${emails.length} emails to ${perRecipient.size} addresses; rows ${JSON.stringify(counts)}; ticks ${figures.ticks} (${figures.ticksFailed} refused); ${Math.round((Date.now() - started) / 1000)} s`,
      );
      expect(figures).toMatchObject({ killed: 6, sigterm: 1, redisKills: 1, postgresDown: 1 });
      expect(counts).toEqual({ sent: LEADS });
      expect(emails).toHaveLength(LEADS);
      expect(new Set(perRecipient.keys())).toEqual(new Set(seed.leads.map((l) => l.email)));
      expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
      const ledgerIds = new Set(
        (await h.pool.query('SELECT message_id FROM campaign_emails WHERE campaign_id = $1', [seed.campaignId])).rows.map((r) => r.message_id as string),
      );
      expect(ledgerIds.size).toBe(LEADS);
      expect(emails.every((e) => ledgerIds.has(e.messageId))).toBe(true);
    } finally {
      ticking = false;
      await ticker;
      await Promise.all(
        Object.values(workers).map(async (w) => {
          if (w) await w.kill('SIGTERM');
        }),
      );
      pg.restore();
      await pg.close();
      await redis.stop();
    }
  }, 900_000);
});
