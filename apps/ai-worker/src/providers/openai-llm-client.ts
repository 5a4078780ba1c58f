import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { LlmError, numberHeader, type LlmClient, type LlmRequest, type LlmResult } from './llm-client.js';
import { classifySdkError } from './sdk-errors.js';
import { parseStructuredOutput } from './structured-output.js';

const CLASSES = { APIError, APIConnectionError, APIConnectionTimeoutError, APIUserAbortError };

export interface OpenAiOptions {
  readonly apiKey: string;
  /** e.g. `http://127.0.0.1:<port>/v1` for the fake server; default api.openai.com */
  readonly baseURL?: string;
  readonly organization?: string;
}

/** The SDK client as workers use it: retries off (one Bull attempt is one HTTP call). */
export function createOpenAiSdk(options: OpenAiOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    ...(options.organization ? { organization: options.organization } : {}),
    maxRetries: 0,
  });
}

/**
 * Chat Completions with a strict `json_schema` response format built from the job's zod schema
 * (zodResponseFormat); the content is parsed and validated again here. `create` rather than
 * `parse` so that a length cut-off and invalid JSON reach one classifier with the usage they
 * consumed.
 */
export function createOpenAiLlmClient(sdk: OpenAI): LlmClient {
  return {
    provider: 'openai',
    async complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>> {
      const started = performance.now();
      let result;
      try {
        result = await sdk.chat.completions
          .create(
            {
              model: request.model,
              messages: [
                { role: 'system', content: request.system },
                { role: 'user', content: request.user },
              ],
              max_completion_tokens: request.maxOutputTokens,
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              response_format: zodResponseFormat(request.schema, request.schemaName),
            },
            { timeout: request.timeoutMs, signal: request.signal, maxRetries: 0 },
          )
          .withResponse();
      } catch (err) {
        throw classifySdkError('openai', err, CLASSES, request.signal);
      }
      const latencyMs = Math.round(performance.now() - started);
      const { data, response, request_id } = result;
      const usage = {
        inputTokens: data.usage?.prompt_tokens ?? 0,
        outputTokens: data.usage?.completion_tokens ?? 0,
        cachedTokens: data.usage?.prompt_tokens_details?.cached_tokens ?? 0,
      };
      const details = { requestId: request_id ?? undefined, usage, model: data.model, latencyMs };
      const choice = data.choices[0];
      if (choice?.finish_reason === 'length') throw new LlmError('length', 'openai', 'openai output cut off at max tokens', details);
      if (choice?.finish_reason === 'content_filter' || choice?.message.refusal) {
        throw new LlmError('refusal', 'openai', 'openai refused or filtered the output', details);
      }
      const output = parseStructuredOutput('openai', choice?.message.content, request.schema, details);
      const headers = response.headers;
      return {
        output,
        provider: 'openai',
        model: data.model,
        requestId: request_id ?? undefined,
        usage,
        latencyMs,
        limits: {
          remainingRequests: numberHeader(headers, 'x-ratelimit-remaining-requests'),
          limitRequests: numberHeader(headers, 'x-ratelimit-limit-requests'),
          remainingTokens: numberHeader(headers, 'x-ratelimit-remaining-tokens'),
          limitTokens: numberHeader(headers, 'x-ratelimit-limit-tokens'),
        },
      };
    },
  };
}
