import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TenancyError } from '../src/errors.js';
import { loadDbEnv } from '../src/env.js';
import { closePool, createPool } from '../src/pool.js';
import {
  cancelCampaignEmail,
  claimCampaignEmail,
  countCampaignEmailsSince,
  expireSendingLease,
  findEnrolmentsToSchedule,
  findSendByMessageId,
  listDueCampaignEmails,
  listUnsettledCampaignEmails,
  markCampaignEmailUnknown,
  recordEngagement,
  rescheduleCampaignEmail,
  resolveUnknownCampaignEmail,
  sendReputation,
  setMailboxStatus,
} from '../src/index.js';
import { createTenant, type TenantFixture } from './fixtures.js';

/*
 * The email worker's access functions (repositories/sending.ts): what they do, and that an id of
 * workspace B used as workspace A is refused with TenancyError and changes nothing of B.
 */

let db: TestDatabase;
let pool: pg.Pool;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '4' }));
});
afterAll(async () => {
  if (pool) await closePool(pool);
  await db?.drop();
});
beforeEach(async () => {
  a = await createTenant(pool, 'alpha');
  b = await createTenant(pool, 'bravo');
});

async function rowsOfB(): Promise<string> {
  const { rows } = await pool.query(
    `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM (
       SELECT ce::text FROM campaign_emails ce WHERE workspace_id = $1
       UNION ALL SELECT m::text FROM mailboxes m WHERE workspace_id = $1) t`,
    [b.workspaceId],
  );
  return rows[0].h as string;
}

async function expectRefused(fn: () => Promise<unknown>) {
  const before = await rowsOfB();
  await expect(fn()).rejects.toBeInstanceOf(TenancyError);
  expect(await rowsOfB()).toBe(before);
}

const status = async (id: string) => (await pool.query('SELECT status FROM campaign_emails WHERE id = $1', [id])).rows[0].status as string;

