import type { MessageSentimentInput } from '@coldcopy/db';
import type { analyzeSentiment, JobPayload } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AiDeps } from '../deps.js';
import { sentimentOutput } from '../domain/outputs.js';
import { sentimentPrompt } from '../domain/prompts.js';
import { assessThread } from '../domain/sentiment.js';
import { runLlmTask } from './llm-task.js';

type Payload = JobPayload<typeof analyzeSentiment>;
const NO_EMOTIONS = { joy: 0, interest: 0, frustration: 0, anger: 0, confusion: 0, urgency: 0 };

/**
 * Scores the messages of a conversation not scored before (the others are context only), then in
 * one transaction: thread upsert, per-message rows, aggregates, alerts and the token settlement.
 * Output that is invalid twice is recorded as neutral with confidence 0 (domain.md §5), which
 * keeps it out of the aggregates and alerts.
 */
export const analyzeSentimentHandler: Handler<typeof analyzeSentiment, AiDeps> = async (p: Payload, ctx) => {
  const { store } = ctx.deps;
  const known = await store.scoredMessageIds(
    p.workspaceId,
    p.messages.map((m) => m.id),
  );
  const pending = p.messages.filter((m) => !known.has(m.id));
  const last = p.messages[p.messages.length - 1]!;
  const record = {
    threadKey: p.threadKey,
    ...(p.leadId ? { leadId: p.leadId } : {}),
    channel: p.channel,
    lastMessageAt: new Date(last.timestamp),
    messageCount: p.messages.length,
  };
  if (pending.length === 0) {
    const done = await store.recordSentiments(p.workspaceId, { ...record, results: [] }, (h, i) => assessThread(h, i, new Map()), {
      jobId: ctx.jobId,
      calls: [],
    });
    return { threadId: done.threadId, analyzed: 0, alerts: 0 };
  }
  const wanted = new Set(pending.map((m) => m.id));
  const task = await runLlmTask(
    {
      workspaceId: p.workspaceId,
      purpose: 'analyze-sentiment',
      override: {},
      prompt: sentimentPrompt,
      input: { messages: p.messages, score: wanted },
      schema: sentimentOutput,
      maxOutputTokens: 120 + 160 * pending.length,
      temperature: 0,
      check: (out) => {
        const ids = new Set(out.messages.map((m) => m.id));
        return ids.size === wanted.size && [...wanted].every((id) => ids.has(id)) ? undefined : 'the scored ids differ from the requested ones';
      },
      onInvalidOutput: 'undefined',
    },
    ctx,
  );
  const byId = new Map(task.output?.messages.map((m) => [m.id, m]));
  const results: MessageSentimentInput[] = pending.map((m) => {
    const r = byId.get(m.id);
    return {
      messageId: m.id,
      isFromLead: m.isFromLead,
      sentiment: r?.sentiment ?? 'neutral',
      score: r?.score ?? 0,
      confidence: r?.confidence ?? 0,
      emotions: r?.emotions ?? NO_EMOTIONS,
      buyingSignals: r?.buyingSignals ?? [],
      model: r ? task.model : null,
      // the analysed message's own time: the thread's history is ordered by conversation time
      analyzedAt: new Date(m.timestamp),
    };
  });
  const signals = new Map(results.map((r) => [r.messageId, r.buyingSignals]));
  const done = await store.recordSentiments(p.workspaceId, { ...record, results }, (h, i) => assessThread(h, i, signals), task.settlement);
  return { threadId: done.threadId, analyzed: done.analyzed, alerts: done.alerts };
};
