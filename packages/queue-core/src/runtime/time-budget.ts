/**
 * Time budgets: one sweep over the attempts in flight instead of a timer per job. At its deadline
 * an attempt's signal is aborted with JobTimeoutError; a handler that has not stopped
 * `abortGraceMs` later fails with it (its promise is abandoned).
 */
import { JobTimeoutError } from '../definitions/errors.js';
import type { Attempt, Entry } from './attempt.js';

/** Starts the sweep (unref'd); returns what stops it. */
export function startTimeBudgetSweep<D>(inflight: Set<Attempt<D>>, table: ReadonlyMap<string, Entry>, abortGraceMs: number): () => void {
  const sweepEveryMs = Math.min(1000, Math.max(5, Math.min(abortGraceMs, ...[...table.values()].map((e) => e.timeoutMs)) / 10));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const attempt of inflight) {
      if (now < attempt.deadline) continue;
      if (attempt.abortReason === undefined) {
        attempt.abort(new JobTimeoutError(attempt.job.name, attempt.entry.timeoutMs));
        attempt.deadline = now + abortGraceMs;
      } else if (attempt.abortReason instanceof JobTimeoutError) {
        inflight.delete(attempt);
        attempt.reject(attempt.abortReason);
      }
      // aborted for shutdown: left active in Redis for the stalled check
    }
  }, sweepEveryMs);
  sweep.unref();
  return () => clearInterval(sweep);
}
