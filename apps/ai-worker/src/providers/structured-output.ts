import type { z } from 'zod';
import { LlmError, type LlmProvider, type LlmUsage } from './llm-client.js';

/**
 * The second check of a model's output, after the provider's schema enforcement: JSON text →
 * the job's zod schema. Throws LlmError('invalid_output') carrying the usage the call consumed.
 */
export function parseStructuredOutput<T>(
  provider: LlmProvider,
  text: string | null | undefined,
  schema: z.ZodType<T>,
  details: { requestId?: string; usage: LlmUsage; model: string; latencyMs: number },
): T {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new LlmError('invalid_output', provider, `${provider} returned no output text`, details);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LlmError('invalid_output', provider, `${provider} output is not JSON`, details);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    // paths only: the values are model output and may quote lead text
    const paths = parsed.error.issues
      .map((i) => i.path.join('.') || '(root)')
      .slice(0, 5)
      .join(', ');
    throw new LlmError('invalid_output', provider, `${provider} output does not match the schema at ${paths}`, details);
  }
  return parsed.data;
}
