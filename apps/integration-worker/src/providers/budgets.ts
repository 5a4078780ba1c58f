import { RetryAfterError } from '@coldcopy/queue-core';
import type { RateLimit, RateLimiter } from '@coldcopy/queue-core/runtime';
import type { Redis } from 'ioredis';

/**
 * Shared budgets (providers.md §11.9): one Redis rate limit per provider account (HubSpot portal,
 * Salesforce org, calendar user) and kind of call, used by every replica, plus a "hold" per
 * account: set from the provider's rate headers when little is left (slow down before a 429) and
 * from a 429's policy (ten seconds, or until the account's midnight). A hold or a slot further
 * away than `maxWaitMs` throws RetryAfterError, so a worker slot is never parked for long.
 */
export interface ProviderBudget {
  take(account: string, kind: string, signal?: AbortSignal): Promise<void>;
  /** rate headers of an answer: with `remaining` at or below the reserve, the account waits for its window to roll */
  observe(account: string, usage: { remaining: number; max: number; intervalMs: number }): Promise<void>;
  /** stops every call of the account for `forMs` */
  hold(account: string, forMs: number): Promise<void>;
}

export interface ProviderBudgetOptions {
  readonly redis: Redis;
  readonly limiter: RateLimiter;
  /** e.g. `${BULL_PREFIX}:integration` */
  readonly prefix: string;
  /** limits by kind (`hubspot`, `hubspot-search`, …); a kind without one is not rate-limited */
  readonly limits: Readonly<Record<string, RateLimit>>;
  readonly maxWaitMs: number;
  /** share of `max` kept in reserve before the provider's own limit (default 0.1) */
  readonly reserve?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export function createProviderBudget(options: ProviderBudgetOptions): ProviderBudget {
  const holdKey = (account: string) => `${options.prefix}:budget-hold:${account}`;
  const reserve = options.reserve ?? 0.1;
  return {
    async take(account, kind, signal) {
      const held = await options.redis.pttl(holdKey(account));
      if (held > 0) {
        if (held > options.maxWaitMs) throw new RetryAfterError(held, `${account} is on hold for ${held} ms`);
        await sleep(held, signal);
      }
      const limit = options.limits[kind];
      if (limit) await options.limiter.acquire(`${account}:${kind}`, limit, signal, { maxWaitMs: options.maxWaitMs });
    },
    async observe(account, usage) {
      if (!(usage.max > 0) || !(usage.intervalMs > 0)) return;
      if (usage.remaining <= Math.floor(usage.max * reserve)) await this.hold(account, usage.intervalMs);
    },
    async hold(account, forMs) {
      const ms = Math.max(1, Math.ceil(forMs));
      // keeps the longer of two holds
      await options.redis.eval(
        `local t = redis.call('pttl', KEYS[1]) if t < tonumber(ARGV[1]) then redis.call('set', KEYS[1], '1', 'PX', ARGV[1]) end return 1`,
        1,
        holdKey(account),
        String(ms),
      );
    },
  };
}
