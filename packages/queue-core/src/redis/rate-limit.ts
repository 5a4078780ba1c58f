import { randomBytes } from 'node:crypto';
import { RetryAfterError } from '../definitions/errors.js';
import type { RedisClient } from './connections.js';

/**
 * A rate limit shared by every process that talks to the same Redis (SES MaxSendRate, per
 * recipient-domain throttles). Not Bull's `limiter` with `groupKey`/`bounceBack` (bull-v4.md §4):
 * those delay whole queues or re-add jobs; this is a plain call inside a handler.
 *
 * Algorithm: GCRA without burst tolerance, in ONE Lua script per acquire. Redis keeps the
 * "theoretical arrival time" (TAT) of the next free slot per key; every grant moves it forward by
 * the emission interval `perMs / max`. Grants are therefore at least `perMs / max` apart, which
 * guarantees that no window of `perMs` (sliding, any start) holds more than `max` grants, and a
 * steady stream of callers gets exactly `max` per `perMs`. The clock is Redis `TIME`, so processes
 * on different hosts agree (`slackMs` widens the spacing so that callers acting a little after
 * their grant still keep the limit). A burst allowance is deliberately absent: a burst of `max` followed by
 * the steady rate would put more than `max` into one window.
 *
 * `acquire` reserves its slot in the same script (the TAT moves even when the slot is in the
 * future) and then sleeps until it, so waiting callers never poll Redis and never race each other.
 * An aborted wait leaves its reserved slot unused: the limiter errs on the slow side, never fast.
 *
 * Redis Cluster: the script touches one key, so it runs wherever that key's slot lives; pass the
 * Cluster client (`RedisConnections#commandClient`). Keys spread over the slots unless the prefix
 * carries a hash tag (`{bull}:rate`), which puts every limiter key in one slot: still correct.
 */

export interface RateLimit {
  /** grants per window */
  readonly max: number;
  /** window length in ms */
  readonly perMs: number;
  /**
   * How late after its grant a caller may act (timer lateness, the request's way to the
   * provider) while the limit still holds where it is observed: grants are spaced
   * `(perMs + slackMs) / max` apart. Default 0 (the limit holds for grant times exactly). Use the
   * same value for every caller of a key.
   */
  readonly slackMs?: number;
}

export interface AcquireOptions {
  /**
   * Longest wait `acquire` accepts. When the next slot is further away, nothing is reserved and
   * `acquire` throws RetryAfterError(wait) instead of holding a worker slot. Default 60 s.
   */
  readonly maxWaitMs?: number;
}

/** A reserved slot. */
export interface Reservation {
  /** how far away the slot was when the limiter's script ran (ms, 0 = now) */
  readonly waitMs: number;
  /** the slot's time on the Redis clock (epoch ms): grants of one key are at least the spacing apart */
  readonly slotAt: number;
}

export interface RateLimiter {
  /**
   * Waits until a slot is granted (or throws: aborted signal, wait beyond `maxWaitMs`); returns the
   * slot's time on the Redis clock (epoch ms).
   */
  acquire(key: string, limit: RateLimit, signal?: AbortSignal, options?: AcquireOptions): Promise<number>;
  /**
   * Reserves the next slot without waiting for it; the caller waits (acquire = reserve, then
   * sleep). For callers that overlap their own preparation with the wait, or must act at the slot
   * time rather than merely after it. Beyond `maxWaitMs`, nothing is reserved and it throws
   * RetryAfterError. A reservation the caller does not use stays taken: the limiter errs slow,
   * never fast.
   */
  reserve(key: string, limit: RateLimit, options?: AcquireOptions): Promise<Reservation>;
  /** Takes a slot if one is free now and returns 0; otherwise takes nothing and returns the wait in ms. */
  tryAcquire(key: string, limit: RateLimit): Promise<number>;
  /**
   * The sliding-window check a provider applies, on the Redis clock: when fewer than `max` calls
   * are recorded for `key` in the last `perMs + slackMs` ms, records this call now, under a name of
   * its own, and returns an admission (`waitMs` 0); otherwise records nothing and returns the ms
   * until the oldest of them leaves that window. Call it right before the request goes out, after
   * `acquire`: the GCRA spacing paces callers, and this check holds the limit on the calls' real
   * times even when a caller acts late after its slot (a loaded machine) and lands next to on-time
   * ones. A caller that then does not send the call (its answer came back too late to use) gives
   * the place back with `release()`, so that late answers cost no window capacity. Its own key
   * (`<prefix>:<key>:log`, a sorted set of at most `max` entries).
   */
  admit(key: string, limit: RateLimit): Promise<Admission>;
}

/** The window check's answer (RateLimiter#admit). */
export interface Admission {
  /** 0: admitted and recorded; otherwise the ms until the window has room (nothing recorded) */
  readonly waitMs: number;
  /** when admitted: the record's time on the Redis clock (epoch ms) */
  readonly at?: number;
  /**
   * Removes this admission's record (by its name; no other call's), for a call that will not be
   * sent: its place in the window is free again. Only for a call that never went out: a sent
   * call's record must stay. A no-op for a refusal, and after the record left the window.
   */
  release(): Promise<void>;
}

