import { z } from 'zod';
import { timeSlot, timeSlotOf, sha256Hex } from './fields.js';
import { defineJob, type JobPayload } from '../definitions/define-job.js';

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

/** Minutes between campaign ticks: the `campaign-tick` schedule runs every 5 minutes (docs/schedules-and-retention.md). */
export const CAMPAIGN_TICK_MINUTES = 5;

/** The campaign-tick slot that contains `at`: UTC, floored to 5 minutes, e.g. `20250709T1430Z`. */
export function campaignTickSlot(at: Date | number): string {
  return timeSlotOf(at, CAMPAIGN_TICK_MINUTES);
}

/** The instant a time slot (`20250709T1430Z`) starts. */
export function slotStartOf(slot: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/.exec(slot);
  if (!m) throw new RangeError(`not a time slot: "${slot}"`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])));
}

const REQUIRED = 'Invalid input: expected string, received undefined';
const FAN_OUT_ONLY = 'not allowed with fanOut: true (a fan-out ticks the due campaigns of every workspace)';

/**
 * The two forms of the campaign tick (see sendBulkEmail). Runs on the producer's and the worker's
 * schema alike; a missing field of the per-campaign form is reported like any missing field
 * (`campaignId: required`), so the error names what to add.
 */
function checkTickForm(p: { workspaceId?: string; campaignId?: string; windowSlot?: string; fanOut?: true }, ctx: z.core.$RefinementCtx): void {
  if (p.fanOut === true) {
    for (const field of ['workspaceId', 'campaignId'] as const) {
      if (p[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: FAN_OUT_ONLY });
    }
    return;
  }
  for (const field of ['workspaceId', 'campaignId', 'windowSlot'] as const) {
    if (p[field] === undefined) {
      ctx.addIssue({ code: 'invalid_type', expected: 'string', path: [field], message: REQUIRED });
    }
  }
}

const tickDefinition = defineJob({
  name: 'send-bulk-email',
  queue: 'email',
  description: 'Campaign tick: turn due enrolments into scheduled sends and enqueue send-email for each',
  // Declared global so that defineJob leaves workspaceId to the payload below (optional there);
  // the definition is re-scoped to `workspace` right after.
  scope: 'global',
  payload: {
    /** per-campaign form: the campaign's workspace (required with campaignId) */
    workspaceId: z.uuid().optional(),
    /** per-campaign form: the campaign to tick */
    campaignId: z.uuid().optional(),
    /**
     * the scheduler tick this run belongs to (every 5 min); one run per campaign and slot.
     * Required with campaignId; optional with fanOut (scheduled runs derive it from their run time).
     */
    windowSlot: timeSlot.optional(),
    /** enrolments handled per campaign and tick; the rest stay due for the next tick */
    batchSize: z.number().int().positive().max(500).default(50),
    /** fan-out form: tick every due campaign of every workspace (no workspaceId, no campaignId) */
    fanOut: z.literal(true).optional(),
  },
  // bulk:{campaignId}:{windowSlot} (domain.md §5); the durable guard is the unique ledger row per
  // (campaign, lead, step). A fan-out is keyed by its slot; unslotted ones share one key, so pass
  // windowSlot when enqueueing a fan-out by hand (scheduled runs have their own repeat job ids).
  idempotencyKey: (p) => (p.fanOut ? ['fan-out', p.windowSlot ?? 'unslotted'] : [p.campaignId ?? '', p.windowSlot ?? '']),
});

/**
 * The campaign tick. One job name, two forms (the 24 job names are fixed, so the fan-out is not a
 * job of its own):
 *
 * - **per campaign** `{ workspaceId, campaignId, windowSlot, batchSize? }`: settles send outcomes,
 *   starts a scheduled campaign whose start date has come, turns due enrolments into scheduled
 *   sends (suppressed leads and unmet step conditions are skipped and counted), enqueues
 *   send-email for them and completes the campaign once every enrolment is finished. A tenant
 *   job like any other: workspaceId is required and scopes every statement.
 * - **fan-out** `{ fanOut: true, windowSlot?, batchSize? }`: what the `campaign-tick` schedule runs
 *   every 5 minutes. Pages through the campaigns of every workspace that are active, or scheduled
 *   and due, and enqueues one per-campaign tick each (`batchSize` passed on). Carries no tenant
 *   data, so it is the one global form of this workspace job.
 *
 * defineJob builds one object schema, so both forms share one shape of optional fields plus a
 * check. Without `fanOut` the payload is the per-campaign form: forgetting campaignId is an error
 * ("campaignId: required"), never a fan-out over every tenant. The JSON Schema states the same
 * with `anyOf`, `dependentRequired` and `dependentSchemas`.
 */
