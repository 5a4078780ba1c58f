import type { LlmProvider, LlmUsage } from '../providers/llm-client.js';

/**
 * Our own price table (providers return no cost): USD per million tokens. Stored with every usage
 * row as `price_version`; a price change is a new version. Models are matched by prefix, the
 * longest first, so dated snapshots (`gpt-4.1-mini-2025-04-14`) find their family.
 */
export const PRICE_VERSION = '2026-11-01';

interface Price {
  readonly input: number;
  readonly cachedInput: number;
  readonly output: number;
}

const PRICES: Record<LlmProvider, Array<[prefix: string, price: Price]>> = {
  openai: [
    ['gpt-4.1-nano', { input: 0.1, cachedInput: 0.025, output: 0.4 }],
    ['gpt-4.1-mini', { input: 0.4, cachedInput: 0.1, output: 1.6 }],
    ['gpt-4.1', { input: 2, cachedInput: 0.5, output: 8 }],
    ['gpt-4o-mini', { input: 0.15, cachedInput: 0.075, output: 0.6 }],
    ['gpt-4o', { input: 2.5, cachedInput: 1.25, output: 10 }],
    ['gpt-5-mini', { input: 0.25, cachedInput: 0.025, output: 2 }],
    ['gpt-5', { input: 1.25, cachedInput: 0.125, output: 10 }],
  ],
  anthropic: [
    ['claude-haiku-4', { input: 1, cachedInput: 0.1, output: 5 }],
    ['claude-sonnet-4', { input: 3, cachedInput: 0.3, output: 15 }],
    ['claude-opus-4', { input: 15, cachedInput: 1.5, output: 75 }],
  ],
};

for (const list of Object.values(PRICES)) list.sort((a, b) => b[0].length - a[0].length);

/** Cost in USD (6 decimals, the column's scale); 0 for a model missing from the table. */
export function costOf(provider: LlmProvider, model: string, usage: LlmUsage): number {
  const price = PRICES[provider].find(([prefix]) => model.startsWith(prefix))?.[1];
  if (!price) return 0;
  const uncached = Math.max(0, usage.inputTokens - usage.cachedTokens);
  const usd = (uncached * price.input + usage.cachedTokens * price.cachedInput + usage.outputTokens * price.output) / 1_000_000;
  return Math.round(usd * 1_000_000) / 1_000_000;
}
