import { describe, expect, it } from 'vitest';
import { CalendarRateLimitError, retryAfterMs, withRateLimitWaits } from './errors.js';
import { meetingEventId, mergeBusy } from './events.js';
import { createFakeFreeBusy } from './free-busy.js';

const t = (h: number, m = 0) => new Date(Date.UTC(2026, 11, 7, h, m));

describe('calendar package', () => {
  it('mergeBusy joins overlapping and touching intervals, sorts and clips them', () => {
    const merged = mergeBusy(
      [
        { start: t(13), end: t(14) },
        { start: t(9), end: t(10) },
        { start: t(10), end: t(10, 30) },
        { start: t(9, 15), end: t(9, 45) },
        { start: t(6), end: t(7) },
        { start: t(17), end: t(19) },
      ],
      t(8),
      t(18),
    );
    expect(merged.map((b) => [b.start.toISOString(), b.end.toISOString()])).toEqual([
      [t(9).toISOString(), t(10, 30).toISOString()],
      [t(13).toISOString(), t(14).toISOString()],
      [t(17).toISOString(), t(18).toISOString()],
    ]);
  });

  it('meeting event ids are Google base32hex, stable per meeting, and refuse a non-uuid', () => {
    const id = meetingEventId('0F8FAD5B-D9CB-469F-A165-70867728950E');
    expect(id).toBe('ccm0f8fad5bd9cb469fa16570867728950e');
    expect(id).toMatch(/^[a-v0-9]{5,1024}$/);
    expect(meetingEventId('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(id);
    expect(() => meetingEventId('x')).toThrow(TypeError);
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('2', 5000)).toBe(2000);
    expect(retryAfterMs(null, 5000)).toBe(5000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 1, 4000)).toBe(6000);
    expect(retryAfterMs('soon', 700)).toBe(700);
  });

  it('rate-limit waits: short ones are waited out, long ones and the last try are thrown', async () => {
    let calls = 0;
    const value = await withRateLimitWaits(
      async () => {
        if (++calls < 3) throw new CalendarRateLimitError('microsoft', 429, 'ApplicationThrottled', 5);
        return 'ok';
      },
      { maxWaitMs: 50 },
    );
    expect([value, calls]).toEqual(['ok', 3]);
    await expect(
      withRateLimitWaits(
        async () => {
          throw new CalendarRateLimitError('google', 429, 'rateLimitExceeded', 60_000);
        },
        { maxWaitMs: 50 },
      ),
    ).rejects.toBeInstanceOf(CalendarRateLimitError);
  });

  it('the fake records queries and answers per workspace', async () => {
    const fake = createFakeFreeBusy([{ start: t(9), end: t(10) }]);
    expect((await fake.busy('ws', t(9, 30), t(12))).map((b) => b.start.toISOString())).toEqual([t(9, 30).toISOString()]);
    expect(fake.queries).toHaveLength(1);
  });
});