export const sendBulkEmail: typeof tickDefinition = Object.freeze({
  ...tickDefinition,
  scope: 'workspace',
  schema: tickDefinition.schema.superRefine(checkTickForm),
  inputSchema: z
    .strictObject(tickDefinition.schema.shape)
    .superRefine(checkTickForm)
    .meta({
      description: 'Per campaign: workspaceId, campaignId and windowSlot. ' + 'Fan-out (the scheduled tick): fanOut: true, without workspaceId and campaignId.',
      anyOf: [{ required: ['campaignId'] }, { required: ['fanOut'] }],
      dependentRequired: { campaignId: ['workspaceId', 'windowSlot'], workspaceId: ['campaignId'] },
      dependentSchemas: {
        fanOut: { not: { anyOf: [{ required: ['workspaceId'] }, { required: ['campaignId'] }] } },
      },
    }),
});

export type SendBulkEmailPayload = JobPayload<typeof sendBulkEmail>;

/** The form of a parsed send-bulk-email payload, with the fields each form guarantees. */
export type CampaignTickForm =
  | {
      readonly kind: 'campaign';
      readonly workspaceId: string;
      readonly campaignId: string;
      readonly windowSlot: string;
      readonly batchSize: number;
      readonly requestedBy?: string;
      readonly traceId?: string;
    }
  | {
      readonly kind: 'fan-out';
      /** absent in scheduled runs: the handler derives it from the run time */
      readonly windowSlot?: string;
      readonly batchSize: number;
      readonly requestedBy?: string;
      readonly traceId?: string;
    };

/** Which form a payload that passed the schema has. Throws TypeError for one that did not. */
export function campaignTickForm(p: SendBulkEmailPayload): CampaignTickForm {
  const trace = {
    ...(p.requestedBy !== undefined ? { requestedBy: p.requestedBy } : {}),
    ...(p.traceId !== undefined ? { traceId: p.traceId } : {}),
  };
  const { workspaceId, campaignId, windowSlot, batchSize } = p;
  if (p.fanOut === true && workspaceId === undefined && campaignId === undefined) {
    return { kind: 'fan-out', batchSize, ...(windowSlot !== undefined ? { windowSlot } : {}), ...trace };
  }
  if (p.fanOut === undefined && workspaceId !== undefined && campaignId !== undefined && windowSlot !== undefined) {
    return { kind: 'campaign', workspaceId, campaignId, windowSlot, batchSize, ...trace };
  }
  throw new TypeError('send-bulk-email: expected { workspaceId, campaignId, windowSlot } or { fanOut: true }');
}

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

/**
 * Warm-up batches: the `warm-up-sends` schedule runs at these UTC hours (docs/schedules-and-retention.md), and each
 * batch sends about a quarter of a mailbox's daily cap (warmupBatchShare).
 */
export const WARMUP_BATCH_HOURS = [8, 12, 16, 20] as const;

/** The warm-up batch that `at` belongs to: its UTC date, index (0-3) and canonical slot. */
export interface WarmupBatch {
  /** UTC day, `2026-12-01`: the `date` of the per-mailbox jobs */
  readonly date: string;
  /** 0-based index into WARMUP_BATCH_HOURS */
  readonly batch: number;
  /** the batch's start as a time slot, `20261201T0800Z` */
  readonly slot: string;
}

/**
 * The batch a time (or a time slot, `20261201T1205Z`) belongs to: the last batch hour at or before
 * it on its UTC day; before 08:00 it is the day's first batch (an early manual run sends that
 * batch's share; the 08:00 run then finds it done). Throws RangeError for an unreadable time.
 */
export function warmupBatchOf(at: Date | number | string): WarmupBatch {
  const ms = typeof at === 'string' ? slotStartOf(at).getTime() : typeof at === 'number' ? at : at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('warmupBatchOf: invalid time');
  const iso = new Date(ms).toISOString();
  const hour = new Date(ms).getUTCHours();
  let batch = 0;
  WARMUP_BATCH_HOURS.forEach((h, i) => {
    if (hour >= h) batch = i;
  });
  const date = iso.slice(0, 10);
  const slot = `${date.replace(/-/g, '')}T${String(WARMUP_BATCH_HOURS[batch]).padStart(2, '0')}00Z`;
  return { date, batch, slot };
}

