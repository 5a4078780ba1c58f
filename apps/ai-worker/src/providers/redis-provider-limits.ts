import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import type { RateLimiter } from '@coldcopy/queue-core/runtime';
import type { Redis } from 'ioredis';
import { LlmError, type LlmProvider } from './llm-client.js';
import { slowDownMs, type ProviderLimits } from './provider-limits.js';

export interface ProviderLimitSettings {
  /** requests per minute for the key (0 = unlimited) */
  readonly rpm: number;
  /** tokens per minute for the key (0 = unlimited) */
  readonly tpm: number;
  /** concurrent calls for the key across all replicas */
  readonly maxConcurrent: number;
  /** the API key: limits are per key, identified by a hash of it */
  readonly apiKey: string;
}

export interface RedisProviderLimitsOptions {
  readonly redis: Redis;
  /** queue-core's GCRA limiter (requests per minute, evenly spaced) */
  readonly limiter: RateLimiter;
  /** e.g. `<BULL_PREFIX>:ai` */
  readonly prefix: string;
  readonly providers: Partial<Record<LlmProvider, ProviderLimitSettings>>;
  /** longest wait for a request slot before the attempt is retried later instead */
  readonly maxWaitMs: number;
}

/**
 * Limits in Redis, shared by all replicas:
 * - requests per minute: queue-core's GCRA limiter (one script per call, grants evenly spaced so
 *   no minute holds more than the limit);
 * - concurrency and tokens per minute: bottleneck with its ioredis datastore (`maxConcurrent`,
 *   and a reservoir that refills continuously at tpm/60 per second, weighted by each call's
 *   token estimate);
 * - slow-down: a response with few requests or tokens left sets a shared hold-off key that every
 *   caller waits out before its next call.
 */
export function createRedisProviderLimits(options: RedisProviderLimitsOptions): ProviderLimits {
  interface Entry {
    readonly key: string;
    readonly settings: ProviderLimitSettings;
    /** concurrent calls (weight 1 each) */
    readonly concurrency: Bottleneck;
    /** tokens per minute (weight = the call's estimate); absent without a tpm limit */
    readonly tokens: Bottleneck | undefined;
    readonly reservoirMax: number;
  }
  const entries = new Map<LlmProvider, Entry>();
  // bottleneck's own connection (it adds a subscriber by duplicating it, and closes both)
  const connection = new Bottleneck.IORedisConnection({ client: options.redis.duplicate() });
  connection.on('error', () => {});
  for (const [provider, settings] of Object.entries(options.providers) as Array<[LlmProvider, ProviderLimitSettings]>) {
    const fingerprint = createHash('sha256').update(settings.apiKey).digest('hex').slice(0, 12);
    const key = `${options.prefix}:llm:${provider}:${fingerprint}`;
    // state expires when no replica has used it for 10 minutes
    const common = { connection, timeout: 600_000 };
    const concurrency = new Bottleneck({ ...common, id: `${key}:concurrency`, maxConcurrent: settings.maxConcurrent });
    const perSecond = settings.tpm > 0 ? Math.max(1, Math.floor(settings.tpm / 60)) : 0;
    const reservoirMax = perSecond * 10; // ten seconds' worth of burst
    const tokens =
      perSecond > 0
        ? new Bottleneck({
            ...common,
            id: `${key}:tokens`,
            reservoir: reservoirMax,
            reservoirIncreaseInterval: 1000,
            reservoirIncreaseAmount: perSecond,
            reservoirIncreaseMaximum: reservoirMax,
          })
        : undefined;
    // connection errors surface as rejected schedules; the 'error' event would otherwise crash
    concurrency.on('error', () => {});
    tokens?.on('error', () => {});
    entries.set(provider, { key, settings, concurrency, tokens, reservoirMax });
  }

  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  return {
    async run(provider, estimatedTokens, signal, call) {
      const entry = entries.get(provider);
      if (!entry) return call();
      const until = Number(await options.redis.get(`${entry.key}:slow`));
      if (until > Date.now()) {
        const wait = until - Date.now();
        if (wait > options.maxWaitMs) throw new LlmError('rate_limited', provider, `${provider} limits nearly used up: holding off`, { retryAfterMs: wait });
        await sleep(wait, signal);
      }
      const limited = () =>
        entry.concurrency.schedule(async () => {
          if (entry.settings.rpm > 0) {
            try {
              await options.limiter.acquire(`${entry.key}:rpm`, { max: entry.settings.rpm, perMs: 60_000, slackMs: 200 }, signal, {
                maxWaitMs: options.maxWaitMs,
              });
            } catch (err) {
              const ms = (err as { retryAfterMs?: number }).retryAfterMs;
              if (typeof ms === 'number') throw new LlmError('rate_limited', provider, `${provider} request slot is ${ms} ms away`, { retryAfterMs: ms });
              throw err;
            }
          }
          const result = await call();
          const holdMs = slowDownMs(result.limits);
          if (holdMs > 0) await options.redis.set(`${entry.key}:slow`, String(Date.now() + holdMs), 'PX', holdMs);
          return result;
        });
      // the token reservoir first: a call waiting for tokens does not hold a concurrency slot
      return entry.tokens ? entry.tokens.schedule({ weight: Math.min(estimatedTokens, entry.reservoirMax) }, limited) : limited();
    },
    async close() {
      await connection.disconnect(false);
    },
  };
}
