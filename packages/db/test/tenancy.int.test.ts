import { beforeEach, describe, expect, it } from 'vitest';
import { RecordNotFoundError } from '../src/errors.js';
import {
  addSuppression,
  applyDeliveryStatus,
  claimCampaignEmail,
  deferCampaignEmail,
  endEnrolment,
  findCampaignEmailByMessageId,
  findDueEnrolments,
  getCampaign,
  getCampaignEmail,
  getCampaignStep,
  getEnrolment,
  getLead,
  getMailbox,
  getWorkspace,
  insertEmailEvent,
  isEmailSuppressed,
  listCampaignMailboxes,
  listCampaignSteps,
  markCampaignEmailFailed,
  markCampaignEmailSent,
  markCampaignEmailUnknown,
  markLeadContacted,
  recordEnrolmentSend,
  recordWebhookEvent,
  scheduleCampaignEmails,
  setCampaignStatus,
} from '../src/index.js';
import { useTwoTenants } from './fixtures.js';

/*
 * Tenancy guard: every access function, given the job's workspace A and an id that belongs to
 * workspace B, throws TenancyError and neither returns nor changes B's data. A fingerprint of all
 * of B's rows is compared before and after each call.
 */

const fx = useTwoTenants();

beforeEach(async () => {
  // B's send has gone out, so there is a message id to look up and a delivery to apply
  await fx.pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = $2, sent_at = now() WHERE id = $1`, [
    fx.b.campaignEmailId,
    `msg-${fx.b.campaignEmailId}`,
  ]);
});

describe('tenancy guard: an id of workspace B used by a job of workspace A is refused', () => {
  it('getCampaign', async () => {
    await fx.expectRefused(() => getCampaign(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    expect((await getCampaign(fx.pool, fx.a.workspaceId, fx.a.campaignId)).id).toBe(fx.a.campaignId);
  });

  it('listCampaignSteps', async () => {
    await fx.expectRefused(() => listCampaignSteps(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    expect((await listCampaignSteps(fx.pool, fx.a.workspaceId, fx.a.campaignId)).map((s) => s.step_number)).toEqual([1, 2, 3]);
  });

  it('getCampaignStep', async () => {
    await fx.expectRefused(() => getCampaignStep(fx.pool, fx.a.workspaceId, fx.b.campaignId, 1));
    expect((await getCampaignStep(fx.pool, fx.a.workspaceId, fx.a.campaignId, 2))?.subject).toBe('Step 2');
    expect(await getCampaignStep(fx.pool, fx.a.workspaceId, fx.a.campaignId, 4)).toBeNull();
  });

  it('listCampaignMailboxes', async () => {
    await fx.expectRefused(() => listCampaignMailboxes(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    expect((await listCampaignMailboxes(fx.pool, fx.a.workspaceId, fx.a.campaignId)).map((m) => m.id)).toEqual([fx.a.mailboxId]);
  });

  it('setCampaignStatus', async () => {
    await fx.expectRefused(() => setCampaignStatus(fx.pool, fx.a.workspaceId, fx.b.campaignId, 'paused', 'bounce rate'));
    const paused = await setCampaignStatus(fx.pool, fx.a.workspaceId, fx.a.campaignId, 'paused', 'bounce rate');
    expect(paused).toMatchObject({ status: 'paused', paused_reason: 'bounce rate' });
  });

  it('getLead', async () => {
    await fx.expectRefused(() => getLead(fx.pool, fx.a.workspaceId, fx.b.leadId));
    expect((await getLead(fx.pool, fx.a.workspaceId, fx.a.leadId)).email).toBe(fx.a.leadEmail);
  });

  it('markLeadContacted', async () => {
    await fx.expectRefused(() => markLeadContacted(fx.pool, fx.a.workspaceId, fx.b.leadId));
    expect((await markLeadContacted(fx.pool, fx.a.workspaceId, fx.a.leadId)).status).toBe('contacted');
  });

  it('getMailbox', async () => {
    await fx.expectRefused(() => getMailbox(fx.pool, fx.a.workspaceId, fx.b.mailboxId));
    expect((await getMailbox(fx.pool, fx.a.workspaceId, fx.a.mailboxId)).id).toBe(fx.a.mailboxId);
  });

  it('getEnrolment (foreign campaign, and foreign lead in an own campaign)', async () => {
    await fx.expectRefused(() => getEnrolment(fx.pool, fx.a.workspaceId, fx.b.campaignId, fx.b.leadId));
    await fx.expectRefused(() => getEnrolment(fx.pool, fx.a.workspaceId, fx.a.campaignId, fx.b.leadId));
    expect((await getEnrolment(fx.pool, fx.a.workspaceId, fx.a.campaignId, fx.a.leadId)).id).toBe(fx.a.enrolmentId);
  });

  it('findDueEnrolments', async () => {
    await fx.expectRefused(() => findDueEnrolments(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    expect((await findDueEnrolments(fx.pool, fx.a.workspaceId, fx.a.campaignId)).map((e) => e.lead_id)).toEqual([fx.a.leadId]);
  });

  it('recordEnrolmentSend', async () => {
    const progress = { stepNumber: 1, sentAt: new Date(), nextEmailAt: new Date(Date.now() + 86_400_000) };
    await fx.expectRefused(() => recordEnrolmentSend(fx.pool, fx.a.workspaceId, fx.b.enrolmentId, progress));
    expect(await recordEnrolmentSend(fx.pool, fx.a.workspaceId, fx.a.enrolmentId, progress)).toMatchObject({
      status: 'in_progress',
      current_step: 1,
      email_count: 1,
    });
  });

  it('endEnrolment', async () => {
    await fx.expectRefused(() => endEnrolment(fx.pool, fx.a.workspaceId, fx.b.enrolmentId, 'replied'));
    expect((await endEnrolment(fx.pool, fx.a.workspaceId, fx.a.enrolmentId, 'replied')).status).toBe('replied');
  });

  it('scheduleCampaignEmails (foreign campaign, foreign lead, foreign mailbox)', async () => {
    const at = new Date();
    await fx.expectRefused(() => scheduleCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, [{ leadId: fx.b.leadId, stepNumber: 2, scheduledAt: at }]));
    await fx.expectRefused(() => scheduleCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, [{ leadId: fx.b.leadId, stepNumber: 2, scheduledAt: at }]));
    await fx.expectRefused(() =>
      scheduleCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, [{ leadId: fx.a.leadId, stepNumber: 2, scheduledAt: at, mailboxId: fx.b.mailboxId }]),
    );
    const result = await scheduleCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, [
      { leadId: fx.a.leadId, stepNumber: 1, scheduledAt: at },
      { leadId: fx.a.leadId, stepNumber: 2, scheduledAt: at, mailboxId: fx.a.mailboxId },
    ]);
    expect(result.alreadyScheduled).toBe(1);
    expect(result.scheduled.map((r) => r.step_number)).toEqual([2]);
  });

  it('getCampaignEmail', async () => {
    await fx.expectRefused(() => getCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId));
    expect((await getCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId)).id).toBe(fx.a.campaignEmailId);
  });

  it('findCampaignEmailByMessageId', async () => {
    await fx.expectRefused(() => findCampaignEmailByMessageId(fx.pool, fx.a.workspaceId, `msg-${fx.b.campaignEmailId}`));
    expect(await findCampaignEmailByMessageId(fx.pool, fx.a.workspaceId, 'msg-nobody')).toBeNull();
  });

  it('claimCampaignEmail', async () => {
    // make B's row claimable, so a missing workspace filter would visibly win the claim
    await fx.pool.query(`UPDATE campaign_emails SET status = 'scheduled' WHERE id = $1`, [fx.b.campaignEmailId]);
    await fx.expectRefused(() => claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId));
    const claim = await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(claim.claimed).toBe(true);
  });

  it('markCampaignEmailSent', async () => {
    await fx.pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [fx.b.campaignEmailId]);
    await fx.expectRefused(() => markCampaignEmailSent(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, { messageId: 'm-1' }));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    await fx.expectRefused(() => markCampaignEmailSent(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, { messageId: 'm-1', mailboxId: fx.b.mailboxId }));
    expect((await markCampaignEmailSent(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, { messageId: 'm-1' })).status).toBe('sent');
  });

  it('markCampaignEmailUnknown', async () => {
    await fx.pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [fx.b.campaignEmailId]);
    await fx.expectRefused(() => markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 'socket hang up'));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect((await markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'socket hang up')).status).toBe('unknown');
  });

  it('markCampaignEmailFailed', async () => {
    await fx.pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [fx.b.campaignEmailId]);
    await fx.expectRefused(() => markCampaignEmailFailed(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, { error: 'rejected', retryable: false }));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect((await markCampaignEmailFailed(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, { error: 'throttled', retryable: true })).status).toBe('retryable');
  });

  it('deferCampaignEmail', async () => {
    await fx.pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [fx.b.campaignEmailId]);
    const until = new Date(Date.now() + 3_600_000);
    await fx.expectRefused(() => deferCampaignEmail(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, until, 'daily cap'));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect((await deferCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, until, 'daily cap')).status).toBe('scheduled');
  });

  it('applyDeliveryStatus', async () => {
    await fx.expectRefused(() => applyDeliveryStatus(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, 'bounced', new Date(), 'Permanent'));
    expect((await applyDeliveryStatus(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'delivered', new Date())).applied).toBe(true);
  });

  it('insertEmailEvent (foreign send, campaign or lead)', async () => {
    await fx.expectRefused(() => insertEmailEvent(fx.pool, fx.a.workspaceId, { eventType: 'opened', campaignEmailId: fx.b.campaignEmailId }));
    await fx.expectRefused(() => insertEmailEvent(fx.pool, fx.a.workspaceId, { eventType: 'opened', campaignId: fx.b.campaignId }));
    await fx.expectRefused(() => insertEmailEvent(fx.pool, fx.a.workspaceId, { eventType: 'opened', leadId: fx.b.leadId }));
    // own send with B's lead attached
    await fx.expectRefused(() =>
      insertEmailEvent(fx.pool, fx.a.workspaceId, { eventType: 'opened', campaignEmailId: fx.a.campaignEmailId, leadId: fx.b.leadId }),
    );
    const event = await insertEmailEvent(fx.pool, fx.a.workspaceId, { eventType: 'opened', campaignEmailId: fx.a.campaignEmailId });
    expect(event).toMatchObject({ workspace_id: fx.a.workspaceId, campaign_id: fx.a.campaignId, lead_id: fx.a.leadId });
  });

  it('addSuppression (foreign campaign) and isEmailSuppressed (scoped to the workspace)', async () => {
    await fx.expectRefused(() =>
      addSuppression(fx.pool, fx.a.workspaceId, { email: fx.b.leadEmail, type: 'unsubscribe', source: 'link', campaignId: fx.b.campaignId }),
    );
    await addSuppression(fx.pool, fx.b.workspaceId, { email: fx.b.leadEmail, type: 'unsubscribe', source: 'link' });
    // B's suppression is B's: A may still mail the address, B may not
    expect(await isEmailSuppressed(fx.pool, fx.a.workspaceId, fx.b.leadEmail)).toBe(false);
    expect(await isEmailSuppressed(fx.pool, fx.b.workspaceId, ` ${fx.b.leadEmail.toUpperCase()} `)).toBe(true);
    // a global row applies to everyone
    await fx.pool.query(`INSERT INTO suppression_list (workspace_id, email, suppression_type, is_global) VALUES (NULL, 'g@x.example', 'complaint', true)`);
    expect(await isEmailSuppressed(fx.pool, fx.a.workspaceId, 'g@x.example')).toBe(true);
  });

  it('recordWebhookEvent', async () => {
    expect(await recordWebhookEvent(fx.pool, fx.b.workspaceId, 'ses', `evt-${fx.b.workspaceId}`)).toBe('new');
    await fx.expectRefused(() => recordWebhookEvent(fx.pool, fx.a.workspaceId, 'ses', `evt-${fx.b.workspaceId}`));
    expect(await recordWebhookEvent(fx.pool, fx.b.workspaceId, 'ses', `evt-${fx.b.workspaceId}`)).toBe('duplicate');
  });

  it('getWorkspace reads only the job workspace', async () => {
    expect((await getWorkspace(fx.pool, fx.a.workspaceId)).id).toBe(fx.a.workspaceId);
    await expect(getWorkspace(fx.pool, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(RecordNotFoundError);
    await expect(getWorkspace(fx.pool, 'not-a-uuid')).rejects.toBeInstanceOf(TypeError);
  });

  it('tells a missing id (RecordNotFoundError) from a foreign one', async () => {
    await expect(getLead(fx.pool, fx.a.workspaceId, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(RecordNotFoundError);
    await expect(getLead(fx.pool, fx.a.workspaceId, 'nope')).rejects.toBeInstanceOf(RecordNotFoundError);
  });

  it('the database itself refuses a send row that mixes workspaces (composite foreign keys)', async () => {
    await expect(
      fx.pool.query(`INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number) VALUES ($1, $2, $3, 2)`, [
        fx.a.workspaceId,
        fx.a.campaignId,
        fx.b.leadId,
      ]),
    ).rejects.toThrow(/foreign key/);
  });
});
