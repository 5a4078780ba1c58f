import { sendBulkEmail } from '@coldcopy/queue-core';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { handlers } from '../src/handlers/index.js';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, useEmailHarness } from './harness.js';

const patient = { timeoutMs: 90_000, intervalMs: 200 };
const h = useEmailHarness({ simulator: true });

/** SES's mailbox simulator addresses, and this simulator's labels */
const RECIPIENTS = {
  'success@simulator.amazonses.com': ['delivered'],
  'bounce@simulator.amazonses.com': ['bounced'],
  'complaint@simulator.amazonses.com': ['complained', 'delivered'],
  'suppressionlist@simulator.amazonses.com': ['bounced'],
  'ooto@simulator.amazonses.com': ['delivered'],
  'success+open@simulator.amazonses.com': ['delivered', 'opened'],
  'success+click@simulator.amazonses.com': ['clicked', 'delivered', 'opened'],
  'success+delay@simulator.amazonses.com': ['delivered'],
  'lead@gmail.example': ['delivered'],
} as const;

describe('SES event simulator: the SNS events of every accepted message reach the worker through the webhook route', () => {
  it("a campaign to the mailbox simulator ends with each address's events applied: delivery, bounce and suppression, complaint, engagement", async () => {
    const emails = Object.keys(RECIPIENTS);
    const seed = await seedCampaign(h.pool, { leads: emails.length, steps: 1, email: (i) => emails[i]! });
    let worker: Worker | undefined;
    try {
      worker = await startWorker({
        queue: 'email',
        handlers,
        deps: h.deps().deps,
        logger: createSilentLogger(),
        redisUrl: inject('redisUrl'),
        prefix: h.prefix,
        security: testSecurity(),
        deadLetters: false,
      });
      await h.producer.enqueue(sendBulkEmail, {
        workspaceId: seed.workspaceId,
        requestedBy: 'test',
        campaignId: seed.campaignId,
        windowSlot: '20261201T1500Z',
        batchSize: 50,
      });
      await waitFor(() => h.ses.simulator.accepted.length === emails.length || false, { ...patient, what: 'every email accepted' });
      await h.ses.simulator.idle();
      // every notification was handed to the route (202) and processed by the worker
      const expectedPosts = emails.length + Object.values(RECIPIENTS).reduce((n, e) => n + e.length, 0) + 1; // Send each, + DeliveryDelay
      await waitFor(
        async () => {
          const counts = await worker!.inspect.counts();
          return h.ses.simulator.stats().delivered === expectedPosts && counts.waiting + counts.active + counts.delayed === 0 ? counts : false;
        },
        { ...patient, what: 'every notification delivered and processed' },
      );
      expect((await worker.inspect.counts()).failed).toBe(0);
      expect(h.ses.simulator.stats()).toMatchObject({
        gaveUp: 0,
        pending: 0,
        byType: { Send: 9, Delivery: 7, Bounce: 2, Complaint: 1, DeliveryDelay: 1, Open: 2, Click: 1 },
      });

      const { rows } = await h.pool.query(
        `SELECT l.email, ce.status, ce.message_id, ce.delivery_status,
                (SELECT array_agg(DISTINCT e.event_type ORDER BY e.event_type) FROM email_events e WHERE e.campaign_email_id = ce.id AND e.event_type <> 'sent') AS events
         FROM campaign_emails ce JOIN leads l ON l.id = ce.lead_id WHERE ce.campaign_id = $1`,
        [seed.campaignId],
      );
      const accepted = new Map(h.ses.simulator.accepted.map((m) => [m.destinations[0]!, m.messageId]));
      expect(Object.fromEntries(rows.map((r) => [r.email, r.events]))).toEqual(RECIPIENTS);
      for (const r of rows) {
        expect(r).toMatchObject({ status: 'sent', message_id: accepted.get(r.email) });
      }
      expect(Object.fromEntries(rows.map((r) => [r.email, r.delivery_status]))).toMatchObject({
        'bounce@simulator.amazonses.com': 'bounced',
        'suppressionlist@simulator.amazonses.com': 'bounced',
        'complaint@simulator.amazonses.com': 'complained',
        'success@simulator.amazonses.com': 'delivered',
      });
      const suppressed = await h.pool.query('SELECT email, suppression_type FROM suppression_list WHERE workspace_id = $1 ORDER BY email', [seed.workspaceId]);
      expect(suppressed.rows).toEqual([
        { email: 'bounce@simulator.amazonses.com', suppression_type: 'bounce' },
        { email: 'complaint@simulator.amazonses.com', suppression_type: 'complaint' },
        { email: 'suppressionlist@simulator.amazonses.com', suppression_type: 'bounce' },
      ]);
      const scores = await h.pool.query('SELECT email, engagement_score FROM leads WHERE workspace_id = $1 AND engagement_score > 0 ORDER BY email', [
        seed.workspaceId,
      ]);
      expect(scores.rows).toEqual([
        { email: 'success+click@simulator.amazonses.com', engagement_score: 30 },
        { email: 'success+open@simulator.amazonses.com', engagement_score: 10 },
      ]);
    } finally {
      await worker?.close(5000);
    }
  }, 120_000);
});
