import {
  addLeadEngagement,
  addMessageToThread,
  addSuppression,
  applyDeliveryStatus,
  cancelLeadCampaignEmails,
  endEnrolment,
  findCampaignSettings,
  findEnrolmentStatus,
  findInboundInboxes,
  findLatestLeadThread,
  findLatestSendRef,
  findLeadIdByEmail,
  findPendingReplyAnalysis,
  findSendByMessageId,
  findSendRef,
  findSendRefsByMessageIds,
  findThreadedMessages,
  getCampaign,
  getCampaignEmail,
  getCampaignStep,
  getEnrolment,
  getMailbox,
  hasEmailMessage,
  insertEmailEvent,
  insertEmailThread,
  insertInboundEmailMessage,
  lockInboundMail,
  markCampaignEmailReplied,
  markCampaignEmailSent,
  markEmailMessageAnalysed,
  markEnrolmentReplied,
  markLeadContacted,
  markLeadReplied,
  type Pool,
  type PoolClient,
  recordEngagement,
  recordEnrolmentSend,
  recordWebhookEvent,
  type SendRef,
  sendReputation,
  setCampaignStatus,
  setMailboxStatus,
  withTransaction,
  type JsonObject,
  type Queryable,
} from '@coldcopy/db';
import { classifyInbound, emailType, type InboundKind, type InboundMail, sesMessageIdOf } from '../domain/inbound-mail.js';
import { type InboundRoute, type ReplyMatch, resolveInboundRoutes, type WorkspaceEvidence } from '../domain/inbound-routing.js';
import { nextSendTime } from '../domain/next-send.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { ReplyToAnalyse } from './reply-analysis.js';
import type { AppliedInbound, WebhookStore, WebhookTarget } from './webhook-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (v: string) => UUID.test(v);

export function createPgWebhookStore(pool: Pool): WebhookStore {
  return {
    async findTarget(event) {
      const sendId = event.tags.send_id;
      const ws = event.tags.workspace_id;
      if (sendId && ws && isUuid(sendId) && isUuid(ws)) {
        // scoped lookup: a send_id of another workspace is refused (TenancyError, permanent)
        const row = await getCampaignEmail(pool, ws, sendId);
        return { workspaceId: ws, campaignEmailId: row.id, campaignId: row.campaign_id, mailboxId: row.mailbox_id };
      }
      const found = await findSendByMessageId(pool, event.messageId);
      if (!found) return null;
      const row = await getCampaignEmail(pool, found.workspace_id, found.id);
      return { workspaceId: found.workspace_id, campaignEmailId: row.id, campaignId: row.campaign_id, mailboxId: row.mailbox_id };
    },

    applyEvent(target, snsMessageId, event) {
      return withTransaction(pool, async (tx) => {
        if ((await recordWebhookEvent(tx, target.workspaceId, 'ses', snsMessageId)) === 'duplicate') return { duplicate: true, changes: [] };
        return { duplicate: false, changes: await apply(tx, target, snsMessageId, event) };
      });
    },

    reputation: (ws, of, since) => sendReputation(pool, ws, of, since),

    async pauseMailbox(ws, mailboxId, reason) {
      const mailbox = await getMailbox(pool, ws, mailboxId);
      if (mailbox.status === 'paused' || mailbox.status === 'disabled') return false;
      await setMailboxStatus(pool, ws, mailboxId, 'paused', reason);
      return true;
    },
    async pauseCampaign(ws, campaignId, reason) {
      const campaign = await getCampaign(pool, ws, campaignId);
      if (campaign.status !== 'active') return false;
      await setCampaignStatus(pool, ws, campaignId, 'paused', reason);
      return true;
    },

    async routeInbound(mail) {
      const inboxes = await findInboundInboxes(pool, mail.recipients);
      const evidence = new Map<string, WorkspaceEvidence>();
      for (const ws of new Set(inboxes.map((i) => i.workspaceId))) {
        const own = inboxes.filter((i) => i.workspaceId === ws);
        // a reply-to address is the workspace's, not one mailbox's: any mailbox's send may be answered
        const mailboxIds = own.some((i) => i.mailboxId === null) ? null : own.map((i) => i.mailboxId!);
        evidence.set(ws, await workspaceEvidence(pool, ws, mail, mailboxIds));
      }
      return resolveInboundRoutes(mail.recipients, inboxes, evidence);
    },

    applyInbound(route, snsMessageId, mail) {
      return withTransaction(pool, (tx) => applyInbound(tx, route, snsMessageId, mail));
    },

    markReplyAnalysed: (ws, emailMessageId) => markEmailMessageAnalysed(pool, ws, emailMessageId),
  };
}

