import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readBody, sendJson } from '@coldcopy/testing/emulator';
import { respondFor } from './responders.js';

/**
 * A local stand-in for OpenAI and Anthropic that speaks their wire formats (providers.md §4):
 * `POST /v1/chat/completions`, `POST /v1/responses` and `POST /v1/messages`, over a real socket on
 * 127.0.0.1, so tests and `npm run dev` drive the real SDKs.
 *
 * - Answers are built from the request's JSON Schema: by schema name with the responders in
 *   responders.ts (keyword rules, good enough for a demo), else a minimal valid instance.
 * - Configurable latency, a requests/tokens-per-minute limit that answers 429 with the provider's
 *   headers, and a script of faults for the next requests: 429 (with retry-after), 529, 5xx,
 *   `insufficient_quota`, 4xx, a length cut-off, invalid JSON, output that breaks the schema, a
 *   closed connection, a hang.
 * - A request log (route, model, schema, temperature, max tokens, status; the body for tests).
 * - Control over HTTP for other processes: `GET /__fake/requests`, `POST /__fake/config`,
 *   `POST /__fake/script`, `POST /__fake/reset`.
 */

export type Route = 'chat' | 'responses' | 'messages';
export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly code?: string; readonly headers?: Record<string, string> }
  | { readonly kind: 'length' }
  | { readonly kind: 'invalid_json' }
  | { readonly kind: 'schema_mismatch' }
  | { readonly kind: 'close' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'output'; readonly output: unknown };

export interface ScriptEntry {
  /** only requests of this route consume the entry (default: any) */
  readonly route?: Route;
  readonly fault: Fault;
}

export interface FakeLlmConfig {
  /** added to every answer (ms) */
  latencyMs: number;
  /** requests per minute before 429 (continuous refill, burst of one second); 0 = unlimited */
  rpm: number;
  /** tokens per minute before 429 (input estimate + max tokens of the request); 0 = unlimited */
  tpm: number;
  /** fixed usage for every answer instead of the character estimate */
  usage?: { input: number; output: number; cached?: number };
}

export interface LoggedRequest {
  readonly route: Route;
  readonly model: string;
  readonly schemaName: string | undefined;
  readonly temperature: number | undefined;
  readonly maxTokens: number | undefined;
  /** `bearer`, `x-api-key` or `none` */
  readonly auth: string;
  readonly at: number;
  status: number;
  readonly body: Record<string, unknown>;
}

export interface FakeLlmServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>/v1`: OpenAI's baseURL */
  readonly openaiBaseUrl: string;
  /** `http://127.0.0.1:<port>`: Anthropic's baseURL (no `/v1`) */
  readonly anthropicBaseUrl: string;
  readonly config: FakeLlmConfig;
  readonly requests: LoggedRequest[];
  /** rate-limit answers given */
  rateLimited(): number;
  script(...entries: ScriptEntry[]): void;
  configure(patch: Partial<FakeLlmConfig>): void;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_CONFIG: FakeLlmConfig = { latencyMs: 0, rpm: 0, tpm: 0 };

