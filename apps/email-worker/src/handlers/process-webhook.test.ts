import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext, testConfig } from '../../test/fixtures/fake-deps.js';
import { sample, sesNotification, signEnvelope, testCertificateFetcher } from '@coldcopy/sns/testing';
import { composeReply, receivedNotification, sesHeaderId } from '../../test/inbound-notifications.js';
import type { InboundInbox, WorkspaceEvidence } from '../domain/inbound-routing.js';
import { createFakeWebhookStore } from '../providers/fake-webhook-store.js';
import { SnsVerificationError } from '@coldcopy/sns';
import { processWebhookHandler } from './process-webhook.js';

const TOPIC = testConfig.snsTopicArns[0]!;
const target = { workspaceId: randomUUID(), campaignEmailId: randomUUID(), campaignId: randomUUID(), mailboxId: randomUUID() };
const input = (body: string) => ({ provider: 'ses' as const, body, receivedAt: new Date().toISOString() });

function setup(options: { target?: typeof target | null } = {}) {
  return createFakeDeps({ webhookTarget: options.target === undefined ? target : options.target, certificates: testCertificateFetcher });
}

describe('process-webhook handler', () => {
  it('applies a verified SES bounce once per SNS MessageId', async () => {
    const f = setup();
    const body = sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC, messageId: 'sns-1' });
    const first = await processWebhookHandler(input(body), fakeContext(f.deps));
    expect(first).toMatchObject({ applied: true, event: 'Bounce', campaignEmailId: target.campaignEmailId });
    expect(f.webhooks.applied).toHaveLength(1);
    expect(await processWebhookHandler(input(body), fakeContext(f.deps))).toMatchObject({ applied: false, reason: 'duplicate' });
  });

  it('writes nothing for a tampered body, a foreign topic or a certificate on another host', async () => {
    const f = setup();
    const good = JSON.parse(sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC })) as Record<string, unknown>;
    const tampered = JSON.stringify({ ...good, Message: String(good.Message).replace('Permanent', 'Transient') });
    const foreign = sesNotification(sample('ses-event-bounce.json'), { topicArn: 'arn:aws:sns:us-east-1:999999999999:other' });
    const { Signature: _s, SigningCertURL: _c, ...unsigned } = good;
    const otherHost = JSON.stringify(
      signEnvelope(unsigned, { certUrl: 'https://attacker.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem' }),
    );
    for (const body of [tampered, foreign, otherHost]) {
      await expect(processWebhookHandler(input(body), fakeContext(f.deps))).rejects.toBeInstanceOf(SnsVerificationError);
    }
    expect(f.webhooks.applied).toEqual([]);
  });

  it('confirms a subscription by GETting its validated SubscribeURL', async () => {
    const f = setup();
    const body = JSON.stringify(signEnvelope({ ...sample('ses-sns-envelope-subscription-confirmation.json'), TopicArn: TOPIC }, { version: '2' }));
    expect(await processWebhookHandler(input(body), fakeContext(f.deps))).toEqual({ applied: false, reason: 'subscription-confirmed' });
    expect(f.confirmed).toHaveLength(1);
    expect(new URL(f.confirmed[0]!).hostname).toBe('sns.us-west-2.amazonaws.com');
  });

  it('refuses a SubscribeURL that is not an SNS host (SSRF)', async () => {
    const f = setup();
    const body = JSON.stringify(
      signEnvelope({ ...sample('ses-sns-envelope-subscription-confirmation.json'), TopicArn: TOPIC, SubscribeURL: 'http://169.254.169.254/latest/meta-data/' }),
    );
    await expect(processWebhookHandler(input(body), fakeContext(f.deps))).rejects.toBeInstanceOf(SnsVerificationError);
    expect(f.confirmed).toEqual([]);
  });

  it('retries an event whose send is not committed yet, then keeps it as an orphan', async () => {
    const f = setup({ target: null });
    const body = sesNotification(sample('ses-event-delivery.json'), { topicArn: TOPIC });
    await expect(processWebhookHandler(input(body), fakeContext(f.deps, 1))).rejects.toMatchObject({ name: 'RetryAfterError' });
    expect(await processWebhookHandler(input(body), fakeContext(f.deps, 3))).toEqual({ applied: false, reason: 'orphan' });
  });

  it('pauses mailbox and campaign (and pages) when the bounce rate passes 5 % over the minimum volume', async () => {
    const f = setup();
    f.webhooks.setReputation({ sent: 200, bounced: 11, complained: 0 });
    const result = await processWebhookHandler(input(sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC })), fakeContext(f.deps));
    expect(result).toMatchObject({ paused: [`mailbox:${target.mailboxId}`, `campaign:${target.campaignId}`] });
    expect(f.ops.alerts.map((a) => a.severity)).toEqual(['page', 'page']);
  });

  it('does not judge below the minimum volume, and judges complaints at 0.1 %', async () => {
    const f = setup();
    f.webhooks.setReputation({ sent: 50, bounced: 10, complained: 1 });
    expect(await processWebhookHandler(input(sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC })), fakeContext(f.deps))).toMatchObject({
      paused: [],
    });
    f.webhooks.setReputation({ sent: 1500, bounced: 0, complained: 2 });
    expect(
      await processWebhookHandler(
        input(sesNotification(sample('ses-event-complaint.json'), { topicArn: TOPIC, messageId: 'sns-complaint' })),
        fakeContext(f.deps),
      ),
    ).toMatchObject({ paused: [`mailbox:${target.mailboxId}`, `campaign:${target.campaignId}`] });
  });

  it('ignores notifications that are not SES events', async () => {
    const f = setup();
    const body = JSON.stringify(signEnvelope({ ...sample('ses-sns-envelope-notification-generic.json'), TopicArn: TOPIC }));
    expect(await processWebhookHandler(input(body), fakeContext(f.deps))).toEqual({ applied: false, reason: 'not-an-ses-event' });
  });
});