/**
 * Engagement on leads.engagement_score (domain.md: +10 open, +20 click, +30 reply). Every event
 * counts, repeated opens included (a second open is interest too, and mv_lead_engagement counts
 * every `opened` event the same way); the score is capped at 100 like that view, so a client that
 * fetches every image (Apple Mail Privacy Protection) cannot push one lead far past the others.
 * One SNS message applies once (webhook_dedupe), one reply once (its Message-ID). Auto-replies,
 * delivery reports and quarantined mail score nothing.
 */
const ENGAGEMENT = { open: 10, click: 20, reply: 30 } as const;
const ENGAGEMENT_CAP = 100;

const addEngagement = (db: Queryable, ws: string, leadId: string, kind: keyof typeof ENGAGEMENT, at: Date): Promise<void> =>
  addLeadEngagement(db, ws, leadId, ENGAGEMENT[kind], ENGAGEMENT_CAP, at);

async function apply(tx: PoolClient, target: WebhookTarget, snsMessageId: string, event: SesEvent): Promise<string[]> {
  const ws = target.workspaceId;
  const id = target.campaignEmailId;
  const send = await getCampaignEmail(tx, ws, id);
  const changes: string[] = [];
  const common = { campaignEmailId: id, provider: 'ses', providerMessageId: event.messageId, providerEventId: snsMessageId, occurredAt: event.occurredAt };
  const event_ = (eventType: Parameters<typeof insertEmailEvent>[2]['eventType'], metadata: JsonObject = {}) =>
    insertEmailEvent(tx, ws, { ...common, eventType, metadata });
  const enrolment = () => getEnrolment(tx, ws, send.campaign_id, send.lead_id);
  const end = async (outcome: 'bounced' | 'unsubscribed') => {
    const e = await enrolment();
    if (e.status === 'pending' || e.status === 'in_progress') {
      await endEnrolment(tx, ws, e.id, outcome, event.occurredAt);
      changes.push(`enrolment:${outcome}`);
    }
  };
  const suppress = async (emails: readonly string[], type: 'bounce' | 'complaint' | 'unsubscribe', reason: string) => {
    for (const email of new Set(emails)) {
      await addSuppression(tx, ws, { email, type, source: 'webhook', reason, campaignId: send.campaign_id, metadata: { sns_message_id: snsMessageId } });
      changes.push(`suppressed:${email}`);
    }
  };

  switch (event.type) {
    case 'Send': {
      // reconciles an unknown outcome (timeout, 5xx, a worker killed mid-send) by the send_id tag,
      // fenced by the claim tag (messages of older releases carry none): the event settles the claim
      // that sent it and never a later claim of the row, whose own request may be on its way
      const claim = event.tags.claim === undefined ? send.attempt : Number(event.tags.claim);
      if (claim !== send.attempt) {
        if (send.message_id !== event.messageId) changes.push(`stale-claim:${claim}/${send.attempt}`);
        break;
      }
      // retryable: the campaign tick found it unsent (no Send event while later ones came), and the
      // event came after all, before another claim: it was sent, and is not sent again
      if (send.status === 'unknown' || send.status === 'sending' || send.status === 'retryable') {
        await markCampaignEmailSent(tx, ws, id, { messageId: event.messageId, sentAt: event.occurredAt, alsoFromRetryable: true });
        await event_('sent', { reconciled: true });
        const campaign = await getCampaign(tx, ws, send.campaign_id);
        const next = await getCampaignStep(tx, ws, send.campaign_id, send.step_number + 1);
        await recordEnrolmentSend(tx, ws, (await enrolment()).id, {
          stepNumber: send.step_number,
          sentAt: event.occurredAt,
          nextEmailAt: nextSendTime(campaign, next, event.occurredAt),
        });
        await markLeadContacted(tx, ws, send.lead_id, event.occurredAt);
        changes.push('status:sent');
      }
      break;
    }
    case 'Delivery': {
      if ((await applyDeliveryStatus(tx, ws, id, 'delivered', event.occurredAt)).applied) changes.push('delivery_status:delivered');
      await event_('delivered', { smtp_response: event.delivery?.smtpResponse ?? null });
      break;
    }
    case 'Bounce': {
      const b = event.bounce!;
      const hard = b.type === 'Permanent';
      await event_('bounced', {
        bounce_type: b.type,
        bounce_sub_type: b.subType,
        hard,
        diagnostics: b.recipients.map((r) => ({ email: r.email, status: r.status ?? null, diagnostic: r.diagnosticCode ?? null })),
      });
      if (hard) {
        if ((await applyDeliveryStatus(tx, ws, id, 'bounced', event.occurredAt, `${b.type}/${b.subType}`)).applied) changes.push('delivery_status:bounced');
        await suppress(
          b.recipients.map((r) => r.email),
          'bounce',
          `hard bounce ${b.subType}`,
        );
        await end('bounced');
      }
      break;
    }
    case 'Complaint': {
      const c = event.complaint!;
      if ((await applyDeliveryStatus(tx, ws, id, 'complained', event.occurredAt)).applied) changes.push('delivery_status:complained');
      await event_('complained', { feedback_type: c.feedbackType ?? null, sub_type: c.subType ?? null });
      if (c.feedbackType !== 'not-spam') {
        await suppress(c.recipients, 'complaint', `complaint ${c.feedbackType ?? ''}`.trim());
        await end('unsubscribed');
      }
      break;
    }
    case 'Open':
      await recordEngagement(tx, ws, id, 'open', event.occurredAt);
      await event_('opened', { ip: event.open?.ipAddress ?? null, user_agent: event.open?.userAgent ?? null });
      await addEngagement(tx, ws, send.lead_id, 'open', event.occurredAt);
      changes.push('opened', `engagement+${ENGAGEMENT.open}`);
      break;
    case 'Click':
      await recordEngagement(tx, ws, id, 'click', event.occurredAt);
      await event_('clicked', { url: event.click?.link ?? null, ip: event.click?.ipAddress ?? null, user_agent: event.click?.userAgent ?? null });
      await addEngagement(tx, ws, send.lead_id, 'click', event.occurredAt);
      changes.push('clicked', `engagement+${ENGAGEMENT.click}`);
      break;
    case 'Reject':
      // SES refused the message after accepting the call (virus): a bounce in our vocabulary, no suppression
      await event_('bounced', { kind: 'rejected', reason: event.reject?.reason ?? null });
      changes.push('rejected');
      break;
    case 'Subscription':
      // SES list management unsubscribe (we keep our own list, but honour it anyway)
      await suppress(event.destination, 'unsubscribe', `SES subscription ${event.subscription?.source ?? ''}`.trim());
      await event_('unsubscribed', { source: event.subscription?.source ?? null, contact_list: event.subscription?.contactList ?? null });
      await end('unsubscribed');
      break;
    case 'Rendering Failure':
    case 'DeliveryDelay':
      // no ledger change: we send raw MIME (no templates), and a delay is not an outcome yet;
      // the handler logs and alerts on them
      break;
  }
  return changes;
}

