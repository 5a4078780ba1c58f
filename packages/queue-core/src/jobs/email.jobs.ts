import { z } from 'zod';
import { timeSlot, sha256Hex, email } from './fields.js';
import { defineJob } from '../define-job.js';

/**
 * Email queue: campaign sends, the campaign tick, SES/SNS webhooks and mailbox warm-up
 * (domain.md §5). Job data holds ids and cursors only; the worker loads rows itself.
 */


/**
 * Bound on the raw body, in characters (UTF-16 code units, not bytes). SNS caps the message at
 * 256 KiB, but the HTTP body wraps it JSON-escaped, so a near-limit message (inbound mail through
 * an SES receipt rule) can exceed this: the web route should answer those with 413 and log them.
 */
const MAX_WEBHOOK_BODY = 256 * 1024;

/** Sends one row of the send ledger (`campaign_emails`). */
export const sendEmail = defineJob({
  name: 'send-email',
  queue: 'email',
  description: 'Send one campaign email from the send ledger, with tracking, suppression and consent checks',
  scope: 'workspace',
  payload: {
    // Required: campaign sends are the only sends the workers perform. domain.md also mentions an
    // ad-hoc message (`to, subject, html, …`); that is out of scope, and defineJob cannot express
    // "exactly one of" anyway. Add it as a separate job if it is ever needed.
    /** the `campaign_emails` row to claim and send */
    campaignEmailId: z.uuid(),
    trackOpens: z.boolean().default(true),
    trackClicks: z.boolean().default(true),
    /** require a granted `marketing` consent record before sending (otherwise `skipped`) */
    checkConsent: z.boolean().default(false),
  },
  idempotencyKey: (p) => [p.campaignEmailId],
  options: { priority: 'normal' },
});

/** The campaign tick: schedules due enrolments of one campaign and fans out send-email jobs. */
export const sendBulkEmail = defineJob({
  name: 'send-bulk-email',
  queue: 'email',
  description: 'Campaign tick: turn due enrolments into scheduled sends and enqueue send-email for each',
  scope: 'workspace',
  payload: {
    campaignId: z.uuid(),
    /** the scheduler tick this run belongs to (every 5 min); one run per campaign and slot */
    windowSlot: timeSlot,
    /** enrolments handled per tick; the rest stay due for the next tick */
    batchSize: z.number().int().positive().max(500).default(50),
  },
  idempotencyKey: (p) => [p.campaignId, p.windowSlot],
});

/**
 * One SNS HTTP delivery from SES (events and inbound mail), enqueued as received. Global: the
 * workspace is only known after the worker verifies the signature and maps the message id or the
 * recipient mailbox to a workspace.
 */
export const processWebhook = defineJob({
  name: 'process-webhook',
  queue: 'email',
  description: 'Verify and apply one SES/SNS notification: events, suppression, replies, auto-pause',
  scope: 'global',
  payload: {
    provider: z.enum(['ses']),
    /** the raw SNS HTTP body (JSON text), unparsed, so the signature can be verified byte for byte */
    body: z.string().min(1).max(MAX_WEBHOOK_BODY),
    receivedAt: z.iso.datetime({ offset: true }),
    /** request headers worth keeping (lower-cased names), e.g. `x-amz-sns-message-type` */
    headers: z
      .record(z.string().min(1).max(100), z.string().max(2000))
      .refine((h) => Object.keys(h).length <= 50, 'at most 50 headers')
      .optional(),
  },
  // SNS redelivers the identical body, so its hash identifies the delivery (domain.md keys it by
  // the SNS MessageId, which is inside the body; the durable guard is `webhook_dedupe`).
  idempotencyKey: (p) => [p.provider, sha256Hex(p.body)],
  options: { priority: 'high' },
});

/** One warm-up email between two accounts of the warm-up pool. */
export const warmEmail = defineJob({
  name: 'warm-email',
  queue: 'email',
  description: 'Send one warm-up email between pool accounts and schedule its simulated engagement',
  scope: 'workspace',
  payload: {
    warmupCampaignId: z.uuid(),
    /** `warmup_accounts` row that sends */
    senderAccountId: z.uuid(),
    /** `warmup_accounts` row that receives (and later opens/replies) */
    recipientAccountId: z.uuid(),
    /** day of the ramp, 1-based */
    dayNumber: z.number().int().positive().max(365),
    templateId: z.uuid().optional(),
    /** UTC day of the send: part of the key */
    date: z.iso.date(),
    /** 0-based index of this send among the sender's sends on `date`: part of the key */
    seq: z.number().int().nonnegative().max(999),
  },
  idempotencyKey: (p) => [p.warmupCampaignId, p.senderAccountId, p.date, p.seq],
});

export const emailJobs = [sendEmail, sendBulkEmail, processWebhook, warmEmail] as const;