describe('process-webhook handler: inbound mail (SES email receiving)', () => {
  const A = randomUUID();
  const B = randomUUID();
  const reply = { campaignEmailId: randomUUID(), campaignId: randomUUID(), leadId: randomUUID(), mailboxId: randomUUID(), via: 'message-id' as const };
  const inboxes: InboundInbox[] = [
    { workspaceId: A, address: 'sales@a.example', mailboxId: reply.mailboxId },
    { workspaceId: A, address: 'replies@shared.example', mailboxId: null },
    { workspaceId: B, address: 'replies@shared.example', mailboxId: null },
  ];
  const none: WorkspaceEvidence = { threaded: null, bySender: null, leadId: null };

  function inboundSetup(
    evidence: Record<string, WorkspaceEvidence> = {
      [A]: { threaded: { threadId: null, reply, leadId: reply.leadId }, bySender: null, leadId: reply.leadId },
      [B]: none,
    },
  ) {
    const f = createFakeDeps({ certificates: testCertificateFetcher });
    const webhooks = createFakeWebhookStore({ inboxes, evidence });
    const deps = { ...f.deps, webhooks };
    const calls: string[] = [];
    /** a context recording into the setup's recorder; counts the analyses (their analyze-sentiment enqueue) */
    const ctx = (attempt = 1) => {
      const c = fakeContext(deps, { attempt, recorder: f.recorder });
      const enqueue = c.enqueue.bind(c);
      return Object.assign(c, {
        enqueue: ((job, data, options) => {
          if (job.name === 'analyze-sentiment') calls.push(c.jobId);
          return enqueue(job, data, options);
        }) as typeof enqueue,
      });
    };
    /** the AI jobs enqueued (Bull ids, payloads as the worker gets them) and the analyses attempted */
    const replyAnalysis = {
      get jobs() {
        return f.recorder.jobs.map((j) => ({ name: j.name, jobId: j.id, data: j.payload }));
      },
      calls,
      failNext: () => f.recorder.failNext(new Error('Redis is unavailable (fake)')),
    };
    return { deps, ctx, webhooks, replyAnalysis };
  }
  async function body(
    recipients: string[],
    options: { headers?: Record<string, string>; snsId?: string; messageId?: string; spam?: string; virus?: string; from?: string; text?: string } = {},
  ) {
    const raw = await composeReply({
      from: options.from ?? 'lead@x.example',
      to: recipients,
      inReplyTo: sesHeaderId('ses-1'),
      headers: options.headers,
      messageId: options.messageId,
      text: options.text,
    });
    return sesNotification(receivedNotification(raw, { recipients, spam: options.spam, virus: options.virus }), {
      topicArn: TOPIC,
      messageId: options.snsId ?? randomUUID(),
    });
  }

  it('stores a reply in the workspace owning the mailbox, once per SNS MessageId and once per Message-ID', async () => {
    const { ctx, webhooks } = inboundSetup();
    const first = await body(['sales@a.example'], { snsId: 'sns-in-1', messageId: '<m-1@x.example>' });
    expect(await processWebhookHandler(input(first), ctx())).toMatchObject({
      applied: true,
      event: 'Received',
      deliveries: [{ workspaceId: A, kind: 'reply', campaignEmailId: reply.campaignEmailId }],
    });
    expect(await processWebhookHandler(input(first), ctx())).toEqual({ applied: false, reason: 'duplicate' });
    const sameMessage = await body(['sales@a.example'], { snsId: 'sns-in-2', messageId: '<m-1@x.example>' });
    expect(await processWebhookHandler(input(sameMessage), ctx())).toEqual({ applied: false, reason: 'duplicate' });
    expect(webhooks.inbound).toHaveLength(1);
  });

  it('classifies an out-of-office as auto_reply and spam as quarantined', async () => {
    const { ctx } = inboundSetup();
    const ooo = await body(['sales@a.example'], { headers: { 'Auto-Submitted': 'auto-replied' } });
    expect(await processWebhookHandler(input(ooo), ctx())).toMatchObject({ deliveries: [{ kind: 'auto_reply' }] });
    const spam = await body(['sales@a.example'], { spam: 'FAIL' });
    expect(await processWebhookHandler(input(spam), ctx())).toMatchObject({ deliveries: [{ kind: 'quarantined' }] });
  });

  it('ignores mail for addresses that are not ours, and never picks a workspace for a shared address it cannot tell apart', async () => {
    const { ctx, webhooks } = inboundSetup({ [A]: none, [B]: none });
    expect(await processWebhookHandler(input(await body(['nobody@elsewhere.example'])), ctx())).toEqual({ applied: false, reason: 'no-mailbox' });
    expect(await processWebhookHandler(input(await body(['replies@shared.example'])), ctx())).toEqual({ applied: false, reason: 'ambiguous-recipient' });
    expect(webhooks.inbound).toEqual([]);
  });

  it('a shared address goes to the workspace whose send the reply references', async () => {
    const { ctx, webhooks } = inboundSetup();
    expect(await processWebhookHandler(input(await body(['replies@shared.example'])), ctx())).toMatchObject({ deliveries: [{ workspaceId: A }] });
    expect(webhooks.inbound.map((i) => i.route.workspaceId)).toEqual([A]);
  });

  describe('AI jobs of a reply (analyze-sentiment, generate-smart-reply, extract-meeting-intent)', () => {
    it('a genuine reply gets the three jobs once stored: payloads to their schemas, ids from the workspace and the stored message', async () => {
      const { ctx, webhooks, replyAnalysis } = inboundSetup();
      const notification = await body(['sales@a.example'], { from: 'Lead Person <lead@x.example>' });
      const result = (await processWebhookHandler({ ...input(notification), traceId: 'trace-1' }, ctx())) as Record<string, any>;
      const stored = webhooks.inbound[0]!;
      const { emailMessageId, threadId } = stored.result;
      expect(emailMessageId).toMatch(/^[0-9a-f-]{36}$/);
      const content = 'Sounds good, let us talk on Thursday.'; // the composed reply minus its quoted lines
      const common = { workspaceId: A, requestedBy: 'system', traceId: 'trace-1' };
      const sender = { senderEmail: 'lead@x.example', senderName: 'Lead Person' };
      expect(replyAnalysis.jobs).toEqual([
        {
          name: 'analyze-sentiment',
          jobId: `analyze-sentiment.${A}.${emailMessageId}`,
          data: {
            ...common,
            threadKey: `email:${threadId}`,
            leadId: reply.leadId,
            channel: 'email',
            messages: [{ id: emailMessageId, content, isFromLead: true, timestamp: stored.mail.receivedAt.toISOString() }],
          },
        },
        {
          name: 'generate-smart-reply',
          jobId: `generate-smart-reply.${A}.${emailMessageId}`,
          data: { ...common, messageId: emailMessageId, threadId, content, ...sender, leadId: reply.leadId, count: 3 },
        },
        {
          name: 'extract-meeting-intent',
          jobId: `extract-meeting-intent.${A}.${emailMessageId}`,
          data: { ...common, messageId: emailMessageId, messageType: 'email', content, ...sender, leadId: reply.leadId, threadId },
        },
      ]);
      expect(result.deliveries).toEqual([expect.objectContaining({ kind: 'reply', emailMessageId, aiJobs: replyAnalysis.jobs.map((j) => j.jobId) })]);
      // the reply's text goes to the AI jobs only, never into the job's result (kept by Bull)
      expect(JSON.stringify(result)).not.toContain('Thursday');
      expect([...webhooks.analysed]).toEqual([emailMessageId]);
    });

    it('an auto-reply, quarantined spam or virus, and mail answering none of our sends get none', async () => {
      const { ctx, webhooks, replyAnalysis } = inboundSetup();
      const ooo = await body(['sales@a.example'], { headers: { 'Auto-Submitted': 'auto-replied' } });
      expect(await processWebhookHandler(input(ooo), ctx())).toMatchObject({ deliveries: [{ kind: 'auto_reply', aiJobs: [] }] });
      for (const verdict of [{ spam: 'FAIL' }, { virus: 'FAIL' }]) {
        expect(await processWebhookHandler(input(await body(['sales@a.example'], verdict)), ctx())).toMatchObject({
          deliveries: [{ kind: 'quarantined', aiJobs: [] }],
        });
      }
      const unthreaded = inboundSetup({ [A]: none, [B]: none });
      expect(await processWebhookHandler(input(await body(['sales@a.example'])), unthreaded.ctx())).toMatchObject({
        deliveries: [{ kind: 'new', aiJobs: [] }],
      });
      expect(replyAnalysis.calls).toEqual([]);
      expect(unthreaded.replyAnalysis.calls).toEqual([]);
      expect(webhooks.inbound).toHaveLength(3);
    });

    it('a reply with nothing of its own (quoted text only) is stored but not analysed', async () => {
      const { ctx, webhooks, replyAnalysis } = inboundSetup();
      const quoteOnly = await body(['sales@a.example'], { text: '\n> Hi Lead,\n> A short note.\n' });
      expect(await processWebhookHandler(input(quoteOnly), ctx())).toMatchObject({ deliveries: [{ kind: 'reply', aiJobs: [] }] });
      expect(replyAnalysis.calls).toEqual([]);
      expect(webhooks.inbound).toHaveLength(1);
    });

    it('a redelivery of the notification, or of the Message-ID, applies nothing and enqueues nothing new', async () => {
      const { ctx, webhooks, replyAnalysis } = inboundSetup();
      const first = await body(['sales@a.example'], { snsId: 'sns-ai-1', messageId: '<ai-1@x.example>' });
      const applied = (await processWebhookHandler(input(first), ctx())) as Record<string, any>;
      const ids = replyAnalysis.jobs.map((j) => j.jobId);
      expect(ids).toHaveLength(3);
      expect(applied.deliveries[0].aiJobs).toEqual(ids);
      expect(await processWebhookHandler(input(first), ctx())).toEqual({ applied: false, reason: 'duplicate' });
      const sameMessage = await body(['sales@a.example'], { snsId: 'sns-ai-2', messageId: '<ai-1@x.example>' });
      expect(await processWebhookHandler(input(sameMessage), ctx())).toEqual({ applied: false, reason: 'duplicate' });
      expect(webhooks.inbound).toHaveLength(1);
      expect(replyAnalysis.calls).toHaveLength(1);
      expect(replyAnalysis.jobs.map((j) => j.jobId)).toEqual(ids);
    });

    it('an enqueue that fails after the commit is not lost: the retry, a duplicate by then, enqueues the same three jobs', async () => {
      const { ctx, webhooks, replyAnalysis } = inboundSetup();
      const notification = await body(['sales@a.example'], { snsId: 'sns-ai-3' });
      replyAnalysis.failNext();
      await expect(processWebhookHandler(input(notification), ctx())).rejects.toThrow('Redis is unavailable');
      expect(webhooks.inbound).toHaveLength(1); // stored and committed
      expect(replyAnalysis.jobs).toEqual([]);
      expect(webhooks.analysed.size).toBe(0);

      // Bull retries the webhook job: already applied, but the reply's jobs are still owed
      expect(await processWebhookHandler(input(notification), ctx(2))).toEqual({ applied: false, reason: 'duplicate' });
      const emailMessageId = webhooks.inbound[0]!.result.emailMessageId;
      expect(replyAnalysis.jobs.map((j) => j.jobId)).toEqual([
        `analyze-sentiment.${A}.${emailMessageId}`,
        `generate-smart-reply.${A}.${emailMessageId}`,
        `extract-meeting-intent.${A}.${emailMessageId}`,
      ]);
      expect([...webhooks.analysed]).toEqual([emailMessageId]);
      // settled: a further redelivery does not enqueue again
      expect(await processWebhookHandler(input(notification), ctx(3))).toEqual({ applied: false, reason: 'duplicate' });
      expect(replyAnalysis.calls).toHaveLength(2);
      expect(webhooks.inbound).toHaveLength(1);
    });
  });
});
