import { fileURLToPath } from 'node:url';
import { sendBulkEmail } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { minimumSendLeaseMs } from '../src/deps.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';
import { EMAIL_WORKER_TEST_ENV } from './harness-keys.js';

const h = useEmailHarness();
const LEADS = 20;
const SES_TIMEOUT_MS = 3000;
const HOLD = fileURLToPath(new URL('./hold-after-claim.ts', import.meta.url));
const APP_DIR = new URL('..', import.meta.url);

/**
 * Two workers; one is frozen (SIGSTOP) right after it claimed sends, for longer than its lease, so
 * the other takes its jobs over (Bull's stalled check) and the ledger marks the claims' outcome
 * unknown; then it is resumed (SIGCONT). The resumed worker must not send on its expired claims
 * (its lease is checked on the monotonic clock before the request leaves), and none of its ledger
 * writes may overwrite another attempt's.
 */
async function freezeRun(leaseMs: number) {
  const seed = await seedCampaign(h.pool, { leads: LEADS, steps: 1, domains: 20 });
  const env = {
    ...EMAIL_WORKER_TEST_ENV,
    REDIS_URL: inject('redisUrl'),
    BULL_PREFIX: h.prefix,
    DATABASE_URL: h.db.url,
    DATABASE_POOL_MAX: '4',
    SES_ENDPOINT: h.ses.endpoint,
    EMAIL_CONCURRENCY: '4',
    SES_MAX_SEND_RATE: '20',
    DOMAIN_RATE_PER_MINUTE: '100000',
    SES_TIMEOUT_MS: String(SES_TIMEOUT_MS),
    SEND_LEASE_MS: String(leaseMs),
    LOCK_DURATION_MS: '4000',
    STALLED_INTERVAL_MS: '2000',
  };
  const frozen = await spawnWorkerApp(APP_DIR, { ...env, HOLD_AFTER_CLAIM_MS: '4000', HOLD_CLAIMS: '3' }, { nodeArgs: ['--import', HOLD] });
  let other: WorkerAppProcess | undefined;
  try {
    await h.producer.enqueue(sendBulkEmail, {
      workspaceId: seed.workspaceId,
      requestedBy: 'test',
      campaignId: seed.campaignId,
      windowSlot: '20261201T1500Z',
      batchSize: 50,
    });
    await waitFor(() => (frozen.output().includes('CLAIMED ') ? true : false), { timeoutMs: 90_000, what: 'a claim by the worker to freeze' });
    frozen.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const held = [...frozen.output().matchAll(/CLAIMED ([0-9a-f-]{36})/g)].map((m) => m[1]!);
    other = await spawnWorkerApp(APP_DIR, env);
    // the other worker takes over; the frozen claims expire (unknown) once their lease is over
    await waitFor(
      async () => {
        const { rows } = await h.pool.query(`SELECT status FROM campaign_emails WHERE id = ANY($1::uuid[])`, [held]);
        return rows.every((r) => r.status !== 'sending') && Date.now() - stoppedAt > leaseMs + 5000 ? true : false;
      },
      { timeoutMs: leaseMs + 120_000, intervalMs: 500, what: 'the frozen claims past their lease' },
    );
    frozen.child.kill('SIGCONT');
    await waitFor(
      async () => {
        const { rows } = await h.pool.query(`SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent FROM campaign_emails WHERE campaign_id = $1`, [
          seed.campaignId,
        ]);
        return rows[0].sent === LEADS ? true : false;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'every lead sent' },
    ).catch(async (err: unknown) => {
      const { rows } = await h.pool.query(`SELECT id, status, attempt, last_error FROM campaign_emails WHERE campaign_id = $1 AND status <> 'sent'`, [
        seed.campaignId,
      ]);
      throw new Error(`${(err as Error).message}: ${JSON.stringify(rows)}\n${frozen.output().slice(-4000)}`);
    });
    const emails = await h.ses.emails();
    const perLead = new Map<string, number>();
    for (const e of emails) perLead.set(e.destination.to[0]!, (perLead.get(e.destination.to[0]!) ?? 0) + 1);
    const ledger = await h.pool.query(`SELECT message_id FROM campaign_emails WHERE campaign_id = $1`, [seed.campaignId]);
    const ids = new Set(ledger.rows.map((r) => r.message_id as string));
    return { held, emails, perLead, ids, frozenOutput: frozen.output(), seed };
  } finally {
    frozen.child.kill('SIGCONT');
    frozen.child.kill('SIGTERM');
    other?.child.kill('SIGTERM');
    await Promise.all([frozen.exited, other?.exited]);
  }
}

describe('a worker frozen right after its claims, past its lease, then resumed', () => {
  for (const [label, leaseMs] of [
    ['the shortest lease allowed', minimumSendLeaseMs({ SES_TIMEOUT_MS })],
    ['the default lease', 120_000],
  ] as const) {
    it(
      `${label} (${leaseMs / 1000} s): every lead gets exactly one email, the ledger holds every delivered message id`,
      async () => {
        const run = await freezeRun(leaseMs);
        expect(run.held.length).toBeGreaterThan(0);
        expect(run.emails).toHaveLength(LEADS);
        expect(new Set(run.perLead.keys())).toEqual(new Set(run.seed.leads.map((l) => l.email)));
        expect([...run.perLead.values()].every((n) => n === 1)).toBe(true);
        expect(run.emails.every((e) => run.ids.has(e.messageId))).toBe(true);
        // the resumed worker saw its lease gone and sent nothing on those claims
        expect(run.frozenOutput).toContain('send lease ran out before the request left');
      },
      leaseMs + 420_000,
    );
  }
});