describe('sending access functions', () => {
  it('rescheduleCampaignEmail moves a claimable row; refuses B', async () => {
    const until = new Date(Date.now() + 3_600_000);
    const row = await rescheduleCampaignEmail(pool, a.workspaceId, a.campaignEmailId, until, 'cap');
    expect(row?.scheduled_at.getTime()).toBe(until.getTime());
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect(await rescheduleCampaignEmail(pool, a.workspaceId, a.campaignEmailId, until, 'cap')).toBeNull();
    await expectRefused(() => rescheduleCampaignEmail(pool, a.workspaceId, b.campaignEmailId, until, 'x'));
  });

  it('cancelCampaignEmail records the reason; refuses B', async () => {
    const row = await cancelCampaignEmail(pool, a.workspaceId, a.campaignEmailId, 'suppressed');
    expect(row).toMatchObject({ status: 'cancelled', cancelled_reason: 'suppressed' });
    expect(await cancelCampaignEmail(pool, a.workspaceId, a.campaignEmailId, 'again')).toBeNull();
    await expectRefused(() => cancelCampaignEmail(pool, a.workspaceId, b.campaignEmailId, 'x'));
  });

  it('expireSendingLease only after the lease; refuses B', async () => {
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect(await expireSendingLease(pool, a.workspaceId, a.campaignEmailId, 60_000)).toBeNull();
    await pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '2 minutes' WHERE id = $1`, [a.campaignEmailId]);
    expect((await expireSendingLease(pool, a.workspaceId, a.campaignEmailId, 60_000))?.status).toBe('unknown');
    await claimCampaignEmail(pool, b.workspaceId, b.campaignEmailId);
    await pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '2 minutes' WHERE id = $1`, [b.campaignEmailId]);
    await expectRefused(() => expireSendingLease(pool, a.workspaceId, b.campaignEmailId, 60_000));
    expect(await status(b.campaignEmailId)).toBe('sending');
  });

  it('resolveUnknownCampaignEmail: one resend at most, else failed_unknown; refuses B', async () => {
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    await markCampaignEmailUnknown(pool, a.workspaceId, a.campaignEmailId, 'timeout');
    expect((await resolveUnknownCampaignEmail(pool, a.workspaceId, a.campaignEmailId, 'retryable'))?.status).toBe('retryable');
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId); // attempt 2
    await markCampaignEmailUnknown(pool, a.workspaceId, a.campaignEmailId, 'timeout again');
    expect(await resolveUnknownCampaignEmail(pool, a.workspaceId, a.campaignEmailId, 'retryable')).toBeNull();
    expect((await resolveUnknownCampaignEmail(pool, a.workspaceId, a.campaignEmailId, 'failed_unknown'))?.status).toBe('failed_unknown');
    await claimCampaignEmail(pool, b.workspaceId, b.campaignEmailId);
    await markCampaignEmailUnknown(pool, b.workspaceId, b.campaignEmailId, 'timeout');
    await expectRefused(() => resolveUnknownCampaignEmail(pool, a.workspaceId, b.campaignEmailId, 'failed_unknown'));
  });

  it('findSendByMessageId names the owning workspace (the webhook learns the tenant from it)', async () => {
    await pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = 'ses-b-1' WHERE id = $1`, [b.campaignEmailId]);
    expect(await findSendByMessageId(pool, 'ses-b-1')).toEqual({ id: b.campaignEmailId, workspace_id: b.workspaceId });
    expect(await findSendByMessageId(pool, 'nope')).toBeNull();
  });

  it('findEnrolmentsToSchedule skips leads whose next step already has a ledger row; refuses B', async () => {
    // the fixture's lead already has a step-1 row
    expect(await findEnrolmentsToSchedule(pool, a.workspaceId, a.campaignId)).toEqual([]);
    await pool.query('DELETE FROM campaign_emails WHERE id = $1', [a.campaignEmailId]);
    const due = await findEnrolmentsToSchedule(pool, a.workspaceId, a.campaignId);
    expect(due).toEqual([{ enrolment_id: a.enrolmentId, lead_id: a.leadId, email: a.leadEmail, next_step: 1 }]);
    await expectRefused(() => findEnrolmentsToSchedule(pool, a.workspaceId, b.campaignId));
  });

  it('countCampaignEmailsSince, listDueCampaignEmails, listUnsettledCampaignEmails; refuse B', async () => {
    const since = new Date(Date.now() - 3_600_000);
    expect(await countCampaignEmailsSince(pool, a.workspaceId, a.campaignId, since)).toBe(1);
    expect(await listDueCampaignEmails(pool, a.workspaceId, a.campaignId, { before: new Date(), limit: 10 })).toEqual([
      { id: a.campaignEmailId, attempt: 0 },
    ]);
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect(await listUnsettledCampaignEmails(pool, a.workspaceId, a.campaignId, { claimedBefore: new Date(Date.now() + 1000), limit: 10 })).toEqual([
      { id: a.campaignEmailId, status: 'sending', attempt: 1 },
    ]);
    await expectRefused(() => countCampaignEmailsSince(pool, a.workspaceId, b.campaignId, since));
    await expectRefused(() => listDueCampaignEmails(pool, a.workspaceId, b.campaignId, { before: new Date(), limit: 10 }));
    await expectRefused(() => listUnsettledCampaignEmails(pool, a.workspaceId, b.campaignId, { claimedBefore: new Date(), limit: 10 }));
  });

  it('sendReputation counts sends, bounces (not OnAccountSuppressionList) and complaints; refuses B', async () => {
    await pool.query(
      `UPDATE campaign_emails SET status = 'sent', sent_at = now(), delivery_status = 'bounced', bounce_type = 'Permanent/General' WHERE id = $1`,
      [a.campaignEmailId],
    );
    const since = new Date(Date.now() - 3_600_000);
    expect(await sendReputation(pool, a.workspaceId, { mailboxId: a.mailboxId }, since)).toEqual({ sent: 1, bounced: 1, complained: 0 });
    expect(await sendReputation(pool, a.workspaceId, { campaignId: a.campaignId }, since)).toEqual({ sent: 1, bounced: 1, complained: 0 });
    await expectRefused(() => sendReputation(pool, a.workspaceId, { mailboxId: b.mailboxId }, since));
    await expectRefused(() => sendReputation(pool, a.workspaceId, { campaignId: b.campaignId }, since));
  });

  it('recordEngagement keeps the first timestamp and counts; refuses B', async () => {
    const first = new Date('2026-12-01T10:00:00Z');
    await recordEngagement(pool, a.workspaceId, a.campaignEmailId, 'open', first);
    const row = await recordEngagement(pool, a.workspaceId, a.campaignEmailId, 'open', new Date('2026-12-01T11:00:00Z'));
    expect(row.opened_at?.toISOString()).toBe(first.toISOString());
    expect(row.open_count).toBe(2);
    expect((await recordEngagement(pool, a.workspaceId, a.campaignEmailId, 'click', first)).click_count).toBe(1);
    await expectRefused(() => recordEngagement(pool, a.workspaceId, b.campaignEmailId, 'open', first));
  });

  it('setMailboxStatus pauses with a reason; refuses B', async () => {
    expect(await setMailboxStatus(pool, a.workspaceId, a.mailboxId, 'paused', 'bounce rate 6%')).toMatchObject({
      status: 'paused',
      paused_reason: 'bounce rate 6%',
    });
    await expectRefused(() => setMailboxStatus(pool, a.workspaceId, b.mailboxId, 'paused', 'x'));
  });
});
