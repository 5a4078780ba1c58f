import { sendBulkEmail } from '@coldcopy/queue-core';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { waitFor } from '@coldcopy/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createSesClient } from '../src/deps.js';
import { handlers } from '../src/handlers/index.js';
import { createFakeWireMarks, createRedisWireMarks, type WireMarks } from '../src/providers/wire-marks.js';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, useEmailHarness } from './harness.js';
import { useKillableRedis } from './killable-redis.js';

/*
 * UNKNOWN_OUTCOME_POLICY on real event flow: the SES event simulator posts the signed SNS
 * notifications (Send, Delivery) of every message SES accepted to the web app's webhook route,
 * which enqueues process-webhook for the worker, as in production. An unknown outcome that a Send
 * event reconciles is never resent, under either policy; a claim whose attempt marked its request
 * as on the wire but that no event ever settles (the request never reached SES) is resent exactly
 * once under `resend-once` and left `failed_unknown` for review under the default, unless Send
 * events of messages SES accepted after its mark did arrive (then SES never got it, and it is sent
 * again under both); a lapsed claim without that mark is sent again under both. The wire marks are
 * in memory here (whether Redis may vouch for an absent mark is wire-marks.int.test.ts's); the Send
 * events they are judged by are the simulator's, applied by process-webhook.
 */

const patient = { timeoutMs: 60_000, intervalMs: 200 };
const h = useEmailHarness({ simulator: true });
/** how long an unknown outcome waits for its Send event here (15 minutes in production) */
const WINDOW_MS = 3000;
const LEASE_MS = 120_000;
/** how long a marked claim waits for its Send event here (SEND_EVENT_WAIT_MS, 10 minutes in production) */
const EVENT_WAIT_MS = 2000;

type Harnessed = ReturnType<typeof h.deps>;

async function withWorker<T>(policy: 'review' | 'resend-once', fn: (worker: Worker, harnessed: Harnessed) => Promise<T>, wire?: WireMarks): Promise<T> {
  // SES answers after the client gave up: the message was accepted, the sender cannot know it
  const sesClient = createSesClient({ SES_REGION: 'us-east-1', SES_ENDPOINT: h.ses.endpoint, SES_TIMEOUT_MS: 1000 });
  const harnessed = h.deps({ sesClient, leaseMs: LEASE_MS, unknownOutcome: { windowMs: WINDOW_MS, policy } });
  const deps = harnessed.deps;
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
    return await fn(worker, wire ? { ...harnessed, deps: { ...deps, wire } } : harnessed);
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

/** until the row is sent and what that set off (its events) is done; then another tick, which must change nothing */
async function sentThenQuiet(worker: Worker, seed: { workspaceId: string; campaignId: string }, id: string, what: string, slot = '20261201T1505Z') {
  await waitFor(async () => ((await row(id)).status === 'sent' ? true : false), { ...patient, what });
  await h.ses.simulator.idle();
  await settled(worker);
  await tick(seed, slot);
  await settled(worker);
}

/** one message of this row at SES, sent by its second claim, and the row sent with its MessageId */
async function expectSentAgainOnce(id: string) {
  const mine = h.ses.simulator.accepted.filter((m) => m.tags.send_id === id);
  expect(mine).toHaveLength(1);
  expect(mine[0]!.tags.claim).toBe('2');
  expect(await row(id)).toMatchObject({ status: 'sent', message_id: mine[0]!.messageId, attempt: 2 });
}

/** in-memory marks judged with this file's event wait */
const fakeWire = () => createFakeWireMarks({ sendEventWaitMs: EVENT_WAIT_MS });
/** the mark of a claim as written `agoMs` ago */
const markedAgo = (wire: ReturnType<typeof fakeWire>, ref: { campaignId: string; campaignEmailId: string; attempt: number }, agoMs: number) =>
  wire.marks.set(`${ref.campaignId}/${ref.campaignEmailId}/${ref.attempt}`, Date.now() - agoMs);
/** a row claimed (attempt 1) by a worker that died: its lease long over by the database's clock */
const lapsedClaim = (id: string) =>
  h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [
    id,
    (LEASE_MS + WINDOW_MS) / 1000 + 5,
  ]);

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
      // marked long ago, and no Send event of this campaign has ever arrived: nothing vouches for it
      const wire = fakeWire();
      markedAgo(wire, { campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 }, LEASE_MS);
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
      const wire = fakeWire();
      await withWorker(
        policy,
        async (worker) => {
          await tick(seed, '20261201T1500Z');
          await settled(worker);
          await sentThenQuiet(worker, seed, id, 'the row sent again');
        },
        wire,
      );
      expect(h.ses.simulator.accepted).toHaveLength(1);
      expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 2 });
      expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: { Send: 1, Delivery: 1 } });
      expect([...wire.marks.keys()]).toEqual([`${seed.campaignId}/${id}/2`]);
    }, 120_000);
  }
});

