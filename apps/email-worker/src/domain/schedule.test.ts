import { describe, expect, it } from 'vitest';
import { alignToWindow, isInWindow, nextUtcMidnight, startOfLocalDay } from './schedule.js';

const ny = { timezone: 'America/New_York', start: '09:00', end: '17:00', excludeWeekends: true };

describe('sending windows', () => {
  it('is inside 09:00–17:00 New York time on a weekday', () => {
    expect(isInWindow(new Date('2026-12-01T15:00:00Z'), ny)).toBe(true); // Tue 10:00 EST
    expect(isInWindow(new Date('2026-12-01T13:59:00Z'), ny)).toBe(false); // 08:59
    expect(isInWindow(new Date('2026-12-01T22:00:00Z'), ny)).toBe(false); // 17:00 exclusive
  });

  it('moves to the next window start, skipping weekends', () => {
    // Friday 18:00 EST → Monday 09:00 EST
    expect(alignToWindow(new Date('2026-12-04T23:00:00Z'), ny).toISOString()).toBe('2026-12-07T14:00:00.000Z');
    // Tuesday 07:00 EST → same day 09:00
    expect(alignToWindow(new Date('2026-12-01T12:00:00Z'), ny).toISOString()).toBe('2026-12-01T14:00:00.000Z');
    // inside: unchanged
    const inside = new Date('2026-12-01T15:00:00Z');
    expect(alignToWindow(inside, ny)).toBe(inside);
  });

  it('handles daylight saving time (summer offset -4)', () => {
    expect(alignToWindow(new Date('2026-07-07T10:00:00Z'), ny).toISOString()).toBe('2026-07-07T13:00:00.000Z');
  });

  it('local and UTC day boundaries', () => {
    expect(startOfLocalDay(new Date('2026-12-01T03:00:00Z'), 'America/New_York').toISOString()).toBe('2026-11-30T05:00:00.000Z');
    expect(nextUtcMidnight(new Date('2026-12-01T23:59:00Z')).toISOString()).toBe('2026-12-02T00:00:00.000Z');
  });

  it('no sendBetween means all day', () => {
    expect(isInWindow(new Date('2026-12-05T03:00:00Z'), { timezone: 'UTC' })).toBe(true);
  });
});
