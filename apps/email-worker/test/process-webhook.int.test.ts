import { randomUUID } from 'node:crypto';
import { analyzeSentiment, extractMeetingIntent, generateSmartReply } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import type { EmailDeps } from '../src/deps.js';
import { processWebhookHandler } from '../src/handlers/process-webhook.js';
import { sendEmailHandler } from '../src/handlers/send-email.js';
import { SnsVerificationError } from '@coldcopy/sns';
import { seedCampaign } from './fixtures/seed.js';
import { testSecurity, TOPIC_ARN, useEmailHarness } from './harness.js';
import { composeReply, receivedNotification, type ReceivedOptions, sesHeaderId } from './inbound-notifications.js';
import { sample, sesNotification, signEnvelope } from '@coldcopy/sns/testing';

const h = useEmailHarness();

const sendPayload = (workspaceId: string, campaignEmailId: string) => ({
  workspaceId,
  requestedBy: 'system',
  campaignEmailId,
  trackOpens: true,
  trackClicks: true,
  checkConsent: false,
});
const webhook = (body: string) => ({ provider: 'ses' as const, body, receivedAt: new Date().toISOString() });

/** An AWS sample event re-pointed at one of our sends (message id, recipients, our tags). */
function eventFor(file: string, send: { messageId: string; email: string; sendId: string; workspaceId: string }, withTags = true) {
  const event = sample(file) as Record<string, any>;
  // recent timestamps: email_events is partitioned by month and keeps only recent partitions
  const now = new Date().toISOString();
  for (const key of ['bounce', 'complaint', 'delivery', 'open', 'click', 'deliveryDelay', 'subscription'])
    if (event[key]?.timestamp) event[key].timestamp = now;
  event.mail = {
    ...event.mail,
    timestamp: now,
    messageId: send.messageId,
    destination: [send.email],
    tags: withTags ? { ...event.mail.tags, send_id: [send.sendId], workspace_id: [send.workspaceId] } : event.mail.tags,
  };
  if (event.bounce) event.bounce.bouncedRecipients = [{ ...event.bounce.bouncedRecipients[0], emailAddress: send.email }];
  if (event.complaint) event.complaint.complainedRecipients = [{ emailAddress: send.email }];
  return event;
}

async function counts(workspaceId: string) {
  const q = async (sql: string) => (await h.pool.query(sql, [workspaceId])).rows[0].n as number;
  return {
    events: await q('SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1'),
    dedupe: await q('SELECT count(*)::int AS n FROM webhook_dedupe WHERE workspace_id = $1'),
    suppressions: await q('SELECT count(*)::int AS n FROM suppression_list WHERE workspace_id = $1'),
  };
}

async function sentOne() {
  const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
  const { deps } = h.deps();
  const result = (await sendEmailHandler(sendPayload(seed.workspaceId, seed.sendIds[0]!), h.context(deps))) as { messageId: string };
  return { seed, deps, send: { messageId: result.messageId, email: seed.leads[0]!.email, sendId: seed.sendIds[0]!, workspaceId: seed.workspaceId } };
}

