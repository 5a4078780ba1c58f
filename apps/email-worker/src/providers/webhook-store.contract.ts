import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InboundMail } from '../domain/inbound-mail.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { WebhookStore } from './webhook-store.js';

/*
 * Contract of the WebhookStore port, run against the in-memory fake (unit project,
 * webhook-store.contract.test.ts) and the Postgres adapter (integration project,
 * test/webhook-store.contract.int.test.ts). A world adds sends that went out: each in a workspace
 * of its own, from one mailbox to one lead whose enrolment is in progress. Not in the contract:
 * `reputation` (the fake's is set by the test, to drive the auto-pause thresholds) and inbound
 * threading through stored inbox messages (the fake routes by sends only).
 */

/** A send that went out, from one mailbox to one lead (the fake's registerSend takes these). */
export interface SentSend {
  readonly workspaceId: string;
  readonly campaignEmailId: string;
  readonly campaignId: string;
  readonly mailboxId: string;
  readonly mailboxAddress: string;
  readonly leadId: string;
  readonly leadEmail: string;
  /** the SES message id it was sent with */
  readonly sesMessageId: string;
}

export interface WebhookWorld {
  readonly store: WebhookStore;
  addSend(): Promise<SentSend>;
}

const errorName = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err as Error).name,
  );

/** An SES event about a send, with our tags unless `tags: {}`. */
function sesEvent(send: SentSend, type: SesEvent['type'], extra: Partial<SesEvent> = {}): SesEvent {
  return {
    type,
    messageId: send.sesMessageId,
    tags: { send_id: send.campaignEmailId, workspace_id: send.workspaceId },
    occurredAt: new Date(),
    destination: [send.leadEmail],
    ...extra,
  };
}

/** An inbound message from the send's lead to its mailbox; a person's reply unless told. */
function inbound(send: SentSend, extra: Partial<InboundMail> = {}): InboundMail {
  return {
    sesMessageId: randomUUID(),
    receivedAt: new Date(),
    recipients: [send.mailboxAddress],
    verdicts: { spam: 'PASS', virus: 'PASS' },
    quarantine: null,
    messageId: `<${randomUUID()}@mail.lead.example>`,
    inReplyTo: null,
    threadRefs: [],
    from: send.leadEmail,
    fromName: 'Grace Hopper',
    to: [send.mailboxAddress],
    subject: 'Re: hello',
    sentAt: null,
    text: 'Sounds good, call me.',
    html: null,
    headers: {},
    autoReply: null,
    deliveryReport: false,
    attachments: [],
    hasContent: true,
    ...extra,
  };
}

