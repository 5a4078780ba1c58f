import type { RateLimiter } from '@coldcopy/queue-core/runtime';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ProviderRetryError } from './enrichment-provider.js';
import { createRedisProviderLimits } from './redis-provider-limits.js';

/**
 * The window check's answer must come back within half the slack, or the call asks again: a
 * process that stalled after the check would send the call late, next to calls recorded after it.
 * A fake limiter on a fake clock: each admit answer arrives `answerMs[i]` after it was asked.
 */
function limitsWith(answerMs: number[], maxWaitMs = 1000, slackMs = 20) {
  let clock = 0;
  const admits: number[] = [];
  const limiter: RateLimiter = {
    acquire: async () => clock,
    reserve: async () => ({ waitMs: 0, slotAt: clock }),
    tryAcquire: async () => 0,
    admit: async () => {
      admits.push(clock);
      clock += answerMs[Math.min(admits.length - 1, answerMs.length - 1)]!;
      return 0;
    },
  };
  const limits = createRedisProviderLimits({
    redis: undefined as unknown as Redis, // per-process caps (shared: false) use no connection
    limiter,
    prefix: 't',
    keys: { hunter: 'k' },
    limits: { hunter: { person: { perSecond: 100, maxConcurrent: 1 } }, apollo: {} },
    maxWaitMs,
    slackMs,
    shared: false,
    now: () => clock,
  });
  return { limits, admits, sentAt: () => clock };
}

describe('provider limits: late window answers', () => {
  it('a call whose check answered within half the slack goes at once', async () => {
    const { limits, admits } = limitsWith([10]);
    await expect(limits.run('hunter', 'person', new AbortController().signal, async () => 'sent')).resolves.toBe('sent');
    expect(admits).toEqual([0]);
  });

  it('a late answer (the process stalled) lets its record go and asks again', async () => {
    const { limits, admits, sentAt } = limitsWith([150, 11, 2]);
    await expect(limits.run('hunter', 'person', new AbortController().signal, async () => sentAt())).resolves.toBe(163);
    expect(admits).toEqual([0, 150, 161]);
  });

  it('with no slack there is no budget to keep: the recorded time is the one the limit holds for', async () => {
    const { limits, admits } = limitsWith([150], 1000, 0);
    await expect(limits.run('hunter', 'person', new AbortController().signal, async () => 'sent')).resolves.toBe('sent');
    expect(admits).toEqual([0]);
  });

  it('answers that keep coming late give up as a rate-limit retry once the wait passes maxWaitMs', async () => {
    const { limits, admits } = limitsWith([300], 1000);
    let sent = false;
    const err = await limits
      .run('hunter', 'person', new AbortController().signal, async () => {
        sent = true;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderRetryError);
    expect(err).toMatchObject({ reason: 'rate-limit' });
    expect(sent).toBe(false);
    expect(admits).toHaveLength(4);
  });
});
