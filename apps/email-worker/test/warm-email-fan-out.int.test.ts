import { randomUUID } from 'node:crypto';
import { JobValidationError, warmEmail } from '@coldcopy/queue-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { warmEmailHandler } from '../src/handlers/warm-email.js';
import { useEmailHarness } from './harness.js';

const h = useEmailHarness();

// The fan-outs read the warm-ups of every workspace in the database: each test starts with none active.
beforeEach(async () => {
  await h.pool.query(`UPDATE warmup_campaigns SET status = 'completed' WHERE status <> 'completed'`);
});

const TODAY = new Date().toISOString().slice(0, 10);
const YESTERDAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const slotOf = (date: string, hhmm: string) => `${date.replace(/-/g, '')}T${hhmm}Z`;

async function addWorkspace(): Promise<string> {
  const ws = randomUUID();
  await h.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, $2, $2, 'active')`, [ws, `ws-${ws.slice(0, 8)}`]);
  return ws;
}

interface WarmupInit {
  warmupStatus?: string;
  mailboxStatus?: string;
  day?: number;
  limit?: number;
  accountMax?: number;
}

/** A mailbox with its warm-up account and warm-up campaign (no pool: its peers are its workspace's accounts). */
async function addWarmup(ws: string, init: WarmupInit = {}) {
  const mailboxId = randomUUID();
  const email = `box-${mailboxId.slice(0, 8)}@acme.example`;
  await h.pool.query(`INSERT INTO mailboxes (id, workspace_id, email, domain, status) VALUES ($1, $2, $3, 'acme.example', $4)`, [
    mailboxId,
    ws,
    email,
    init.mailboxStatus ?? 'active',
  ]);
  const senderId = randomUUID();
  await h.pool.query(`INSERT INTO warmup_accounts (id, workspace_id, mailbox_id, email, max_sends_per_day, sends_today) VALUES ($1, $2, $3, $4, $5, 7)`, [
    senderId,
    ws,
    mailboxId,
    email,
    init.accountMax ?? 40,
  ]);
  const campaignId = randomUUID();
  await h.pool.query(
    `INSERT INTO warmup_campaigns (id, workspace_id, mailbox_id, status, day_number, current_daily_limit, target_daily) VALUES ($1, $2, $3, $4, $5, $6, 40)`,
    [campaignId, ws, mailboxId, init.warmupStatus ?? 'active', init.day ?? 3, init.limit ?? 15],
  );
  return { ws, mailboxId, senderId, campaignId };
}

type Warmup = Awaited<ReturnType<typeof addWarmup>>;

/** Claim rows for seqs of a day, as warm-email leaves them (thread_id = the key). */
async function claim(w: Warmup, recipientId: string, date: string, seqs: number[]) {
  for (const seq of seqs) {
    const key = `${w.campaignId}:${w.senderId}:${date}:${seq}`;
    await h.pool.query(
      `INSERT INTO warmup_emails (workspace_id, warmup_campaign_id, sender_account_id, recipient_account_id, message_id, thread_id) VALUES ($1, $2, $3, $4, $5, $6)`,
      [w.ws, w.campaignId, w.senderId, recipientId, `sent-${randomUUID()}`, key],
    );
  }
}

function fanOutDeps() {
  return h.deps().deps;
}

/** Ids of the warm-email jobs in Redis (waiting or delayed). */
async function warmJobIds(): Promise<string[]> {
  const waiting = await h.redis.lrange(`${h.prefix}:email:wait`, 0, -1);
  const delayed = await h.redis.zrange(`${h.prefix}:email:delayed`, 0, -1);
  return [...waiting, ...delayed].filter((id) => id.startsWith('warm-email.')).sort();
}

async function jobData(id: string): Promise<Record<string, unknown>> {
  return JSON.parse((await h.redis.hget(`${h.prefix}:email:${id}`, 'data'))!);
}

describe('warm-email fan-out with real Postgres and Bull', () => {
  it('enqueues the batch share of every eligible warm-up in 2 workspaces, none for paused, finished or capped ones, once per batch', async () => {
    const one = await addWorkspace();
    const a = await addWarmup(one);
    await addWarmup(one, { warmupStatus: 'paused' });
    const two = await addWorkspace();
    const c = await addWarmup(two);
    await addWarmup(two, { warmupStatus: 'completed' });
    await addWarmup(two, { warmupStatus: 'frozen' });
    await addWarmup(two, { mailboxStatus: 'paused' });
    const capped = await addWarmup(two, { accountMax: 2 });
    await claim(capped, c.senderId, TODAY, [0, 1]);
    const deps = fanOutDeps();
    const run = (slot: string) => warmEmailHandler({ fanOut: true, requestedBy: 'system', slot }, h.context(deps));

    // day 3, cap 15: the 08:00 batch sends seqs 0-2 (floor(15/4) = 3)
    const first = await run(slotOf(TODAY, '0800'));
    expect(first).toMatchObject({
      form: 'fan-out',
      date: TODAY,
      batch: 0,
      slot: slotOf(TODAY, '0800'),
      warmups: 3,
      enqueued: 6,
      capped: 1,
      noPeer: 0,
      pages: 1,
    });
    const ids = await warmJobIds();
    const expected = [a, c].flatMap((w) => [0, 1, 2].map((seq) => `warm-email.${w.campaignId}.${w.senderId}.${TODAY}.${seq}`));
    expect(ids).toEqual(expected.sort());
    for (const w of [a, c]) {
      const data = await jobData(`warm-email.${w.campaignId}.${w.senderId}.${TODAY}.0`);
      expect(data).toMatchObject({
        workspaceId: w.ws,
        warmupCampaignId: w.campaignId,
        senderAccountId: w.senderId,
        dayNumber: 3,
        date: TODAY,
        seq: 0,
        requestedBy: 'system',
      });
      // a peer account of the same workspace, never itself
      const peer = await h.pool.query('SELECT workspace_id FROM warmup_accounts WHERE id = $1', [data.recipientAccountId]);
      expect(data.recipientAccountId).not.toBe(w.senderId);
      expect(peer.rows[0].workspace_id).toBe(w.ws);
    }

    // the same batch again (duplicated, retried, or a manual run at 09:30): nothing
    expect(await run(slotOf(TODAY, '0800'))).toMatchObject({ warmups: 0, enqueued: 0 });
    expect(await run(slotOf(TODAY, '0930'))).toMatchObject({ slot: slotOf(TODAY, '0800'), warmups: 0, enqueued: 0 });
    expect(await warmJobIds()).toHaveLength(6);

    // a run that died after the enqueue, before recording the batch: the same job ids, no new jobs
    await h.pool.query(`UPDATE warmup_campaigns SET schedule = schedule - 'last_batch'`);
    expect(await run(slotOf(TODAY, '0800'))).toMatchObject({ warmups: 3, enqueued: 6 });
    expect(await warmJobIds()).toHaveLength(6);

    // the 12:00 batch: the next quarter (seqs 3-6), skipping a seq already claimed
    await claim(a, c.senderId, TODAY, [4]);
    expect(await run(slotOf(TODAY, '1200'))).toMatchObject({ batch: 1, warmups: 3, enqueued: 7, capped: 1 });
    const later = (await warmJobIds()).filter((id) => !ids.includes(id));
    expect(later).toHaveLength(7);
    expect(later).not.toContain(`warm-email.${a.campaignId}.${a.senderId}.${TODAY}.4`);
  });

  it('a fan-out job runs through the real per-mailbox handler: the enqueued payload validates and sends', async () => {
    const ws = await addWorkspace();
    const w = await addWarmup(ws);
    await addWarmup(ws); // the peer
    const deps = fanOutDeps();
    const slot = slotOf(YESTERDAY, '2000');
    expect(await warmEmailHandler({ fanOut: true, requestedBy: 'system', slot }, h.context(deps))).toMatchObject({ enqueued: 8 });
    const data = await jobData(`warm-email.${w.campaignId}.${w.senderId}.${YESTERDAY}.11`);
    const parsed = warmEmail.schema.parse(data);
    expect(await warmEmailHandler(parsed, h.context(deps))).toMatchObject({ status: 'sent' });
    expect(await h.ses.emails()).toHaveLength(1);
  });

  it('advances the day and cap only when yesterday passed the gates, holds otherwise, once per day', async () => {
    const ws = await addWorkspace();
    const healthy = await addWarmup(ws);
    const bounced = await addWarmup(ws);
    const complained = await addWarmup(ws);
    const unhealthy = await addWarmup(ws);
    const idle = await addWarmup(ws);
    const stats = async (w: Warmup, sent: number, bounces: number, spam: number, healthyDay = true) =>
      h.pool.query(
        `INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, sent, bounced, spam, is_healthy) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [w.ws, w.campaignId, YESTERDAY, sent, bounces, spam, healthyDay],
      );
    await stats(healthy, 15, 1, 0);
    await stats(bounced, 40, 4, 0); // 10 % > 5 %
    await stats(complained, 15, 0, 1); // any complaint holds the ramp for a day
    await stats(unhealthy, 15, 0, 0, false); // frozen yesterday
    // idle: no stats, nothing sent yesterday
    const deps = fanOutDeps();
    const advance = () => warmEmailHandler({ fanOut: true, advanceDay: true, requestedBy: 'system', slot: slotOf(TODAY, '0000') }, h.context(deps));

    expect(await advance()).toEqual({ form: 'advance-day', date: TODAY, advanced: 1, held: 4, pages: 1 });
    const rows = await h.pool.query<{ id: string; day_number: number; current_daily_limit: number }>(
      'SELECT id, day_number, current_daily_limit FROM warmup_campaigns WHERE workspace_id = $1',
      [ws],
    );
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    // day 4: min(target 40, 5 + 5·3) = 20
    expect(byId.get(healthy.campaignId)).toMatchObject({ day_number: 4, current_daily_limit: 20 });
    for (const w of [bounced, complained, unhealthy, idle]) expect(byId.get(w.campaignId)).toMatchObject({ day_number: 3, current_daily_limit: 15 });
    const mailbox = await h.pool.query('SELECT warmup_day FROM mailboxes WHERE id = $1', [healthy.mailboxId]);
    expect(mailbox.rows[0].warmup_day).toBe(4);
    const counters = await h.pool.query('SELECT sends_today FROM warmup_accounts WHERE workspace_id = $1', [ws]);
    expect(counters.rows.every((r) => r.sends_today === 0)).toBe(true);

    // once per day: a second advance, and the batch's own advance step, change nothing
    expect(await advance()).toMatchObject({ advanced: 0, held: 0 });
    const batch = await warmEmailHandler({ fanOut: true, requestedBy: 'system', slot: slotOf(TODAY, '0800') }, h.context(deps));
    expect(batch).toMatchObject({ advance: { advanced: 0, held: 0 } });
    const again = await h.pool.query('SELECT day_number FROM warmup_campaigns WHERE id = $1', [healthy.campaignId]);
    expect(again.rows[0].day_number).toBe(4);
    // the batch sends under the new cap: day 4, cap 20, first quarter = 5 seqs
    expect((await warmJobIds()).filter((id) => id.includes(healthy.campaignId))).toHaveLength(5);
  });

  it('a send batch advances the day itself when the midnight run did not happen', async () => {
    const ws = await addWorkspace();
    const w = await addWarmup(ws);
    await addWarmup(ws, { warmupStatus: 'paused' }); // the peer
    await h.pool.query(`INSERT INTO warmup_daily_stats (workspace_id, warmup_campaign_id, date, sent) VALUES ($1, $2, $3, 10)`, [
      w.ws,
      w.campaignId,
      YESTERDAY,
    ]);
    const result = await warmEmailHandler({ fanOut: true, requestedBy: 'system', slot: slotOf(TODAY, '0800') }, h.context(fanOutDeps()));
    expect(result).toMatchObject({ advance: { advanced: 1, held: 0 }, warmups: 1, enqueued: 5 });
    expect(await jobData(`warm-email.${w.campaignId}.${w.senderId}.${TODAY}.0`)).toMatchObject({ dayNumber: 4 });
  });

  it('the producer refuses malformed warm-email jobs with a JobValidationError naming the fields', async () => {
    const missing = await h.producer.enqueue(warmEmail, { warmupCampaignId: randomUUID(), date: TODAY, seq: 0 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(JobValidationError);
    expect((missing as JobValidationError).message).toMatch(/workspaceId: required/);
    expect((missing as JobValidationError).message).toMatch(/senderAccountId: required/);
    const mixed = await h.producer.enqueue(warmEmail, { fanOut: true, workspaceId: randomUUID() }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(JobValidationError);
    expect((mixed as JobValidationError).message).toMatch(/workspaceId: not allowed with fanOut: true/);
    expect(await h.redis.keys(`${h.prefix}:email:*`)).toEqual([]);
  });
});