describe('process-webhook with real Postgres', () => {
  it('a permanent bounce suppresses the address; the next send-email to it is skipped and recorded as suppressed', async () => {
    const { seed, deps, send } = await sentOne();
    const body = sesNotification(eventFor('ses-event-bounce.json', send, false), { topicArn: TOPIC_ARN, messageId: randomUUID() });
    const result = await processWebhookHandler(webhook(body), h.context(deps));
    expect(result).toMatchObject({ applied: true, event: 'Bounce' });
    expect((result as { changes: string[] }).changes).toEqual(
      expect.arrayContaining(['delivery_status:bounced', `suppressed:${send.email}`, 'enrolment:bounced']),
    );

    const row = (await h.pool.query('SELECT delivery_status, bounce_type, bounced_at FROM campaign_emails WHERE id = $1', [send.sendId])).rows[0];
    expect(row).toMatchObject({ delivery_status: 'bounced', bounce_type: 'Permanent/General' });
    const suppression = (
      await h.pool.query('SELECT suppression_type, source FROM suppression_list WHERE workspace_id = $1 AND email = $2', [seed.workspaceId, send.email])
    ).rows;
    expect(suppression).toEqual([{ suppression_type: 'bounce', source: 'webhook' }]);
    const events = (
      await h.pool.query("SELECT event_type, metadata->>'hard' AS hard FROM email_events WHERE campaign_email_id = $1 ORDER BY created_at", [send.sendId])
    ).rows;
    expect(events.map((e) => e.event_type)).toEqual(['sent', 'bounced']);

    // the same address in another campaign of the workspace
    const campaign2 = randomUUID();
    await h.pool.query(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, 'Second', 'active')`, [campaign2, seed.workspaceId]);
    await h.pool.query(`INSERT INTO campaign_sequences (workspace_id, campaign_id, step_number, subject, body) VALUES ($1, $2, 1, 'Hi', 'Hello')`, [
      seed.workspaceId,
      campaign2,
    ]);
    await h.pool.query(`INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status) VALUES ($1, $2, $3, 'pending')`, [
      seed.workspaceId,
      campaign2,
      seed.leads[0]!.leadId,
    ]);
    const next = randomUUID();
    await h.pool.query(
      `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, scheduled_at) VALUES ($1, $2, $3, $4, 1, $5, 'scheduled', now())`,
      [next, seed.workspaceId, campaign2, seed.leads[0]!.leadId, seed.mailboxId],
    );
    expect(await sendEmailHandler(sendPayload(seed.workspaceId, next), h.context(deps))).toEqual({ status: 'skipped', reason: 'suppressed' });
    const skipped = (await h.pool.query('SELECT status, cancelled_reason FROM campaign_emails WHERE id = $1', [next])).rows[0];
    expect(skipped).toEqual({ status: 'cancelled', cancelled_reason: 'suppressed' });
    expect(await h.ses.emails()).toHaveLength(1);
  });

  it('tampered body, wrong TopicArn and a certificate URL on another host are rejected and write nothing', async () => {
    const { seed, deps, send } = await sentOne();
    const before = await counts(seed.workspaceId);
    const good = JSON.parse(sesNotification(eventFor('ses-event-bounce.json', send), { topicArn: TOPIC_ARN })) as Record<string, unknown>;
    const { Signature: _s, SigningCertURL: _c, ...unsigned } = good;
    const bodies = [
      JSON.stringify({ ...good, Message: String(good.Message).replace('General', 'NoEmail') }),
      sesNotification(eventFor('ses-event-bounce.json', send), { topicArn: 'arn:aws:sns:us-east-1:210987654321:someone-elses-topic' }),
      JSON.stringify(
        signEnvelope(unsigned, {
          certUrl: 'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
        }),
      ),
    ];
    for (const body of bodies) {
      await expect(processWebhookHandler(webhook(body), h.context(deps))).rejects.toBeInstanceOf(SnsVerificationError);
    }
    expect(await counts(seed.workspaceId)).toEqual(before);
  });

  it('an SNS redelivery (same MessageId) is applied once; delivery is monotonic under a late event', async () => {
    const { seed, deps, send } = await sentOne();
    const snsId = randomUUID();
    const complaint = sesNotification(eventFor('ses-event-complaint.json', send), { topicArn: TOPIC_ARN, messageId: snsId, version: '2' });
    expect(await processWebhookHandler(webhook(complaint), h.context(deps))).toMatchObject({ applied: true });
    expect(await processWebhookHandler(webhook(complaint), h.context(deps))).toMatchObject({ applied: false, reason: 'duplicate' });
    const delivery = sesNotification(eventFor('ses-event-delivery.json', send), { topicArn: TOPIC_ARN, messageId: randomUUID() });
    await processWebhookHandler(webhook(delivery), h.context(deps));
    const row = (await h.pool.query('SELECT delivery_status FROM campaign_emails WHERE id = $1', [send.sendId])).rows[0];
    expect(row.delivery_status).toBe('complained');
    const c = await counts(seed.workspaceId);
    expect(c.dedupe).toBe(2);
    expect(c.suppressions).toBe(1);
    const enrolment = (await h.pool.query('SELECT status FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).rows[0];
    expect(enrolment.status).toBe('unsubscribed');
  });

  it('the SES Send event (by its send_id tag) reconciles an unknown outcome to sent', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    await h.pool.query(`UPDATE campaign_emails SET status = 'unknown', claimed_at = now(), attempt = 1, last_error = 'TimeoutError' WHERE id = $1`, [id]);
    const { deps } = h.deps();
    const send = { messageId: `ses-${randomUUID()}`, email: seed.leads[0]!.email, sendId: id, workspaceId: seed.workspaceId };
    const result = await processWebhookHandler(
      webhook(sesNotification(eventFor('ses-event-send.json', send), { topicArn: TOPIC_ARN, messageId: randomUUID() })),
      h.context(deps),
    );
    expect(result).toMatchObject({ applied: true, changes: ['status:sent'] });
    const row = (await h.pool.query('SELECT status, message_id FROM campaign_emails WHERE id = $1', [id])).rows[0];
    expect(row).toEqual({ status: 'sent', message_id: send.messageId });
    const enrolment = (await h.pool.query('SELECT status, current_step FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).rows[0];
    expect(enrolment).toEqual({ status: 'in_progress', current_step: 1 });
  });

  it('a Send event of an earlier claim, arriving after the row was claimed again, never touches the row and alerts: possibly two emails to one lead', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    // claim 1 was found unsent by the campaign tick (released), and claim 2 holds the row now, its request on its way
    await h.pool.query(`UPDATE campaign_emails SET status = 'sending', claimed_at = now(), attempt = 2 WHERE id = $1`, [id]);
    const { deps, ops } = h.deps();
    const first = { messageId: `ses-${randomUUID()}`, email: seed.leads[0]!.email, sendId: id, workspaceId: seed.workspaceId };
    /** SES's Send event of claim 1's message (its `claim` tag), as a new SNS notification */
    const lateSendEvent = () => {
      const event = eventFor('ses-event-send.json', first);
      event.mail.tags = { ...event.mail.tags, claim: ['1'] };
      return webhook(sesNotification(event, { topicArn: TOPIC_ARN, messageId: randomUUID() }));
    };
    const rowNow = async () => (await h.pool.query('SELECT status, attempt, message_id FROM campaign_emails WHERE id = $1', [id])).rows[0];
    const alert = {
      severity: 'warning',
      message: 'SES accepted a send that the campaign tick had found unsent and sent again: possibly two emails to one lead',
      fields: { workspaceId: seed.workspaceId, campaignEmailId: id, sesMessageId: first.messageId, claims: '1/2' },
    };
    expect(await processWebhookHandler(lateSendEvent(), h.context(deps))).toMatchObject({ changes: ['stale-claim:1/2'] });
    expect(await rowNow()).toEqual({ status: 'sending', attempt: 2, message_id: null });
    const enrolment = async () => (await h.pool.query('SELECT status, current_step FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).rows[0];
    expect(await enrolment()).toEqual({ status: 'pending', current_step: 0 });
    expect(ops.alerts).toEqual([expect.objectContaining(alert)]);
    // claim 2 was sent meanwhile: claim 1's event (another notification of it) leaves claim 2's MessageId
    const second = `ses-${randomUUID()}`;
    await h.pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = $2, sent_at = now() WHERE id = $1`, [id, second]);
    expect(await processWebhookHandler(lateSendEvent(), h.context(deps))).toMatchObject({ changes: ['stale-claim:1/2'] });
    expect(await rowNow()).toEqual({ status: 'sent', attempt: 2, message_id: second });
    expect(ops.alerts).toEqual([expect.objectContaining(alert), expect.objectContaining(alert)]);
  });

  it('open and click update the ledger counters and write normalised events', async () => {
    const { deps, send } = await sentOne();
    for (const file of ['ses-event-open.json', 'ses-event-click.json', 'ses-event-open.json']) {
      await processWebhookHandler(webhook(sesNotification(eventFor(file, send), { topicArn: TOPIC_ARN, messageId: randomUUID() })), h.context(deps));
    }
    const row = (await h.pool.query('SELECT open_count, click_count, opened_at IS NOT NULL AS opened FROM campaign_emails WHERE id = $1', [send.sendId]))
      .rows[0];
    expect(row).toEqual({ open_count: 2, click_count: 1, opened: true });
    const types = (await h.pool.query('SELECT event_type FROM email_events WHERE campaign_email_id = $1 ORDER BY event_type', [send.sendId])).rows.map(
      (r) => r.event_type,
    );
    expect(types).toEqual(['clicked', 'opened', 'opened', 'sent']);
    // engagement: +10 per open, +20 per click, every event counted, capped at 100
    const score = async () => (await h.pool.query('SELECT engagement_score FROM leads WHERE email = $1', [send.email])).rows[0].engagement_score as number;
    expect(await score()).toBe(40);
    await h.pool.query('UPDATE leads SET engagement_score = 95 WHERE email = $1', [send.email]);
    await processWebhookHandler(
      webhook(sesNotification(eventFor('ses-event-open.json', send), { topicArn: TOPIC_ARN, messageId: randomUUID() })),
      h.context(deps),
    );
    expect(await score()).toBe(100);
  });
});