class Bucket {
  private tokens: number;
  private last = Date.now();
  constructor(private perMinute: number) {
    this.tokens = perMinute / 60;
  }
  /**
   * Continuous refill at perMinute/60 per second, capacity one second's worth (at least 1).
   * `remaining` is what is left on the per-minute scale the provider reports (the bucket's fill
   * times the minute's limit): a full bucket reports the whole limit, like an idle account. As the
   * raw fill (at most one second's worth) it read as "under 10 % left" on every answer and made
   * the workers' slow-down hold everybody back by ~5 s per call.
   */
  take(amount: number): { ok: boolean; remaining: number; waitMs: number } {
    const capacity = Math.max(1, this.perMinute / 60);
    const now = Date.now();
    this.tokens = Math.min(capacity, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
    const need = Math.min(amount, capacity);
    if (this.tokens >= need) {
      this.tokens -= need;
      return { ok: true, remaining: Math.floor((this.tokens / capacity) * this.perMinute), waitMs: 0 };
    }
    return { ok: false, remaining: 0, waitMs: Math.ceil(((need - this.tokens) * 60_000) / this.perMinute) };
  }
}

export async function startFakeLlmServer(initial: Partial<FakeLlmConfig> = {}, port = 0): Promise<FakeLlmServer> {
  const config: FakeLlmConfig = { ...DEFAULT_CONFIG, ...initial };
  const requests: LoggedRequest[] = [];
  let script: ScriptEntry[] = [];
  let limited = 0;
  let requestBucket = config.rpm > 0 ? new Bucket(config.rpm) : undefined;
  let tokenBucket = config.tpm > 0 ? new Bucket(config.tpm) : undefined;
  const sockets = new Set<Socket>();

  const configure = (patch: Partial<FakeLlmConfig>) => {
    Object.assign(config, patch);
    if ('rpm' in patch) requestBucket = config.rpm > 0 ? new Bucket(config.rpm) : undefined;
    if ('tpm' in patch) tokenBucket = config.tpm > 0 ? new Bucket(config.tpm) : undefined;
  };
  const reset = () => {
    requests.length = 0;
    script = [];
    limited = 0;
    configure({ ...DEFAULT_CONFIG, usage: undefined });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `fake server error: ${err.message}` } });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = await readBody(req);
    if (url.pathname.startsWith('/__fake/')) return control(url.pathname, text, res);
    const route: Route | undefined =
      req.method === 'POST' && url.pathname === '/v1/chat/completions'
        ? 'chat'
        : req.method === 'POST' && url.pathname === '/v1/responses'
          ? 'responses'
          : req.method === 'POST' && url.pathname === '/v1/messages'
            ? 'messages'
            : undefined;
    if (!route) return sendJson(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: 'not_found' } });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
    }
    const request = parseRequest(route, body);
    const auth = req.headers.authorization?.startsWith('Bearer ') ? 'bearer' : req.headers['x-api-key'] ? 'x-api-key' : 'none';
    const logged: LoggedRequest = {
      route,
      model: request.model,
      schemaName: request.schemaName,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      auth,
      at: Date.now(),
      status: 200,
      body,
    };
    requests.push(logged);
    if (auth === 'none') return error(res, route, logged, 401, 'authentication_error');

    const index = script.findIndex((e) => e.route === undefined || e.route === route);
    const fault = index >= 0 ? script.splice(index, 1)[0]!.fault : undefined;
    if (fault?.kind === 'close') {
      logged.status = 0;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      logged.status = 0;
      return; // never answers; the client's timeout or abort ends it
    }
    if (fault?.kind === 'status') return error(res, route, logged, fault.status, fault.code, fault.headers);

    // limits before latency: a real provider refuses at once
    const estimate = Math.ceil(JSON.stringify(request.messages).length / 4) + (request.maxTokens ?? 0);
    const r = requestBucket?.take(1);
    const t = tokenBucket?.take(estimate);
    if ((r && !r.ok) || (t && !t.ok)) {
      limited++;
      const waitMs = Math.max(r?.waitMs ?? 0, t?.waitMs ?? 0);
      return error(res, route, logged, 429, undefined, { 'retry-after-ms': String(waitMs), 'retry-after': String(Math.ceil(waitMs / 1000)) });
    }
    if (config.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, config.latencyMs));

    let output: string;
    let cut = false;
    if (fault?.kind === 'invalid_json') output = '{"this is": not json';
    else if (fault?.kind === 'schema_mismatch') output = JSON.stringify({ unexpected: true });
    else if (fault?.kind === 'output') output = JSON.stringify(fault.output);
    else output = JSON.stringify(respondFor(request.schemaName, request.schema, request.messages));
    if (fault?.kind === 'length') {
      cut = true;
      output = output.slice(0, Math.max(1, Math.floor(output.length / 2)));
    }
    const usage = config.usage ?? {
      input: Math.ceil(JSON.stringify(request.messages).length / 4),
      output: Math.ceil(output.length / 4),
      cached: 0,
    };
    const headers = limitHeaders(route, r?.remaining, t?.remaining);
    const id = randomUUID().replace(/-/g, '').slice(0, 24);
    if (route === 'chat') {
      return sendJson(
        res,
        200,
        {
          id: `chatcmpl-${id}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: request.model,
          choices: [{ index: 0, finish_reason: cut ? 'length' : 'stop', logprobs: null, message: { role: 'assistant', content: output, refusal: null } }],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
            prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
            completion_tokens_details: { reasoning_tokens: 0 },
          },
        },
        { ...headers, 'x-request-id': `req_${id}` },
      );
    }
    if (route === 'responses') {
      return sendJson(
        res,
        200,
        {
          id: `resp_${id}`,
          object: 'response',
          created_at: Math.floor(Date.now() / 1000),
          status: cut ? 'incomplete' : 'completed',
          ...(cut ? { incomplete_details: { reason: 'max_output_tokens' } } : {}),
          model: request.model,
          output: [
            {
              type: 'message',
              id: `msg_${id}`,
              role: 'assistant',
              status: cut ? 'incomplete' : 'completed',
              content: [{ type: 'output_text', text: output, annotations: [] }],
            },
          ],
          usage: {
            input_tokens: usage.input,
            input_tokens_details: { cached_tokens: usage.cached ?? 0 },
            output_tokens: usage.output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.input + usage.output,
          },
        },
        { ...headers, 'x-request-id': `req_${id}` },
      );
    }
    const toolName = (body.tools as Array<{ name?: string }> | undefined)?.[0]?.name;
    const forcedTool = (body.tool_choice as { type?: string } | undefined)?.type === 'tool' && toolName;
    return sendJson(
      res,
      200,
      {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model: request.model,
        content: forcedTool && !cut ? [{ type: 'tool_use', id: `toolu_${id}`, name: toolName, input: safeJson(output) }] : [{ type: 'text', text: output }],
        stop_reason: cut ? 'max_tokens' : forcedTool ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: usage.input - (usage.cached ?? 0),
          output_tokens: usage.output,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: usage.cached ?? 0,
        },
      },
      { ...headers, 'request-id': `req_${id}` },
    );
  }

  function limitHeaders(route: Route, remainingRequests: number | undefined, remainingTokens: number | undefined): Record<string, string> {
    const h: Record<string, string> = {};
    const prefix = route === 'messages' ? 'anthropic-ratelimit-' : 'x-ratelimit-';
    const name = (what: 'requests' | 'tokens', field: 'limit' | 'remaining') =>
      route === 'messages' ? `${prefix}${what}-${field}` : `${prefix}${field}-${what}`;
    if (config.rpm > 0) {
      h[name('requests', 'limit')] = String(config.rpm);
      h[name('requests', 'remaining')] = String(remainingRequests ?? config.rpm);
    }
    if (config.tpm > 0) {
      h[name('tokens', 'limit')] = String(config.tpm);
      h[name('tokens', 'remaining')] = String(remainingTokens ?? config.tpm);
    }
    return h;
  }

  function error(res: ServerResponse, route: Route, logged: LoggedRequest, status: number, code?: string, headers: Record<string, string> = {}): void {
    logged.status = status;
    const requestId = `req_err_${randomUUID().slice(0, 8)}`;
    if (route === 'messages') {
      const type =
        code ??
        (status === 429
          ? 'rate_limit_error'
          : status === 529
            ? 'overloaded_error'
            : status === 401
              ? 'authentication_error'
              : status === 404
                ? 'not_found_error'
                : status >= 500
                  ? 'api_error'
                  : 'invalid_request_error');
      return sendJson(
        res,
        status,
        { type: 'error', error: { type, message: `fake ${status}` }, request_id: requestId },
        { 'request-id': requestId, ...headers },
      );
    }
    const errCode = code ?? (status === 429 ? 'rate_limit_exceeded' : null);
    return sendJson(
      res,
      status,
      { error: { message: `fake ${status}`, type: status === 429 ? 'requests' : 'invalid_request_error', param: null, code: errCode } },
      { 'x-request-id': requestId, ...headers },
    );
  }

  function control(path: string, text: string, res: ServerResponse): void {
    if (path === '/__fake/requests') {
      return sendJson(res, 200, { requests: requests.map(({ body: _b, ...r }) => r), rateLimited: limited });
    }
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (path === '/__fake/config') configure(body);
    else if (path === '/__fake/script') script.push(...((body.entries as ScriptEntry[]) ?? []));
    else if (path === '/__fake/reset') reset();
    else return sendJson(res, 404, { error: { message: 'unknown control route' } });
    sendJson(res, 200, { ok: true, config });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    openaiBaseUrl: `http://127.0.0.1:${actual}/v1`,
    anthropicBaseUrl: `http://127.0.0.1:${actual}`,
    config,
    requests,
    rateLimited: () => limited,
    script: (...entries) => script.push(...entries),
    configure,
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface ParsedRequest {
  readonly model: string;
  readonly schemaName: string | undefined;
  readonly schema: unknown;
  readonly temperature: number | undefined;
  readonly maxTokens: number | undefined;
  /** system and user texts, in order */
  readonly messages: string[];
}

function parseRequest(route: Route, body: Record<string, unknown>): ParsedRequest {
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  const temperature = typeof body.temperature === 'number' ? body.temperature : undefined;
  const texts = (content: unknown): string =>
    typeof content === 'string' ? content : Array.isArray(content) ? content.map((c: { text?: string }) => c.text ?? '').join('') : '';
  if (route === 'chat') {
    const format = body.response_format as { json_schema?: { name?: string; schema?: unknown } } | undefined;
    return {
      model,
      temperature,
      schemaName: format?.json_schema?.name,
      schema: format?.json_schema?.schema,
      maxTokens: (body.max_completion_tokens ?? body.max_tokens) as number | undefined,
      messages: ((body.messages as Array<{ content: unknown }>) ?? []).map((m) => texts(m.content)),
    };
  }
  if (route === 'responses') {
    const format = (body.text as { format?: { name?: string; schema?: unknown } } | undefined)?.format;
    const input = body.input;
    return {
      model,
      temperature,
      schemaName: format?.name,
      schema: format?.schema,
      maxTokens: body.max_output_tokens as number | undefined,
      messages: [
        ...(typeof body.instructions === 'string' ? [body.instructions] : []),
        ...(typeof input === 'string' ? [input] : ((input as Array<{ content: unknown }>) ?? []).map((m) => texts(m.content))),
      ],
    };
  }
  const format = (body.output_config as { format?: { schema?: unknown } } | undefined)?.format;
  const tool = (body.tools as Array<{ name?: string; input_schema?: unknown }> | undefined)?.[0];
  const schema = format?.schema ?? tool?.input_schema;
  return {
    model,
    temperature,
    // Anthropic's format has no name: the schema's title, else the tool's name
    schemaName: (schema as { title?: string } | undefined)?.title ?? tool?.name,
    schema,
    maxTokens: body.max_tokens as number | undefined,
    messages: [texts(body.system), ...((body.messages as Array<{ content: unknown }>) ?? []).map((m) => texts(m.content))],
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
