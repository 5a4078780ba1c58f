import type { LlmLimitHints, LlmProvider } from './llm-client.js';

/**
 * Provider limits shared by every replica: requests and tokens per minute and concurrent calls
 * per provider key. `run` waits for capacity, runs the call, and reads the provider's remaining
 * limits from its response to slow everyone down before a 429.
 */
export interface ProviderLimits {
  run<T extends { readonly limits: LlmLimitHints }>(
    provider: LlmProvider,
    estimatedTokens: number,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

/** No limits (unit tests; a provider without configured limits). */
export const unlimitedProviderLimits: ProviderLimits = {
  run: (_provider, _tokens, _signal, call) => call(),
  close: async () => {},
};

/**
 * How long to hold every caller back after a response says few requests (or tokens) are left:
 * below `threshold` of the limit, the time the provider needs to give back what is missing to
 * reach it, at the limit's own per-minute rate. 0 when there is room.
 */
export function slowDownMs(hints: LlmLimitHints, threshold = 0.1): number {
  const delay = (remaining: number | undefined, limit: number | undefined) => {
    if (remaining === undefined || limit === undefined || limit <= 0) return 0;
    const floor = Math.max(1, limit * threshold);
    return remaining >= floor ? 0 : Math.ceil(((floor - remaining) * 60_000) / limit);
  };
  return Math.max(delay(hints.remainingRequests, hints.limitRequests), delay(hints.remainingTokens, hints.limitTokens));
}
