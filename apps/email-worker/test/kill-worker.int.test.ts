import { randomUUID } from 'node:crypto';
import { sendBulkEmail } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { processWebhookHandler } from '../src/handlers/process-webhook.js';
import { emailsPerRecipient, statusCounts as countByStatus } from './campaign-checks.js';
import { seedCampaign } from './fixtures/seed.js';
import { TOPIC_ARN, useEmailHarness } from './harness.js';
import { sample, sesNotification } from '@coldcopy/sns/testing';
import { EMAIL_WORKER_TEST_ENV } from './harness-keys.js';

const APP_DIR = new URL('..', import.meta.url);

/** worker processes on a loaded machine: generous, polled at an easy pace */
const patient = { timeoutMs: 180_000, intervalMs: 250 };
const h = useEmailHarness();
const LEADS = 500;
/** how long an unknown outcome waits for its SES Send event (UNKNOWN_EVENT_WINDOW_MS) */
const UNKNOWN_WINDOW_MS = 1000;

const statusCounts = (campaignId: string) => countByStatus(h.pool, campaignId);

describe('kill -9 while a 500-lead campaign is sending', () => {
  it('after a restart every lead has exactly one email, in the emulator and in the ledger', async () => {
    const seed = await seedCampaign(h.pool, { leads: LEADS, domains: 25 });
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      DATABASE_POOL_MAX: '6',
      SES_ENDPOINT: h.ses.endpoint,
      EMAIL_CONCURRENCY: '5',
      SES_MAX_SEND_RATE: '40',
      DOMAIN_RATE_PER_MINUTE: '100000',
      SES_TIMEOUT_MS: '3000',
      // the shortest lease allowed: send-email's 60 s budget + SES_TIMEOUT_MS + 5 s (deps.ts)
      SEND_LEASE_MS: '68000',
      LOCK_DURATION_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
      // short: the test waits for it to pass (below), by the database's clock, not a fixed sleep
      UNKNOWN_EVENT_WINDOW_MS: String(UNKNOWN_WINDOW_MS),
      UNKNOWN_OUTCOME_POLICY: 'resend-once',
      // the tick's jobs spread over 2 s: some are still delayed in Bull when the worker dies
      SEND_JITTER_MS: '2000',
    };
    const tick = (slot: string) =>
      h.producer.enqueue(sendBulkEmail, { workspaceId: seed.workspaceId, requestedBy: 'test', campaignId: seed.campaignId, windowSlot: slot, batchSize: 500 });

    let first: WorkerAppProcess | undefined = await spawnWorkerApp(APP_DIR, { ...EMAIL_WORKER_TEST_ENV, ...env });
    let second: WorkerAppProcess | undefined;
    try {
      await tick('20261201T1500Z');
      await waitFor(async () => (await h.ses.emails()).length >= 150 || false, { ...patient, what: '150 emails before the kill' });
      // the SDK warns on every start when the Node.js is older than it supports (.node-version)
      expect(first.output()).not.toContain('NodeVersionSupportWarning');
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = (await h.ses.emails()).length;
      first = undefined;

      second = await spawnWorkerApp(APP_DIR, { ...EMAIL_WORKER_TEST_ENV, ...env });
      // every row reaches an outcome: A's in-flight rows wait for their lease and become unknown
      await waitFor(
        async () => {
          const c = await statusCounts(seed.campaignId);
          return !c.scheduled && !c.retryable && !c.sending ? c : false;
        },
        { ...patient, what: 'all rows settled after the restart' },
      );

      // SNS delivers the SES Send events: they reconcile unknown rows whose email went out
      const emails = await h.ses.emails();
      const byRecipient = new Map(emails.map((e) => [e.destination.to[0]!, e.messageId]));
      const unknown = (
        await h.pool.query(
          `SELECT ce.id, l.email FROM campaign_emails ce JOIN leads l ON l.id = ce.lead_id WHERE ce.campaign_id = $1 AND ce.status = 'unknown'`,
          [seed.campaignId],
        )
      ).rows as Array<{ id: string; email: string }>;
      const { deps } = h.deps();
      let reconciled = 0;
      for (const row of unknown) {
        const messageId = byRecipient.get(row.email);
        if (!messageId) continue; // killed after the claim, before the request left: never sent
        const event = sample('ses-event-send.json') as Record<string, any>;
        event.mail = {
          ...event.mail,
          timestamp: new Date().toISOString(),
          messageId,
          destination: [row.email],
          tags: { send_id: [row.id], workspace_id: [seed.workspaceId] },
        };
        await processWebhookHandler(
          { provider: 'ses', body: sesNotification(event, { topicArn: TOPIC_ARN, messageId: randomUUID() }), receivedAt: new Date().toISOString() },
          h.context(deps),
        );
        reconciled++;
      }
      // unknown rows with no Send event after the window: the next tick resends each exactly once
      const neverSent = unknown.length - reconciled;
      // the policy applies to unknown rows claimed longer than the window ago (send-bulk-email's settle)
      await waitFor(
        async () =>
          (
            await h.pool.query(
              `SELECT count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1 AND status = 'unknown' AND claimed_at >= now() - make_interval(secs => $2::double precision / 1000)`,
              [seed.campaignId, UNKNOWN_WINDOW_MS],
            )
          ).rows[0].n === 0 || false,
        { ...patient, what: 'the unknown rows’ event window passed' },
      );
      await tick('20261201T1505Z');
      await waitFor(async () => ((await statusCounts(seed.campaignId)).sent === LEADS ? true : false), { ...patient, what: 'every row sent' });

      const final = await h.ses.emails();
      const perRecipient = emailsPerRecipient(final);
      expect(final).toHaveLength(LEADS);
      expect(perRecipient.size).toBe(LEADS);
      expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(seed.leads.map((l) => l.email))).toEqual(new Set(perRecipient.keys()));

      const ledger = (
        await h.pool.query(
          `SELECT count(*)::int AS rows, count(DISTINCT lead_id)::int AS leads, count(DISTINCT message_id)::int AS ids,
                  count(*) FILTER (WHERE status = 'sent')::int AS sent
           FROM campaign_emails WHERE campaign_id = $1`,
          [seed.campaignId],
        )
      ).rows[0];
      expect(ledger).toEqual({ rows: LEADS, leads: LEADS, ids: LEADS, sent: LEADS });
      const ledgerIds = new Set(
        (await h.pool.query('SELECT message_id FROM campaign_emails WHERE campaign_id = $1', [seed.campaignId])).rows.map((r) => r.message_id as string),
      );
      expect(final.every((e) => ledgerIds.has(e.messageId))).toBe(true);
      console.log(
        `kill -9 after ${atKill} emails; unknown after restart ${unknown.length} (reconciled by Send event ${reconciled}, resent once ${neverSent}); final ${final.length} emails for ${LEADS} leads`,
      );
    } finally {
      first?.child.kill('SIGKILL');
      if (second) {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    }
  }, 480_000);
});
