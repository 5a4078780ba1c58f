import { setTimeout as delay } from 'node:timers/promises';
import { RetryAfterError } from '@coldcopy/queue-core';
import type { RateLimiter } from '@coldcopy/queue-core/runtime';
import type { Cluster, Redis } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { SendLimits, SendSlot } from './send-limits.js';

/** "Increment only if below the cap", with a two-day expiry, in one script. */
const TAKE_BELOW_CAP = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 172800)
return 1
`;

/** Gives one back, never below zero. */
const RELEASE = `if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end return 1`;

// registered once per connection, sent as EVALSHA (not the script's text on every send)
const TAKE_COMMAND = 'coldcopyMailboxDailyTake';
const RELEASE_COMMAND = 'coldcopyMailboxDailyRelease';
interface CapScripts {
  [TAKE_COMMAND](key: string, cap: string): Promise<number>;
  [RELEASE_COMMAND](key: string): Promise<number>;
}

export interface RedisSendLimitsOptions {
  /** a Redis or Redis Cluster command client (every script touches one key) */
  readonly redis: Redis | Cluster;
  readonly limiter: RateLimiter;
  /** key prefix, e.g. `${BULL_PREFIX}:email` */
  readonly prefix: string;
  /** SES_MAX_SEND_RATE, emails per second for the account */
  readonly accountPerSecond: number;
  /** DOMAIN_RATE_PER_MINUTE, per workspace and recipient domain */
  readonly domainPerMinute: number;
  /** RATE_WAIT_MAX_MS */
  readonly maxWaitMs: number;
  /** where the account slot metrics go (the worker's registry, served on its health port) */
  readonly registry?: Registry;
}

/**
 * How close to the limiter's slack the sends run: the age of every account slot checked right
 * before a request leaves, the stale ones replaced, and the sends deferred because their slots
 * kept going stale. Tuning ACCOUNT_SLACK_MS and FRESH_SLOT_MS starts here.
 */
function slotMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    age: new Histogram({
      name: 'email_ses_slot_age_seconds',
      help: 'Age of an SES account rate slot when its request was about to leave (stale ones included)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    renewed: new Counter({ name: 'email_ses_slots_renewed_total', help: 'SES account slots found stale and replaced by a fresh one', registers }),
    deferred: new Counter({
      name: 'email_ses_slot_deferrals_total',
      help: 'Sends deferred because their SES account slots kept going stale',
      registers,
    }),
  };
}

/**
 * Grants must hold where SES counts them: the request reaches SES a few ms after its slot, so the
 * account limiter spaces slots with 25 ms of slack (rate-limit.ts `slackMs`).
 */
const ACCOUNT_SLACK_MS = 25;
/**
 * Of that slack, how old a slot may be when its request is about to leave (confirmSendSlot, once
 * the request is composed and signed); the rest is for the HTTP handler's way to the socket and the
 * network. An older slot is replaced by a fresh one.
 */
const FRESH_SLOT_MS = 15;
/**
 * The wait for an account slot ends this long before the slot: the claim, composing and signing
 * happen meanwhile, and confirmSendSlot then holds the request until the slot itself. Without the
 * lead, that work made most slots several ms old and some stale (each stale slot is a lost one).
 */
const CLAIM_LEAD_MS = 10;
/** fresh slots that went stale again before giving up (the send is deferred, its claim given back) */
const MAX_RENEWALS = 3;

/**
 * A reserved slot of the account limiter, on this process's performance.now() clock. The limiter's
 * script ran at some point between sending it and the answer's arrival, and the slot is its `wait`
 * after that: `dueAt` (the interface's) is the earliest the slot can be, so an age measured from it
 * is never too small (a stall anywhere after the request counts in full), and `notBefore` the latest,
 * so a request held until then never leaves ahead of its slot.
 */
interface AccountSlot extends SendSlot {
  readonly notBefore: number;
}

/** Resolves once performance.now() reaches `at` (setTimeout may wake up to 1 ms early). */
async function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  for (let left = at - performance.now(); left > 0; left = at - performance.now()) {
    await delay(Math.ceil(left), undefined, { signal });
  }
}

export function createRedisSendLimits(options: RedisSendLimitsOptions): SendLimits {
  const { redis, limiter, prefix } = options;
  const metrics = slotMetrics(options.registry);
  if (typeof (redis as unknown as Partial<CapScripts>)[TAKE_COMMAND] !== 'function') {
    redis.defineCommand(TAKE_COMMAND, { numberOfKeys: 1, lua: TAKE_BELOW_CAP });
    redis.defineCommand(RELEASE_COMMAND, { numberOfKeys: 1, lua: RELEASE });
  }
  const scripts = redis as unknown as CapScripts;
  const capKey = (ws: string, mailboxId: string, day: string) => `${prefix}:cap:ws:${ws}:mailbox:${mailboxId}:${day}`;
  const account = { max: options.accountPerSecond, perMs: 1000, slackMs: ACCOUNT_SLACK_MS };
  const reserveAccountSlot = async (): Promise<AccountSlot> => {
    const sentAt = performance.now();
    const { waitMs } = await limiter.reserve('ses-account', account, { maxWaitMs: options.maxWaitMs });
    return { dueAt: sentAt + waitMs, notBefore: performance.now() + waitMs };
  };
  return {
    async acquireSendSlot(workspaceId, recipientDomain, signal) {
      await limiter.acquire(`ws:${workspaceId}:domain:${recipientDomain.toLowerCase()}`, { max: options.domainPerMinute, perMs: 60_000 }, signal, {
        maxWaitMs: options.maxWaitMs,
      });
      const slot = await reserveAccountSlot();
      await sleepUntil(slot.notBefore - CLAIM_LEAD_MS, signal);
      return slot;
    },
    async confirmSendSlot(slot, signal, atSlot, withdraw) {
      for (let renewals = 0; ; renewals++) {
        await sleepUntil((slot as Partial<AccountSlot>).notBefore ?? slot.dueAt, signal);
        // atSlot only for a slot that is still fresh (a stale one means a wait for a new slot, which
        // must not come after it), and its time counts in the age
        let done = !atSlot;
        if (atSlot && performance.now() - slot.dueAt <= FRESH_SLOT_MS) {
          await atSlot();
          done = true;
        }
        const age = performance.now() - slot.dueAt;
        metrics.age.observe(age / 1000);
        if (age <= FRESH_SLOT_MS && done) return slot;
        // atSlot took too long: what it did is withdrawn before any wait (the on-the-wire mark: a
        // worker killed during the wait for a new slot must leave a claim provably never sent)
        if (atSlot && done) await withdraw?.();
        if (renewals === MAX_RENEWALS) {
          metrics.deferred.inc();
          throw new RetryAfterError(1000, 'SES account slots keep going stale (event loop or Redis stalls)');
        }
        metrics.renewed.inc();
        slot = await reserveAccountSlot();
      }
    },
    async takeMailboxDaily(workspaceId, mailboxId, cap, day) {
      return (await scripts[TAKE_COMMAND](capKey(workspaceId, mailboxId, day), String(cap))) === 1;
    },
    async releaseMailboxDaily(workspaceId, mailboxId, day) {
      await scripts[RELEASE_COMMAND](capKey(workspaceId, mailboxId, day));
    },
    async mailboxDailyCount(workspaceId, mailboxId, day) {
      return Number((await redis.get(capKey(workspaceId, mailboxId, day))) ?? 0);
    },
  };
}
