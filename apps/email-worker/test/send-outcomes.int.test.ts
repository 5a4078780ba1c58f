import { closePool, createPool, loadDbEnv } from '@coldcopy/db';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { sendEmailHandler, type SendEmailResult } from '../src/handlers/send-email.js';
import { drainOutcomes } from '../src/providers/outcome-journal.js';
import { createPgEmailStore } from '../src/providers/pg-email-store.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';
import { startTcpProxy } from './tcp-proxy.js';

const h = useEmailHarness();
const silent = { info: () => undefined, error: () => undefined };

describe('send outcomes are never lost', () => {
  it('Postgres goes down while five accepted sends wait for their SES answer: each outcome is kept, and every row ends sent with its MessageId', async () => {
    const seed = await seedCampaign(h.pool, { leads: 5, steps: 1, scheduleStep1: true });
    // the worker's database connections go through a relay the test can cut, as a stopped Postgres
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(h.db.url).port) });
    const pool = createPool(loadDbEnv({ DATABASE_URL: proxy.via(h.db.url), DATABASE_POOL_MAX: '5' }));
    pool.on('error', () => undefined); // idle connections reset by the cut
    try {
      const { deps } = h.deps();
      const worker = { ...deps, store: createPgEmailStore(pool) };
      h.ses.simulator.setResponseDelay(2000);
      const sendOnce = (id: string) =>
        sendEmailHandler(
          { workspaceId: seed.workspaceId, requestedBy: 'system', campaignEmailId: id, trackOpens: false, trackClicks: false, checkConsent: false },
          h.context(worker),
        );
      // On a loaded machine the rate limiter may defer a send before it reaches SES (its slot went
      // stale during a slow claim); its follow-up job would run it again once due, and so does this.
      const deadline = Date.now() + 60_000;
      const sendUntilNotDeferred = async (id: string) => {
        for (;;) {
          const result = (await sendOnce(id)) as SendEmailResult;
          if (result.status !== 'deferred' || Date.now() > deadline) return result;
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      const runs = seed.sendIds.map(sendUntilNotDeferred);
      // SES has accepted all five (their answers are held back): Postgres goes away
      await waitFor(() => h.ses.simulator.accepted.length === 5 || false, { timeoutMs: 60_000, what: 'five messages accepted' });
      proxy.cut();
      const results = await Promise.all(runs);
      const accepted = new Map(h.ses.simulator.accepted.map((m) => [m.tags.send_id!, m.messageId]));
      expect(results).toEqual(seed.sendIds.map((id) => ({ status: 'sent', messageId: accepted.get(id), journalled: true })));
      // nothing in the ledger yet: the rows are still claimed, the outcomes are in Redis
      const claimed = await h.pool.query(`SELECT count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1 AND status = 'sending'`, [seed.campaignId]);
      expect(claimed.rows[0].n).toBe(5);
      expect(await h.redis.hlen(`${h.prefix}:email:outcomes`)).toBe(5);

      // still down: the drain keeps them; back: applied, and the journal is empty
      expect(await drainOutcomes(worker.outcomes, worker.store, silent)).toMatchObject({ applied: 0, left: 5 });
      proxy.restore();
      await waitFor(async () => ((await drainOutcomes(worker.outcomes, worker.store, silent)).left === 0 ? true : false), {
        timeoutMs: 60_000,
        what: 'the drain',
      });
      const { rows } = await h.pool.query(`SELECT id, status, message_id FROM campaign_emails WHERE campaign_id = $1`, [seed.campaignId]);
      expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.message_id]]))).toEqual(
        Object.fromEntries(seed.sendIds.map((id) => [id, ['sent', accepted.get(id)]])),
      );
      expect(await h.redis.hlen(`${h.prefix}:email:outcomes`)).toBe(0);
      expect(h.ses.simulator.accepted).toHaveLength(5); // sent once each
    } finally {
      h.ses.simulator.setResponseDelay(0);
      await closePool(pool).catch(() => undefined);
      await proxy.close();
    }
  }, 120_000);
});
