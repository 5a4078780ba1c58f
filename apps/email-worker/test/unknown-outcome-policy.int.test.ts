import { sendBulkEmail } from '@coldcopy/queue-core';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { createSesClient } from '../src/deps.js';
import { handlers } from '../src/handlers/index.js';
import { createFakeWireMarks, type WireMarks } from '../src/providers/wire-marks.js';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, useEmailHarness } from './harness.js';

/*
 * UNKNOWN_OUTCOME_POLICY on real event flow: the SES event simulator posts the signed SNS
 * notifications (Send, Delivery) of every message SES accepted to the web app's webhook route,
 * which enqueues process-webhook for the worker, as in production. An unknown outcome that a Send
 * event reconciles is never resent, under either policy; a claim whose attempt marked its request
 * as on the wire but that no event ever settles (the request never reached SES) is resent exactly
 * once under `resend-once` and left `failed_unknown` for review under the default; a lapsed claim
 * without that mark is sent again under both. The wire marks of the last two are in memory here
 * (whether Redis may vouch for an absent mark is wire-marks.int.test.ts's).
 */

const patient = { timeoutMs: 60_000, intervalMs: 200 };
const h = useEmailHarness({ simulator: true });
/** how long an unknown outcome waits for its Send event here (15 minutes in production) */
const WINDOW_MS = 3000;
const LEASE_MS = 120_000;

async function withWorker<T>(policy: 'review' | 'resend-once', fn: (worker: Worker) => Promise<T>, wire?: WireMarks): Promise<T> {
  // SES answers after the client gave up: the message was accepted, the sender cannot know it
  const sesClient = createSesClient({ SES_REGION: 'us-east-1', SES_ENDPOINT: h.ses.endpoint, SES_TIMEOUT_MS: 1000 });
  const deps = h.deps({ sesClient, leaseMs: LEASE_MS, unknownOutcome: { windowMs: WINDOW_MS, policy } }).deps;
  const worker = await startWorker({
    queue: 'email',
    handlers,
    deps: wire ? { ...deps, wire } : deps,
    logger: createSilentLogger(),
    redisUrl: inject('redisUrl'),
    prefix: h.prefix,
    security: testSecurity(),
    deadLetters: false,
  });
  try {
    return await fn(worker);
  } finally {
    await worker.close(5000);
    sesClient.destroy();
  }
}

const row = async (id: string) =>
  (
    await h.pool.query<{ status: string; message_id: string | null; attempt: number }>(
      'SELECT status, message_id, attempt FROM campaign_emails WHERE id = $1',
      [id],
    )
  ).rows[0]!;

const tick = (seed: { workspaceId: string; campaignId: string }, slot: string) =>
  h.producer.enqueue(sendBulkEmail, { workspaceId: seed.workspaceId, requestedBy: 'test', campaignId: seed.campaignId, windowSlot: slot, batchSize: 10 });

/** notifications delivered to the webhook since `before` (the simulator's counts span the file's tests), by type */
function eventsSince(before: ReturnType<typeof h.ses.simulator.stats>) {
  const now = h.ses.simulator.stats();
  const byType = Object.fromEntries(
    Object.entries(now.byType)
      .map(([k, v]) => [k, v - (before.byType[k] ?? 0)])
      .filter(([, v]) => v !== 0),
  );
  return { gaveUp: now.gaveUp - before.gaveUp, byType };
}

/** until no job of this test's queue is waiting, active or delayed */
const settled = (worker: Worker) =>
  waitFor(
    async () => {
      const c = await worker.inspect.counts();
      return c.waiting + c.active + c.delayed === 0 || false;
    },
    { ...patient, what: 'the queue drained' },
  );

