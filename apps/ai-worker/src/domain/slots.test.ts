import { describe, expect, it } from 'vitest';
import { proposeSlots } from './slots.js';

describe('proposeSlots', () => {
  const monday = new Date('2026-12-07T08:00:00Z');
  it('keeps to the availability window in its time zone, skips busy times with the buffer, never overlaps', () => {
    const slots = proposeSlots({
      from: monday,
      durationMinutes: 60,
      noticeMinutes: 0,
      windows: [{ userId: 'u', dayOfWeek: 1, startTime: '09:00:00', endTime: '12:00:00', timezone: 'Europe/Berlin', bufferMinutes: 15 }],
      busy: [{ start: new Date('2026-12-07T09:00:00Z'), end: new Date('2026-12-07T09:30:00Z') }],
    });
    // Berlin is UTC+1 in December: the window is 08:00-11:00 UTC; 08:00 clashes (buffer), 09:30-10:30 is after busy+15 min? no: 09:30 < 09:45
    expect(slots.map((s) => s.startsAt.toISOString())).toEqual(['2026-12-07T10:00:00.000Z', '2026-12-14T08:00:00.000Z', '2026-12-14T09:00:00.000Z']);
  });

  it('weekends have no default availability', () => {
    const saturday = new Date('2026-12-12T07:00:00Z');
    const [first] = proposeSlots({ from: saturday, durationMinutes: 30, windows: [], busy: [] });
    expect(first!.startsAt.toISOString()).toBe('2026-12-14T09:00:00.000Z');
  });
});