/**
 * The seqs (0-based indexes of the day's sends) that batch `batch` of a day with cap `cap` sends:
 * `[floor(cap·b/4), floor(cap·(b+1)/4))`. The four batches cover `0 … cap-1` exactly once, so the
 * keys `warm:{campaign}:{sender}:{date}:{seq}` of a day never overlap between batches.
 */
export function warmupBatchShare(cap: number, batch: number): { from: number; to: number } {
  const n = WARMUP_BATCH_HOURS.length;
  const c = Math.max(0, Math.floor(cap));
  const b = Math.min(Math.max(0, Math.floor(batch)), n - 1);
  return { from: Math.floor((c * b) / n), to: Math.floor((c * (b + 1)) / n) };
}

const PER_MAILBOX_FIELDS = ['workspaceId', 'warmupCampaignId', 'senderAccountId', 'recipientAccountId', 'dayNumber', 'date', 'seq'] as const;
const WARM_FAN_OUT_ONLY = 'not allowed with fanOut: true (a fan-out covers the warm-ups of every workspace)';

/**
 * The forms of warm-email (see warmEmail), on the producer's and the worker's schema alike: a
 * missing per-mailbox field is reported as `required`, so forgetting one is never a fan-out.
 */
function checkWarmForm(
  p: { fanOut?: true; advanceDay?: true; slot?: string; templateId?: string } & Partial<Record<(typeof PER_MAILBOX_FIELDS)[number], unknown>>,
  ctx: z.core.$RefinementCtx,
): void {
  if (p.fanOut === true) {
    for (const field of [...PER_MAILBOX_FIELDS, 'templateId'] as const) {
      if (p[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: WARM_FAN_OUT_ONLY });
    }
    return;
  }
  for (const field of PER_MAILBOX_FIELDS) {
    if (p[field] === undefined) {
      const expected = field === 'dayNumber' || field === 'seq' ? 'number' : 'string';
      ctx.addIssue({ code: 'invalid_type', expected, path: [field], message: `Invalid input: expected ${expected}, received undefined` });
    }
  }
  for (const field of ['slot', 'advanceDay'] as const) {
    if (p[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only allowed with fanOut: true' });
  }
}

const warmDefinition = defineJob({
  name: 'warm-email',
  queue: 'email',
  description: 'Send one warm-up email between pool accounts and schedule its simulated engagement',
  // Declared global so that workspaceId is the optional field below; re-scoped to `workspace`
  // right after (as sendBulkEmail).
  scope: 'global',
  payload: {
    /** per-mailbox form: the warm-up's workspace */
    workspaceId: z.uuid().optional(),
    warmupCampaignId: z.uuid().optional(),
    /** `warmup_accounts` row that sends */
    senderAccountId: z.uuid().optional(),
    /** `warmup_accounts` row that receives (and later opens/replies) */
    recipientAccountId: z.uuid().optional(),
    /** day of the ramp, 1-based */
    dayNumber: z.number().int().positive().max(365).optional(),
    templateId: z.uuid().optional(),
    /** UTC day of the send: part of the key */
    date: z.iso.date().optional(),
    /** 0-based index of this send among the sender's sends on `date`: part of the key */
    seq: z.number().int().nonnegative().max(999).optional(),
    /** fan-out form: every eligible warm-up of every workspace (no per-mailbox fields) */
    fanOut: z.literal(true).optional(),
    /**
     * fan-out form: the batch (any time in it, floored to 08/12/16/20 UTC) or, with advanceDay, the
     * day to advance to. Optional: scheduled runs derive it from their run time.
     */
    slot: timeSlot.optional(),
    /** fan-out form: the daily ramp advance (00:00 UTC) instead of a send batch */
    advanceDay: z.literal(true).optional(),
  },
  // warm:{campaign}:{sender}:{date}:{seq} (domain.md §5), Bull id
  // `warm-email.<campaign>.<sender>.<date>.<seq>`; the durable guard is the claim row (thread_id =
  // the key). A fan-out is keyed by its mode and slot; unslotted ones share one key, so pass slot
  // when enqueueing one by hand (scheduled runs have their own repeat job ids).
  idempotencyKey: (p) =>
    p.fanOut
      ? [p.advanceDay ? 'advance-day' : 'fan-out', p.slot ?? 'unslotted']
      : [p.warmupCampaignId ?? '', p.senderAccountId ?? '', p.date ?? '', p.seq ?? ''],
});

/**
 * One warm-up email between two accounts of the warm-up pool. One job name, three forms (the 24
 * job names are fixed, so the fan-outs are not jobs of their own):
 *
 * - **per mailbox** `{ workspaceId, warmupCampaignId, senderAccountId, recipientAccountId,
 *   dayNumber, date, seq, templateId? }`: one send, a tenant job like any other.
 * - **send batch** `{ fanOut: true, slot? }`: what the `warm-up-sends` schedule runs at 08, 12, 16
 *   and 20 UTC. Enqueues this batch's share of the day's cap for every eligible warm-up of every
 *   workspace, as per-mailbox jobs.
 * - **day advance** `{ fanOut: true, advanceDay: true, slot? }`: the `warm-up-day-advance`
 *   schedule at 00:00 UTC. Moves every active ramp to its next day when yesterday passed the gates.
 *
 * The fan-out forms carry no tenant data. The JSON Schema states the forms with `anyOf`,
 * `dependentRequired` and `dependentSchemas`.
 */
export const warmEmail: typeof warmDefinition = Object.freeze({
  ...warmDefinition,
  scope: 'workspace',
  schema: warmDefinition.schema.superRefine(checkWarmForm),
  inputSchema: z
    .strictObject(warmDefinition.schema.shape)
    .superRefine(checkWarmForm)
    .meta({
      description:
        'Per mailbox: workspaceId, warmupCampaignId, senderAccountId, recipientAccountId, dayNumber, date and seq. ' +
        'Fan-out (scheduled): fanOut: true, optionally slot and advanceDay: true, without the per-mailbox fields.',
      anyOf: [{ required: ['warmupCampaignId'] }, { required: ['fanOut'] }],
      dependentRequired: {
        warmupCampaignId: ['workspaceId', 'senderAccountId', 'recipientAccountId', 'dayNumber', 'date', 'seq'],
        workspaceId: ['warmupCampaignId'],
        advanceDay: ['fanOut'],
        slot: ['fanOut'],
      },
      dependentSchemas: {
        // the same fields checkWarmForm refuses with fanOut (templateId included)
        fanOut: { not: { anyOf: [...PER_MAILBOX_FIELDS, 'templateId'].map((f) => ({ required: [f] })) } },
      },
    }),
});

export type WarmEmailPayload = JobPayload<typeof warmEmail>;

/** The form of a parsed warm-email payload, with the fields each form guarantees. */
export type WarmEmailForm =
  | {
      readonly kind: 'mailbox';
      readonly workspaceId: string;
      readonly warmupCampaignId: string;
      readonly senderAccountId: string;
      readonly recipientAccountId: string;
      readonly dayNumber: number;
      readonly date: string;
      readonly seq: number;
      readonly templateId?: string;
      readonly requestedBy?: string;
      readonly traceId?: string;
    }
  | {
      readonly kind: 'fan-out';
      /** absent in scheduled runs: the handler derives it from the run time */
      readonly slot?: string;
      readonly requestedBy?: string;
      readonly traceId?: string;
    }
  | {
      readonly kind: 'advance-day';
      /** absent in scheduled runs: the handler derives it from the run time */
      readonly slot?: string;
      readonly requestedBy?: string;
      readonly traceId?: string;
    };

/** Which form a payload that passed the schema has. Throws TypeError for one that did not. */
export function warmEmailForm(p: WarmEmailPayload): WarmEmailForm {
  const trace = {
    ...(p.requestedBy !== undefined ? { requestedBy: p.requestedBy } : {}),
    ...(p.traceId !== undefined ? { traceId: p.traceId } : {}),
  };
  if (p.fanOut === true && PER_MAILBOX_FIELDS.every((f) => p[f] === undefined)) {
    return { kind: p.advanceDay ? ('advance-day' as const) : ('fan-out' as const), ...(p.slot !== undefined ? { slot: p.slot } : {}), ...trace };
  }
  const { workspaceId, warmupCampaignId, senderAccountId, recipientAccountId, dayNumber, date, seq } = p;
  if (
    p.fanOut === undefined &&
    p.advanceDay === undefined &&
    workspaceId !== undefined &&
    warmupCampaignId !== undefined &&
    senderAccountId !== undefined &&
    recipientAccountId !== undefined &&
    dayNumber !== undefined &&
    date !== undefined &&
    seq !== undefined
  ) {
    return {
      kind: 'mailbox',
      workspaceId,
      warmupCampaignId,
      senderAccountId,
      recipientAccountId,
      dayNumber,
      date,
      seq,
      ...(p.templateId !== undefined ? { templateId: p.templateId } : {}),
      ...trace,
    };
  }
  throw new TypeError('warm-email: expected the per-mailbox fields or { fanOut: true }');
}

export const emailJobs = [sendEmail, sendBulkEmail, processWebhook, warmEmail] as const;
