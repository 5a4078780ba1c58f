import { randomUUID } from 'node:crypto';
import { campaignTickSlot, JobValidationError, schedulesOn, sendBulkEmail } from '@coldcopy/queue-core';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { handlers } from '../src/handlers/index.js';
import { sendBulkEmailHandler } from '../src/handlers/send-bulk-email.js';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, useEmailHarness } from './harness.js';
import { EMAIL_WORKER_TEST_ENV } from './harness-keys.js';

const APP_DIR = new URL('..', import.meta.url);

/** worker processes on a loaded machine: generous, polled at an easy pace */
const patient = { timeoutMs: 45_000, intervalMs: 200 };
const h = useEmailHarness();

// The fan-out reads the campaigns of every workspace in the database: each test starts with none.
beforeEach(async () => {
  await h.pool.query('UPDATE campaigns SET deleted_at = now() WHERE deleted_at IS NULL');
});

/** One more campaign (one step) in a seeded workspace. */
async function addCampaign(workspaceId: string, mailboxId: string, status: string, scheduleSettings: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID();
  await h.pool.query(
    `INSERT INTO campaigns (id, workspace_id, name, status, timezone, schedule_settings, daily_limit) VALUES ($1, $2, $3, $4, 'UTC', $5, 1000)`,
    [id, workspaceId, `Campaign ${status}`, status, scheduleSettings],
  );
  await h.pool.query(`INSERT INTO campaign_sequences (workspace_id, campaign_id, step_number, subject, body) VALUES ($1, $2, 1, 'Hello', 'Hi there')`, [
    workspaceId,
    id,
  ]);
  await h.pool.query(`INSERT INTO campaign_mailboxes (workspace_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)`, [workspaceId, id, mailboxId]);
  return id;
}

function fanOutDeps() {
  return h.deps().deps;
}

async function waitingIds(): Promise<string[]> {
  return (await h.redis.lrange(`${h.prefix}:email:wait`, 0, -1)).sort();
}

