import { Counter, Registry } from 'prom-client';

/**
 * The AI worker's own metrics (labels are provider, outcome and job names only: never prompts,
 * models' output or workspace data). Alert rules in ops/alerts read them: provider error rate,
 * fallback rate, budget refusals.
 */
export interface AiMetrics {
  /** one per provider call: outcome `ok` or the LlmError kind */
  readonly calls: Counter<'provider' | 'outcome'>;
  /** a retryable failure sent the call to the other provider */
  readonly fallbacks: Counter<'from' | 'to'>;
  /** jobs refused because the workspace's AI token balance could not cover them */
  readonly budgetRefusals: Counter<'job'>;
  /** tokens charged to workspaces */
  readonly tokens: Counter<'provider'>;
}

export function createAiMetrics(registry: Registry = new Registry()): AiMetrics {
  return {
    calls: new Counter({
      name: 'ai_llm_calls_total',
      help: 'LLM provider calls by outcome (ok or error kind)',
      labelNames: ['provider', 'outcome'],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'ai_llm_fallbacks_total',
      help: 'Calls sent to the other provider after a retryable failure',
      labelNames: ['from', 'to'],
      registers: [registry],
    }),
    budgetRefusals: new Counter({
      name: 'ai_budget_refusals_total',
      help: 'AI jobs refused for lack of workspace AI tokens',
      labelNames: ['job'],
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'ai_tokens_charged_total',
      help: 'Tokens charged to workspaces (input + output)',
      labelNames: ['provider'],
      registers: [registry],
    }),
  };
}
