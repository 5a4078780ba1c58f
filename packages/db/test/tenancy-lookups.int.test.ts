import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  addLeadEngagement,
  addMessageToThread,
  cancelLeadCampaignEmails,
  completeCampaignIfFinished,
  endEnrolments,
  findCampaignSettings,
  findEnrolmentStatus,
  findInboundInboxes,
  findLatestLeadThread,
  findLatestSendRef,
  findLeadIdByEmail,
  findPendingReplyAnalysis,
  findSendRef,
  findSendRefsByMessageIds,
  findThreadedMessages,
  hasConsent,
  hasEmailMessage,
  insertEmailThread,
  insertInboundEmailMessage,
  listEnrolmentsToTick,
  markCampaignEmailReplied,
  markEmailMessageAnalysed,
  markEnrolmentReplied,
  markLeadReplied,
  skipEnrolmentSteps,
  startScheduledCampaign,
} from '../src/index.js';
import { fingerprintOf, useTwoTenants } from './fixtures.js';

/*
 * Tenancy of the statements that moved from the email worker into the repositories
 * (campaign-tick.ts, inbound-mail.ts and the reply effects). A function that selects a campaign
 * first refuses B's id with TenancyError (fixtures.expectRefused); a lookup by an address,
 * Message-ID or lead (ids found by an earlier scoped lookup, never from a payload) sees nothing of
 * B and changes nothing of B. Workspace A's job uses B's ids throughout.
 */

const fx = useTwoTenants();

/** B's inbox: a thread of B's lead and campaign with one inbound reply to B's send. */
let bThreadId: string;
let bMessageRowId: string;
const bMessageId = () => `<reply-${fx.b.campaignEmailId}@mail.example>`;

