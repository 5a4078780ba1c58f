import type { Admission, RateLimiter } from '@coldcopy/queue-core/runtime';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ProviderRetryError } from './enrichment-provider.js';
import { createRedisProviderLimits, plannedLimit, spacingOf } from './redis-provider-limits.js';

/**
 * The window check's admission must still be fresh (asked no more than half the slack ago) in the
 * same turn as the request is written, or it is released and asked again: a process that stalled
 * between its check and the write would send the call late, next to calls recorded after it.
 * A fake limiter on a fake monotonic clock: each admit answer arrives `answerMs[i]` after it was
 * asked, and at the next turn of the event loop after it the process "stalls" `stallMs` (a
 * setImmediate moves the clock): a write that waited for a later turn would land after the stall.
 */
function limitsWith(answerMs: number[], o: { maxWaitMs?: number; slackMs?: number; stallMs?: number } = {}) {
  let clock = 0;
  const admits: number[] = [];
  const released: number[] = [];
  const limiter: RateLimiter = {
    acquire: async () => clock,
    reserve: async () => ({ waitMs: 0, slotAt: clock }),
    tryAcquire: async () => 0,
    admit: async (): Promise<Admission> => {
      const n = admits.push(clock);
      clock += answerMs[Math.min(n - 1, answerMs.length - 1)]!;
      setImmediate(() => void (clock += o.stallMs ?? 0));
      return { waitMs: 0, at: admits[n - 1]!, release: async () => void released.push(n) };
    },
  };
  const writes: Array<{ at: number; admits: number }> = [];
  const limits = createRedisProviderLimits({
    redis: undefined as unknown as Redis, // per-process caps (shared: false) use no connection
    limiter,
    prefix: 't',
    keys: { hunter: 'k' },
    limits: { hunter: { person: { perSecond: 100, maxConcurrent: 1 } }, apollo: {} },
    maxWaitMs: o.maxWaitMs ?? 1000,
    slackMs: o.slackMs ?? 20,
    marginPercent: 0,
    shared: false,
    now: () => clock,
  });
  const send = () =>
    limits.run('hunter', 'person', new AbortController().signal, async (gate) => {
      await gate(() => void writes.push({ at: clock, admits: admits.length }));
      return 'answered';
    });
  return { send, admits, released, writes };
}

describe('provider limits: the rate window is checked in the turn the request is written', () => {
  it('an admission answered within half the slack is written in the same turn, before anything else of the process runs', async () => {
    const { send, admits, released, writes } = limitsWith([10], { stallMs: 500 });
    await expect(send()).resolves.toBe('answered');
    expect(admits).toEqual([0]);
    // written at the answer's time: the 500 ms stall queued behind the answer came after the write
    expect(writes).toEqual([{ at: 10, admits: 1 }]);
    expect(released).toEqual([]);
  });

  it('a stale admission (the process stalled) is released by name and asked again; the request goes out with a fresh one', async () => {
    const { send, admits, released, writes } = limitsWith([150, 11, 2]);
    await expect(send()).resolves.toBe('answered');
    expect(admits).toEqual([0, 150, 161]);
    expect(released).toEqual([1, 2]);
    expect(writes).toEqual([{ at: 163, admits: 3 }]);
  });

  it('with no slack there is no budget to keep: the recorded time is the one the limit holds for', async () => {
    const { send, admits, writes } = limitsWith([150], { slackMs: 0 });
    await expect(send()).resolves.toBe('answered');
    expect(admits).toEqual([0]);
    expect(writes).toHaveLength(1);
  });

  it('admissions that keep coming late give up as a rate-limit retry once the wait passes maxWaitMs, nothing written, every one released', async () => {
    const { send, admits, released, writes } = limitsWith([300], { maxWaitMs: 1000 });
    const err = await send().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderRetryError);
    expect(err).toMatchObject({ reason: 'rate-limit' });
    expect(writes).toEqual([]);
    expect(admits).toHaveLength(4);
    expect(released).toEqual([1, 2, 3, 4]);
  });
});

describe('provider limits: planned below the provider by a margin of whole calls', () => {
  it('lowers per-second and per-minute limits by the margin, rounded down, and leaves a limit whose margin is under one call', () => {
    const hunter = { perSecond: 100, perMinute: 6000, perHour: 50_000, maxConcurrent: 40 };
    expect(plannedLimit(hunter, 1)).toEqual({ perSecond: 99, perMinute: 5940, perHour: 50_000, maxConcurrent: 40 });
    expect(plannedLimit(hunter, 2.5)).toEqual({ perSecond: 97, perMinute: 5850, perHour: 50_000, maxConcurrent: 40 });
    expect(plannedLimit(hunter, 0)).toEqual(hunter);
    expect(plannedLimit({ perSecond: 15, perMinute: 500, maxConcurrent: 10 }, 1)).toEqual({ perSecond: 15, perMinute: 495, maxConcurrent: 10 });
    // 100/s with 20 ms of slack and 1 %: 99 per 1,020 ms, the spacing 10.30 ms (97.1 % of the limit)
    expect(spacingOf(plannedLimit(hunter, 1), 20)).toEqual({ max: 99, perMs: 1000, slackMs: 20 });
  });
});
