import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ProviderName } from './enrichment-provider.js';
import { ProviderUnavailableError } from './enrichment-provider.js';
import type { WireGate } from './provider-limits.js';

/** One provider HTTP answer: status, headers, the JSON body (undefined when there is none). */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/**
 * The most of an answer that is read (Hunter's and Apollo's largest answers, a domain search or a bulk
 * match of 10, are tens of KB): a provider or a proxy sending more is cut off, not buffered whole.
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

// kept-alive connections per scheme (a provider call reuses one: no handshake before most writes)
const AGENTS = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };

/**
 * One provider request with a time budget and the job's abort signal, on node:http(s) so that the
 * moment the request is written is ours: once a connected socket is assigned (a new connection
 * after its TLS handshake), `gate` (ProviderLimits, the rate window) is given the write and runs it
 * in the same turn as its last check. Without a gate the request is written at once. Network errors
 * and timeouts become ProviderUnavailableError (transient); the gate's own errors (a
 * ProviderRetryError) come through as they are, the request unwritten. Redirects are not followed
 * (a 3xx is an answer like any other). The URL never appears in an error (query strings carry
 * personal data).
 */
export async function requestJson(
  provider: ProviderName,
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: unknown },
  timeoutMs: number,
  signal: AbortSignal,
  gate?: WireGate,
): Promise<ProviderResponse> {
  const target = new URL(url);
  const scheme = target.protocol;
  if (scheme !== 'http:' && scheme !== 'https:') throw new ProviderUnavailableError(provider, 0, `unsupported scheme ${scheme}`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers = {
    accept: 'application/json',
    ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
    ...init.headers,
  };
  let gateError: Error | undefined;
  let res: IncomingMessage;
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      const send = scheme === 'https:' ? httpsRequest : httpRequest;
      const req = send(target, { method: init.method, headers, agent: AGENTS[scheme], signal: AbortSignal.any([signal, timeout]) });
      req.once('response', resolve);
      req.once('error', reject);
      req.once('socket', (socket) => {
        const ready = () => {
          const write = () => {
            if (!req.destroyed) req.end(body);
          };
          (gate ? gate(write) : Promise.resolve(write())).catch((err: unknown) => {
            gateError = err as Error;
            req.destroy(err as Error);
          });
        };
        if (req.reusedSocket) ready();
        else if (scheme === 'https:') socket.once('secureConnect', ready);
        else if (socket.connecting) socket.once('connect', ready);
        else ready();
      });
    });
  } catch (err) {
    if (gateError !== undefined) throw gateError;
    if (signal.aborted) throw signal.reason;
    const reason = timeout.aborted ? `timeout after ${timeoutMs} ms` : (err as Error).name;
    throw new ProviderUnavailableError(provider, 0, reason);
  }
  let text = '';
  try {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of res) {
      bytes += (chunk as Buffer).length;
      if (bytes > MAX_RESPONSE_BYTES) {
        res.destroy();
        throw new ProviderUnavailableError(provider, res.statusCode ?? 0, `answer larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof ProviderUnavailableError) throw err;
    if (signal.aborted) throw signal.reason;
  }
  let parsed: unknown;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      if ((res.statusCode ?? 0) < 300) throw new ProviderUnavailableError(provider, res.statusCode ?? 0, 'malformed JSON');
    }
  }
  const answerHeaders = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) answerHeaders.append(name, v);
  }
  return { status: res.statusCode ?? 0, headers: answerHeaders, body: parsed };
}

/** `retry-after` as ms: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A non-negative integer header, or undefined. */
export function intHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
