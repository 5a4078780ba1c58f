import { z } from 'zod';

/**
 * What the model must return, one schema per job (versioned with the prompt that asks for it).
 * Sent to the provider as strict JSON Schema and validated again before anything reaches Postgres.
 * Strict mode requires every property: optional values are `.nullable()`, never `.optional()`.
 * Enums mirror the CHECK constraints of the AI tables.
 */

export const SENTIMENTS = ['positive', 'neutral', 'negative', 'mixed'] as const;
const unit = z.number().min(0).max(1);

export const sentimentOutput = z.object({
  messages: z.array(
    z.object({
      /** the id given in the prompt's <message id="..."> */
      id: z.string(),
      sentiment: z.enum(SENTIMENTS),
      /** -1 (hostile) … 1 (enthusiastic) */
      score: z.number().min(-1).max(1),
      confidence: unit,
      emotions: z.object({ joy: unit, interest: unit, frustration: unit, anger: unit, confusion: unit, urgency: unit }),
      /** short labels such as "asked for pricing", never quotes of the message */
      buyingSignals: z.array(z.string().max(100)).max(10),
    }),
  ),
});
export type SentimentOutput = z.output<typeof sentimentOutput>;

export const REPLY_INTENTS = [
  'interested',
  'not_interested',
  'question',
  'meeting_request',
  'objection',
  'referral',
  'out_of_office',
  'unsubscribe',
  'other',
] as const;
export const TONES = ['professional', 'friendly', 'casual', 'formal', 'enthusiastic'] as const;

export const smartReplyOutput = z.object({
  intent: z.enum(REPLY_INTENTS),
  sentiment: z.enum(SENTIMENTS),
  urgency: z.enum(['low', 'medium', 'high']),
  confidence: unit,
  keyPoints: z.array(z.string().max(300)).max(10),
  questions: z.array(z.string().max(300)).max(10),
  /** one or two sentences for the conversation context */
  summary: z.string().max(1000),
  suggestions: z.array(z.object({ content: z.string().min(1).max(4000), tone: z.enum(TONES) })).max(5),
});
export type SmartReplyOutput = z.output<typeof smartReplyOutput>;

export const MEETING_INTENT_TYPES = ['schedule', 'reschedule', 'cancel', 'availability_question', 'none'] as const;

export const meetingIntentOutput = z.object({
  isMeetingRequest: z.boolean(),
  confidence: unit,
  intentType: z.enum(MEETING_INTENT_TYPES),
  durationMinutes: z.number().int().min(5).max(480).nullable(),
  /** IANA zone the sender mentioned, e.g. Europe/Berlin */
  timezone: z.string().max(64).nullable(),
  /** times the sender proposed, ISO 8601 with offset */
  proposedTimes: z.array(z.object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }).nullable() })).max(10),
});
export type MeetingIntentOutput = z.output<typeof meetingIntentOutput>;

export const emailContentOutput = z.object({
  subject: z.string().min(1).max(200),
  body: z.string().min(1).max(8000),
});
export type EmailContentOutput = z.output<typeof emailContentOutput>;
