import type { z } from 'zod';

/**
 * The one port every AI job talks to (providers.md §5). Adapters: OpenAI (openai-llm-client.ts)
 * and Anthropic (anthropic-llm-client.ts) on the official SDKs; a fake with memory for unit tests
 * (fake-llm-client.ts). The output is always enforced by the job's zod schema on the wire (OpenAI
 * strict `json_schema`, Anthropic `output_config.format`) and validated again by the adapter.
 */

export type LlmProvider = 'openai' | 'anthropic';
export const LLM_PROVIDERS: readonly LlmProvider[] = ['openai', 'anthropic'];

export interface LlmRequest<T> {
  readonly model: string;
  /** our instructions; never contains lead-written text */
  readonly system: string;
  /** the task, with lead-written text inside delimiters (prompts.ts) */
  readonly user: string;
  /** output schema: JSON-shaped, every property required (nullable instead of optional) */
  readonly schema: z.ZodType<T>;
  /** name of the schema on the wire, e.g. `sentiment_v1` */
  readonly schemaName: string;
  readonly maxOutputTokens: number;
  /** an explicit 0 stays 0 (ColdCopy wrote `temperature || 0.7`) */
  readonly temperature?: number;
  /** per-request timeout (ms); the job's signal aborts earlier when its budget runs out */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface LlmUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
}

/** What one provider call tells us about the provider's remaining limits (response headers). */
export interface LlmLimitHints {
  readonly remainingRequests?: number;
  readonly limitRequests?: number;
  readonly remainingTokens?: number;
  readonly limitTokens?: number;
}

export interface LlmResult<T> {
  readonly output: T;
  readonly provider: LlmProvider;
  /** the model as echoed by the API */
  readonly model: string;
  readonly requestId: string | undefined;
  readonly usage: LlmUsage;
  readonly latencyMs: number;
  readonly limits: LlmLimitHints;
}

export interface LlmClient {
  readonly provider: LlmProvider;
  /** Throws LlmError for every failure (classified, never a raw SDK error). */
  complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>>;
}

/**
 * Why a call failed. `retryable` kinds fall back to the other provider when one is configured,
 * otherwise the attempt is retried after `retryAfterMs`; the rest are permanent.
 */
export type LlmErrorKind =
  | 'rate_limited' // 429
  | 'overloaded' // 529
  | 'server' // >= 500
  | 'connection'
  | 'timeout'
  | 'bad_request' // 400, 409, 413
  | 'auth' // 401, 403
  | 'not_found' // 404 (model)
  | 'unprocessable' // 422
  | 'insufficient_quota' // 429 with code insufficient_quota
  | 'length' // output cut off at max tokens
  | 'refusal'
  | 'invalid_output' // not JSON or not the schema
  | 'aborted'; // the job's signal fired (time budget or shutdown)

const RETRYABLE: ReadonlySet<LlmErrorKind> = new Set(['rate_limited', 'overloaded', 'server', 'connection', 'timeout']);

export class LlmError extends Error {
  override name = 'LlmError';
  constructor(
    readonly kind: LlmErrorKind,
    readonly provider: LlmProvider,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly requestId?: string;
      readonly retryAfterMs?: number;
      /** tokens the failed call still consumed (length cut-off, invalid output) */
      readonly usage?: LlmUsage;
      readonly model?: string;
      readonly latencyMs?: number;
    } = {},
  ) {
    super(message);
  }
  /** 429, 529, >= 500, connection errors and timeouts: another provider or a later attempt may succeed */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

export const ZERO_USAGE: LlmUsage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** A number header, undefined when absent. */
export function numberHeader(headers: { get(name: string): string | null } | undefined, name: string): number | undefined {
  const value = headers?.get(name);
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
