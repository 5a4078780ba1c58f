import { describe, expect, it } from 'vitest';
import { benchKnob, leadBenchScale, maxInAnyWindow } from './bench.js';

describe('maxInAnyWindow', () => {
  it('counts the most timestamps in any half-open window, in any input order', () => {
    expect(maxInAnyWindow([], 1000)).toBe(0);
    expect(maxInAnyWindow([1500, 0, 999, 1000, 1999], 1000)).toBe(3); // [1000, 2000) holds 1000, 1500, 1999
    expect(maxInAnyWindow([0, 1000, 2000], 1000)).toBe(1);
  });
});

describe('bench knobs', () => {
  it('reads BENCH_<name>, falls back when unset or empty, and refuses what is not a positive number', () => {
    expect(benchKnob('TICK_MS', 2000, {})).toBe(2000);
    expect(benchKnob('TICK_MS', 2000, { BENCH_TICK_MS: '' })).toBe(2000);
    expect(benchKnob('TICK_MS', 2000, { BENCH_TICK_MS: '500' })).toBe(500);
    for (const bad of ['ten', '-1', '0', 'Infinity'])
      expect(() => benchKnob('TICK_MS', 2000, { BENCH_TICK_MS: bad })).toThrow(/BENCH_TICK_MS must be a positive number/);
  });

  it('gives the lead benches one scale: 10,000 leads at 100/s over 2 workers × 20 unless the environment says otherwise', () => {
    expect(leadBenchScale({})).toEqual({ leads: 10_000, rate: 100, workers: 2, concurrency: 20 });
    expect(leadBenchScale({ BENCH_LEADS: '50000', BENCH_RATE: '100000', BENCH_WORKERS: '3', BENCH_CONCURRENCY: '8' })).toEqual({
      leads: 50_000,
      rate: 100_000,
      workers: 3,
      concurrency: 8,
    });
  });
});
