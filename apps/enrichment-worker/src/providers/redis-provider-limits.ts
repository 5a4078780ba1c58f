import { createHash } from 'node:crypto';
import type { RateLimit, RateLimiter } from '@coldcopy/queue-core/runtime';
import Bottleneck from 'bottleneck';
import IORedis, { type Redis } from 'ioredis';
import type { Endpoint, ProviderName } from './enrichment-provider.js';
import { ProviderRetryError } from './enrichment-provider.js';
import { type EndpointLimit, pauseForWindows, type ProviderLimits, WINDOW_MS, type WindowsLeft } from './provider-limits.js';
import { sleep } from '../domain/sleep.js';

/**
 * Provider limits shared by every replica through Redis, per provider, API key and endpoint:
 *
 * - spacing: queue-core's GCRA limiter at the strictest of the per-second and per-minute rates
 *   paces the callers (no burst allowance), then its sliding-window check (`admit`, the rule the
 *   provider applies, over `perMs + slackMs`) records the call right before it leaves: no window
 *   of that length holds more than the limit even when a caller runs late after its slot (two
 *   Lua calls per request). The slack is the jitter budget from that record to the provider's
 *   arrival stamp: a check answered later than half of it (this process stalled) is not used, the
 *   call asks again; the other half is for the way on to the provider;
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
  /** how late after its slot a request may reach the provider (widens the spacing; queue-core rate-limit.ts) */
  readonly slackMs: number;
  /** false: concurrency caps are per process (no bottleneck, no Redis round trips besides the GCRA call) */
  readonly shared: boolean;
  readonly now?: () => number;
}

export interface RedisProviderLimits extends ProviderLimits {
  close(): Promise<void>;
}

export function keyId(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 12);
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
  const now = options.now ?? Date.now;
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
      const spacing = spacingOf(limit, options.slackMs);
      const spaced = async () => {
        if (spacing) {
          const started = now();
          await options.limiter.acquire(`${key}`, spacing, signal, { maxWaitMs: options.maxWaitMs }).catch((err: Error) => {
            if (err.name === 'RetryAfterError') throw new ProviderRetryError(provider, 'rate-limit', (err as ProviderRetryError).retryAfterMs, 'local spacing');
            throw err;
          });
          // the slot paces the callers; the window check holds the limit on the time the call
          // really leaves (a caller that acted late after its slot would otherwise land next to
          // on-time ones: a burst the provider's own window counts)
          for (;;) {
            const asked = now();
            const wait = await options.limiter.admit(key, spacing);
            if (wait === 0) {
              // the check recorded the call when its script ran; an answer that reached this
              // process late (a stall: garbage collection, a busy CPU) would send it late, next
              // to calls recorded after it. The window's slack covers half the slack for the
              // answer and half for the way on to the provider; a later answer lets its record
              // go (still counted: errs slow) and asks again
              // (slack 0: no budget, the limit holds for the recorded times only)
              if (options.slackMs === 0 || now() - asked <= options.slackMs / 2) break;
              if (now() - started > options.maxWaitMs) throw new ProviderRetryError(provider, 'rate-limit', spacingMs(spacing), 'late window answers');
              continue;
            }
            if (now() + wait - started > options.maxWaitMs) throw new ProviderRetryError(provider, 'rate-limit', wait, 'local window');
            await sleep(wait, signal);
          }
        }
        return call();
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
