import type { AvailabilityWindow } from '@coldcopy/db';
import type { BusyInterval } from '../providers/calendar.js';

/**
 * Proposed meeting slots: the next `count` free slots of `durationMinutes` inside the workspace's
 * weekly availability (meeting_availability; weekdays 09:00–17:00 UTC when none is set), after
 * `from` plus a notice period, outside busy intervals (with each window's buffer).
 */
const DEFAULT_WINDOWS: AvailabilityWindow[] = [1, 2, 3, 4, 5].map((day) => ({
  userId: 'default',
  dayOfWeek: day,
  startTime: '09:00:00',
  endTime: '17:00:00',
  timezone: 'UTC',
  bufferMinutes: 0,
}));

/** Offset of a time zone at an instant, in minutes (UTC = 0). */
function offsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  })
    .formatToParts(at)
    .reduce<Record<string, number>>((acc, p) => (p.type === 'literal' ? acc : { ...acc, [p.type]: Number(p.value) }), {});
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute);
  return Math.round((asUtc - at.getTime()) / 60_000);
}

export function proposeSlots(options: {
  from: Date;
  durationMinutes: number;
  windows: readonly AvailabilityWindow[];
  busy: readonly BusyInterval[];
  count?: number;
  noticeMinutes?: number;
  horizonDays?: number;
  stepMinutes?: number;
}): Array<{ startsAt: Date; endsAt: Date }> {
  const count = options.count ?? 3;
  const step = (options.stepMinutes ?? 30) * 60_000;
  const duration = options.durationMinutes * 60_000;
  const windows = options.windows.length > 0 ? options.windows : DEFAULT_WINDOWS;
  const earliest = options.from.getTime() + (options.noticeMinutes ?? 120) * 60_000;
  const slots: Array<{ startsAt: Date; endsAt: Date }> = [];
  const startDay = Date.UTC(options.from.getUTCFullYear(), options.from.getUTCMonth(), options.from.getUTCDate());
  for (let d = 0; d <= (options.horizonDays ?? 14) && slots.length < count; d++) {
    const candidates: number[] = [];
    for (const w of windows) {
      // the window's local date and times, turned into UTC instants with the zone's offset that day
      const dayStart = startDay + d * 86_400_000;
      const offset = offsetMinutes(w.timezone, new Date(dayStart + 12 * 3_600_000));
      const local = new Date(dayStart);
      if (local.getUTCDay() !== w.dayOfWeek) continue;
      const [sh, sm] = w.startTime.split(':').map(Number) as [number, number];
      const [eh, em] = w.endTime.split(':').map(Number) as [number, number];
      const open = dayStart + (sh * 60 + sm - offset) * 60_000;
      const close = dayStart + (eh * 60 + em - offset) * 60_000;
      const buffer = w.bufferMinutes * 60_000;
      for (let t = Math.max(open, Math.ceil(earliest / step) * step); t + duration <= close; t += step) {
        const clash = options.busy.some((b) => b.start.getTime() - buffer < t + duration && b.end.getTime() + buffer > t);
        if (!clash) candidates.push(t);
      }
    }
    for (const t of [...new Set(candidates)].sort((a, b) => a - b)) {
      if (slots.length >= count) break;
      if (slots.some((s) => Math.abs(s.startsAt.getTime() - t) < duration)) continue;
      slots.push({ startsAt: new Date(t), endsAt: new Date(t + duration) });
    }
  }
  return slots;
}
