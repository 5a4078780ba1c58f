import { describe, expect, it } from 'vitest';
import {
  cancelCampaignEmail,
  claimCampaignEmail,
  countCampaignEmailsSince,
  expireSendingLease,
  findEnrolmentsToSchedule,
  findSendByMessageId,
  listDueCampaignEmails,
  listLapsedUnknownCampaignEmails,
  listUnsettledCampaignEmails,
  markCampaignEmailUnknown,
  recordEngagement,
  releaseUnsentCampaignEmail,
  rescheduleCampaignEmail,
  resolveUnknownCampaignEmail,
  sendReputation,
  setMailboxStatus,
} from '../src/index.js';
import { useTwoTenants } from './fixtures.js';

/*
 * The email worker's access functions (repositories/sending.ts): what they do, and that an id of
 * workspace B used as workspace A is refused with TenancyError and changes nothing of B.
 */

const fx = useTwoTenants();

const status = async (id: string) => (await fx.pool.query('SELECT status FROM campaign_emails WHERE id = $1', [id])).rows[0].status as string;

describe('sending access functions', () => {
  it('rescheduleCampaignEmail moves a claimable row; refuses B', async () => {
    const until = new Date(Date.now() + 3_600_000);
    const row = await rescheduleCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, until, 'cap');
    expect(row?.scheduled_at.getTime()).toBe(until.getTime());
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(await rescheduleCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, until, 'cap')).toBeNull();
    await fx.expectRefused(() => rescheduleCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, until, 'x'));
  });

  it('cancelCampaignEmail records the reason; refuses B', async () => {
    const row = await cancelCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'suppressed');
    expect(row).toMatchObject({ status: 'cancelled', cancelled_reason: 'suppressed' });
    expect(await cancelCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'again')).toBeNull();
    await fx.expectRefused(() => cancelCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 'x'));
  });

  it('expireSendingLease only after the lease; refuses B', async () => {
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(await expireSendingLease(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 60_000)).toBeNull();
    await fx.pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '2 minutes' WHERE id = $1`, [fx.a.campaignEmailId]);
    expect((await expireSendingLease(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 60_000))?.status).toBe('unknown');
    await claimCampaignEmail(fx.pool, fx.b.workspaceId, fx.b.campaignEmailId);
    await fx.pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '2 minutes' WHERE id = $1`, [fx.b.campaignEmailId]);
    await fx.expectRefused(() => expireSendingLease(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 60_000));
    expect(await status(fx.b.campaignEmailId)).toBe('sending');
  });

  it('resolveUnknownCampaignEmail: one resend at most, else failed_unknown; refuses B', async () => {
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    await markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'timeout');
    expect((await resolveUnknownCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'retryable'))?.status).toBe('retryable');
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId); // attempt 2
    await markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'timeout again');
    expect(await resolveUnknownCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'retryable')).toBeNull();
    expect((await resolveUnknownCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'failed_unknown'))?.status).toBe('failed_unknown');
    await claimCampaignEmail(fx.pool, fx.b.workspaceId, fx.b.campaignEmailId);
    await markCampaignEmailUnknown(fx.pool, fx.b.workspaceId, fx.b.campaignEmailId, 'timeout');
    await fx.expectRefused(() => resolveUnknownCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 'failed_unknown'));
  });

  it('findSendByMessageId names the owning workspace (the webhook learns the tenant from it)', async () => {
    await fx.pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = 'ses-b-1' WHERE id = $1`, [fx.b.campaignEmailId]);
    expect(await findSendByMessageId(fx.pool, 'ses-b-1')).toEqual({ id: fx.b.campaignEmailId, workspace_id: fx.b.workspaceId });
    expect(await findSendByMessageId(fx.pool, 'nope')).toBeNull();
  });

  it('findEnrolmentsToSchedule skips leads whose next step already has a ledger row; refuses B', async () => {
    // the fixture's lead already has a step-1 row
    expect(await findEnrolmentsToSchedule(fx.pool, fx.a.workspaceId, fx.a.campaignId)).toEqual([]);
    await fx.pool.query('DELETE FROM campaign_emails WHERE id = $1', [fx.a.campaignEmailId]);
    const due = await findEnrolmentsToSchedule(fx.pool, fx.a.workspaceId, fx.a.campaignId);
    expect(due).toEqual([{ enrolment_id: fx.a.enrolmentId, lead_id: fx.a.leadId, email: fx.a.leadEmail, next_step: 1 }]);
    await fx.expectRefused(() => findEnrolmentsToSchedule(fx.pool, fx.a.workspaceId, fx.b.campaignId));
  });

  it('countCampaignEmailsSince, listDueCampaignEmails, listUnsettledCampaignEmails; refuse B', async () => {
    const since = new Date(Date.now() - 3_600_000);
    expect(await countCampaignEmailsSince(fx.pool, fx.a.workspaceId, fx.a.campaignId, since)).toBe(1);
    expect(await listDueCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, { before: new Date(), limit: 10 })).toEqual([
      { id: fx.a.campaignEmailId, attempt: 0 },
    ]);
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(await listUnsettledCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, { claimedBefore: new Date(Date.now() + 1000), limit: 10 })).toEqual([
      { id: fx.a.campaignEmailId, status: 'sending', attempt: 1 },
    ]);
    await fx.expectRefused(() => countCampaignEmailsSince(fx.pool, fx.a.workspaceId, fx.b.campaignId, since));
    await fx.expectRefused(() => listDueCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, { before: new Date(), limit: 10 }));
    await fx.expectRefused(() => listUnsettledCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, { claimedBefore: new Date(), limit: 10 }));
  });

  it('listLapsedUnknownCampaignEmails and releaseUnsentCampaignEmail: unknown rows past the lease by the database clock, released only with their claim token; refuse B', async () => {
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    await markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'lease expired');
    const lapsed = { leaseMs: 60_000, limit: 10 };
    // claimed just now: not lapsed, not released
    expect(await listLapsedUnknownCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, lapsed)).toEqual([]);
    expect(await releaseUnsentCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 1, 60_000)).toBeNull();
    await fx.pool.query(`UPDATE campaign_emails SET claimed_at = now() - interval '2 minutes' WHERE id = $1`, [fx.a.campaignEmailId]);
    expect(await listLapsedUnknownCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, lapsed)).toEqual([
      { id: fx.a.campaignEmailId, attempt: 1, claimed_at: expect.any(Date) },
    ]);
    // another claim's token changes nothing
    expect(await releaseUnsentCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 2, 60_000)).toBeNull();
    expect(await status(fx.a.campaignEmailId)).toBe('unknown');
    expect(await releaseUnsentCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 1, 60_000)).toMatchObject({ status: 'retryable', attempt: 1 });
    expect(await listLapsedUnknownCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, lapsed)).toEqual([]);
    await fx.expectRefused(() => listLapsedUnknownCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, lapsed));
    await fx.expectRefused(() => releaseUnsentCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 1, 60_000));
  });

  it('sendReputation counts sends, bounces (not OnAccountSuppressionList) and complaints; refuses B', async () => {
    await fx.pool.query(
      `UPDATE campaign_emails SET status = 'sent', sent_at = now(), delivery_status = 'bounced', bounce_type = 'Permanent/General' WHERE id = $1`,
      [fx.a.campaignEmailId],
    );
    const since = new Date(Date.now() - 3_600_000);
    expect(await sendReputation(fx.pool, fx.a.workspaceId, { mailboxId: fx.a.mailboxId }, since)).toEqual({ sent: 1, bounced: 1, complained: 0 });
    expect(await sendReputation(fx.pool, fx.a.workspaceId, { campaignId: fx.a.campaignId }, since)).toEqual({ sent: 1, bounced: 1, complained: 0 });
    await fx.expectRefused(() => sendReputation(fx.pool, fx.a.workspaceId, { mailboxId: fx.b.mailboxId }, since));
    await fx.expectRefused(() => sendReputation(fx.pool, fx.a.workspaceId, { campaignId: fx.b.campaignId }, since));
  });

  it('recordEngagement keeps the first timestamp and counts; refuses B', async () => {
    const first = new Date('2026-12-01T10:00:00Z');
    await recordEngagement(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'open', first);
    const row = await recordEngagement(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'open', new Date('2026-12-01T11:00:00Z'));
    expect(row.opened_at?.toISOString()).toBe(first.toISOString());
    expect(row.open_count).toBe(2);
    expect((await recordEngagement(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'click', first)).click_count).toBe(1);
    await fx.expectRefused(() => recordEngagement(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 'open', first));
  });

  it('setMailboxStatus pauses with a reason; refuses B', async () => {
    expect(await setMailboxStatus(fx.pool, fx.a.workspaceId, fx.a.mailboxId, 'paused', 'bounce rate 6%')).toMatchObject({
      status: 'paused',
      paused_reason: 'bounce rate 6%',
    });
    await fx.expectRefused(() => setMailboxStatus(fx.pool, fx.a.workspaceId, fx.b.mailboxId, 'paused', 'x'));
  });
});
