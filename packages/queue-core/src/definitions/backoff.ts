import { isPermanentError } from './errors.js';
import type { BackoffOptions } from './queues.js';

/** Name of our custom Bull backoff strategy; registered on every queue by bull-factory.ts. */
export const BACKOFF_STRATEGY = 'classified';

/**
 * One place decides how a failed attempt is retried (bull-v4.md §6):
 * permanent errors stop at once (-1), a provider's Retry-After is honoured, everything else backs
 * off exponentially with equal jitter so that a burst of failures does not retry in lockstep.
 */
export function classifiedBackoff(attemptsMade: number, err: unknown, options: BackoffOptions | null | undefined, random: () => number = Math.random): number {
  if (isPermanentError(err)) return -1;
  const retryAfterMs = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  if ((err as Error | null)?.name === 'RetryAfterError' && typeof retryAfterMs === 'number') {
    return Math.max(1, Math.round(retryAfterMs));
  }
  const baseMs = options?.baseMs ?? 30_000;
  const maxMs = options?.maxMs ?? 3_600_000;
  const exp = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), maxMs);
  return Math.max(1, Math.round(exp / 2 + random() * (exp / 2)));
}
