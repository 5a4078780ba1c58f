import type { AvailabilityWindow } from '@coldcopy/db';
import { zonedToUtc } from '@coldcopy/queue-core';
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
      // the window's local date and times, turned into UTC instants in the window's zone
      const local = new Date(startDay + d * 86_400_000);
      if (local.getUTCDay() !== w.dayOfWeek) continue;
      const [sh, sm] = w.startTime.split(':').map(Number) as [number, number];
      const [eh, em] = w.endTime.split(':').map(Number) as [number, number];
      const at = (minutes: number) => zonedToUtc(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate(), minutes, w.timezone).getTime();
      const open = at(sh * 60 + sm);
      const close = at(eh * 60 + em);
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