describe('a marked claim without its Send event, judged by the Send events of later messages (SEND_EVENT_WAIT_MS)', () => {
  /** the campaign's first send goes out and its Send event is applied by process-webhook: SES's time of it */
  async function sendEventOfAnother(worker: Worker, seed: { workspaceId: string; campaignId: string }, id: string, wire: ReturnType<typeof fakeWire>) {
    await tick(seed, '20261201T1500Z');
    await waitFor(async () => ((await row(id)).status === 'sent' ? true : false), { ...patient, what: 'the other lead sent' });
    await h.ses.simulator.idle();
    await settled(worker);
    const seen = wire.sendEvents.get(seed.campaignId);
    expect(seen).toBeDefined();
    return seen!;
  }

  for (const policy of ['review', 'resend-once'] as const) {
    it(`${policy}: Send events of messages SES accepted after the mark arrived, and none for this claim: SES never got it, sent again once`, async () => {
      const seed = await seedCampaign(h.pool, { leads: 2, steps: 1, scheduleStep1: true });
      const [other, id] = seed.sendIds as [string, string];
      // held by a worker that has just claimed it (its lease runs): not the tick's to settle yet
      await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() WHERE id = $1`, [id]);
      const before = h.ses.simulator.stats();
      const wire = fakeWire();
      await withWorker(
        policy,
        async (worker, { ops }) => {
          const seenAt = await sendEventOfAnother(worker, seed, other, wire);
          // that worker marked the request on the wire before SES accepted the other message, and died
          await lapsedClaim(id);
          markedAgo(wire, { campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 }, Date.now() - seenAt + EVENT_WAIT_MS + 2000);
          await tick(seed, '20261201T1505Z');
          await sentThenQuiet(worker, seed, id, 'the row sent again', '20261201T1510Z');
          expect(ops.alerts).toEqual([]);
        },
        wire,
      );
      await expectSentAgainOnce(id);
      expect(h.ses.simulator.accepted).toHaveLength(2);
      expect(eventsSince(before)).toEqual({ gaveUp: 0, byType: { Send: 2, Delivery: 2 } });
    }, 120_000);
  }

  it('review: Send events flow, but none of a message SES accepted after the mark: failed_unknown, and the alert says why', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, steps: 1, scheduleStep1: true });
    const [other, id] = seed.sendIds as [string, string];
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() WHERE id = $1`, [id]);
    const wire = fakeWire();
    await withWorker(
      'review',
      async (worker, { ops }) => {
        const seenAt = await sendEventOfAnother(worker, seed, other, wire);
        // marked after the latest message whose Send event came (within the clock margin): its own may still be on the way
        await lapsedClaim(id);
        wire.marks.set(`${seed.campaignId}/${id}/1`, seenAt - 500);
        await new Promise((r) => setTimeout(r, Math.max(0, seenAt - 500 + EVENT_WAIT_MS - Date.now()) + 100));
        await tick(seed, '20261201T1505Z');
        await settled(worker);
        expect(await row(id)).toMatchObject({ status: 'failed_unknown', message_id: null, attempt: 1 });
        expect(ops.alerts).toEqual([
          expect.objectContaining({
            severity: 'warning',
            message: expect.stringContaining(
              `no Send event of a message SES accepted after them has arrived (latest of the campaign: ${new Date(seenAt).toISOString()})`,
            ),
            fields: { workspaceId: seed.workspaceId, campaignId: seed.campaignId, failedUnknown: 1 },
          }),
        ]);
      },
      wire,
    );
    expect(h.ses.simulator.accepted.filter((m) => m.tags.send_id === id)).toHaveLength(0);
  }, 120_000);

  it('a marked claim within the event wait is left alone, whatever later Send events say', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, steps: 1, scheduleStep1: true });
    const [other, id] = seed.sendIds as [string, string];
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() WHERE id = $1`, [id]);
    const wire = createFakeWireMarks(); // the production wait: 10 minutes
    await withWorker(
      'review',
      async (worker) => {
        await sendEventOfAnother(worker, seed, other, wire);
        await lapsedClaim(id);
        markedAgo(wire, { campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 }, 60_000);
        await tick(seed, '20261201T1505Z');
        await settled(worker);
      },
      wire,
    );
    expect(await row(id)).toMatchObject({ status: 'unknown', attempt: 1 });
  }, 120_000);

  it('its Send event arriving after it was found unsent and before another claim settles it: sent once, never again', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, steps: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    const wire = fakeWire();
    await withWorker(
      'review',
      async (worker, { deps }) => {
        // SES accepts it but answers too late, and its events are held up (SNS retrying, a webhook outage)
        h.ses.simulator.setResponseDelay(8000);
        h.ses.simulator.pausePublishing();
        try {
          await tick(seed, '20261201T1500Z');
          await waitFor(async () => ((await row(id)).status === 'unknown' ? true : false), { ...patient, what: 'the outcome unknown' });
          expect(h.ses.simulator.accepted).toHaveLength(1);
          await settled(worker);
          // its lease and event wait over, while Send events of later messages did arrive
          await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, LEASE_MS / 1000 + 5]);
          markedAgo(wire, { campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 }, EVENT_WAIT_MS + 5000);
          await wire.sawSendEvent(seed.campaignId, new Date());
          // the tick's settle step finds it unsent (this race cannot be timed through a tick, whose
          // next step enqueues the send at once)
          const settledNow = await deps.campaignTicks.settle(seed.workspaceId, seed.campaignId, {
            leaseMs: LEASE_MS,
            windowMs: WINDOW_MS,
            policy: 'review',
            now: new Date(),
            onWire: (claims) => wire.judge(seed.campaignId, claims),
          });
          expect(settledNow).toEqual({ expired: 0, released: 1, resolved: 0 });
          expect(await row(id)).toMatchObject({ status: 'retryable', attempt: 1 });
        } finally {
          h.ses.simulator.setResponseDelay(0);
          h.ses.simulator.resumePublishing();
        }
        // the late Send event of claim 1 (its claim tag) settles the row before anything claims it again
        await sentThenQuiet(worker, seed, id, 'the row settled by its late Send event');
      },
      wire,
    );
    expect(h.ses.simulator.accepted).toHaveLength(1);
    expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 1 });
  }, 120_000);
});

describe('a mark Redis acknowledged and lost in a restart (real Redis for the marks, kill -9)', () => {
  const killable = useKillableRedis();
  // every write before the kills below on disk
  beforeAll(() => killable.redis.config('SET', 'appendfsync', 'always'));

  /** marks in `redis`, judged with the production lineage margin against the end of this file's lease */
  const redisWire = async (sendEventWaitMs: number) => {
    // marks written for an hour (no rollout window; the test's prefix is its own)
    await killable.redis.set(`${h.prefix}:email:wire-since`, String(Date.now() - 3_600_000));
    return createRedisWireMarks(killable.redis, `${h.prefix}:email`, { leaseMs: LEASE_MS, sendEventWaitMs });
  };
  const markKey = (seed: { campaignId: string }, id: string) => `${h.prefix}:email:wire:{${seed.campaignId}}:${id}:1`;
  /** what follows runs with the mark acknowledged by Redis and never on its disk; then Redis dies (kill -9) and restarts without it */
  async function markLost(seed: { campaignId: string }, id: string, writeMark: () => Promise<unknown>) {
    await killable.redis.config('SET', 'appendonly', 'no');
    await writeMark();
    expect(await killable.redis.get(markKey(seed, id))).not.toBeNull();
    await killable.server.stopProcess('SIGKILL');
    await killable.server.startProcess(); // its config file: appendonly yes, the AOF from before the mark
    await killable.redis.ping();
    expect(await killable.redis.get(markKey(seed, id))).toBeNull();
    await killable.redis.config('SET', 'appendfsync', 'always');
  }

  it('SES got the request: the lapsed claim is not sent again on the missing mark (two looks); its late Send event settles it, one email', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, steps: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    const wire = await redisWire(60_000); // its Send event may still come for a minute after the lease
    await withWorker(
      'review',
      async (worker) => {
        // SES accepts it but answers after the client gave up, and its events are held up
        h.ses.simulator.setResponseDelay(8000);
        h.ses.simulator.pausePublishing();
        try {
          await markLost(seed, id, async () => {
            await tick(seed, '20261201T1500Z');
            await waitFor(async () => ((await row(id)).status === 'unknown' ? true : false), { ...patient, what: 'the outcome unknown' });
          });
          expect(h.ses.simulator.accepted).toHaveLength(1);
          await settled(worker);
          // its lease over by the database's clock
          await h.pool.query(`UPDATE campaign_emails SET claimed_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, LEASE_MS / 1000 + 5]);
          // the first look and the next: no mark, yet Redis restarted since the claim
          for (const slot of ['20261201T1505Z', '20261201T1510Z']) {
            await tick(seed, slot);
            await settled(worker);
          }
          expect(await row(id)).toMatchObject({ status: 'unknown', attempt: 1 });
          expect(h.ses.simulator.accepted).toHaveLength(1);
        } finally {
          h.ses.simulator.setResponseDelay(0);
          h.ses.simulator.resumePublishing();
        }
        await sentThenQuiet(worker, seed, id, 'the row settled by its Send event', '20261201T1515Z');
      },
      wire,
    );
    expect(h.ses.simulator.accepted).toHaveLength(1);
    expect(await row(id)).toMatchObject({ status: 'sent', message_id: h.ses.simulator.accepted[0]!.messageId, attempt: 1 });
  }, 120_000);

  it('SES never got it: the lapsed claim is sent again once a Send event of a message SES accepted after its lease ended has arrived, and its own has not', async () => {
    const seed = await seedCampaign(h.pool, { leads: 2, steps: 1, scheduleStep1: true });
    const [other, id] = seed.sendIds as [string, string];
    const wire = await redisWire(EVENT_WAIT_MS);
    // held by a worker that marks its request on the wire (the mark Redis then loses) and dies before it leaves
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', attempt = 1, claimed_at = now() WHERE id = $1`, [id]);
    await markLost(seed, id, () => wire.mark({ campaignId: seed.campaignId, campaignEmailId: id, attempt: 1 }));
    await withWorker(
      'review',
      async (worker, { ops }) => {
        await tick(seed, '20261201T1500Z');
        await waitFor(async () => ((await row(other)).status === 'sent' ? true : false), { ...patient, what: 'the other lead sent' });
        await h.ses.simulator.idle();
        await settled(worker);
        const seenAt = Number(await killable.redis.get(`${h.prefix}:email:wire:{${seed.campaignId}}:send-events`));
        expect(seenAt).toBeGreaterThan(0);
        // its lease ended 3 s before SES accepted the other message (past the 1 s clock margin and the event wait)
        await h.pool.query(`UPDATE campaign_emails SET claimed_at = $2 WHERE id = $1`, [id, new Date(seenAt - LEASE_MS - 3000)]);
        await tick(seed, '20261201T1505Z');
        await sentThenQuiet(worker, seed, id, 'the row sent again', '20261201T1510Z');
        expect(ops.alerts).toEqual([]);
      },
      wire,
    );
    await expectSentAgainOnce(id);
  }, 120_000);
});