describe('process-webhook: inbound replies (SES email receiving) with real Postgres', () => {
  /** A 2-step campaign whose step 1 went out (through aws-ses-v2-local) to every lead. */
  async function sentCampaign(leads: number) {
    const seed = await seedCampaign(h.pool, { leads, scheduleStep1: true });
    const { deps } = h.deps();
    const messageIds: string[] = [];
    for (const id of seed.sendIds)
      messageIds.push(((await sendEmailHandler(sendPayload(seed.workspaceId, id), h.context(deps))) as { messageId: string }).messageId);
    const mailbox = (await h.pool.query('SELECT email FROM mailboxes WHERE id = $1', [seed.mailboxId])).rows[0].email as string;
    return { seed, deps, messageIds, mailbox, ws: seed.workspaceId };
  }
  /** What the campaign tick would do next: the step-2 row of a lead, scheduled. */
  async function scheduleStep2(seed: { workspaceId: string; campaignId: string; mailboxId: string }, leadId: string) {
    const id = randomUUID();
    await h.pool.query(
      `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, scheduled_at) VALUES ($1, $2, $3, $4, 2, $5, 'scheduled', now())`,
      [id, seed.workspaceId, seed.campaignId, leadId, seed.mailboxId],
    );
    return id;
  }
  async function receive(deps: EmailDeps, raw: Buffer, options: ReceivedOptions & { snsId?: string }) {
    const body = sesNotification(receivedNotification(raw, options), { topicArn: TOPIC_ARN, messageId: options.snsId ?? randomUUID() });
    return { body, result: (await processWebhookHandler(webhook(body), h.context(deps))) as Record<string, any> };
  }
  /** Ids of the jobs waiting on the real `ai` queue (nothing consumes it in these tests). */
  const aiWaiting = async () => (await h.redis.lrange(`${h.prefix}:ai:wait`, 0, -1)).sort();
  /** A Bull job of the `ai` queue as stored: its name and data. */
  /** An AI job as its worker sees it (sensitive fields opened); what Redis holds carries no reply text or address. */
  async function aiJob(id: string) {
    const [name, data] = await h.redis.hmget(`${h.prefix}:ai:${id}`, 'name', 'data');
    expect(data).not.toMatch(/Thursday|@/);
    const def = [analyzeSentiment, extractMeetingIntent, generateSmartReply].find((d) => d.name === name)!;
    return { name, data: testSecurity().open(def, JSON.parse(data ?? 'null')) as Record<string, unknown> };
  }
  const aiJobIds = (ws: string, emailMessageId: string) =>
    ['analyze-sentiment', 'extract-meeting-intent', 'generate-smart-reply'].map((name) => `${name}.${ws}.${emailMessageId}`);
  const one = async (sql: string, params: unknown[]) => (await h.pool.query(sql, params)).rows[0];
  const all = async (sql: string, params: unknown[]) => (await h.pool.query(sql, params)).rows;
  /** Everything an inbound message may change in a workspace. */
  async function workspaceState(ws: string) {
    return {
      messages: await all('SELECT message_id, metadata FROM email_messages WHERE workspace_id = $1 ORDER BY created_at', [ws]),
      threads: await all('SELECT lead_id, campaign_id, status, message_count FROM email_threads WHERE workspace_id = $1 ORDER BY created_at', [ws]),
      replied: await all("SELECT campaign_email_id, metadata FROM email_events WHERE workspace_id = $1 AND event_type = 'replied'", [ws]),
      sends: await all('SELECT id, status, replied_at, cancelled_reason FROM campaign_emails WHERE workspace_id = $1 ORDER BY id', [ws]),
      enrolments: await all('SELECT lead_id, status, replied_at, next_email_at FROM campaign_leads WHERE workspace_id = $1 ORDER BY lead_id', [ws]),
      leads: await all('SELECT id, status, engagement_score FROM leads WHERE workspace_id = $1 ORDER BY id', [ws]),
    };
  }

  it('a reply threads to the send it names, stops that sequence (follow-up cancelled, never sent) and marks lead and enrolment', async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(2);
    const [lead0, lead1] = seed.leads as [(typeof seed.leads)[0], (typeof seed.leads)[0]];
    const followUp0 = await scheduleStep2(seed, lead0.leadId);
    const followUp1 = await scheduleStep2(seed, lead1.leadId);

    // a colleague answers from another address: the headers, not the sender, name lead 0's send
    const raw = await composeReply({
      from: 'Colleague <colleague@elsewhere.example>',
      to: mailbox,
      inReplyTo: sesHeaderId(messageIds[0]!),
      references: [sesHeaderId(messageIds[0]!)],
      html: '<p>Sounds good, Thursday?</p>',
    });
    const { result } = await receive(deps, raw, { recipients: [mailbox], encoding: 'BASE64' });
    expect(result).toMatchObject({ applied: true, event: 'Received', deliveries: [{ workspaceId: ws, kind: 'reply', campaignEmailId: seed.sendIds[0] }] });
    expect(result.deliveries[0].changes).toEqual([
      'stored',
      'event:replied',
      'replied_at',
      'lead:replied',
      'engagement+30',
      'enrolment:replied',
      'cancelled:1',
    ]);

    expect(await one('SELECT replied_at IS NOT NULL AS replied FROM campaign_emails WHERE id = $1', [seed.sendIds[0]])).toEqual({ replied: true });
    expect(await one('SELECT status, replied_at IS NOT NULL AS replied, next_email_at FROM campaign_leads WHERE id = $1', [lead0.enrolmentId])).toEqual({
      status: 'replied',
      replied: true,
      next_email_at: null,
    });
    expect(await one('SELECT status, engagement_score FROM leads WHERE id = $1', [lead0.leadId])).toEqual({ status: 'replied', engagement_score: 30 });
    expect(await one('SELECT status, cancelled_reason FROM campaign_emails WHERE id = $1', [followUp0])).toEqual({
      status: 'cancelled',
      cancelled_reason: 'replied',
    });
    const event = await one("SELECT campaign_id, lead_id, provider, metadata FROM email_events WHERE campaign_email_id = $1 AND event_type = 'replied'", [
      seed.sendIds[0],
    ]);
    expect(event).toMatchObject({
      campaign_id: seed.campaignId,
      lead_id: lead0.leadId,
      provider: 'ses',
      metadata: { auto_reply: false, matched_by: 'message-id' },
    });
    const stored = await one(
      `SELECT m.direction, m.from_email, m.body_html, m.metadata->>'email_type' AS email_type, t.lead_id, t.campaign_id, t.mailbox_id, t.message_count
       FROM email_messages m JOIN email_threads t ON t.id = m.thread_id WHERE m.id = $1`,
      [result.deliveries[0].emailMessageId],
    );
    expect(stored).toEqual({
      direction: 'inbound',
      from_email: 'colleague@elsewhere.example',
      body_html: '<p>Sounds good, Thursday?</p>',
      email_type: 'reply',
      lead_id: lead0.leadId,
      campaign_id: seed.campaignId,
      mailbox_id: seed.mailboxId,
      message_count: 1,
    });

    // the follow-up job, when it runs, sends nothing
    expect(await sendEmailHandler(sendPayload(ws, followUp0), h.context(deps))).toEqual({ status: 'skipped', reason: 'already-cancelled' });
    expect(await h.ses.emails()).toHaveLength(2);

    // lead 1 is untouched so far; its own reply, without In-Reply-To, is matched by sender
    expect(await one('SELECT status FROM campaign_leads WHERE id = $1', [lead1.enrolmentId])).toEqual({ status: 'in_progress' });
    expect(await one('SELECT status FROM campaign_emails WHERE id = $1', [followUp1])).toEqual({ status: 'scheduled' });
    const fresh = await composeReply({ from: lead1.email.toUpperCase(), to: mailbox, subject: 'Question' });
    const second = (await receive(deps, fresh, { recipients: [mailbox] })).result;
    expect(second).toMatchObject({ deliveries: [{ kind: 'reply', campaignEmailId: seed.sendIds[1] }] });
    expect(
      await one("SELECT metadata->>'matched_by' AS via FROM email_events WHERE campaign_email_id = $1 AND event_type = 'replied'", [seed.sendIds[1]]),
    ).toEqual({ via: 'sender' });
    expect(await one('SELECT status FROM campaign_emails WHERE id = $1', [followUp1])).toEqual({ status: 'cancelled' });
  });

  it('an auto-reply is recorded (auto_reply: true) but does not stop the sequence or score', async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(1);
    const lead = seed.leads[0]!;
    const followUp = await scheduleStep2(seed, lead.leadId);
    const ooo = await composeReply({
      from: lead.email,
      to: mailbox,
      subject: 'Automatic reply: Step 1',
      inReplyTo: sesHeaderId(messageIds[0]!),
      headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' },
      text: 'I am out of the office until Monday.',
    });
    const { result } = await receive(deps, ooo, { recipients: [mailbox] });
    expect(result).toMatchObject({ deliveries: [{ kind: 'auto_reply', campaignEmailId: seed.sendIds[0], changes: ['stored', 'event:replied'] }] });
    const state = await workspaceState(ws);
    expect(state.replied).toEqual([
      { campaign_email_id: seed.sendIds[0], metadata: expect.objectContaining({ auto_reply: true, auto_reply_reason: 'Auto-Submitted: auto-replied' }) },
    ]);
    expect(state.messages[0].metadata).toMatchObject({ email_type: 'auto_reply' });
    expect(await one('SELECT replied_at FROM campaign_emails WHERE id = $1', [seed.sendIds[0]])).toEqual({ replied_at: null });
    expect(await one('SELECT status FROM campaign_leads WHERE id = $1', [lead.enrolmentId])).toEqual({ status: 'in_progress' });
    expect(await one('SELECT status, engagement_score FROM leads WHERE id = $1', [lead.leadId])).toEqual({ status: 'contacted', engagement_score: 0 });
    expect(await one('SELECT status FROM campaign_emails WHERE id = $1', [followUp])).toEqual({ status: 'scheduled' });
  });

  it('a reply to a mailbox of workspace A never touches workspace B, whatever it quotes; a shared address needs evidence', async () => {
    const a = await sentCampaign(1);
    const b = await sentCampaign(1);
    const bLead = b.seed.leads[0]!;
    const bBefore = await workspaceState(b.ws);

    // B's lead writes to A's mailbox quoting B's send: A owns the address, so A stores it (as new mail)
    const cross = await composeReply({ from: bLead.email, to: a.mailbox, inReplyTo: sesHeaderId(b.messageIds[0]!) });
    const { result } = await receive(a.deps, cross, { recipients: [a.mailbox] });
    expect(result).toMatchObject({ deliveries: [{ workspaceId: a.ws, kind: 'new', campaignEmailId: null }] });
    expect((await workspaceState(a.ws)).replied).toEqual([]);
    expect(await workspaceState(b.ws)).toEqual(bBefore);

    // every seeded workspace has Reply-To replies@acme.example: the send the reply names decides
    const aLead = a.seed.leads[0]!;
    const toShared = await composeReply({ from: aLead.email, to: 'replies@acme.example', inReplyTo: sesHeaderId(a.messageIds[0]!) });
    expect((await receive(a.deps, toShared, { recipients: ['replies@acme.example'] })).result).toMatchObject({
      deliveries: [{ workspaceId: a.ws, kind: 'reply', campaignEmailId: a.seed.sendIds[0] }],
    });
    expect(await one('SELECT status FROM campaign_leads WHERE id = $1', [aLead.enrolmentId])).toEqual({ status: 'replied' });
    expect(await workspaceState(b.ws)).toEqual(bBefore);

    // nothing tells the workspaces apart: stored nowhere
    const stranger = await composeReply({ from: 'stranger@nowhere.example', to: 'replies@acme.example', messageId: '<stranger-1@nowhere.example>' });
    expect((await receive(a.deps, stranger, { recipients: ['replies@acme.example'] })).result).toEqual({ applied: false, reason: 'ambiguous-recipient' });
    expect(await all('SELECT workspace_id FROM email_messages WHERE message_id = $1', ['<stranger-1@nowhere.example>'])).toEqual([]);
    expect(await workspaceState(b.ws)).toEqual(bBefore);
  });

  it('the same SNS message twice, or the same Message-ID in another notification, is applied once', async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(1);
    const raw = await composeReply({ from: seed.leads[0]!.email, to: mailbox, inReplyTo: sesHeaderId(messageIds[0]!), messageId: '<once@lead.example>' });
    const { body, result } = await receive(deps, raw, { recipients: [mailbox] });
    expect(result).toMatchObject({ applied: true });
    expect(await processWebhookHandler(webhook(body), h.context(deps))).toEqual({ applied: false, reason: 'duplicate' });
    // the sender's server delivered it again: new SES id, new SNS MessageId, same Message-ID
    expect((await receive(deps, raw, { recipients: [mailbox] })).result).toEqual({ applied: false, reason: 'duplicate' });
    const state = await workspaceState(ws);
    expect(state.messages).toHaveLength(1);
    expect(state.replied).toHaveLength(1);
    expect(await aiWaiting()).toEqual(aiJobIds(ws, result.deliveries[0].emailMessageId));
    expect(state.threads).toEqual([{ lead_id: seed.leads[0]!.leadId, campaign_id: seed.campaignId, status: 'open', message_count: 1 }]);
    expect(state.leads[0]).toMatchObject({ status: 'replied', engagement_score: 30 });
    // a second, different reply joins the same thread and scores again
    const again = await composeReply({
      from: seed.leads[0]!.email,
      to: mailbox,
      inReplyTo: '<once@lead.example>',
      references: [sesHeaderId(messageIds[0]!), '<once@lead.example>'],
    });
    expect((await receive(deps, again, { recipients: [mailbox] })).result).toMatchObject({ deliveries: [{ kind: 'reply', campaignEmailId: seed.sendIds[0] }] });
    const after = await workspaceState(ws);
    expect(after.threads).toEqual([{ lead_id: seed.leads[0]!.leadId, campaign_id: seed.campaignId, status: 'open', message_count: 2 }]);
    expect(after.leads[0]).toMatchObject({ engagement_score: 60 });
    expect(await aiWaiting()).toHaveLength(6);
  });

  it('spam (verdict FAIL) is stored in a spam thread and is not a reply', async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(1);
    const followUp = await scheduleStep2(seed, seed.leads[0]!.leadId);
    const raw = await composeReply({ from: seed.leads[0]!.email, to: mailbox, inReplyTo: sesHeaderId(messageIds[0]!) });
    const { result } = await receive(deps, raw, { recipients: [mailbox], spam: 'FAIL' });
    expect(result).toMatchObject({ deliveries: [{ kind: 'quarantined', changes: ['stored'] }] });
    const state = await workspaceState(ws);
    expect(state.threads).toEqual([expect.objectContaining({ status: 'spam' })]);
    expect(state.messages[0].metadata).toMatchObject({ quarantined: 'spam', verdicts: { spam: 'FAIL' } });
    expect(state.replied).toEqual([]);
    expect(await one('SELECT status FROM campaign_emails WHERE id = $1', [followUp])).toEqual({ status: 'scheduled' });
    expect(state.leads[0]).toMatchObject({ status: 'contacted', engagement_score: 0 });
  });

  it('with settings.stop_on_reply false the reply is recorded and the sequence goes on', async () => {
    const { seed, deps, messageIds, mailbox } = await sentCampaign(1);
    await h.pool.query(`UPDATE campaigns SET settings = '{"stop_on_reply": false}' WHERE id = $1`, [seed.campaignId]);
    const followUp = await scheduleStep2(seed, seed.leads[0]!.leadId);
    const raw = await composeReply({ from: seed.leads[0]!.email, to: mailbox, inReplyTo: sesHeaderId(messageIds[0]!) });
    expect((await receive(deps, raw, { recipients: [mailbox] })).result).toMatchObject({
      deliveries: [{ kind: 'reply', changes: ['stored', 'event:replied', 'replied_at', 'lead:replied', 'engagement+30'] }],
    });
    expect(await one('SELECT status, replied_at IS NOT NULL AS replied FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).toEqual({
      status: 'in_progress',
      replied: true,
    });
    expect(await one('SELECT status FROM campaign_emails WHERE id = $1', [followUp])).toEqual({ status: 'scheduled' });
  });

  it('a reply leaves its three AI jobs waiting on the ai queue, ids from the stored message; an auto-reply or spam leaves none', async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(3);
    const [lead0, lead1, lead2] = seed.leads as [(typeof seed.leads)[0], (typeof seed.leads)[0], (typeof seed.leads)[0]];
    const raw = await composeReply({
      from: `Lead Zero <${lead0.email}>`,
      to: mailbox,
      inReplyTo: sesHeaderId(messageIds[0]!),
      text: 'Happy to talk, does Thursday 10:00 work?\n\nOn Mon, 1 Dec 2026 at 15:00, Acme Sales <sales@acme.example> wrote:\n> Hi Lead,\n> A short note.',
    });
    const { result } = await receive(deps, raw, { recipients: [mailbox], encoding: 'BASE64' });
    const delivery = result.deliveries[0];
    const ids = aiJobIds(ws, delivery.emailMessageId);
    expect(delivery).toMatchObject({ kind: 'reply', aiJobs: expect.arrayContaining(ids) });
    expect(await aiWaiting()).toEqual(ids);

    const content = 'Happy to talk, does Thursday 10:00 work?';
    const receivedAt = (await one('SELECT received_at FROM email_messages WHERE id = $1', [delivery.emailMessageId])).received_at as Date;
    const common = { workspaceId: ws, requestedBy: 'system' };
    const sender = { senderEmail: lead0.email, senderName: 'Lead Zero' };
    expect(await aiJob(ids[0]!)).toEqual({
      name: 'analyze-sentiment',
      data: {
        ...common,
        threadKey: `email:${delivery.threadId}`,
        leadId: lead0.leadId,
        channel: 'email',
        messages: [{ id: delivery.emailMessageId, content, isFromLead: true, timestamp: receivedAt.toISOString() }],
      },
    });
    expect(await aiJob(ids[1]!)).toEqual({
      name: 'extract-meeting-intent',
      data: { ...common, messageId: delivery.emailMessageId, messageType: 'email', content, ...sender, leadId: lead0.leadId, threadId: delivery.threadId },
    });
    expect(await aiJob(ids[2]!)).toEqual({
      name: 'generate-smart-reply',
      data: { ...common, messageId: delivery.emailMessageId, threadId: delivery.threadId, content, ...sender, leadId: lead0.leadId, count: 3 },
    });
    expect(await one("SELECT metadata ? 'ai_jobs_enqueued_at' AS marked FROM email_messages WHERE id = $1", [delivery.emailMessageId])).toEqual({
      marked: true,
    });

    const ooo = await composeReply({
      from: lead1.email,
      to: mailbox,
      inReplyTo: sesHeaderId(messageIds[1]!),
      headers: { 'Auto-Submitted': 'auto-replied' },
      text: 'I am out of the office until Monday.',
    });
    expect((await receive(deps, ooo, { recipients: [mailbox] })).result).toMatchObject({ deliveries: [{ kind: 'auto_reply', aiJobs: [] }] });
    const spam = await composeReply({ from: lead2.email, to: mailbox, inReplyTo: sesHeaderId(messageIds[2]!) });
    expect((await receive(deps, spam, { recipients: [mailbox], spam: 'FAIL' })).result).toMatchObject({ deliveries: [{ kind: 'quarantined', aiJobs: [] }] });
    expect(await aiWaiting()).toEqual(ids);
  });

  it("a failed enqueue after the commit is made good by the retry: the duplicate enqueues the stored reply's jobs, once", async () => {
    const { seed, deps, messageIds, mailbox, ws } = await sentCampaign(1);
    let calls = 0;
    /** a context whose enqueue counts its calls; the `failAt`-th call fails as a Redis outage would */
    const counting = (attempt: number, failAt?: number) => {
      const ctx = h.context(deps, attempt);
      const enqueue = ctx.enqueue.bind(ctx);
      return Object.assign(ctx, {
        enqueue: (...args: Parameters<typeof enqueue>) => {
          if (++calls === failAt) return Promise.reject(new Error('Redis is unavailable'));
          return enqueue(...args);
        },
      });
    };
    const raw = await composeReply({ from: seed.leads[0]!.email, to: mailbox, inReplyTo: sesHeaderId(messageIds[0]!) });
    const body = sesNotification(receivedNotification(raw, { recipients: [mailbox] }), { topicArn: TOPIC_ARN, messageId: randomUUID() });
    // Redis fails on the second of the three AI jobs
    await expect(processWebhookHandler(webhook(body), counting(1, 2))).rejects.toThrow('Redis is unavailable');
    // the reply is committed (and deduped), only its first job is queued
    const stored = await one('SELECT id, metadata FROM email_messages WHERE workspace_id = $1', [ws]);
    expect(stored.metadata).not.toHaveProperty('ai_jobs_enqueued_at');
    expect(await one('SELECT status FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).toEqual({ status: 'replied' });
    expect(await aiWaiting()).toEqual(aiJobIds(ws, stored.id).filter((id) => id.startsWith('analyze-sentiment.')));

    // Bull's retry of the webhook job: nothing is applied again, all three jobs are enqueued (the
    // first one's deterministic id makes its second add a no-op)
    expect(await processWebhookHandler(webhook(body), counting(2))).toEqual({ applied: false, reason: 'duplicate' });
    expect(await aiWaiting()).toEqual(aiJobIds(ws, stored.id));
    expect(calls).toBe(5);
    const state = await workspaceState(ws);
    expect(state.messages).toHaveLength(1);
    expect(state.replied).toHaveLength(1);
    expect(state.leads[0]).toMatchObject({ engagement_score: 30 });

    // settled: later redeliveries enqueue nothing, even once Bull has forgotten the ids
    await h.redis.del(`${h.prefix}:ai:wait`);
    expect(await processWebhookHandler(webhook(body), counting(3))).toEqual({ applied: false, reason: 'duplicate' });
    expect((await receive(deps, raw, { recipients: [mailbox] })).result).toEqual({ applied: false, reason: 'duplicate' });
    expect(calls).toBe(5);
    expect(await aiWaiting()).toEqual([]);
  });
});
