import { analyzeSentiment, extractMeetingIntent, generateSmartReply, RetryAfterError, type processWebhook } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { EmailDeps } from '../deps.js';
import { type InboundMail, parseInboundMail } from '../domain/inbound-mail.js';
import { NotAnSesEventError, parseSesNotification, type SesNotification } from '../domain/ses-events.js';
import { replyAnalysisJobs, type ReplyToAnalyse } from '../providers/reply-analysis.js';
import { snsUrl, verifySnsMessage } from '@coldcopy/sns';
import type { AppliedInbound, WebhookTarget } from '../providers/webhook-store.js';

/** One inbound message as stored in one workspace, and the ids of the AI jobs it got (none unless a genuine reply). */
export type InboundDelivery = Omit<AppliedInbound, 'replyToAnalyse'> & { readonly aiJobs: readonly string[] };

export type ProcessWebhookResult =
  | { applied: true; campaignEmailId: string; event: string; changes: readonly string[]; paused: readonly string[] }
  | { applied: true; event: 'Received'; deliveries: readonly InboundDelivery[] }
  | { applied: false; reason: string; campaignEmailId?: string };

/** Events for a send that is not in the ledger (yet) are retried this often, then kept as orphans. */
const ORPHAN_ATTEMPTS = 3;
const REPUTATION_WINDOW_MS = 30 * 24 * 3_600_000;

/**
 * One SNS delivery, as received: verify (signature, certificate host, TopicArn) before anything
 * is written; confirm subscriptions; apply SES events once per SNS MessageId; then check the
 * mailbox's and campaign's bounce and complaint rates. Inbound mail (SES email receiving,
 * `Received`) is stored in the workspace owning the recipient address and, when it answers one of
 * our sends, applied as a reply (processInbound).
 */
export const processWebhookHandler: Handler<typeof processWebhook, EmailDeps> = async (payload, ctx): Promise<ProcessWebhookResult> => {
  const { deps, log, signal } = ctx;
  const message = await verifySnsMessage(payload.body, {
    topicArns: deps.config.snsTopicArns,
    fetchCertificate: deps.certificates,
    signal,
    now: deps.now(),
  });

  if (message.Type === 'SubscriptionConfirmation') {
    await deps.confirmSubscription(snsUrl(message.SubscribeURL, 'subscribe'), signal);
    log.info('SNS subscription confirmed', { topicArn: message.TopicArn });
    return { applied: false, reason: 'subscription-confirmed' };
  }
  if (message.Type === 'UnsubscribeConfirmation') {
    log.warn('SNS subscription removed; SES events stop until it is re-subscribed', { topicArn: message.TopicArn });
    return { applied: false, reason: 'unsubscribe-confirmation' };
  }

  let notification: SesNotification;
  try {
    notification = parseSesNotification(message.Message);
  } catch (err) {
    if (err instanceof NotAnSesEventError) {
      log.warn('SNS notification is not an SES event; ignored', { reason: err.message, snsMessageId: message.MessageId });
      return { applied: false, reason: 'not-an-ses-event' };
    }
    throw err;
  }
  if (notification.kind === 'received') return processInbound(notification.record, message.MessageId, ctx, payload.traceId);
  const { event } = notification;

  const target = await deps.webhooks.findTarget(event);
  if (!target) {
    // the send row may not be committed yet (the event raced the send's write): retry a few times
    if (ctx.attempt < ORPHAN_ATTEMPTS) throw new RetryAfterError(10_000 * ctx.attempt, `no send for SES message ${event.messageId} yet`);
    log.warn('SES event for an unknown send kept as orphan', { sesMessageId: event.messageId, type: event.type });
    return { applied: false, reason: 'orphan' };
  }

  const applied = await deps.webhooks.applyEvent(target, message.MessageId, event);
  // Send events of the campaign reach us up to SES's time of this message: the campaign tick's
  // evidence that a marked send without its own Send event never reached SES (wire-marks.ts).
  // Kept after the event is applied (and again for a duplicate: the first run may have died here).
  if (event.type === 'Send') await deps.wire.sawSendEvent(target.campaignId, event.occurredAt);
  if (applied.duplicate) return { applied: false, reason: 'duplicate', campaignEmailId: target.campaignEmailId };

  const stale = applied.changes.find((c) => c.startsWith('stale-claim:'));
  if (stale) {
    // an earlier claim's request reached SES after the row was found unsent and claimed again: the
    // lead may get (or have got) two emails
    const fields = { workspaceId: target.workspaceId, campaignEmailId: target.campaignEmailId, sesMessageId: event.messageId, claims: stale.slice(12) };
    log.error('SES Send event of an earlier claim of a send claimed again since: possibly two emails to one lead', fields);
    await deps.alerter.alert('warning', 'SES accepted a send that the campaign tick had found unsent and sent again: possibly two emails to one lead', fields);
  }
  if (event.type === 'Rendering Failure') log.warn('SES rendering failure', { campaignEmailId: target.campaignEmailId, error: event.failure?.errorMessage });
  if (event.type === 'DeliveryDelay' && ['IPFailure', 'SpamDetected'].includes(event.deliveryDelay?.delayType ?? '')) {
    await deps.alerter.alert('warning', `SES delivery delayed: ${event.deliveryDelay?.delayType}`, {
      mailboxId: target.mailboxId,
      campaignEmailId: target.campaignEmailId,
    });
  }
  const paused = event.type === 'Bounce' || event.type === 'Complaint' ? await enforceReputation(target, ctx) : [];
  return { applied: true, campaignEmailId: target.campaignEmailId, event: event.type, changes: applied.changes, paused };
};