beforeEach(async () => {
  await fx.pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = $2, sent_at = now() WHERE id = $1`, [
    fx.b.campaignEmailId,
    `msg-${fx.b.campaignEmailId}`,
  ]);
  bThreadId = await insertEmailThread(fx.pool, fx.b.workspaceId, {
    leadId: fx.b.leadId,
    campaignId: fx.b.campaignId,
    mailboxId: fx.b.mailboxId,
    subject: 'Re: Step 1',
    status: 'open',
    lastMessageAt: new Date(),
  });
  bMessageRowId = (await insertInboundEmailMessage(fx.pool, fx.b.workspaceId, {
    threadId: bThreadId,
    messageId: bMessageId(),
    inReplyTo: `<msg-${fx.b.campaignEmailId}@email.amazonses.com>`,
    fromEmail: fx.b.leadEmail,
    toEmails: ['sender@b.example'],
    subject: 'Re: Step 1',
    bodyText: 'Sounds good',
    bodyHtml: null,
    headers: {},
    metadata: { email_type: 'reply', campaign_email_id: fx.b.campaignEmailId },
    sentAt: null,
    receivedAt: new Date(),
  }))!;
});

/** Runs A's call and asserts that no row of B changed (including B's inbox); returns the result. */
async function untouched<T>(fn: () => Promise<T>): Promise<T> {
  const inbox = () =>
    fx.pool.query(
      'SELECT t::text AS t FROM email_threads t WHERE workspace_id = $1 UNION ALL SELECT m::text FROM email_messages m WHERE workspace_id = $1 ORDER BY 1',
      [fx.b.workspaceId],
    );
  const before = [await fingerprintOf(fx.pool, fx.b.workspaceId), (await inbox()).rows];
  const result = await fn();
  expect([await fingerprintOf(fx.pool, fx.b.workspaceId), (await inbox()).rows]).toEqual(before);
  return result;
}

describe('tenancy of the campaign tick statements: a foreign campaign is refused', () => {
  it('listEnrolmentsToTick, endEnrolments, skipEnrolmentSteps, startScheduledCampaign, completeCampaignIfFinished', async () => {
    await fx.expectRefused(() => listEnrolmentsToTick(fx.pool, fx.a.workspaceId, fx.b.campaignId, new Date(), 10));
    await fx.expectRefused(() => endEnrolments(fx.pool, fx.a.workspaceId, fx.b.campaignId, [{ enrolmentId: fx.b.enrolmentId, as: 'failed' }], new Date()));
    await fx.expectRefused(() =>
      skipEnrolmentSteps(fx.pool, fx.a.workspaceId, fx.b.campaignId, [{ enrolmentId: fx.b.enrolmentId, stepNumber: 1, nextEmailAt: null }]),
    );
    await fx.expectRefused(() => startScheduledCampaign(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    await fx.expectRefused(() => completeCampaignIfFinished(fx.pool, fx.a.workspaceId, fx.b.campaignId));
    // B's enrolment named under A's own campaign matches nothing
    expect(
      await untouched(() => endEnrolments(fx.pool, fx.a.workspaceId, fx.a.campaignId, [{ enrolmentId: fx.b.enrolmentId, as: 'failed' }], new Date())),
    ).toBe(0);
    expect(
      await untouched(() =>
        skipEnrolmentSteps(fx.pool, fx.a.workspaceId, fx.a.campaignId, [{ enrolmentId: fx.b.enrolmentId, stepNumber: 1, nextEmailAt: null }]),
      ),
    ).toBe(0);
    // and A's own calls work
    expect((await listEnrolmentsToTick(fx.pool, fx.a.workspaceId, fx.a.campaignId, new Date(), 10)).map((e) => e.enrolment_id)).toEqual([]);
    expect(await endEnrolments(fx.pool, fx.a.workspaceId, fx.a.campaignId, [{ enrolmentId: fx.a.enrolmentId, as: 'failed' }], new Date())).toBe(1);
  });
});

describe('tenancy of the inbound and reply statements: B stays invisible and unchanged', () => {
  it('lookups by lead, address and send see nothing of B', async () => {
    await fx.pool.query(`INSERT INTO consent_records (workspace_id, lead_id, consent_type, status) VALUES ($1, $2, 'marketing', 'granted')`, [
      fx.b.workspaceId,
      fx.b.leadId,
    ]);
    expect(await hasConsent(fx.pool, fx.b.workspaceId, fx.b.leadId, 'marketing')).toBe(true);
    expect(await hasConsent(fx.pool, fx.a.workspaceId, fx.b.leadId, 'marketing')).toBe(false);
    expect(await findLeadIdByEmail(fx.pool, fx.b.workspaceId, fx.b.leadEmail)).toBe(fx.b.leadId);
    expect(await findLeadIdByEmail(fx.pool, fx.a.workspaceId, fx.b.leadEmail)).toBeNull();
    expect(await findCampaignSettings(fx.pool, fx.a.workspaceId, fx.b.campaignId)).toBeNull();
    expect(await findCampaignSettings(fx.pool, fx.b.workspaceId, fx.b.campaignId)).toEqual({ stop_on_reply: true });
    expect(await findEnrolmentStatus(fx.pool, fx.a.workspaceId, fx.b.campaignId, fx.b.leadId)).toBeNull();
    expect(await findEnrolmentStatus(fx.pool, fx.b.workspaceId, fx.b.campaignId, fx.b.leadId)).toEqual({ id: fx.b.enrolmentId, status: 'pending' });
    expect(await findSendRef(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId)).toBeNull();
    expect(await findSendRefsByMessageIds(fx.pool, fx.a.workspaceId, [`msg-${fx.b.campaignEmailId}`])).toEqual([]);
    expect(await findSendRefsByMessageIds(fx.pool, fx.b.workspaceId, [`msg-${fx.b.campaignEmailId}`])).toHaveLength(1);
    expect(await findLatestSendRef(fx.pool, fx.a.workspaceId, fx.b.leadId)).toBeNull();
    expect(await findLatestSendRef(fx.pool, fx.b.workspaceId, fx.b.leadId, { campaignId: fx.b.campaignId })).toMatchObject({ id: fx.b.campaignEmailId });
  });

  it('inbox lookups see only the workspace: threads, messages, pending replies', async () => {
    expect(await hasEmailMessage(fx.pool, fx.a.workspaceId, bMessageId())).toBe(false);
    expect(await hasEmailMessage(fx.pool, fx.b.workspaceId, bMessageId())).toBe(true);
    expect(await findThreadedMessages(fx.pool, fx.a.workspaceId, [bMessageId()])).toEqual([]);
    expect(await findThreadedMessages(fx.pool, fx.b.workspaceId, [bMessageId()])).toEqual([
      { message_id: bMessageId(), thread_id: bThreadId, lead_id: fx.b.leadId, campaign_id: fx.b.campaignId, campaign_email_id: fx.b.campaignEmailId },
    ]);
    expect(await findLatestLeadThread(fx.pool, fx.a.workspaceId, fx.b.leadId, fx.b.campaignId)).toBeNull();
    expect(await findLatestLeadThread(fx.pool, fx.b.workspaceId, fx.b.leadId, fx.b.campaignId)).toBe(bThreadId);
    expect(await findPendingReplyAnalysis(fx.pool, fx.a.workspaceId, bMessageId())).toBeNull();
    expect(await findPendingReplyAnalysis(fx.pool, fx.b.workspaceId, bMessageId())).toMatchObject({ id: bMessageRowId, lead_id: fx.b.leadId });
  });

  it('writes by A with B ids change nothing of B', async () => {
    await untouched(() => addLeadEngagement(fx.pool, fx.a.workspaceId, fx.b.leadId, 30, 100, new Date()));
    expect(await untouched(() => markLeadReplied(fx.pool, fx.a.workspaceId, fx.b.leadId))).toBeNull();
    await untouched(() => markEnrolmentReplied(fx.pool, fx.a.workspaceId, fx.b.enrolmentId, new Date()));
    expect(await untouched(() => markCampaignEmailReplied(fx.pool, fx.a.workspaceId, fx.b.campaignEmailId, new Date()))).toBe(false);
    await fx.pool.query(`UPDATE campaign_emails SET status = 'scheduled' WHERE id = $1`, [fx.b.campaignEmailId]);
    expect(await untouched(() => cancelLeadCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, fx.b.leadId, 'replied'))).toBe(0);
    await untouched(() => markEmailMessageAnalysed(fx.pool, fx.a.workspaceId, bMessageRowId));
    await untouched(() => addMessageToThread(fx.pool, fx.a.workspaceId, bThreadId, new Date()));
    // the same calls in B do write
    expect(await markLeadReplied(fx.pool, fx.b.workspaceId, fx.b.leadId)).toBe('replied');
    expect(await cancelLeadCampaignEmails(fx.pool, fx.b.workspaceId, fx.b.campaignId, fx.b.leadId, 'replied')).toBe(1);
    await markEmailMessageAnalysed(fx.pool, fx.b.workspaceId, bMessageRowId);
    expect(await findPendingReplyAnalysis(fx.pool, fx.b.workspaceId, bMessageId())).toBeNull();
  });

  it('insertEmailThread refuses a lead, campaign or mailbox of another workspace (the table has no composite keys)', async () => {
    const thread = { leadId: null, campaignId: null, mailboxId: null, subject: 'x', status: 'open' as const, lastMessageAt: new Date() };
    await fx.expectRefused(() => insertEmailThread(fx.pool, fx.a.workspaceId, { ...thread, leadId: fx.b.leadId }));
    await fx.expectRefused(() => insertEmailThread(fx.pool, fx.a.workspaceId, { ...thread, campaignId: fx.b.campaignId }));
    await fx.expectRefused(() => insertEmailThread(fx.pool, fx.a.workspaceId, { ...thread, mailboxId: fx.b.mailboxId }));
    const { rows } = await fx.pool.query('SELECT count(*)::int AS n FROM email_threads WHERE workspace_id = $1', [fx.a.workspaceId]);
    expect(rows[0].n).toBe(0);
    expect(await insertEmailThread(fx.pool, fx.a.workspaceId, { ...thread, leadId: fx.a.leadId, campaignId: fx.a.campaignId })).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('insertInboundEmailMessage: a thread of another workspace is refused by the composite key; a repeated Message-ID writes nothing', async () => {
    const message = {
      threadId: bThreadId,
      messageId: `<${randomUUID()}@mail.example>`,
      inReplyTo: null,
      fromEmail: 'x@y.example',
      toEmails: [],
      subject: null,
      bodyText: null,
      bodyHtml: null,
      headers: {},
      metadata: {},
      sentAt: null,
      receivedAt: new Date(),
    };
    await expect(untouched(() => insertInboundEmailMessage(fx.pool, fx.a.workspaceId, message))).rejects.toThrow(/foreign key/);
    expect(await untouched(() => insertInboundEmailMessage(fx.pool, fx.b.workspaceId, { ...message, messageId: bMessageId() }))).toBeNull();
  });

  it('findInboundInboxes: the one lookup by address, across workspaces, ids only', async () => {
    await fx.pool.query(`UPDATE workspaces SET settings = settings || '{"email": {"reply_to_email": " Replies@Shared.example "}}' WHERE id = ANY($1::uuid[])`, [
      [fx.a.workspaceId, fx.b.workspaceId],
    ]);
    const { rows } = await fx.pool.query<{ email: string }>('SELECT email FROM mailboxes WHERE id = $1', [fx.b.mailboxId]);
    const inboxes = await findInboundInboxes(fx.pool, [rows[0]!.email, 'replies@shared.example', 'nobody@x.example']);
    expect(inboxes).toHaveLength(3);
    expect(inboxes).toContainEqual({ workspaceId: fx.b.workspaceId, address: rows[0]!.email, mailboxId: fx.b.mailboxId });
    expect(inboxes).toContainEqual({ workspaceId: fx.a.workspaceId, address: 'replies@shared.example', mailboxId: null });
    expect(inboxes).toContainEqual({ workspaceId: fx.b.workspaceId, address: 'replies@shared.example', mailboxId: null });
    expect(await findInboundInboxes(fx.pool, [])).toEqual([]);
  });
});
