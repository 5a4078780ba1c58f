import { type analyzeSentiment, type extractMeetingIntent, generateSmartReply, type JobInput } from '@coldcopy/queue-core';

/**
 * The three AI jobs a genuine inbound reply gets (domain.md §5, process-webhook: "enqueue the three
 * AI jobs"): analyze-sentiment, generate-smart-reply and extract-meeting-intent, on the `ai` queue.
 * Their ids come from the definitions' idempotency keys (`sentiment:{ws}:{messageId}`,
 * `smart-reply:{ws}:{messageId}`, `meeting:{ws}:{messageId}` in domain.md), stored by Bull as
 * `<job-name>.<workspaceId>.<email_messages.id>`: enqueueing the same reply again adds nothing
 * while Redis still knows the jobs. Which replies get them, and when, is decided by the store
 * (WebhookStore.applyInbound: `replyToAnalyse`) and process-webhook (after the commit).
 */

/** A genuine reply as stored (email_messages), whose AI jobs are still to be enqueued. */
export interface ReplyToAnalyse {
  readonly workspaceId: string;
  /** email_messages.id */
  readonly emailMessageId: string;
  /** email_threads.id */
  readonly threadId: string;
  /** the lead of the send it answers (campaign_emails.lead_id) */
  readonly leadId: string;
  /** email_messages.from_email */
  readonly senderEmail: string;
  /** the From display name, when it had one */
  readonly senderName: string | null;
  /** email_messages.body_text: mailparser's text (converted from the HTML when there is no text part) */
  readonly text: string | null;
  readonly receivedAt: Date;
}

export type AnalyzeSentimentInput = JobInput<typeof analyzeSentiment>;
export type GenerateSmartReplyInput = JobInput<typeof generateSmartReply>;
export type ExtractMeetingIntentInput = JobInput<typeof extractMeetingIntent>;

/** The payloads of one reply's three jobs, built to the definitions' schemas. */
export interface ReplyAnalysisJobs {
  readonly sentiment: AnalyzeSentimentInput;
  readonly smartReply: GenerateSmartReplyInput;
  readonly meeting: ExtractMeetingIntentInput;
}

/** `messageContent` of ai.jobs.ts: at most 10,000 characters (UTF-16 code units, as zod counts). */
const MAX_CONTENT = 10_000;
/** `shortText` of the sender name */
const MAX_NAME = 200;

/**
 * The payloads for a stored reply, or why it gets none: every job needs the reply's own text
 * (`content` is required and non-empty) and a valid sender address (generate-smart-reply and
 * extract-meeting-intent). A reply without either (an attachment only, a notification of an S3
 * action that carries headers only, a quote with nothing added) is not analysed. The lead is
 * always known (a reply answers one of our sends), so every payload carries it.
 */
export function replyAnalysisJobs(reply: ReplyToAnalyse, trace: { traceId?: string } = {}): { jobs: ReplyAnalysisJobs } | { skipped: 'no-text' | 'no-sender' } {
  const content = replyContent(reply.text ?? '');
  if (content === '') return { skipped: 'no-text' };
  if (!generateSmartReply.schema.shape.senderEmail.safeParse(reply.senderEmail).success) return { skipped: 'no-sender' };
  const name = reply.senderName?.trim() ? cut(reply.senderName.trim(), MAX_NAME) : undefined;
  const common = {
    workspaceId: reply.workspaceId,
    requestedBy: 'system',
    ...(trace.traceId ? { traceId: trace.traceId } : {}),
  };
  const sender = { senderEmail: reply.senderEmail, ...(name ? { senderName: name } : {}) };
  return {
    jobs: {
      // Only the triggering message: the sentiment worker reads the earlier messages of the thread
      // from email_messages itself (and skips those already scored), so job data stays small.
      sentiment: {
        ...common,
        threadKey: `email:${reply.threadId}`,
        leadId: reply.leadId,
        channel: 'email',
        // inbound mail answering our send: the prospect's side of the conversation, even when a
        // colleague of the lead wrote it
        messages: [{ id: reply.emailMessageId, content, isFromLead: true, timestamp: reply.receivedAt.toISOString() }],
      },
      smartReply: { ...common, messageId: reply.emailMessageId, threadId: reply.threadId, content, ...sender, leadId: reply.leadId },
      meeting: {
        ...common,
        messageId: reply.emailMessageId,
        messageType: 'email',
        content,
        ...sender,
        leadId: reply.leadId,
        threadId: reply.threadId,
      },
    },
  };
}

/**
 * Lines that open the quoted history under a reply: `On <date>, <name> wrote:` (Gmail, Apple Mail,
 * Thunderbird, in a few languages), Outlook's `-----Original Message-----` and its underscore
 * rule, and the usenet signature separator (`-- `).
 */
const QUOTE_HEADER = /^(On|Am|Le|El|Il|Op)\s.{0,400}\s(wrote|schrieb|a écrit|escribió|ha scritto|schreef)\s?:\s*$/i;
const ORIGINAL_MESSAGE = /^\s*-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$/i;
const OUTLOOK_RULE = /^_{20,}\s*$/;
const SIGNATURE = /^-- $/;

/**
 * The reply's own text for the models (ai.jobs.ts: "longer mails are trimmed (quoted history
 * removed) by the producer"): everything from the first quote header on is dropped, as are lines
 * quoted with `>`, then the text is trimmed and cut to 10,000 characters. Less of the lead's mail
 * in job data is also less personal data in Redis. '' when nothing of the sender's own remains.
 */
export function replyContent(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // a quote header names a date or time; Gmail wraps a long one: `On Mon, 1 Dec 2026 at 15:00,
    // Name <a@b.c>` / `wrote:`
    const next = lines[i + 1]?.trim();
    if (/\d/.test(line) && (QUOTE_HEADER.test(line) || (next !== undefined && QUOTE_HEADER.test(`${line} ${next}`)))) break;
    if (ORIGINAL_MESSAGE.test(line) || OUTLOOK_RULE.test(line) || SIGNATURE.test(line)) break;
    if (/^\s*>/.test(line)) continue;
    kept.push(line);
  }
  return cut(kept.join('\n').trim(), MAX_CONTENT).trimEnd();
}

/** At most `max` UTF-16 code units, never splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = /[\uD800-\uDBFF]/.test(s[max - 1]!) ? max - 1 : max;
  return s.slice(0, end);
}