/**
 * Inbound mail: parse, route by recipient address (never to a workspace that does not own one),
 * store and apply once per workspace, then enqueue the AI jobs of a genuine reply
 * (analyseReply). Mail for none of our addresses, or for an address several workspaces share
 * that the message cannot tell apart, is logged and dropped: retrying would not change the
 * answer. Only ids are logged, never addresses or content.
 */
async function processInbound(
  record: Readonly<Record<string, unknown>>,
  snsMessageId: string,
  ctx: JobContext<EmailDeps>,
  traceId: string | undefined,
): Promise<ProcessWebhookResult> {
  const { deps, log } = ctx;
  let mail: InboundMail;
  try {
    mail = await parseInboundMail(record);
  } catch (err) {
    if (!(err instanceof NotAnSesEventError)) throw err;
    log.warn('SES Received notification without a message; ignored', { reason: err.message, snsMessageId });
    return { applied: false, reason: 'not-an-ses-event' };
  }
  const routing = await deps.webhooks.routeInbound(mail);
  if (routing.ambiguous.length > 0) {
    log.warn('inbound mail to an address several workspaces use, and nothing in it tells which: not stored there', {
      sesMessageId: mail.sesMessageId,
      addresses: routing.ambiguous.length,
    });
  }
  if (routing.routes.length === 0) {
    if (routing.ambiguous.length === 0)
      log.warn('inbound mail for no mailbox of ours; ignored', { sesMessageId: mail.sesMessageId, recipients: mail.recipients.length });
    return { applied: false, reason: routing.ambiguous.length > 0 ? 'ambiguous-recipient' : 'no-mailbox' };
  }
  const deliveries: InboundDelivery[] = [];
  for (const route of routing.routes) {
    // replyToAnalyse carries the reply's text: kept out of the result (stored by Bull) and the logs
    const { replyToAnalyse, ...result } = await deps.webhooks.applyInbound(route, snsMessageId, mail);
    // applyInbound has committed; a duplicate may still hand back a reply whose jobs were lost
    const aiJobs = replyToAnalyse ? await analyseReply(replyToAnalyse, ctx, traceId) : [];
    if (result.duplicate) {
      if (aiJobs.length > 0) log.info('AI jobs of an already stored reply enqueued again', { workspaceId: result.workspaceId, aiJobs: aiJobs.length });
      continue;
    }
    deliveries.push({ ...result, aiJobs });
    log.info('inbound mail stored', {
      workspaceId: result.workspaceId,
      kind: result.kind,
      emailMessageId: result.emailMessageId,
      campaignEmailId: result.campaignEmailId,
      changes: result.changes.join(','),
      aiJobs: aiJobs.length,
    });
  }
  if (deliveries.length === 0) return { applied: false, reason: 'duplicate' };
  return { applied: true, event: 'Received', deliveries };
}

