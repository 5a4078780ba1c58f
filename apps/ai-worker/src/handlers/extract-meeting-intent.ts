import type { extractMeetingIntent, JobPayload } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AiDeps } from '../deps.js';
import { meetingIntentOutput } from '../domain/outputs.js';
import { meetingIntentPrompt } from '../domain/prompts.js';
import { proposeSlots } from '../domain/slots.js';
import { runLlmTask } from './llm-task.js';

type Payload = JobPayload<typeof extractMeetingIntent>;
const HORIZON_DAYS = 14;

/**
 * Detects a meeting request. "Not a meeting" is a success with `detected: false` (nothing stored
 * but the usage). A detected request is stored once per source message with up to three slots
 * from the workspace's availability minus calendar busy times; a calendar failure only means no
 * slots (the request is still recorded).
 */
export const extractMeetingIntentHandler: Handler<typeof extractMeetingIntent, AiDeps> = async (p: Payload, ctx) => {
  const { store, calendar, now } = ctx.deps;
  const existing = await store.findMeetingRequest(p.workspaceId, p.messageId);
  if (existing) return { detected: true, meetingRequestId: existing.id, confidence: existing.confidence };
  const at = now();
  const task = await runLlmTask(
    {
      workspaceId: p.workspaceId,
      purpose: 'extract-meeting-intent',
      override: {},
      prompt: meetingIntentPrompt,
      input: { content: p.content, messageType: p.messageType, now: at.toISOString() },
      schema: meetingIntentOutput,
      maxOutputTokens: 400,
      temperature: 0,
      onInvalidOutput: 'fail',
    },
    ctx,
  );
  const out = task.output!;
  if (!out.isMeetingRequest || out.intentType === 'none') {
    await store.recordMeetingRequest(p.workspaceId, undefined, task.settlement);
    return { detected: false, confidence: out.confidence };
  }
  const durationMinutes = out.durationMinutes ?? 30;
  let slots: Array<{ startsAt: Date; endsAt: Date }> = [];
  try {
    const [windows, busy] = await Promise.all([
      store.availability(p.workspaceId),
      calendar.busy(p.workspaceId, at, new Date(at.getTime() + HORIZON_DAYS * 86_400_000), ctx.signal),
    ]);
    slots = proposeSlots({ from: at, durationMinutes, windows, busy, horizonDays: HORIZON_DAYS });
  } catch (err) {
    ctx.log.warn('meeting slots unavailable (calendar free/busy failed)', { err: (err as Error).name });
  }
  const stored = await store.recordMeetingRequest(
    p.workspaceId,
    {
      sourceMessageId: p.messageId,
      ...(p.leadId ? { leadId: p.leadId } : {}),
      ...(p.threadId ? { threadId: p.threadId } : {}),
      confidence: out.confidence,
      intentType: out.intentType,
      proposedTimes: out.proposedTimes,
      durationMinutes,
      timezone: out.timezone,
      metadata: { model: task.model, prompt_version: meetingIntentPrompt.version },
      slots,
    },
    task.settlement,
  );
  return { detected: true, meetingRequestId: stored!.id, confidence: out.confidence };
};
