import { z } from 'zod';
import { sha256Hex, email, shortText } from './fields.js';
import { defineJob, type JobOptionsOverride } from '../definitions/define-job.js';

/**
 * AI queue: email writing, sentiment, smart replies and meeting detection (domain.md §5,
 * providers.md §5). Every job has a 120 s budget and 2 attempts: a failed LLM call is expensive,
 * and invalid output is retried once at most.
 */

const AI_OPTIONS: JobOptionsOverride = { attempts: 2, timeoutMs: 120_000 };

/** Values of the `tone` CHECK constraints (reply_suggestions) and of the generator's prompt. */
const tone = z.enum(['professional', 'friendly', 'casual', 'formal', 'enthusiastic']);
/** Channel of a message (`message_type` CHECK constraints of the AI tables). */
const messageType = z.enum(['email', 'linkedin', 'twitter']);
/**
 * Message text sent to the model. Bounded: job data is not storage, and longer mails are trimmed
 * (quoted history removed) by the producer.
 */
const messageContent = z.string().min(1).max(10_000);

/** Writes a subject and body for a lead or a campaign step. */
export const generateEmailContent = defineJob({
  name: 'generate-email-content',
  queue: 'ai',
  description: 'Write an email subject and body with an LLM, record usage and deduct AI tokens once',
  scope: 'workspace',
  payload: {
    /** the user the usage is recorded for (auth.uid() is NULL in workers) */
    userId: z.uuid(),
    leadId: z.uuid().optional(),
    campaignId: z.uuid().optional(),
    /** `campaign_sequences.step_number` the draft is for */
    stepNumber: z.number().int().positive().max(100).optional(),
    context: z.object({
      leadName: shortText.optional(),
      company: shortText.optional(),
      title: shortText.optional(),
      /** what the email should achieve, in the user's words */
      campaignGoal: z.string().min(1).max(2000),
      tone: tone.default('professional'),
      length: z.enum(['short', 'medium', 'long']).default('medium'),
    }),
    /** default: the workspace's AI settings */
    provider: z.enum(['openai', 'anthropic']).optional(),
    model: z.string().min(1).max(100).optional(),
  },
  // `{lead}:{campaign}:{step}:{sha256(prompt)}`; the prompt is everything that shapes the output,
  // serialised in a fixed order so the hash is stable.
  idempotencyKey: (p) => [
    p.workspaceId,
    p.leadId ?? '-',
    p.campaignId ?? '-',
    p.stepNumber ?? '-',
    sha256Hex(
      JSON.stringify([
        p.context.leadName ?? null,
        p.context.company ?? null,
        p.context.title ?? null,
        p.context.campaignGoal,
        p.context.tone,
        p.context.length,
        p.provider ?? null,
        p.model ?? null,
      ]),
    ),
  ],
  options: AI_OPTIONS,
});

/** Scores the sentiment of a conversation's messages and raises alerts. */
export const analyzeSentiment = defineJob({
  name: 'analyze-sentiment',
  queue: 'ai',
  description: 'Score message and thread sentiment of a conversation and raise sentiment alerts',
  scope: 'workspace',
  payload: {
    /** `conversation_threads.thread_key`, unique per workspace, e.g. `email:<email_threads.id>` */
    threadKey: z.string().min(1).max(200),
    leadId: z.uuid().optional(),
    channel: z.enum(['email', 'linkedin', 'twitter', 'multi']),
    /** oldest first; the last one is the message that triggered the analysis */
    messages: z
      .array(
        z.object({
          id: z.uuid(),
          content: messageContent,
          isFromLead: z.boolean(),
          timestamp: z.iso.datetime({ offset: true }),
        }),
      )
      .min(1)
      .max(20),
  },
  // `sentiment:{ws}:{messageId}`: the triggering (last) message. Messages already scored are
  // skipped by the worker (`message_sentiments.message_id` is unique).
  idempotencyKey: (p) => [p.workspaceId, p.messages[p.messages.length - 1]?.id ?? '-'],
  options: AI_OPTIONS,
  // what leads wrote, on the queue only as envelopes (job-security.ts)
  sensitive: ['messages[].content'],
});

/** Classifies an inbound reply and drafts suggested answers. */
export const generateSmartReply = defineJob({
  name: 'generate-smart-reply',
  queue: 'ai',
  description: 'Analyse an inbound reply (intent, sentiment) and draft reply suggestions',
  scope: 'workspace',
  payload: {
    /** `email_messages.id` of the inbound message */
    messageId: z.uuid(),
    /** `email_threads.id` */
    threadId: z.uuid(),
    content: messageContent,
    senderEmail: email,
    // Optional: many From headers carry no display name.
    senderName: shortText.optional(),
    leadId: z.uuid().optional(),
    /** suggestions to draft */
    count: z.number().int().positive().max(5).default(3),
    /** default: inferred from the conversation */
    tone: tone.optional(),
  },
  idempotencyKey: (p) => [p.workspaceId, p.messageId],
  options: AI_OPTIONS,
  // the reply and its sender, on the queue only as envelopes (job-security.ts)
  sensitive: ['content', 'senderEmail', 'senderName'],
});

/** Detects a meeting request in a message and proposes slots. */
export const extractMeetingIntent = defineJob({
  name: 'extract-meeting-intent',
  queue: 'ai',
  description: 'Detect a meeting request in a message and record it, with slots from calendar free/busy',
  scope: 'workspace',
  payload: {
    /** id of the source message (`meeting_requests.source_message_id` is unique) */
    messageId: z.uuid(),
    messageType,
    content: messageContent,
    senderEmail: email,
    // Optional: many From headers carry no display name.
    senderName: shortText.optional(),
    leadId: z.uuid().optional(),
    threadId: z.uuid().optional(),
  },
  idempotencyKey: (p) => [p.workspaceId, p.messageId],
  options: AI_OPTIONS,
  // the reply and its sender, on the queue only as envelopes (job-security.ts)
  sensitive: ['content', 'senderEmail', 'senderName'],
});

export const aiJobs = [generateEmailContent, analyzeSentiment, generateSmartReply, extractMeetingIntent] as const;
