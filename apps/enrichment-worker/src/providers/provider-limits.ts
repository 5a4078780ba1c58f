import type { Endpoint, ProviderName } from './enrichment-provider.js';

/**
 * Where provider calls wait for their turn: limits per provider, API key and endpoint, shared by
 * every replica (redis-provider-limits.ts) or local (fake-provider-limits.ts in tests).
 */
export interface ProviderLimits {
  /**
   * Runs `call` once the provider/endpoint has room: a concurrency slot and a rate slot. `call`
   * sends its one request through `gate` (http.ts requestJson does), which admits it in the rate
   * window right before the request is written. Throws ProviderRetryError (a RetryAfterError)
   * instead of waiting longer than the configured wait, or while a window the provider reported is
   * exhausted.
   */
  run<T>(provider: ProviderName, endpoint: Endpoint, signal: AbortSignal, call: (gate: WireGate) => Promise<T>): Promise<T>;
  /**
   * What the provider said about its windows (Apollo's `x-minute-requests-left`, …): slows down
   * as a window runs low and stops until it reopens when it is empty, before a 429.
   */
  observe(provider: ProviderName, endpoint: Endpoint, windows: WindowsLeft): void;
}

/**
 * The last step before a provider request goes on the wire. The HTTP client calls it once, when it
 * holds a connected socket, with `write`, the function that writes the request to that socket;
 * the gate calls `write` synchronously in the same turn as its final check that the call's
 * admission in the rate window is still fresh, so that no pause of this process (a busy CPU,
 * garbage collection) can fall between the two. Rejects (and never calls `write`) when no fresh
 * admission comes within the allowed wait; `write` is then not to be called by anyone.
 */
export type WireGate = (write: () => void) => Promise<void>;

export interface WindowsLeft {
  readonly minute?: number;
  readonly hour?: number;
  readonly day?: number;
  /** the windows' sizes, when reported (Apollo's `x-rate-limit-minute`, …) */
  readonly limits?: { readonly minute?: number; readonly hour?: number; readonly day?: number };
}

/** Limits of one provider endpoint (per API key). */
export interface EndpointLimit {
  readonly perSecond?: number;
  readonly perMinute?: number;
  readonly perHour?: number;
  readonly perDay?: number;
  /** requests in flight at once, across replicas */
  readonly maxConcurrent: number;
}

export const WINDOW_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * The slow-down rule: once a window whose size is reported has less than `lowWater` (a fraction)
 * of it left, the rest is spread over the window's length; an empty window stops calls for its
 * whole length (its reopening time is not reported, so wait a full window). Returns the gap to
 * keep between calls and how long to stop, in ms (0: go).
 */
export function pauseForWindows(windows: WindowsLeft, lowWater = 0.1): { pauseMs: number; stopMs: number } {
  let pauseMs = 0;
  let stopMs = 0;
  for (const name of ['minute', 'hour', 'day'] as const) {
    const left = windows[name];
    if (left === undefined || !Number.isFinite(left)) continue;
    const size = windows.limits?.[name];
    if (left <= 0) stopMs = Math.max(stopMs, WINDOW_MS[name]);
    else if (size !== undefined && left < size * lowWater) pauseMs = Math.max(pauseMs, Math.ceil(WINDOW_MS[name] / (left + 1)));
  }
  return { pauseMs, stopMs };
}
