import type { generateSmartReply, JobPayload } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AiDeps } from '../deps.js';
import { smartReplyOutput } from '../domain/outputs.js';
import { smartReplyPrompt } from '../domain/prompts.js';
import { runLlmTask } from './llm-task.js';

type Payload = JobPayload<typeof generateSmartReply>;

/**
 * Analyses an inbound reply and drafts `count` suggestions. An unsubscribe intent stores the
 * analysis without suggestions and suppresses the sender in the same transaction. A message
 * analysed before returns its stored ids without a provider call.
 */
export const generateSmartReplyHandler: Handler<typeof generateSmartReply, AiDeps> = async (p: Payload, ctx) => {
  const { store } = ctx.deps;
  const existing = await store.findReplyAnalysis(p.workspaceId, p.messageId);
  if (existing) return { analysisId: existing.analysisId, suggestionIds: existing.suggestionIds, suppressed: existing.intent === 'unsubscribe' };
  const summary = await store.conversationSummary(p.workspaceId, p.threadId);
  const task = await runLlmTask(
    {
      workspaceId: p.workspaceId,
      purpose: 'generate-smart-reply',
      override: {},
      prompt: smartReplyPrompt,
      input: { content: p.content, senderName: p.senderName, count: p.count, tone: p.tone, context: summary },
      schema: smartReplyOutput,
      maxOutputTokens: 300 + 250 * p.count,
      temperature: 0.7,
      check: (out) =>
        out.intent !== 'unsubscribe' && out.suggestions.length !== p.count ? `expected ${p.count} suggestions, got ${out.suggestions.length}` : undefined,
      onInvalidOutput: 'fail',
    },
    ctx,
  );
  const out = task.output!;
  const unsubscribe = out.intent === 'unsubscribe';
  const stored = await store.recordReplyAnalysis(
    p.workspaceId,
    {
      messageId: p.messageId,
      threadId: p.threadId,
      ...(p.leadId ? { leadId: p.leadId } : {}),
      intent: out.intent,
      sentiment: out.sentiment,
      urgency: out.urgency,
      keyPoints: out.keyPoints,
      questions: out.questions,
      confidence: out.confidence,
      model: task.model,
      suggestions: unsubscribe ? [] : out.suggestions,
    },
    { summary: out.summary, at: ctx.deps.now() },
    unsubscribe ? { email: p.senderEmail } : undefined,
    task.settlement,
  );
  return { analysisId: stored.analysisId, suggestionIds: stored.suggestionIds, suppressed: unsubscribe };
};
