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

export function createRedisSendLimits(options: RedisSendLimitsOptions): SendLimits {
  const { redis, limiter, prefix } = options;
  const capKey = (ws: string, mailboxId: string, day: string) => `${prefix}:cap:ws:${ws}:mailbox:${mailboxId}:${day}`;
  return {
    async acquireSendSlot(workspaceId, recipientDomain, signal) {
      await limiter.acquire(
        `ws:${workspaceId}:domain:${recipientDomain.toLowerCase()}`,
        { max: options.domainPerMinute, perMs: 60_000 },
        signal,
        { maxWaitMs: options.maxWaitMs },
      );
      await limiter.acquire('ses-account', { max: options.accountPerSecond, perMs: 1000, slackMs: ACCOUNT_SLACK_MS }, signal, {
        maxWaitMs: options.maxWaitMs,
      });
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