/* ---------------------------------------------------------------------------------------------
 * Inbound mail. Every lookup below is scoped by the workspace a recipient address belongs to;
 * the only one without is the address itself (findInboundInboxes).
 */

const replyMatch = (row: SendRef, via: ReplyMatch['via']): ReplyMatch => ({
  campaignEmailId: row.id,
  campaignId: row.campaign_id,
  leadId: row.lead_id,
  mailboxId: row.mailbox_id,
  via,
});

/** What one workspace knows about an inbound message: the send or thread it references, the sender's lead and latest send. */
async function workspaceEvidence(db: Queryable, ws: string, mail: InboundMail, mailboxIds: readonly string[] | null): Promise<WorkspaceEvidence> {
  const threaded = await threadedBy(db, ws, mail.threadRefs);
  const leadId = mail.from ? await findLeadIdByEmail(db, ws, mail.from) : null;
  const sent = leadId ? await findLatestSendRef(db, ws, leadId, { mailboxIds }) : null;
  return { threaded, bySender: sent ? replyMatch(sent, 'sender') : null, leadId };
}

/**
 * The strongest reference of the message inside the workspace: In-Reply-To first, then References
 * from the newest. A reference is one of our sends (its SES Message-ID) or a stored inbox message.
 */
async function threadedBy(db: Queryable, ws: string, refs: readonly string[]): Promise<WorkspaceEvidence['threaded']> {
  if (refs.length === 0) return null;
  const sesIds = refs.map(sesMessageIdOf);
  const wanted = sesIds.filter((id): id is string => id !== null);
  const sends = wanted.length === 0 ? [] : await findSendRefsByMessageIds(db, ws, wanted);
  const messages = await findThreadedMessages(db, ws, refs);
  for (const [i, ref] of refs.entries()) {
    const send = sesIds[i] ? sends.find((s) => s.message_id === sesIds[i]) : undefined;
    if (send) return { threadId: null, reply: replyMatch(send, 'message-id'), leadId: send.lead_id };
    const message = messages.find((m) => m.message_id === ref);
    if (!message) continue;
    let reply: ReplyMatch | null = null;
    if (message.campaign_email_id && isUuid(message.campaign_email_id)) {
      const row = await findSendRef(db, ws, message.campaign_email_id);
      if (row) reply = replyMatch(row, 'thread');
    } else if (message.lead_id && message.campaign_id) {
      const row = await findLatestSendRef(db, ws, message.lead_id, { campaignId: message.campaign_id });
      if (row) reply = replyMatch(row, 'thread');
    }
    return { threadId: message.thread_id, reply, leadId: message.lead_id ?? reply?.leadId ?? null };
  }
  return null;
}

