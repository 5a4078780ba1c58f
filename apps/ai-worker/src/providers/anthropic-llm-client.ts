import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import { LlmError, numberHeader, type LlmClient, type LlmRequest, type LlmResult } from './llm-client.js';
import { classifySdkError } from './sdk-errors.js';
import { parseStructuredOutput } from './structured-output.js';

const CLASSES = { APIError, APIConnectionError, APIConnectionTimeoutError, APIUserAbortError };

export interface AnthropicOptions {
  readonly apiKey: string;
  /** e.g. `http://127.0.0.1:<port>` for the fake server (without `/v1`); default api.anthropic.com */
  readonly baseURL?: string;
}

/**
 * The SDK client as workers use it: retries off, and always an explicit apiKey (1.x otherwise
 * looks for credentials in profiles and workload-identity variables).
 */
export function createAnthropicSdk(options: AnthropicOptions): Anthropic {
  return new Anthropic({ apiKey: options.apiKey, ...(options.baseURL ? { baseURL: options.baseURL } : {}), maxRetries: 0 });
}

/**
 * Messages with structured output (`output_config.format` = the job's zod schema as JSON Schema,
 * zodOutputFormat); the first text block is parsed and validated again here.
 */
export function createAnthropicLlmClient(sdk: Anthropic): LlmClient {
  return {
    provider: 'anthropic',
    async complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>> {
      const started = performance.now();
      let result;
      try {
        result = await sdk.messages
          .create(
            {
              model: request.model,
              max_tokens: request.maxOutputTokens,
              system: request.system,
              messages: [{ role: 'user', content: request.user }],
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              output_config: { format: zodOutputFormat(request.schema as never) },
            },
            { timeout: request.timeoutMs, signal: request.signal, maxRetries: 0 },
          )
          .withResponse();
      } catch (err) {
        throw classifySdkError('anthropic', err, CLASSES, request.signal);
      }
      const latencyMs = Math.round(performance.now() - started);
      const { data, response, request_id } = result;
      const usage = {
        inputTokens: (data.usage?.input_tokens ?? 0) + (data.usage?.cache_creation_input_tokens ?? 0) + (data.usage?.cache_read_input_tokens ?? 0),
        outputTokens: data.usage?.output_tokens ?? 0,
        cachedTokens: data.usage?.cache_read_input_tokens ?? 0,
      };
      const details = { requestId: request_id ?? undefined, usage, model: data.model, latencyMs };
      if (data.stop_reason === 'max_tokens') throw new LlmError('length', 'anthropic', 'anthropic output cut off at max tokens', details);
      if (data.stop_reason === 'refusal') throw new LlmError('refusal', 'anthropic', 'anthropic refused the request', details);
      const text = data.content.find((b) => b.type === 'text');
      const output = parseStructuredOutput('anthropic', text && 'text' in text ? text.text : undefined, request.schema, details);
      const headers = response.headers;
      return {
        output,
        provider: 'anthropic',
        model: data.model,
        requestId: request_id ?? undefined,
        usage,
        latencyMs,
        limits: {
          remainingRequests: numberHeader(headers, 'anthropic-ratelimit-requests-remaining'),
          limitRequests: numberHeader(headers, 'anthropic-ratelimit-requests-limit'),
          remainingTokens: numberHeader(headers, 'anthropic-ratelimit-tokens-remaining'),
          limitTokens: numberHeader(headers, 'anthropic-ratelimit-tokens-limit'),
        },
      };
    },
  };
}