export interface RateLimiterOptions {
  /** key prefix, e.g. `${BULL_PREFIX}:rate`; the limiter's keys are `<prefix>:<key>` */
  readonly prefix: string;
}

// KEYS[1] = TAT key; ARGV[1] = emission interval (ms, may be fractional); ARGV[2] = '1' to reserve
// a future slot; ARGV[3] = longest reservation (ms). Returns {granted 0|1, wait ms, the slot's time
// (Redis clock, epoch ms)}, numbers as strings (Lua numbers would be truncated to integers in the reply).
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local wait = tat - now
if wait > 0 and (ARGV[2] ~= '1' or wait > tonumber(ARGV[3])) then
  return {0, string.format('%.3f', wait), string.format('%.3f', tat)}
end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1000)
return {1, string.format('%.3f', wait), string.format('%.3f', tat)}
`;

// KEYS[1] = the log (sorted set of call times, Redis clock); ARGV[1] = window (ms); ARGV[2] = max;
// ARGV[3] = the caller's unique name for this call. Same rule as a provider's sliding window: calls
// at or before now - window have left it. Returns {'0', the record's time, its member} (admitted
// and recorded) or {the wait in ms until the oldest call leaves the window}.
const WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.3f', now - window))
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {string.format('%.3f', math.max(0.001, tonumber(oldest[2]) + window - now))}
end
local at = string.format('%.3f', now)
local member = at .. ':' .. ARGV[3]
redis.call('ZADD', KEYS[1], at, member)
redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1000)
return {'0', at, member}
`;

const COMMAND = 'coldcopyRateLimitAcquire';
const WINDOW_COMMAND = 'coldcopyRateLimitAdmit';

interface WithCommand {
  [COMMAND](key: string, interval: string, reserve: '0' | '1', maxWaitMs: string): Promise<[number, string, string]>;
  [WINDOW_COMMAND](key: string, windowMs: string, max: string, name: string): Promise<[string] | [string, string, string]>;
}

function validate(limit: RateLimit): number {
  if (!Number.isFinite(limit.max) || limit.max <= 0) throw new RangeError(`rate limit max must be positive, got ${limit.max}`);
  if (!Number.isFinite(limit.perMs) || limit.perMs <= 0) throw new RangeError(`rate limit perMs must be positive, got ${limit.perMs}`);
  const slack = limit.slackMs ?? 0;
  if (!Number.isFinite(slack) || slack < 0) throw new RangeError(`rate limit slackMs must be >= 0, got ${slack}`);
  return (limit.perMs + slack) / limit.max;
}

export function createRateLimiter(redis: RedisClient, options: RateLimiterOptions): RateLimiter {
  if (typeof (redis as unknown as Partial<WithCommand>)[COMMAND] !== 'function') {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
  }
  if (typeof (redis as unknown as Partial<WithCommand>)[WINDOW_COMMAND] !== 'function') {
    redis.defineCommand(WINDOW_COMMAND, { numberOfKeys: 1, lua: WINDOW_LUA });
  }
  const client = redis as unknown as WithCommand;
  // admissions are named `<this limiter>:<counter>`: unique across processes sharing the log
  const instance = randomBytes(6).toString('base64url');
  let admitted = 0;
  const keyOf = (key: string) => `${options.prefix}:${key}`;
  const reserve: RateLimiter['reserve'] = async (key, limit, acquireOptions) => {
    const interval = validate(limit);
    const maxWaitMs = acquireOptions?.maxWaitMs ?? 60_000;
    const [granted, wait, slot] = await client[COMMAND](keyOf(key), String(interval), '1', String(maxWaitMs));
    const waitMs = Number(wait);
    if (granted !== 1) throw new RetryAfterError(Math.ceil(waitMs), `rate limit ${key}: next slot in ${Math.ceil(waitMs)} ms`);
    return { waitMs, slotAt: Number(slot) };
  };

  return {
    async tryAcquire(key, limit) {
      const interval = validate(limit);
      const [granted, wait] = await client[COMMAND](keyOf(key), String(interval), '0', '0');
      return granted === 1 ? 0 : Math.max(1, Math.ceil(Number(wait)));
    },

    reserve,

    async admit(key, limit) {
      validate(limit);
      const log = `${keyOf(key)}:log`;
      const [wait, at, member] = await client[WINDOW_COMMAND](
        log,
        String(limit.perMs + (limit.slackMs ?? 0)),
        String(Math.max(1, Math.floor(limit.max))),
        `${instance}:${++admitted}`,
      );
      if (member === undefined) return { waitMs: Math.max(1, Math.ceil(Number(wait))), release: async () => {} };
      return {
        waitMs: 0,
        at: Number(at),
        release: async () => {
          await redis.zrem(log, member);
        },
      };
    },

    async acquire(key, limit, signal, acquireOptions) {
      signal?.throwIfAborted();
      const { waitMs, slotAt } = await reserve(key, limit, acquireOptions);
      if (waitMs > 0) await sleep(waitMs, signal);
      return slotAt;
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
