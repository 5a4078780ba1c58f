import { randomBytes } from 'node:crypto';
import type { AiUsageCall } from '@coldcopy/db';
import { PermanentJobError, RetryAfterError } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { z } from 'zod';
import type { AiDeps } from '../deps.js';
import { costOf, PRICE_VERSION } from '../domain/prices.js';
import { estimateTokens, type PromptTemplate } from '../domain/prompts.js';
import { LlmError, type LlmProvider } from '../providers/llm-client.js';
import type { CallRecord } from '../providers/llm-router.js';
import type { Settlement } from '../providers/ai-store.js';

/**
 * One LLM task of a job, the same for all four: provider and model (payload > workspace > env),
 * a token hold before the first call, the call through the router (limits, fallback), one more
 * call when the output is invalid, and the error mapping for Bull:
 *
 * - retryable (429, 529, 5xx, connection, timeout) after the fallback: RetryAfterError with the
 *   provider's retry-after, else a plain error (the queue's backoff);
 * - 400/401/403/404/422, insufficient_quota, a length cut-off, a refusal, invalid output twice and
 *   a balance that cannot cover the estimate: PermanentJobError with the reason.
 *
 * On success the caller stores its result together with `settlement` (one transaction); on
 * failure the task settles here (the hold goes back, consumed tokens are charged) and throws.
 */
export interface LlmTask<T, I> {
  readonly workspaceId: string;
  readonly userId?: string;
  /** the job name, stored as the usage row's purpose */
  readonly purpose: string;
  readonly override: { provider?: string; model?: string };
  readonly prompt: PromptTemplate<I>;
  readonly input: I;
  readonly schema: z.ZodType<T>;
  readonly maxOutputTokens: number;
  readonly temperature: number;
  /** checks the schema cannot express (ids, counts); returns a reason when the output is unusable */
  readonly check?: (output: T) => string | undefined;
  /** `undefined`: after two invalid outputs return no output instead of failing (sentiment: confidence 0) */
  readonly onInvalidOutput: 'fail' | 'undefined';
}

export interface LlmTaskResult<T> {
  readonly output: T | undefined;
  readonly provider: LlmProvider;
  readonly model: string;
  readonly tokens: number;
  readonly settlement: Settlement;
}

export async function runLlmTask<T, I>(task: LlmTask<T, I>, ctx: JobContext<AiDeps>): Promise<LlmTaskResult<T>> {
  const { deps } = ctx;
  const workspace = await deps.store.workspaceAi(task.workspaceId);
  let choice;
  try {
    choice = deps.llm.choose(task.override, workspace);
  } catch (err) {
    throw new PermanentJobError((err as Error).message);
  }
  const system = task.prompt.system;
  const user = task.prompt.render(task.input);
  const estimate = estimateTokens(system, user, task.maxOutputTokens);
  const run = randomBytes(4).toString('hex');
  const calls: AiUsageCall[] = [];
  const onCall = (c: CallRecord) => {
    deps.metrics.calls.labels(c.provider, c.outcome).inc();
    if (calls.length > 0 && calls[calls.length - 1]!.provider !== c.provider)
      deps.metrics.fallbacks.labels(calls[calls.length - 1]!.provider, c.provider).inc();
    calls.push({
      callKey: `${ctx.jobId}:${run}:${calls.length + 1}`,
      ...(task.userId ? { userId: task.userId } : {}),
      provider: c.provider,
      model: c.model,
      ...(c.requestId ? { requestId: c.requestId } : {}),
      inputTokens: c.usage.inputTokens,
      outputTokens: c.usage.outputTokens,
      cachedTokens: c.usage.cachedTokens,
      cost: costOf(c.provider, c.model, c.usage),
      priceVersion: PRICE_VERSION,
      purpose: task.purpose,
      latencyMs: c.latencyMs,
      outcome: c.outcome,
    });
  };
  const settlement: Settlement = { jobId: ctx.jobId, calls };
  const hold = async (tokens: number) => {
    const held = await deps.store.holdTokens(task.workspaceId, ctx.jobId, tokens);
    if (!held.ok) {
      deps.metrics.budgetRefusals.labels(task.purpose).inc();
      throw new PermanentJobError(`insufficient AI tokens: the call needs up to ${tokens} tokens, the workspace has ${held.balance} left`);
    }
  };

  try {
    await hold(estimate);
    let invalid: string | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      // the retry of invalid output is a second call: it holds a second estimate
      if (attempt === 2) await hold(estimate * 2);
      let result;
      try {
        result = await deps.llm.complete(
          choice,
          {
            system,
            user,
            schema: task.schema,
            schemaName: task.prompt.schemaName,
            maxOutputTokens: task.maxOutputTokens,
            temperature: task.temperature,
            timeoutMs: deps.config.timeoutMs,
            signal: ctx.signal,
          },
          estimate,
          onCall,
        );
      } catch (err) {
        if (err instanceof LlmError && err.kind === 'invalid_output') {
          invalid = err.message;
          continue;
        }
        throw err;
      }
      invalid = task.check?.(result.output);
      if (invalid === undefined) {
        const tokens = calls.reduce((s, c) => s + c.inputTokens + c.outputTokens, 0);
        for (const c of calls) deps.metrics.tokens.labels(c.provider).inc(c.inputTokens + c.outputTokens);
        return { output: result.output, provider: result.provider, model: result.model, tokens, settlement };
      }
    }
    if (task.onInvalidOutput === 'undefined') {
      ctx.log.warn('invalid LLM output twice, recording without it', { reason: invalid });
      return { output: undefined, provider: choice.provider, model: calls[calls.length - 1]?.model ?? choice.model, tokens: 0, settlement };
    }
    throw new PermanentJobError(`invalid LLM output after one retry: ${invalid}`);
  } catch (err) {
    await deps.store.settleTokens(task.workspaceId, settlement).catch((e: Error) => ctx.log.error('token settlement failed', { err: e.message }));
    throw toJobError(err);
  }
}

/** Bull's view of an LLM failure (messages carry kinds and status codes only, never content). */
export function toJobError(err: unknown): unknown {
  if (!(err instanceof LlmError)) return err;
  if (err.kind === 'aborted') return err;
  if (err.retryable) {
    return err.details.retryAfterMs !== undefined
      ? new RetryAfterError(Math.max(1000, err.details.retryAfterMs), `${err.message}: retry after ${err.details.retryAfterMs} ms`, { cause: err })
      : Object.assign(new Error(err.message, { cause: err }), { name: 'LlmTransientError' });
  }
  const reason: Record<string, string> = {
    length: 'output cut off at the max tokens limit',
    insufficient_quota: 'the provider account has no credit left (insufficient_quota)',
    auth: 'the provider refused the API key',
    not_found: 'the provider does not know the model',
    refusal: 'the model refused',
  };
  return new PermanentJobError(`${err.message}${reason[err.kind] ? `: ${reason[err.kind]}` : ''}`, { cause: err });
}
