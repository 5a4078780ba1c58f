import { describe, expect, it } from 'vitest';
import { classifiedBackoff } from './backoff.js';
import { InvalidPayloadError, PermanentJobError, RetryAfterError } from './errors.js';

describe('classifiedBackoff', () => {
  const opts = { baseMs: 1000, maxMs: 8000 };

  it('stops at once on permanent errors, by name as well as by class', () => {
    expect(classifiedBackoff(1, new PermanentJobError('x'), opts)).toBe(-1);
    expect(classifiedBackoff(1, new InvalidPayloadError('j', []), opts)).toBe(-1);
    expect(classifiedBackoff(1, Object.assign(new Error('x'), { name: 'PermanentJobError' }), opts)).toBe(-1);
  });

  it('honours a provider Retry-After', () => {
    expect(classifiedBackoff(3, new RetryAfterError(1234), opts)).toBe(1234);
  });

  it('grows exponentially with equal jitter inside [exp/2, exp], capped at maxMs', () => {
    expect(classifiedBackoff(1, new Error('t'), opts, () => 0)).toBe(500);
    expect(classifiedBackoff(1, new Error('t'), opts, () => 1)).toBe(1000);
    expect(classifiedBackoff(3, new Error('t'), opts, () => 0)).toBe(2000);
    expect(classifiedBackoff(3, new Error('t'), opts, () => 1)).toBe(4000);
    expect(classifiedBackoff(10, new Error('t'), opts, () => 1)).toBe(8000);
    const samples = new Set(Array.from({ length: 50 }, () => classifiedBackoff(2, new Error('t'), opts)));
    expect(samples.size).toBeGreaterThan(10); // jittered, not lockstep
  });

  it('rejects a negative Retry-After at construction', () => {
    expect(() => new RetryAfterError(-1)).toThrow(RangeError);
  });
});
