import { describe, expect, it } from 'vitest';
import { parseScalingConfig, type WorkerRule } from './config.js';
import { decide, EMPTY_MEMORY, type ScalerMemory } from './policy.js';

const rule = (over: Partial<WorkerRule> = {}): WorkerRule =>
  parseScalingConfig({ workers: { 'email-worker': { queue: 'email', min: 2, max: 4, ...over } } }).workers['email-worker']!;

const MIN = 60_000;
const seen = (backlog: number, oldestAgeSeconds: number | null = null) => ({ backlog, oldestAgeSeconds });

describe("decide (the seed's rules: up above 1,000, down below 100 held 10 min)", () => {
  it("defaults are the seed's thresholds", () => {
    expect(rule()).toMatchObject({ scaleUpBacklog: 1000, scaleDownBacklog: 100, scaleDownHoldSeconds: 600, step: 1 });
  });

  it('scales up above the threshold, not at it, and never past max', () => {
    expect(decide(rule(), seen(1000), 2, EMPTY_MEMORY, 0)).toMatchObject({ action: 'hold', reason: 'steady' });
    expect(decide(rule(), seen(1001), 2, EMPTY_MEMORY, 0)).toMatchObject({ action: 'up', desired: 3, reason: 'backlog_high' });
    expect(decide(rule({ step: 5 }), seen(5000), 3, EMPTY_MEMORY, 0)).toMatchObject({ action: 'up', desired: 4 });
    expect(decide(rule(), seen(5000), 4, EMPTY_MEMORY, 0)).toMatchObject({ action: 'hold', reason: 'at_max' });
  });

  it('waits out the up cooldown after a change', () => {
    const m: ScalerMemory = { lastChangeAt: 0, lowSince: null };
    expect(decide(rule(), seen(5000), 3, m, 4 * MIN)).toMatchObject({ action: 'hold', reason: 'cooldown' });
    expect(decide(rule(), seen(5000), 3, m, 5 * MIN)).toMatchObject({ action: 'up', desired: 4, memory: { lastChangeAt: 5 * MIN } });
  });

  it('scales down only after the backlog stayed low for the whole hold, one step per hold, never below min', () => {
    let m: ScalerMemory = { lastChangeAt: -60 * MIN, lowSince: null };
    let d = decide(rule(), seen(50), 4, m, 0);
    expect(d).toMatchObject({ action: 'hold', reason: 'holding_low', memory: { lowSince: 0 } });
    m = d.memory;
    expect(decide(rule(), seen(50), 4, m, 9 * MIN)).toMatchObject({ action: 'hold', reason: 'holding_low' });
    // a blip above the lower threshold restarts the hold
    const blip = decide(rule(), seen(150), 4, m, 9 * MIN);
    expect(blip).toMatchObject({ action: 'hold', reason: 'steady', memory: { lowSince: null } });
    expect(decide(rule(), seen(50), 4, blip.memory, 10 * MIN)).toMatchObject({ action: 'hold', reason: 'holding_low' });
    d = decide(rule(), seen(50), 4, m, 10 * MIN);
    expect(d).toMatchObject({ action: 'down', desired: 3, reason: 'backlog_low', memory: { lastChangeAt: 10 * MIN, lowSince: 10 * MIN } });
    expect(decide(rule(), seen(50), 3, d.memory, 15 * MIN)).toMatchObject({ action: 'hold', reason: 'holding_low' });
    expect(decide(rule(), seen(0), 2, { lastChangeAt: null, lowSince: -60 * MIN }, 0)).toMatchObject({ action: 'hold', reason: 'at_min' });
  });

  it('the down cooldown counts from the last change even when the hold is over', () => {
    const m: ScalerMemory = { lastChangeAt: 0, lowSince: -20 * MIN };
    expect(decide(rule(), seen(10), 4, m, 5 * MIN)).toMatchObject({ action: 'hold', reason: 'cooldown' });
    expect(decide(rule(), seen(10), 4, m, 10 * MIN)).toMatchObject({ action: 'down', desired: 3 });
  });

  it('brings a count outside [min, max] back at once, whatever the cooldown', () => {
    const m: ScalerMemory = { lastChangeAt: 0, lowSince: null };
    expect(decide(rule(), seen(5000), 1, m, 1)).toMatchObject({ action: 'up', desired: 2, reason: 'below_min' });
    expect(decide(rule(), seen(0), 9, m, 1)).toMatchObject({ action: 'down', desired: 4, reason: 'above_max' });
  });

  it('an old next job scales up when the rule asks for it, and blocks a scale-down', () => {
    const r = rule({ scaleUpOldestAgeSeconds: 600 });
    expect(decide(r, seen(20, 900), 2, EMPTY_MEMORY, 0)).toMatchObject({ action: 'up', reason: 'oldest_age_high' });
    expect(decide(rule(), seen(20, 900), 2, EMPTY_MEMORY, 0)).toMatchObject({ action: 'hold', reason: 'at_min' });
    expect(decide(r, seen(20, 900), 4, { lastChangeAt: null, lowSince: -60 * MIN }, 0)).toMatchObject({ action: 'hold', reason: 'at_max' });
  });

  it('a config without hysteresis or with min above max is refused', () => {
    expect(() => rule({ scaleDownBacklog: 1000 })).toThrow(/hysteresis/);
    expect(() => rule({ min: 5, max: 4 })).toThrow(/min must not exceed max/);
    expect(() => parseScalingConfig({ workers: { 'x-worker': { queue: 'nope', min: 1, max: 2 } } })).toThrow(/six queues/);
  });
});
