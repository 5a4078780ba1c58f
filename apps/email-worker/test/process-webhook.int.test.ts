import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { processWebhookHandler } from '../src/handlers/process-webhook.js';
import { sendEmailHandler } from '../src/handlers/send-email.js';
import { SnsVerificationError } from '../src/providers/sns.js';
import { fakeContext } from './fixtures/fake-deps.js';
import { seedCampaign } from './fixtures/seed.js';
import { TOPIC_ARN, useEmailHarness } from './harness.js';
import { sample, sesNotification, signEnvelope } from './sns-signer.js';

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
  for (const key of ['bounce', 'complaint', 'delivery', 'open', 'click', 'deliveryDelay', 'subscription']) if (event[key]?.timestamp) event[key].timestamp = now;
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
  const result = (await sendEmailHandler(sendPayload(seed.workspaceId, seed.sendIds[0]!), fakeContext(deps))) as { messageId: string };
  return { seed, deps, send: { messageId: result.messageId, email: seed.leads[0]!.email, sendId: seed.sendIds[0]!, workspaceId: seed.workspaceId } };
}

describe('process-webhook with real Postgres', () => {
  it('a permanent bounce suppresses the address; the next send-email to it is skipped and recorded as suppressed', async () => {
    const { seed, deps, send } = await sentOne();
    const body = sesNotification(eventFor('ses-event-bounce.json', send, false), { topicArn: TOPIC_ARN, messageId: randomUUID() });
    const result = await processWebhookHandler(webhook(body), fakeContext(deps));
    expect(result).toMatchObject({ applied: true, event: 'Bounce' });
    expect((result as { changes: string[] }).changes).toEqual(expect.arrayContaining(['delivery_status:bounced', `suppressed:${send.email}`, 'enrolment:bounced']));

    const row = (await h.pool.query('SELECT delivery_status, bounce_type, bounced_at FROM campaign_emails WHERE id = $1', [send.sendId])).rows[0];
    expect(row).toMatchObject({ delivery_status: 'bounced', bounce_type: 'Permanent/General' });
    const suppression = (await h.pool.query('SELECT suppression_type, source FROM suppression_list WHERE workspace_id = $1 AND email = $2', [seed.workspaceId, send.email])).rows;
    expect(suppression).toEqual([{ suppression_type: 'bounce', source: 'webhook' }]);
    const events = (await h.pool.query("SELECT event_type, metadata->>'hard' AS hard FROM email_events WHERE campaign_email_id = $1 ORDER BY created_at", [send.sendId])).rows;
    expect(events.map((e) => e.event_type)).toEqual(['sent', 'bounced']);

    // the same address in another campaign of the workspace
    const campaign2 = randomUUID();
    await h.pool.query(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, 'Second', 'active')`, [campaign2, seed.workspaceId]);
    await h.pool.query(`INSERT INTO campaign_sequences (workspace_id, campaign_id, step_number, subject, body) VALUES ($1, $2, 1, 'Hi', 'Hello')`, [seed.workspaceId, campaign2]);
    await h.pool.query(`INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status) VALUES ($1, $2, $3, 'pending')`, [seed.workspaceId, campaign2, seed.leads[0]!.leadId]);
    const next = randomUUID();
    await h.pool.query(
      `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, scheduled_at) VALUES ($1, $2, $3, $4, 1, $5, 'scheduled', now())`,
      [next, seed.workspaceId, campaign2, seed.leads[0]!.leadId, seed.mailboxId],
    );
    expect(await sendEmailHandler(sendPayload(seed.workspaceId, next), fakeContext(deps))).toEqual({ status: 'skipped', reason: 'suppressed' });
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
      JSON.stringify(signEnvelope(unsigned, { certUrl: 'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem' })),
    ];
    for (const body of bodies) {
      await expect(processWebhookHandler(webhook(body), fakeContext(deps))).rejects.toBeInstanceOf(SnsVerificationError);
    }
    expect(await counts(seed.workspaceId)).toEqual(before);
  });

  it('an SNS redelivery (same MessageId) is applied once; delivery is monotonic under a late event', async () => {
    const { seed, deps, send } = await sentOne();
    const snsId = randomUUID();
    const complaint = sesNotification(eventFor('ses-event-complaint.json', send), { topicArn: TOPIC_ARN, messageId: snsId, version: '2' });
    expect(await processWebhookHandler(webhook(complaint), fakeContext(deps))).toMatchObject({ applied: true });
    expect(await processWebhookHandler(webhook(complaint), fakeContext(deps))).toMatchObject({ applied: false, reason: 'duplicate' });
    const delivery = sesNotification(eventFor('ses-event-delivery.json', send), { topicArn: TOPIC_ARN, messageId: randomUUID() });
    await processWebhookHandler(webhook(delivery), fakeContext(deps));
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
    const result = await processWebhookHandler(webhook(sesNotification(eventFor('ses-event-send.json', send), { topicArn: TOPIC_ARN, messageId: randomUUID() })), fakeContext(deps));
    expect(result).toMatchObject({ applied: true, changes: ['status:sent'] });
    const row = (await h.pool.query('SELECT status, message_id FROM campaign_emails WHERE id = $1', [id])).rows[0];
    expect(row).toEqual({ status: 'sent', message_id: send.messageId });
    const enrolment = (await h.pool.query('SELECT status, current_step FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId])).rows[0];
    expect(enrolment).toEqual({ status: 'in_progress', current_step: 1 });
  });

  it('open and click update the ledger counters and write normalised events', async () => {
    const { deps, send } = await sentOne();
    for (const file of ['ses-event-open.json', 'ses-event-click.json', 'ses-event-open.json']) {
      await processWebhookHandler(webhook(sesNotification(eventFor(file, send), { topicArn: TOPIC_ARN, messageId: randomUUID() })), fakeContext(deps));
    }
    const row = (await h.pool.query('SELECT open_count, click_count, opened_at IS NOT NULL AS opened FROM campaign_emails WHERE id = $1', [send.sendId])).rows[0];
    expect(row).toEqual({ open_count: 2, click_count: 1, opened: true });
    const types = (await h.pool.query('SELECT event_type FROM email_events WHERE campaign_email_id = $1 ORDER BY event_type', [send.sendId])).rows.map((r) => r.event_type);
    expect(types).toEqual(['clicked', 'opened', 'opened', 'sent']);
  });
});
