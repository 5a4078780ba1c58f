import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer, type Fault } from '../fake-llm/server.js';
import { sentimentOutput } from '../src/domain/outputs.js';
import { createAnthropicLlmClient, createAnthropicSdk } from '../src/providers/anthropic-llm-client.js';
import { LlmError, type LlmClient, type LlmErrorKind } from '../src/providers/llm-client.js';
import { createOpenAiLlmClient, createOpenAiSdk } from '../src/providers/openai-llm-client.js';

/** Both adapters on the real SDKs against the fake server over a real socket: every error path. */
let fake: FakeLlmServer;
let clients: Record<'openai' | 'anthropic', LlmClient>;
beforeAll(async () => {
  fake = await startFakeLlmServer();
  clients = {
    openai: createOpenAiLlmClient(createOpenAiSdk({ apiKey: 'test', baseURL: fake.openaiBaseUrl })),
    anthropic: createAnthropicLlmClient(createAnthropicSdk({ apiKey: 'test', baseURL: fake.anthropicBaseUrl })),
  };
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const ID = '0b5c2a8e-4a55-4c39-9f0e-2d7f6f2b1a01';
const request = (overrides: Partial<{ timeoutMs: number; temperature: number; signal: AbortSignal }> = {}) => ({
  model: 'model-x',
  system: 'score it',
  user: `<message id="${ID}" author="lead" at="2026-12-01T10:00:00Z" score="yes">Thanks, sounds good. What is the pricing?</message>`,
  schema: sentimentOutput,
  schemaName: 'sentiment_v1',
  maxOutputTokens: 300,
  timeoutMs: 5000,
  ...overrides,
});

async function failure(client: LlmClient, overrides = {}): Promise<LlmError> {
  const err = await client.complete(request(overrides)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LlmError);
  return err as LlmError;
}

describe.each(['openai', 'anthropic'] as const)('%s adapter', (provider) => {
  const route = provider === 'openai' ? 'chat' : 'messages';

  it('returns schema-checked output, the echoed model, request id, usage and limit headers', async () => {
    fake.configure({ rpm: 600, usage: { input: 40, output: 12, cached: 5 } });
    const result = await clients[provider].complete(request({ temperature: 0 }));
    expect(result.output.messages[0]).toMatchObject({ id: ID, sentiment: 'positive' });
    expect(result.model).toBe('model-x');
    expect(result.requestId).toMatch(/^req_/);
    expect(result.usage).toEqual({ inputTokens: 40, outputTokens: 12, cachedTokens: 5 });
    expect(result.limits.limitRequests).toBe(600);
    expect(result.limits.remainingRequests).toBeGreaterThanOrEqual(0);
    const sent = fake.requests[0]!;
    expect(sent.route).toBe(route);
    // an explicit 0 stays 0, the schema travels on the wire, auth is a bearer token
    expect(sent.temperature).toBe(0);
    expect(sent.auth).toBe('bearer'); // Anthropic 1.x: Authorization: Bearer (providers.md §3)
    if (provider === 'openai') {
      expect(sent.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'sentiment_v1', strict: true } });
    } else {
      expect(sent.body.output_config).toMatchObject({ format: { type: 'json_schema' } });
    }
  });

  const cases: Array<[string, Fault, LlmErrorKind, boolean]> = [
    ['429', { kind: 'status', status: 429, headers: { 'retry-after-ms': '1500' } }, 'rate_limited', true],
    ['529', { kind: 'status', status: 529, code: provider === 'anthropic' ? 'overloaded_error' : undefined }, 'overloaded', true],
    ['500', { kind: 'status', status: 500 }, 'server', true],
    ['503', { kind: 'status', status: 503 }, 'server', true],
    ['400', { kind: 'status', status: 400 }, 'bad_request', false],
    ['401', { kind: 'status', status: 401 }, 'auth', false],
    ['403', { kind: 'status', status: 403 }, 'auth', false],
    ['404', { kind: 'status', status: 404 }, 'not_found', false],
    ['422', { kind: 'status', status: 422 }, 'unprocessable', false],
    ['insufficient_quota', { kind: 'status', status: 429, code: 'insufficient_quota' }, 'insufficient_quota', false],
    ['length cut-off', { kind: 'length' }, 'length', false],
    ['invalid JSON', { kind: 'invalid_json' }, 'invalid_output', false],
    ['output outside the schema', { kind: 'schema_mismatch' }, 'invalid_output', false],
    ['a closed connection', { kind: 'close' }, 'connection', true],
  ];
  it.each(cases)('%s', async (_name, fault, kind, retryable) => {
    if (provider === 'anthropic' && kind === 'insufficient_quota') return; // an OpenAI body code
    fake.script({ fault });
    const err = await failure(clients[provider]);
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(retryable);
    expect(err.provider).toBe(provider);
    if (fault.kind === 'status') expect(err.details.requestId).toMatch(/^req_err_/);
    if (kind === 'rate_limited') expect(err.details.retryAfterMs).toBe(1500);
    if (kind === 'length' || kind === 'invalid_output') expect(err.details.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('a hanging provider ends in a timeout', async () => {
    fake.script({ fault: { kind: 'hang' } });
    expect((await failure(clients[provider], { timeoutMs: 300 })).kind).toBe('timeout');
  });

  it("the job's signal aborts the call", async () => {
    fake.script({ fault: { kind: 'hang' } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('budget')), 200);
    expect((await failure(clients[provider], { signal: controller.signal })).kind).toBe('aborted');
  });

  it('a closed port is a connection error', async () => {
    const port = fake.port;
    const closed =
      provider === 'openai'
        ? createOpenAiLlmClient(createOpenAiSdk({ apiKey: 'k', baseURL: `http://127.0.0.1:1/v1` }))
        : createAnthropicLlmClient(createAnthropicSdk({ apiKey: 'k', baseURL: `http://127.0.0.1:1` }));
    expect(port).toBeGreaterThan(0);
    expect((await failure(closed)).kind).toBe('connection');
  });
});

describe('the fake server speaks the Responses API too', () => {
  it('POST /v1/responses: the SDK parses structured output, usage and the request id; a scripted 429 is a RateLimitError', async () => {
    const sdk = new OpenAI({ apiKey: 'test', baseURL: fake.openaiBaseUrl, maxRetries: 0, timeout: 5000 });
    fake.configure({ usage: { input: 40, output: 8, cached: 3 } });
    const { data, request_id } = await sdk.responses
      .parse({
        model: 'gpt-4.1-mini',
        instructions: 'score it',
        input: request().user,
        text: { format: zodTextFormat(sentimentOutput, 'sentiment_v1') },
        temperature: 0,
      })
      .withResponse();
    expect(data.output_parsed?.messages[0]).toMatchObject({ id: ID, sentiment: 'positive' });
    expect(data.model).toBe('gpt-4.1-mini');
    expect(data.usage).toMatchObject({ input_tokens: 40, output_tokens: 8, input_tokens_details: { cached_tokens: 3 } });
    expect(request_id).toMatch(/^req_/);
    expect(fake.requests[0]).toMatchObject({ route: 'responses', schemaName: 'sentiment_v1', temperature: 0, auth: 'bearer' });
    expect(fake.requests[0]!.body.text).toMatchObject({ format: { type: 'json_schema', name: 'sentiment_v1', strict: true } });

    fake.script({ route: 'responses', fault: { kind: 'status', status: 429, headers: { 'retry-after-ms': '700' } } });
    const err = await sdk.responses.create({ model: 'gpt-4.1-mini', input: 'hi' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after-ms')).toBe('700');
  });
});