describe('campaign tick fan-out with real Postgres and Bull', () => {
  it('ticks 3 campaigns in 2 workspaces once per slot, never paused, draft, completed or not-yet-started ones', async () => {
    const one = await seedCampaign(h.pool, { leads: 2 });
    const oneMore = await addCampaign(one.workspaceId, one.mailboxId, 'active');
    const two = await seedCampaign(h.pool, { leads: 2 });
    for (const status of ['paused', 'draft', 'completed']) await addCampaign(two.workspaceId, two.mailboxId, status);
    await addCampaign(two.workspaceId, two.mailboxId, 'scheduled', { startDate: new Date(Date.now() + 86_400_000).toISOString() });
    const slot = campaignTickSlot(new Date());
    const deps = fanOutDeps();
    const run = () => sendBulkEmailHandler({ fanOut: true, requestedBy: 'system', batchSize: 50, windowSlot: slot }, h.context(deps));

    expect(await run()).toEqual({ form: 'fan-out', windowSlot: slot, enqueued: 3, notStarted: 1, pages: 1 });
    const expected = [
      [one.workspaceId, one.campaignId],
      [one.workspaceId, oneMore],
      [two.workspaceId, two.campaignId],
    ] as const;
    expect(await waitingIds()).toEqual(expected.map(([, c]) => `send-bulk-email.${c}.${slot}`).sort());
    for (const [workspaceId, campaignId] of expected) {
      const data = JSON.parse((await h.redis.hget(`${h.prefix}:email:send-bulk-email.${campaignId}.${slot}`, 'data'))!);
      expect(data).toMatchObject({ workspaceId, campaignId, windowSlot: slot, batchSize: 50, requestedBy: 'system', traceId: `campaign-tick-${slot}` });
    }

    // a second run in the same slot (duplicated or retried): nothing, durably (next_run_at)
    expect(await run()).toMatchObject({ enqueued: 0, notStarted: 1 });
    expect(await waitingIds()).toHaveLength(3);
    // a run that died after the enqueue, before recording the slot: same job ids, no new jobs
    await h.pool.query('UPDATE campaigns SET next_run_at = NULL');
    expect(await run()).toMatchObject({ enqueued: 3 });
    expect(await waitingIds()).toHaveLength(3);
  });

  it('the producer refuses a malformed tick with a JobValidationError naming the fields, and writes nothing', async () => {
    const campaignId = randomUUID();
    const missing = await h.producer.enqueue(sendBulkEmail, { campaignId, windowSlot: '20261201T1500Z' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(JobValidationError);
    expect((missing as JobValidationError).message).toMatch(/workspaceId: required/);
    const mixed = await h.producer.enqueue(sendBulkEmail, { fanOut: true, workspaceId: randomUUID() }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(JobValidationError);
    expect((mixed as JobValidationError).message).toMatch(/workspaceId: not allowed with fanOut: true/);
    expect(await h.redis.keys(`${h.prefix}:email:*`)).toEqual([]);
  });

  it('end to end: the scheduled run fans out, a due scheduled campaign starts, every lead gets its email', async () => {
    const active = await seedCampaign(h.pool, { leads: 2 });
    const starting = await seedCampaign(h.pool, { leads: 3 });
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await h.pool.query(`UPDATE campaigns SET status = 'scheduled', schedule_settings = $2 WHERE id = $1`, [starting.campaignId, { startDate: yesterday }]);
    let worker: Worker | undefined;
    try {
      worker = await startWorker({
        queue: 'email',
        handlers,
        deps: fanOutDeps(),
        logger: createSilentLogger(),
        redisUrl: inject('redisUrl'),
        prefix: h.prefix,
        security: testSecurity(),
        deadLetters: false,
        schedules: schedulesOn('email'),
      });
      const ticks = async () => (await worker!.inspect.schedules()).filter((r) => r.name === 'send-bulk-email');
      expect((await ticks()).map((r) => `${r.name} ${r.cron} ${r.tz}`)).toEqual(['send-bulk-email */5 * * * * UTC']);
      const armed = (await worker.inspect.jobs('delayed')).find((j) => j.name === 'send-bulk-email');
      // the armed job runs at the schedule's next time (Bull's prevMillis of the job)
      const runAt = (await ticks())[0]!.next;
      expect(await worker.inspect.promote(armed!.id)).toBe(true); // the cron tick, now
      const slot = campaignTickSlot(runAt);

      await waitFor(async () => ((await h.ses.emails()).length >= 5 ? true : false), { ...patient, what: 'five emails' });
      const tickId = `send-bulk-email.${starting.campaignId}.${slot}`;
      expect(await worker.inspect.job(tickId)).not.toBeNull();
      await waitFor(async () => ((await worker!.inspect.job(tickId))?.state === 'completed' ? true : false), { ...patient, what: 'the per-campaign tick' });
      expect((await worker.inspect.job(tickId))!.returnValue).toMatchObject({ started: true, scheduled: 3 });
      const { rows } = await h.pool.query(
        `SELECT c.id, c.status, c.started_at IS NOT NULL AS started, count(ce.id) FILTER (WHERE ce.status = 'sent')::int AS sent
         FROM campaigns c LEFT JOIN campaign_emails ce ON ce.campaign_id = c.id WHERE c.id = ANY($1::uuid[]) GROUP BY c.id ORDER BY c.id`,
        [[active.campaignId, starting.campaignId]],
      );
      expect(Object.fromEntries(rows.map((r) => [r.id, { status: r.status, sent: r.sent }]))).toEqual({
        [active.campaignId]: { status: 'active', sent: 2 },
        [starting.campaignId]: { status: 'active', sent: 3 },
      });
      // the next run is armed, the config is still there once
      expect(await ticks()).toHaveLength(1);
    } finally {
      await worker?.close(5000);
    }
  });

  it('two email worker processes starting together leave the campaign-tick schedule once on the email queue', async () => {
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      DATABASE_POOL_MAX: '2',
      SES_ENDPOINT: h.ses.endpoint,
    };
    const workers: WorkerAppProcess[] = [];
    try {
      workers.push(
        ...(await Promise.all([spawnWorkerApp(APP_DIR, { ...EMAIL_WORKER_TEST_ENV, ...env }), spawnWorkerApp(APP_DIR, { ...EMAIL_WORKER_TEST_ENV, ...env })])),
      );
      const repeat = await h.redis.zrange(`${h.prefix}:email:repeat`, 0, -1);
      // campaign-tick and the two warm-up schedules, each once
      expect(repeat).toHaveLength(3);
      const tick = repeat.filter((r) => r.startsWith('send-bulk-email:'));
      expect(tick).toHaveLength(1);
      expect(tick[0]).toMatch(/^send-bulk-email:sched\.campaign-tick\.[0-9a-f]{12}::UTC:\*\/5 \* \* \* \*$/);
      const armed = (await h.redis.zrange(`${h.prefix}:email:delayed`, 0, -1)).filter((id) => id.startsWith('repeat:'));
      expect(armed).toHaveLength(3);
    } finally {
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  }, 120_000);
});
