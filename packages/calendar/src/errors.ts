/**
 * What a calendar provider answered, as typed errors: the sync and free/busy callers decide on
 * retry, resync or reconnect from the class alone. Messages carry the HTTP status and the
 * provider's reason code, never a token, a URL with a token or an event's content.
 */
export type CalendarProvider = 'google' | 'microsoft';

export class CalendarProviderError extends Error {
  override name = 'CalendarProviderError';
  constructor(
    readonly provider: CalendarProvider,
    readonly status: number | undefined,
    readonly reason: string,
    /** a retry (later, by the job) may succeed: 5xx, network, timeouts */
    readonly retryable: boolean,
  ) {
    super(`${provider} calendar answered ${status ?? 'no response'} (${reason})`);
  }
}

/** The sync token or delta link is no longer valid (410 Gone): wipe the cursor and sync in full. */
export class CalendarSyncExpiredError extends CalendarProviderError {
  override name = 'CalendarSyncExpiredError';
  constructor(provider: CalendarProvider, reason: string) {
    super(provider, 410, reason, false);
  }
}

/** 429 (or Google's 403 rateLimitExceeded): come back after `retryAfterMs`. */
export class CalendarRateLimitError extends CalendarProviderError {
  override name = 'CalendarRateLimitError';
  readonly retryAfterMs: number;
  constructor(provider: CalendarProvider, status: number, reason: string, retryAfterMs: number) {
    super(provider, status, reason, true);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 401: the access token was refused (expired or revoked between our check and the call). */
export class CalendarAuthError extends CalendarProviderError {
  override name = 'CalendarAuthError';
  constructor(provider: CalendarProvider, reason: string) {
    super(provider, 401, reason, true);
  }
}

/** Bad input at our boundary (an id Google would refuse, a window that ends before it starts). */
export class CalendarInputError extends TypeError {
  override name = 'CalendarInputError';
}

/** Retry-After in seconds or an HTTP date, in ms (fallback when absent or unreadable). */
export function retryAfterMs(value: string | null | undefined, fallbackMs: number, now = Date.now()): number {
  if (!value) return fallbackMs;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : fallbackMs;
}

/**
 * Runs `call`, waiting out rate-limit answers whose wait is at most `maxWaitMs` (up to `tries`
 * times, abortable); a longer wait, or one more, is thrown for the job to be retried later.
 */
export async function withRateLimitWaits<T>(call: () => Promise<T>, options: { maxWaitMs: number; tries?: number; signal?: AbortSignal }): Promise<T> {
  const tries = options.tries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof CalendarRateLimitError) || attempt >= tries || err.retryAfterMs > options.maxWaitMs) throw err;
      await sleep(err.retryAfterMs, options.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