async function applyInbound(tx: PoolClient, route: InboundRoute, snsMessageId: string, mail: InboundMail): Promise<AppliedInbound> {
  const ws = route.workspaceId;
  const kind = classifyInbound(mail, route.reply !== null);
  // Nothing is written for a duplicate, but a stored reply whose AI jobs were never confirmed is
  // handed back: the run that stored it may have crashed (or failed to enqueue) after the commit.
  const duplicate = async (): Promise<AppliedInbound> => ({
    duplicate: true,
    workspaceId: ws,
    kind,
    emailMessageId: null,
    threadId: null,
    campaignEmailId: route.reply?.campaignEmailId ?? null,
    changes: [],
    replyToAnalyse: await pendingReplyAnalysis(tx, ws, mail.messageId),
  });
  // the SNS MessageId, per workspace: one message may reach mailboxes of two workspaces
  if ((await recordWebhookEvent(tx, ws, 'ses-inbound', `${snsMessageId}/${ws}`)) === 'duplicate') return duplicate();
  // one copy per (workspace, Message-ID): the same mail can arrive twice (two SMTP transactions,
  // a resend by the sender's server). The lock also keeps two replies of one lead from each
  // opening a thread.
  await lockInboundMail(tx, ws, `inbound:${ws}:${route.leadId ?? mail.messageId}`);
  if (await hasEmailMessage(tx, ws, mail.messageId)) return duplicate();

  const threadId = await threadFor(tx, route, mail, kind);
  const metadata: JsonObject = {
    email_type: emailType(mail, route.reply !== null),
    source: 'ses',
    ses_message_id: mail.sesMessageId,
    sns_message_id: snsMessageId,
    verdicts: { ...mail.verdicts },
    recipients: [...route.addresses],
    ...(route.mailboxId ? { mailbox_id: route.mailboxId } : {}),
    ...(route.reply ? { campaign_email_id: route.reply.campaignEmailId, matched_by: route.reply.via } : {}),
    ...(mail.quarantine ? { quarantined: mail.quarantine } : {}),
    ...(mail.autoReply ? { auto_reply_reason: mail.autoReply } : {}),
    // the From display name (from_email holds only the address): the AI jobs' senderName
    ...(mail.fromName ? { from_name: mail.fromName } : {}),
    ...(mail.attachments.length ? { attachments: mail.attachments.map((a) => ({ ...a })) } : {}),
    ...(mail.hasContent ? {} : { body: 'not in notification' }),
  };
  const emailMessageId = await insertInboundEmailMessage(tx, ws, {
    threadId,
    messageId: mail.messageId,
    inReplyTo: mail.inReplyTo,
    fromEmail: mail.from ?? '',
    toEmails: mail.to,
    subject: mail.subject,
    bodyText: mail.text,
    bodyHtml: mail.html,
    headers: { ...mail.headers },
    metadata,
    sentAt: mail.sentAt,
    receivedAt: mail.receivedAt,
  });
  if (!emailMessageId) return duplicate();
  await addMessageToThread(tx, ws, threadId, mail.receivedAt);
  const changes = ['stored'];
  if (route.reply && (kind === 'reply' || kind === 'auto_reply')) {
    changes.push(...(await applyReply(tx, ws, route.reply, kind, { snsMessageId, mail, emailMessageId, threadId })));
  }
  // read back from the row just written, exactly as a duplicate's retry would read it
  const replyToAnalyse = kind === 'reply' ? await pendingReplyAnalysis(tx, ws, mail.messageId) : null;
  return { duplicate: false, workspaceId: ws, kind, emailMessageId, threadId, campaignEmailId: route.reply?.campaignEmailId ?? null, changes, replyToAnalyse };
}

