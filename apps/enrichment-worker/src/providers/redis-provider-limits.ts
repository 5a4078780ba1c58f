import { createHash } from 'node:crypto';
import type { RateLimit, RateLimiter } from '@coldcopy/queue-core/runtime';
import Bottleneck from 'bottleneck';
import IORedis, { type Redis } from 'ioredis';
import type { Endpoint, ProviderName } from './enrichment-provider.js';
import { ProviderRetryError } from './enrichment-provider.js';
import { type EndpointLimit, pauseForWindows, type ProviderLimits, WINDOW_MS, type WindowsLeft, type WireGate } from './provider-limits.js';
import { sleep } from '../domain/sleep.js';

/**
 * Provider limits shared by every replica through Redis, per provider, API key and endpoint:
 *
 * - spacing: queue-core's GCRA limiter at the strictest of the per-second and per-minute rates
 *   paces the callers (no burst allowance); then, once the HTTP client holds a connected socket,
 *   the call's gate (`WireGate`) asks queue-core's sliding-window check (`admit`, the rule the
 *   provider applies, over `perMs + slackMs`) to record it and writes the request in the same turn
 *   as its check that the answer is fresh: asked no more than half the slack ago on the monotonic
 *   clock. A stale answer (this process stalled) is released by name (its place in the window is
 *   free again) and the gate asks again. So every request reaches the socket within half the slack
 *   of its record, and no window of the provider's length holds more than the planned count; the
 *   other half of the slack is for the way on to the provider. Both plan below the provider's
 *   limits by `marginPercent` (whole calls), which absorbs what no user-space check can exclude:
 *   the process losing the CPU between its check and the write system call;
 * - concurrency caps and the long windows (hour, day): bottleneck with its ioredis datastore
 *   (clustering), whose `reservoir` counts the window's requests across replicas and refills it
 *   every window;
 * - the windows a provider reports (Apollo's headers): this process slows down as one runs low and
 *   stops before it is empty (no request that would earn a 429).
 *
 * Keys carry a short SHA-256 of the API key, never the key. A wait longer than `maxWaitMs` becomes
 * a ProviderRetryError: the handler re-queues the request instead of holding a worker slot.
 */
export interface RedisProviderLimitsOptions {
  /** a connection of its own (bottleneck duplicates it for its subscriber and quits both on close) */
  readonly redis: Redis;
  readonly limiter: RateLimiter;
  /** Redis key prefix, e.g. `${BULL_PREFIX}:enrichment` */
  readonly prefix: string;
  readonly keys: Partial<Record<ProviderName, string>>;
  readonly limits: Record<ProviderName, Partial<Record<Endpoint, EndpointLimit>>>;
  readonly maxWaitMs: number;
  /**
   * the jitter budget from a call's record in the window to its arrival at the provider (widens the
   * window; queue-core rate-limit.ts): half for the way from asking the window check to the socket
   * write, half for the way on to the provider
   */
  readonly slackMs: number;
  /** how far below the provider's per-second and per-minute limits to plan, in % (rounded to whole calls) */
  readonly marginPercent: number;
  /** false: concurrency caps are per process (no bottleneck, no Redis round trips besides the GCRA call) */
  readonly shared: boolean;
  /** a monotonic clock in ms (default performance.now) */
  readonly now?: () => number;
  /** after each request written: ms from asking its (used) window check to the write, and the stale admissions released before it */
  readonly onWrite?: (provider: ProviderName, write: { readonly admitToWriteMs: number; readonly staleAdmissions: number }) => void;
}

export interface RedisProviderLimits extends ProviderLimits {
  close(): Promise<void>;
}

export function keyId(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 12);
}

/**
 * The limits to plan against: each per-second and per-minute limit `marginPercent` lower, rounded
 * down to whole calls. A margin is worth something only as whole calls (the calls a window can
 * take beyond the plan), so a limit whose margin is under one call is planned as it is: 1 % of
 * 100/s plans 99/s, while 15/s stays 15/s. The hour and day windows count with bottleneck's
 * reservoirs, unchanged.
 */
