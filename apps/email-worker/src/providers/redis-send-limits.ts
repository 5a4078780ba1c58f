import { RetryAfterError } from '@coldcopy/queue-core';
import type { RateLimiter } from '@coldcopy/queue-core/worker';
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
 * Grants must hold where SES counts them: the request reaches SES a few ms after the grant, so the
 * account limiter spaces grants with 25 ms of slack (rate-limit.ts `slackMs`).
 */
const ACCOUNT_SLACK_MS = 25;
/**
 * Of that slack, how late confirmSendSlot may find a slot (its answer's way back from Redis, timer
 * lateness, the claim, composing and signing the request); the rest is for the HTTP handler's way
 * to the socket and the network, as confirmSendSlot runs once the request is signed. Later than
 * this, the slot is replaced by a fresh one.
 */
const FRESH_SLOT_MS = 15;
/** fresh slots that went stale again before giving up (the send is deferred, its claim given back) */
const MAX_RENEWALS = 3;

/**
 * Event-loop stalls (a long GC, the CPU taken by other processes, long synchronous work): a timer
 * due during a stall fires when it ends, so a slot granted at its start is handed over at its end
 * and looks fresh although it is as old as the stall. One watch per process notes the last stalls
 * (a 10 ms interval that measures its own lateness; unref'd, started by the first slot); a stall
 * still going on, or just over, shows as the watch's own overdue run.
 */
const stallWatch = (() => {
  const PERIOD_MS = 10;
  const starts = new Float64Array(16);
  const ends = new Float64Array(16);
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  let prev = 0;
  return {
    start() {
      if (timer) return;
      prev = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        if (now - prev - PERIOD_MS > 2) {
          starts[next] = prev + PERIOD_MS;
          ends[next] = now;
          next = (next + 1) % ends.length;
        }
        prev = now;
      }, PERIOD_MS);
      timer.unref();
    },
    /**
     * How much earlier than `at` a timer that fired then may have been due: back to the start of a
     * stall it ended with, but not before `armedAt` (the timer did not exist before).
     */
    lateness(at: number, armedAt: number): number {
      let worst = 0;
      const stall = (from: number, to: number) => {
        if (at >= from && at <= to + PERIOD_MS) worst = Math.max(worst, at - Math.max(from, armedAt));
      };
      for (let i = 0; i < ends.length; i++) stall(starts[i]!, ends[i]!);
      const overdueSince = prev + PERIOD_MS;
      const now = performance.now();
      if (now - overdueSince > 2) stall(overdueSince, now);
      return worst;
    },
  };
})();

interface AccountSlot extends SendSlot {
  /** performance.now() when the limiter's acquire resolved */
  readonly grantedAt: number;
  /** performance.now() when the limiter's answer arrived (its sleep began) */
  readonly answeredAt: number;
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
  /**
   * A slot of the account limiter. The limiter's script runs at some point between sending and
   * answering, the slot is `wait` after that, and the sleep starts when the answer arrives: a late
   * answer (Redis busy, the event loop busy) makes the grant late by up to the round trip. The
   * round trip is timed with a PING queued right behind the script on the same connection (acquire
   * sends its script before its first await), so answered right after it.
   */
  const accountSlot = async (signal: AbortSignal): Promise<AccountSlot> => {
    stallWatch.start();
    const sentAt = performance.now();
    const granted = limiter.acquire('ses-account', account, signal, { maxWaitMs: options.maxWaitMs });
    const answered = redis.ping().then(
      () => performance.now(),
      () => Number.POSITIVE_INFINITY,
    );
    await granted;
    const grantedAt = performance.now();
    const answeredAt = Math.min(await answered, grantedAt);
    return { grantedAt, answeredAt, dueAt: grantedAt - (answeredAt - sentAt) };
  };
  /**
   * How long ago the slot may have been due: the round trip (in dueAt), and the lateness of the
   * limiter's sleep when it ended with a stall (the sleep began when the answer arrived).
   */
  const age = (slot: SendSlot) => {
    const { grantedAt = slot.dueAt, answeredAt = slot.dueAt } = slot as Partial<AccountSlot>;
    return performance.now() - slot.dueAt + stallWatch.lateness(grantedAt, answeredAt);
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
      for (let renewals = 0; ; renewals++) {
        const ms = age(slot);
        metrics.age.observe(ms / 1000);
        if (ms <= FRESH_SLOT_MS) return slot;
        if (renewals === MAX_RENEWALS) {
          metrics.deferred.inc();
          throw new RetryAfterError(1000, 'SES account slots keep going stale (event loop or Redis stalls)');
        }
        metrics.renewed.inc();
        slot = await accountSlot(signal);
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
