import type { RateLimiter } from '@coldcopy/queue-core/worker';
import type { Redis } from 'ioredis';
import type { SendLimits } from './send-limits.js';

/** "Increment only if below the cap", with a two-day expiry, in one script. */
const TAKE_BELOW_CAP = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 172800)
return 1
`;

export interface RedisSendLimitsOptions {
  readonly redis: Redis;
  readonly limiter: RateLimiter;
  /** key prefix, e.g. `${BULL_PREFIX}:email` */
  readonly prefix: string;
  /** SES_MAX_SEND_RATE, emails per second for the account */
  readonly accountPerSecond: number;
  /** DOMAIN_RATE_PER_MINUTE, per workspace and recipient domain */
  readonly domainPerMinute: number;
  /** RATE_WAIT_MAX_MS */
  readonly maxWaitMs: number;
}

/**
 * Grants must hold where SES counts them: the request reaches SES a few ms after the grant, so the
 * account limiter spaces grants with 25 ms of slack (rate-limit.ts `slackMs`).
 */
const ACCOUNT_SLACK_MS = 25;
/**
 * Of that slack, what the handler may spend between the grant and confirmSendSlot (the claim, one
 * Postgres statement); the rest is for composing the MIME and the SDK's way to SES. Later than this,
 * the slot is replaced by a fresh one.
 */
const FRESH_SLOT_MS = 15;

/**
 * Event-loop stalls (a long GC, the CPU taken by other processes, long synchronous work): a timer
 * due during a stall fires when it ends, so a slot granted at its start resolves at its end and
 * looks fresh although it is as old as the stall. One watch per process notes the last stalls (a
 * 10 ms interval that measures its own lateness; unref'd, started by the first slot).
 */
const stallWatch = (() => {
  const PERIOD_MS = 10;
  const ends = new Float64Array(16);
  const lengths = new Float64Array(16);
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  let prev = 0;
  return {
    start() {
      if (timer) return;
      prev = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        const lag = now - prev - PERIOD_MS;
        prev = now;
        if (lag > 2) {
          ends[next] = now;
          lengths[next] = lag;
          next = (next + 1) % ends.length;
        }
      }, PERIOD_MS);
      timer.unref();
    },
    /** the longest stall that ended around `at`: the timer that resolved then may have been due that much earlier */
    endedAround(at: number): number {
      let longest = 0;
      for (let i = 0; i < ends.length; i++) {
        if (Math.abs(ends[i]! - at) <= PERIOD_MS && lengths[i]! > longest) longest = lengths[i]!;
      }
      return longest;
    },
  };
})();

export function createRedisSendLimits(options: RedisSendLimitsOptions): SendLimits {
  const { redis, limiter, prefix } = options;
  const capKey = (ws: string, mailboxId: string, day: string) => `${prefix}:cap:ws:${ws}:mailbox:${mailboxId}:${day}`;
  const account = { max: options.accountPerSecond, perMs: 1000, slackMs: ACCOUNT_SLACK_MS };
  const accountSlot = async (signal: AbortSignal) => {
    stallWatch.start();
    await limiter.acquire('ses-account', account, signal, { maxWaitMs: options.maxWaitMs });
    return { grantedAt: performance.now() };
  };
  return {
    async acquireSendSlot(workspaceId, recipientDomain, signal) {
      await limiter.acquire(
        `ws:${workspaceId}:domain:${recipientDomain.toLowerCase()}`,
        { max: options.domainPerMinute, perMs: 60_000 },
        signal,
        { maxWaitMs: options.maxWaitMs },
      );
      return accountSlot(signal);
    },
    async confirmSendSlot(slot, signal) {
      const age = performance.now() - slot.grantedAt + stallWatch.endedAround(slot.grantedAt);
      return age <= FRESH_SLOT_MS ? slot : accountSlot(signal);
    },
    async takeMailboxDaily(workspaceId, mailboxId, cap, day) {
      const taken = await redis.eval(TAKE_BELOW_CAP, 1, capKey(workspaceId, mailboxId, day), String(cap));
      return taken === 1;
    },
    async releaseMailboxDaily(workspaceId, mailboxId, day) {
      const key = capKey(workspaceId, mailboxId, day);
      // never below zero
      await redis.eval("if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end return 1", 1, key);
    },
    async mailboxDailyCount(workspaceId, mailboxId, day) {
      return Number((await redis.get(capKey(workspaceId, mailboxId, day))) ?? 0);
    },
  };
}