export function runWebhookStoreContract(name: string, makeWorld: () => Promise<WebhookWorld>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    it('findTarget: by our tags, else by the SES message id; unknown → null; a send_id of another workspace is refused', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const other = await w.addSend();
      const target = { workspaceId: send.workspaceId, campaignEmailId: send.campaignEmailId, campaignId: send.campaignId, mailboxId: send.mailboxId };
      expect(await w.store.findTarget(sesEvent(send, 'Delivery'))).toEqual(target);
      expect(await w.store.findTarget(sesEvent(send, 'Delivery', { tags: {} }))).toEqual(target);
      expect(await w.store.findTarget(sesEvent(send, 'Delivery', { tags: {}, messageId: `unknown-${randomUUID()}` }))).toBeNull();
      const forged = sesEvent(send, 'Delivery', { tags: { send_id: send.campaignEmailId, workspace_id: other.workspaceId } });
      expect(await errorName(w.store.findTarget(forged))).toBe('TenancyError');
    });

    it('applyEvent applies an SNS message once; delivery status only moves up (complained > bounced > delivered)', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const target = (await w.store.findTarget(sesEvent(send, 'Delivery')))!;
      const delivered = `sns-${randomUUID()}`;
      expect(await w.store.applyEvent(target, delivered, sesEvent(send, 'Delivery'))).toEqual({ duplicate: false, changes: ['delivery_status:delivered'] });
      expect(await w.store.applyEvent(target, delivered, sesEvent(send, 'Delivery'))).toEqual({ duplicate: true, changes: [] });
      const bounce = sesEvent(send, 'Bounce', { bounce: { type: 'Permanent', subType: 'General', recipients: [{ email: send.leadEmail }] } });
      expect(await w.store.applyEvent(target, `sns-${randomUUID()}`, bounce)).toEqual({
        duplicate: false,
        changes: ['delivery_status:bounced', `suppressed:${send.leadEmail}`, 'enrolment:bounced'],
      });
      // a late delivery changes nothing; a second hard bounce suppresses again but the enrolment has ended
      expect(await w.store.applyEvent(target, `sns-${randomUUID()}`, sesEvent(send, 'Delivery'))).toEqual({ duplicate: false, changes: [] });
      expect(await w.store.applyEvent(target, `sns-${randomUUID()}`, bounce)).toEqual({ duplicate: false, changes: [`suppressed:${send.leadEmail}`] });
    });

    it('applyEvent: opens and clicks score engagement; a soft bounce and a delivery delay change nothing', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const target = (await w.store.findTarget(sesEvent(send, 'Open')))!;
      expect((await w.store.applyEvent(target, `sns-${randomUUID()}`, sesEvent(send, 'Open', { open: { ipAddress: '192.0.2.1' } }))).changes).toEqual([
        'opened',
        'engagement+10',
      ]);
      expect((await w.store.applyEvent(target, `sns-${randomUUID()}`, sesEvent(send, 'Click', { click: { link: 'https://acme.example/x' } }))).changes).toEqual(
        ['clicked', 'engagement+20'],
      );
      const soft = sesEvent(send, 'Bounce', { bounce: { type: 'Transient', subType: 'MailboxFull', recipients: [{ email: send.leadEmail }] } });
      expect((await w.store.applyEvent(target, `sns-${randomUUID()}`, soft)).changes).toEqual([]);
      expect((await w.store.applyEvent(target, `sns-${randomUUID()}`, sesEvent(send, 'DeliveryDelay'))).changes).toEqual([]);
    });

    it('pauseMailbox and pauseCampaign say whether they paused', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      expect(await w.store.pauseMailbox(send.workspaceId, send.mailboxId, 'bounce rate')).toBe(true);
      expect(await w.store.pauseMailbox(send.workspaceId, send.mailboxId, 'bounce rate')).toBe(false);
      expect(await w.store.pauseCampaign(send.workspaceId, send.campaignId, 'complaints')).toBe(true);
      expect(await w.store.pauseCampaign(send.workspaceId, send.campaignId, 'complaints')).toBe(false);
    });

    it('routeInbound: our mailbox address goes to its workspace, matched to the send by In-Reply-To or by the sender; others are unknown', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const reply = { campaignEmailId: send.campaignEmailId, campaignId: send.campaignId, leadId: send.leadId, mailboxId: send.mailboxId };
      const nobody = `nobody-${randomUUID().slice(0, 8)}@nowhere.example`;
      const bySender = await w.store.routeInbound(inbound(send, { recipients: [send.mailboxAddress, nobody] }));
      expect(bySender).toEqual({
        routes: [
          {
            workspaceId: send.workspaceId,
            addresses: [send.mailboxAddress],
            mailboxId: send.mailboxId,
            threadId: null,
            reply: { ...reply, via: 'sender' },
            leadId: send.leadId,
          },
        ],
        unknown: [nobody],
        ambiguous: [],
      });
      const ref = `<${send.sesMessageId}@us-east-1.amazonses.com>`;
      const threaded = await w.store.routeInbound(inbound(send, { from: 'someone-else@else.example', inReplyTo: ref, threadRefs: [ref] }));
      expect(threaded.routes).toEqual([
        {
          workspaceId: send.workspaceId,
          addresses: [send.mailboxAddress],
          mailboxId: send.mailboxId,
          threadId: null,
          reply: { ...reply, via: 'message-id' },
          leadId: send.leadId,
        },
      ]);
      expect(await w.store.routeInbound(inbound(send, { recipients: [nobody] }))).toEqual({ routes: [], unknown: [nobody], ambiguous: [] });
    });

    it('applyInbound stores a reply once (per SNS message and per Message-ID) and hands it to the analysis until marked', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const mail = inbound(send);
      const [route] = (await w.store.routeInbound(mail)).routes;
      const sns = `sns-${randomUUID()}`;
      const stored = await w.store.applyInbound(route!, sns, mail);
      expect(stored).toMatchObject({ duplicate: false, workspaceId: send.workspaceId, kind: 'reply', campaignEmailId: send.campaignEmailId });
      expect(stored.changes).toEqual(expect.arrayContaining(['stored', 'event:replied']));
      expect(stored.emailMessageId).toMatch(/^[0-9a-f-]{36}$/);
      expect(stored.replyToAnalyse).toEqual({
        workspaceId: send.workspaceId,
        emailMessageId: stored.emailMessageId,
        threadId: stored.threadId,
        leadId: send.leadId,
        senderEmail: send.leadEmail,
        senderName: 'Grace Hopper',
        text: 'Sounds good, call me.',
        receivedAt: mail.receivedAt,
      });
      // the same SNS message again, and the same mail in another SNS message: nothing written, still to analyse
      for (const again of [sns, `sns-${randomUUID()}`]) {
        const dup = await w.store.applyInbound(route!, again, mail);
        expect(dup).toMatchObject({ duplicate: true, emailMessageId: null, threadId: null, changes: [], campaignEmailId: send.campaignEmailId });
        expect(dup.replyToAnalyse?.emailMessageId).toBe(stored.emailMessageId);
      }
      await w.store.markReplyAnalysed(send.workspaceId, stored.emailMessageId!);
      await w.store.markReplyAnalysed(send.workspaceId, stored.emailMessageId!);
      expect((await w.store.applyInbound(route!, sns, mail)).replyToAnalyse).toBeNull();
    });

    it('applyInbound: an auto-reply is stored but is not handed to the analysis', async () => {
      const w = await makeWorld();
      const send = await w.addSend();
      const mail = inbound(send, { autoReply: 'auto-submitted: auto-replied' });
      const [route] = (await w.store.routeInbound(mail)).routes;
      const stored = await w.store.applyInbound(route!, `sns-${randomUUID()}`, mail);
      expect(stored).toMatchObject({ duplicate: false, kind: 'auto_reply', replyToAnalyse: null });
      expect(stored.changes).toEqual(['stored', 'event:replied']);
    });
  });
}