/**
 * The stored copy of a Message-ID in the workspace when it is a genuine reply whose AI jobs are
 * not confirmed yet (markReplyAnalysed): email_type `reply` (a person's answer to one of our
 * sends; auto-replies, delivery reports and unanswered mail have other types), not quarantined,
 * no `ai_jobs_enqueued_at`. The lead is the one of the send it answers, like applyReply's.
 */
async function pendingReplyAnalysis(db: Queryable, ws: string, messageId: string): Promise<ReplyToAnalyse | null> {
  const row = await findPendingReplyAnalysis(db, ws, messageId);
  if (!row) return null;
  return {
    workspaceId: ws,
    emailMessageId: row.id,
    threadId: row.thread_id,
    leadId: row.lead_id,
    senderEmail: row.from_email,
    senderName: row.from_name,
    text: row.body_text,
    receivedAt: row.received_at ?? row.created_at,
  };
}

/**
 * The thread the message joins: the one it references, else the lead's latest thread of that
 * campaign, else a new one. Quarantined mail always gets a thread of its own with status `spam`,
 * so it never sits inside a lead's conversation.
 */
async function threadFor(tx: PoolClient, route: InboundRoute, mail: InboundMail, kind: InboundKind): Promise<string> {
  const ws = route.workspaceId;
  const campaignId = route.reply?.campaignId ?? null;
  if (kind !== 'quarantined') {
    if (route.threadId) return route.threadId;
    if (route.leadId) {
      const latest = await findLatestLeadThread(tx, ws, route.leadId, campaignId);
      if (latest) return latest;
    }
  }
  return insertEmailThread(tx, ws, {
    leadId: route.leadId,
    campaignId,
    mailboxId: route.mailboxId,
    subject: mail.subject,
    status: kind === 'quarantined' ? 'spam' : 'open',
    lastMessageAt: mail.receivedAt,
  });
}

/**
 * A reply to one of our sends. Both kinds write the `replied` event (metadata.auto_reply tells
 * them apart); only a person's reply sets campaign_emails.replied_at (the first one), moves the
 * lead to `replied` with +30 engagement and, when the campaign's settings.stop_on_reply is not
 * false (default true), ends the enrolment as `replied` and cancels its scheduled follow-ups. An
 * out-of-office is not an answer: the sequence goes on. A follow-up already claimed (`sending`)
 * is left alone: SES may have it, and send-email re-checks the enrolment before every claim.
 */
async function applyReply(
  tx: PoolClient,
  ws: string,
  reply: ReplyMatch,
  kind: 'reply' | 'auto_reply',
  context: { snsMessageId: string; mail: InboundMail; emailMessageId: string; threadId: string },
): Promise<string[]> {
  const { mail } = context;
  const at = mail.receivedAt;
  const send = await getCampaignEmail(tx, ws, reply.campaignEmailId);
  const changes: string[] = [];
  await insertEmailEvent(tx, ws, {
    eventType: 'replied',
    campaignEmailId: send.id,
    provider: 'ses',
    providerMessageId: mail.sesMessageId,
    providerEventId: context.snsMessageId,
    occurredAt: at,
    metadata: {
      auto_reply: kind === 'auto_reply',
      ...(mail.autoReply ? { auto_reply_reason: mail.autoReply } : {}),
      message_id: mail.messageId,
      email_message_id: context.emailMessageId,
      thread_id: context.threadId,
      matched_by: reply.via,
    },
  });
  changes.push('event:replied');
  if (kind === 'auto_reply') return changes;

  if (await markCampaignEmailReplied(tx, ws, send.id, at)) changes.push('replied_at');
  if ((await markLeadReplied(tx, ws, send.lead_id)) === 'replied') changes.push('lead:replied');
  await addEngagement(tx, ws, send.lead_id, 'reply', at);
  changes.push(`engagement+${ENGAGEMENT.reply}`);

  // deleted campaigns included: the reply is still one
  const stopOnReply = (await findCampaignSettings(tx, ws, send.campaign_id))?.stop_on_reply !== false;
  const enrolment = await findEnrolmentStatus(tx, ws, send.campaign_id, send.lead_id);
  if (!stopOnReply) {
    if (enrolment) await markEnrolmentReplied(tx, ws, enrolment.id, at);
    return changes;
  }
  if (enrolment && ['pending', 'in_progress', 'completed'].includes(enrolment.status)) {
    await endEnrolment(tx, ws, enrolment.id, 'replied', at);
    changes.push('enrolment:replied');
  }
  const cancelled = await cancelLeadCampaignEmails(tx, ws, send.campaign_id, send.lead_id, 'replied');
  if (cancelled) changes.push(`cancelled:${cancelled}`);
  return changes;
}
