import { describe, expect, it } from 'vitest';
import { assertTimezone, localTime, zonedToUtc } from './zoned-time.js';

describe('zoned time', () => {
  it('reads the local date, minutes and weekday of an instant', () => {
    expect(localTime(new Date('2026-12-06T23:30:15Z'), 'Asia/Tokyo')).toEqual({ year: 2026, month: 12, day: 7, minutes: 8 * 60 + 30, seconds: 15, weekday: 1 });
    expect(localTime(new Date('2026-12-06T00:00:00Z'), 'UTC')).toMatchObject({ day: 6, minutes: 0, weekday: 0 });
  });

  it('turns a local wall-clock time into its UTC instant, across DST changes', () => {
    expect(zonedToUtc(2026, 7, 1, 9 * 60, 'America/New_York').toISOString()).toBe('2026-07-01T13:00:00.000Z');
    expect(zonedToUtc(2026, 12, 1, 9 * 60, 'America/New_York').toISOString()).toBe('2026-12-01T14:00:00.000Z');
    // the day DST starts in Europe (2026-03-29, 02:00 → 03:00): 09:00 is already summer time
    expect(zonedToUtc(2026, 3, 29, 9 * 60, 'Europe/Berlin').toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(zonedToUtc(2026, 3, 28, 9 * 60, 'Europe/Berlin').toISOString()).toBe('2026-03-28T08:00:00.000Z');
  });

  it('refuses an unknown zone', () => {
    expect(() => assertTimezone('Mars/Olympus')).toThrow(RangeError);
    expect(() => assertTimezone('Europe/Paris')).not.toThrow();
  });
});