describe('unknown send outcomes on the SES event simulator', () => {
  for (const policy of ['review', 'resend-once'] as const) {
    it(`${policy}: an unknown outcome that the Send event reconciles ends sent with its MessageId and is never resent`, async () => {
      const seed = await seedCampaign(h.pool, { leads: 1, steps: 1, scheduleStep1: true });
      const id = seed.sendIds[0]!;
      const before = h.ses.simulator.stats();
      await withWorker(policy, async (worker) => {
        h.ses.simulator.setResponseDelay(8000);
        // SNS delivers late: the sender's timeout records the outcome unknown first
        h.ses.simulator.pausePublishing();
        try {
          await tick(seed, '20261201T1500Z');
          await waitFor(() => h.ses.simulator.accepted.length === 1 || false, { ...patient, what: 'the message accepted' });
          await waitFor(async () => ((await row(id)).status === 'unknown' ? true : false), { ...patient, what: 'the outcome unknown' });
          h.ses.simulator.resumePublishing();
          await waitFor(async () => ((await row(id)).status === 'sent' ? true : false), { ...patient, what: 'the row reconciled to sent' });
        } finally {
          h.ses.simulator.setResponseDelay(0);
          h.ses.simulator.resumePublishing();
        }
        await h.ses.simulator.idle();
        await settled(worker);
        // past the event window, the tick settles outcomes: nothing left to resolve or resend
        await new Promise((r) => setTimeout(r, WINDOW_MS + 500));
        await tick(seed, '20261201T1505Z');
        await settled(worker);
      });
      expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 1 });
      expect(h.ses.simulator.accepted).toHaveLength(1);
      expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: { Send: 1, Delivery: 1 } });
      const events = await h.pool.query(
        `SELECT event_type, metadata->>'reconciled' AS reconciled FROM email_events WHERE campaign_email_id = $1 ORDER BY event_type`,
        [id],
      );
      expect(events.rows).toEqual([
        { event_type: 'delivered', reconciled: null },
        { event_type: 'sent', reconciled: 'true' },
      ]);
    }, 120_000);

    it(`${policy}: an unknown outcome no SES event settles (the worker died between its wire mark and the request) is ${policy === 'review' ? 'left failed_unknown' : 'resent exactly once'}`, async () => {
      const seed = await seedCampaign(h.pool, { leads: 1, steps: 1, scheduleStep1: true });
      const id = seed.sendIds[0]!;
      const before = h.ses.simulator.stats();
      // claimed by a worker that marked its request as on the wire and died: lease and event window long over
      await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [
        id,
        (LEASE_MS + WINDOW_MS) / 1000 + 5,
      ]);
      const wire = createFakeWireMarks();
      await wire.mark({ campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 });
      await withWorker(
        policy,
        async (worker) => {
          await tick(seed, '20261201T1500Z');
          await settled(worker);
          await h.ses.simulator.idle();
          await settled(worker);
          // a later tick changes nothing: one resend at most
          await tick(seed, '20261201T1505Z');
          await settled(worker);
        },
        wire,
      );
      if (policy === 'review') {
        expect(await row(id)).toMatchObject({ status: 'failed_unknown', message_id: null, attempt: 1 });
        expect(h.ses.simulator.accepted).toHaveLength(0);
        expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: {} });
      } else {
        expect(h.ses.simulator.accepted).toHaveLength(1);
        expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 2 });
        expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: { Send: 1, Delivery: 1 } });
      }
    }, 120_000);

    it(`${policy}: a lapsed claim without a wire mark (the worker died between claim and request) is sent again, once`, async () => {
      const seed = await seedCampaign(h.pool, { leads: 1, steps: 1, scheduleStep1: true });
      const id = seed.sendIds[0]!;
      const before = h.ses.simulator.stats();
      await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [
        id,
        LEASE_MS / 1000 + 5,
      ]);
      const wire = createFakeWireMarks();
      await withWorker(
        policy,
        async (worker) => {
          await tick(seed, '20261201T1500Z');
          await settled(worker);
          await waitFor(async () => ((await row(id)).status === 'sent' ? true : false), { ...patient, what: 'the row sent again' });
          await h.ses.simulator.idle();
          await settled(worker);
          await tick(seed, '20261201T1505Z');
          await settled(worker);
        },
        wire,
      );
      expect(h.ses.simulator.accepted).toHaveLength(1);
      expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 2 });
      expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: { Send: 1, Delivery: 1 } });
      expect([...wire.marks]).toEqual([`${seed.campaignId}/${id}/2`]);
    }, 120_000);
  }
});
