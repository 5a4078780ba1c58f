import type { ProviderName } from './enrichment-provider.js';
import { ProviderUnavailableError } from './enrichment-provider.js';

/** One provider HTTP answer: status, headers, the JSON body (undefined when there is none). */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/**
 * fetch with a time budget and the job's abort signal. Network errors and timeouts become
 * ProviderUnavailableError (transient); the URL never appears in the error (query strings carry
 * personal data).
 */
export async function requestJson(
  provider: ProviderName,
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: unknown },
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProviderResponse> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: { accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.any([signal, timeout]),
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const reason = timeout.aborted ? `timeout after ${timeoutMs} ms` : (err as Error).name;
    throw new ProviderUnavailableError(provider, 0, reason);
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      if (res.status < 300) throw new ProviderUnavailableError(provider, res.status, 'malformed JSON');
    }
  }
  return { status: res.status, headers: res.headers, body };
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