export function plannedLimit(limit: EndpointLimit, marginPercent: number): EndpointLimit {
  const lower = (n: number | undefined) => (n === undefined || (n * marginPercent) / 100 < 1 ? n : Math.floor(n * (1 - marginPercent / 100)));
  return { ...limit, perSecond: lower(limit.perSecond), perMinute: lower(limit.perMinute) };
}

/**
 * The GCRA limit for an endpoint: the window (second or minute) whose grants must be spaced
 * furthest apart, as `max` per window. The slack is spread over the window's `max` grants
 * (spacing `(perMs + slack) / max`): as `{ max: 1, perMs: 1000 / rate }` it would be added to every
 * grant, and 20 ms of slack on a 10 ms spacing cut 100/s to 33/s.
 */
export function spacingOf(limit: EndpointLimit, slackMs: number): RateLimit | undefined {
  const windows = [
    ...(limit.perSecond ? [{ max: limit.perSecond, perMs: 1000, slackMs }] : []),
    ...(limit.perMinute ? [{ max: limit.perMinute, perMs: 60_000, slackMs }] : []),
  ];
  const gap = (w: RateLimit) => (w.perMs + (w.slackMs ?? 0)) / w.max;
  return windows.reduce<RateLimit | undefined>((widest, w) => (widest && gap(widest) >= gap(w) ? widest : w), undefined);
}

const spacingMs = (limit: RateLimit) => Math.ceil((limit.perMs + (limit.slackMs ?? 0)) / limit.max);

