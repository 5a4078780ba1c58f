import type { generateEmailContent, JobPayload } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { AiDeps } from '../deps.js';
import { emailContentOutput } from '../domain/outputs.js';
import { emailContentPrompt } from '../domain/prompts.js';
import { runLlmTask } from './llm-task.js';

type Payload = JobPayload<typeof generateEmailContent>;

/** Output allowance per requested length (the hold and the max tokens of the call). */
export const EMAIL_MAX_OUTPUT_TOKENS = { short: 300, medium: 500, long: 800 } as const;

/**
 * Writes a subject and body for a lead or campaign step. The draft and the token settlement
 * commit together, once per job id; a job run again after that returns the stored draft without
 * a provider call.
 */
export const generateEmailContentHandler: Handler<typeof generateEmailContent, AiDeps> = async (p: Payload, ctx) => {
  const { store } = ctx.deps;
  const existing = await store.findDraft(p.workspaceId, ctx.jobId);
  if (existing) return { draftId: existing.id, subject: existing.subject, body: existing.body, model: existing.model, usage: { tokens: existing.tokens } };
  const [lead, workspace] = await Promise.all([
    p.leadId ? store.leadProfile(p.workspaceId, p.leadId) : Promise.resolve({} as Awaited<ReturnType<typeof store.leadProfile>>),
    store.workspaceAi(p.workspaceId),
  ]);
  const task = await runLlmTask(
    {
      workspaceId: p.workspaceId,
      userId: p.userId,
      purpose: 'generate-email-content',
      override: { ...(p.provider ? { provider: p.provider } : {}), ...(p.model ? { model: p.model } : {}) },
      prompt: emailContentPrompt,
      input: {
        leadName: p.context.leadName ?? lead.name,
        company: p.context.company ?? lead.company,
        title: p.context.title ?? lead.title,
        industry: lead.industry,
        campaignGoal: p.context.campaignGoal,
        tone: p.context.tone,
        length: p.context.length,
        stepNumber: p.stepNumber,
        senderName: workspace.senderName,
      },
      schema: emailContentOutput,
      maxOutputTokens: EMAIL_MAX_OUTPUT_TOKENS[p.context.length],
      temperature: 0.7,
      onInvalidOutput: 'fail',
    },
    ctx,
  );
  const out = task.output!;
  const draft = await store.recordDraft(
    p.workspaceId,
    {
      jobId: ctx.jobId,
      userId: p.userId,
      ...(p.leadId ? { leadId: p.leadId } : {}),
      ...(p.campaignId ? { campaignId: p.campaignId } : {}),
      ...(p.stepNumber ? { stepNumber: p.stepNumber } : {}),
      subject: out.subject,
      body: out.body,
      provider: task.provider,
      model: task.model,
      promptVersion: emailContentPrompt.version,
      tokens: task.tokens,
    },
    task.settlement,
  );
  return { draftId: draft.id, subject: draft.subject, body: draft.body, model: draft.model, usage: { tokens: draft.tokens } };
};