/**
 * The three AI jobs of a genuine reply (analyze-sentiment, generate-smart-reply,
 * extract-meeting-intent), enqueued only after the reply's transaction committed, so the AI worker
 * never sees an id that a rollback removes.
 *
 * Crash and retry safety: the SNS MessageId and Message-ID dedupe are written in that same
 * transaction, so a crash (or a failed enqueue: this throws and the webhook job is retried)
 * between the commit and the enqueue would otherwise lose the jobs for good, every later delivery
 * being a duplicate. Instead the store keeps the reply "not analysed" until markReplyAnalysed,
 * after the enqueue, and hands such a reply back to every duplicate (WebhookStore.applyInbound),
 * which enqueues again here. The job ids are deterministic, so a re-enqueue while Bull still holds
 * the jobs adds nothing; the mark (not Bull's ids, which are freed when completed jobs are
 * removed) keeps a late duplicate from re-running the analysis. Enqueueing before the commit
 * instead could hand the AI worker a message id that then rolls back and is stored again under a
 * new id.
 */
async function analyseReply(reply: ReplyToAnalyse, ctx: JobContext<EmailDeps>, traceId: string | undefined): Promise<string[]> {
  const { deps, log } = ctx;
  const built = replyAnalysisJobs(reply, { traceId });
  if ('skipped' in built) {
    log.info('reply not analysed', { workspaceId: reply.workspaceId, emailMessageId: reply.emailMessageId, reason: built.skipped });
    return [];
  }
  // three definitions, three adds, each id from its definition's idempotency key
  // (`analyze-sentiment.<ws>.<email_messages.id>`, ...): if one fails the job's retry enqueues all
  // three again, and those Redis still knows are no-ops
  const added = [
    await ctx.enqueue(analyzeSentiment, built.jobs.sentiment),
    await ctx.enqueue(generateSmartReply, built.jobs.smartReply),
    await ctx.enqueue(extractMeetingIntent, built.jobs.meeting),
  ];
  const ids = added.map((a) => a.id);
  await deps.webhooks.markReplyAnalysed(reply.workspaceId, reply.emailMessageId);
  return ids;
}

/** Pauses the mailbox and/or campaign whose bounce or complaint rate passed its limit over enough sends. */
async function enforceReputation(target: WebhookTarget, ctx: JobContext<EmailDeps>): Promise<string[]> {
  const { deps } = ctx;
  const { bounceRate, complaintRate, bounceMinSends, complaintMinSends } = deps.config.reputation;
  const since = new Date(deps.now().getTime() - REPUTATION_WINDOW_MS);
  const subjects: Array<{ kind: 'mailbox' | 'campaign'; id: string }> = [{ kind: 'campaign', id: target.campaignId }];
  if (target.mailboxId) subjects.unshift({ kind: 'mailbox', id: target.mailboxId });
  const paused: string[] = [];
  for (const subject of subjects) {
    const of = subject.kind === 'mailbox' ? { mailboxId: subject.id } : { campaignId: subject.id };
    const r = await deps.webhooks.reputation(target.workspaceId, of, since);
    const reasons: string[] = [];
    if (r.sent >= bounceMinSends && r.bounced / r.sent > bounceRate) reasons.push(`bounce rate ${pct(r.bounced / r.sent)} over ${r.sent} sends`);
    if (r.sent >= complaintMinSends && r.complained / r.sent > complaintRate) reasons.push(`complaint rate ${pct(r.complained / r.sent)} over ${r.sent} sends`);
    if (reasons.length === 0) continue;
    const reason = reasons.join('; ');
    const changed =
      subject.kind === 'mailbox'
        ? await deps.webhooks.pauseMailbox(target.workspaceId, subject.id, reason)
        : await deps.webhooks.pauseCampaign(target.workspaceId, subject.id, reason);
    if (changed) {
      paused.push(`${subject.kind}:${subject.id}`);
      await deps.alerter.alert('page', `${subject.kind} paused: ${reason}`, { workspaceId: target.workspaceId, [`${subject.kind}Id`]: subject.id });
    }
  }
  return paused;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