export function createRedisProviderLimits(options: RedisProviderLimitsOptions): RedisProviderLimits {
  const now = options.now ?? (() => performance.now());
  const connection = options.shared ? new Bottleneck.IORedisConnection({ client: options.redis, Redis: IORedis }) : undefined;
  const bottlenecks = new Map<string, Bottleneck>();
  const local = new Map<string, { running: number; waiting: Array<() => void> }>();
  /** per provider:endpoint: no call before `stopUntil`; `gapMs` between calls while a window runs low */
  const reported = new Map<string, { stopUntil: number; gapMs: number; nextAt: number }>();

  const scope = (provider: ProviderName, endpoint: Endpoint) => `${provider}:${keyId(options.keys[provider] ?? '')}:${endpoint}`;

  const bottleneckFor = (key: string, limit: EndpointLimit): Bottleneck => {
    let b = bottlenecks.get(key);
    if (!b) {
      const window =
        limit.perDay !== undefined
          ? { n: limit.perDay, ms: WINDOW_MS.day }
          : limit.perHour !== undefined
            ? { n: limit.perHour, ms: WINDOW_MS.hour }
            : undefined;
      b = new Bottleneck({
        id: `${options.prefix}:limits:${key}`,
        datastore: 'ioredis',
        connection,
        maxConcurrent: limit.maxConcurrent,
        ...(window ? { reservoir: window.n, reservoirRefreshAmount: window.n, reservoirRefreshInterval: window.ms } : {}),
        // a replica that dies holding a slot gives it back after this long
        heartbeatInterval: 5_000,
        timeout: 2 * WINDOW_MS.day,
      });
      b.on('error', () => {});
      bottlenecks.set(key, b);
    }
    return b;
  };

  const withLocalCap = async <T>(key: string, max: number, fn: () => Promise<T>): Promise<T> => {
    let slot = local.get(key);
    if (!slot) local.set(key, (slot = { running: 0, waiting: [] }));
    const s = slot;
    if (s.running >= max) await new Promise<void>((resolve) => s.waiting.push(resolve));
    else s.running++;
    try {
      return await fn();
    } finally {
      const next = s.waiting.shift();
      if (next) next();
      else s.running--;
    }
  };

  return {
    async run(provider, endpoint, signal, call) {
      const limit = options.limits[provider][endpoint];
      if (!limit) throw new RangeError(`no limits configured for ${provider} ${endpoint}`);
      const key = scope(provider, endpoint);
      const report = reported.get(`${provider}:${endpoint}`);
      if (report) {
        const t = now();
        if (report.stopUntil > t) throw new ProviderRetryError(provider, 'rate-limit', report.stopUntil - t, 'reported window empty');
        if (report.gapMs > 0) {
          const wait = Math.max(0, report.nextAt - t);
          if (wait > options.maxWaitMs) throw new ProviderRetryError(provider, 'rate-limit', wait, 'reported window low');
          report.nextAt = Math.max(t, report.nextAt) + report.gapMs;
          if (wait > 0) await sleep(wait, signal);
        }
      }
      const spacing = spacingOf(plannedLimit(limit, options.marginPercent), options.slackMs);
      const spaced = async () => {
        const started = now();
        if (spacing) {
          await options.limiter.acquire(`${key}`, spacing, signal, { maxWaitMs: options.maxWaitMs }).catch((err: Error) => {
            if (err.name === 'RetryAfterError') throw new ProviderRetryError(provider, 'rate-limit', (err as ProviderRetryError).retryAfterMs, 'local spacing');
            throw err;
          });
        }
        let opened = false;
        const gate: WireGate = async (write) => {
          if (opened) throw new Error(`${provider} ${endpoint}: a call sends one request through its gate`);
          opened = true;
          if (!spacing) return write();
          // the slot paces the callers; the window check holds the limit on the time the request
          // is written (a caller that acted late after its slot would otherwise land next to
          // on-time ones: a burst the provider's own window counts)
          let stale = 0;
          for (;;) {
            signal.throwIfAborted();
            const asked = now();
            const admission = await options.limiter.admit(key, spacing);
            if (admission.waitMs > 0) {
              if (now() + admission.waitMs - started > options.maxWaitMs)
                throw new ProviderRetryError(provider, 'rate-limit', admission.waitMs, 'local window');
              await sleep(admission.waitMs, signal);
              continue;
            }
            // the check recorded the call when its script ran, after `asked`; written within half
            // the slack of asking, the request is within half the slack of its record. Checked and
            // written in one turn: nothing of this process runs between the two. (Slack 0: no
            // budget, the limit holds for the recorded times only.)
            if (options.slackMs === 0 || now() - asked <= options.slackMs / 2) {
              write();
              try {
                options.onWrite?.(provider, { admitToWriteMs: now() - asked, staleAdmissions: stale });
              } catch {
                // a metric must never turn a written request into a failed (and retried) one
              }
              return;
            }
            // stale (this process stalled): the request was not written, so its record goes and
            // the check is asked again (the release runs before the next check on this connection)
            stale++;
            admission.release().catch(() => {});
            if (now() - started > options.maxWaitMs) throw new ProviderRetryError(provider, 'rate-limit', spacingMs(spacing), 'late window answers');
          }
        };
        return call(gate);
      };
      if (!options.shared) return withLocalCap(key, limit.maxConcurrent, spaced);
      const b = bottleneckFor(key, limit);
      return b.schedule(spaced);
    },

    observe(provider, endpoint, windows: WindowsLeft) {
      const { pauseMs, stopMs } = pauseForWindows(windows);
      const k = `${provider}:${endpoint}`;
      const t = now();
      const prev = reported.get(k);
      if (pauseMs === 0 && stopMs === 0) {
        if (prev) reported.delete(k);
        return;
      }
      reported.set(k, { stopUntil: stopMs > 0 ? t + stopMs : 0, gapMs: pauseMs, nextAt: prev?.nextAt ?? t });
    },

    async close() {
      await Promise.all(
        [...bottlenecks.values()].map((b) =>
          Promise.resolve()
            .then(() => b.disconnect(false))
            .catch(() => {}),
        ),
      );
      bottlenecks.clear();
      await connection?.disconnect(true);
    },
  };
}
