/**
 * Campaign sending windows in the campaign's time zone (schedule_settings: sendBetween
 * {start, end} as HH:MM local, excludeWeekends). Only Intl: no time-zone library needed.
 */

import { localTime, zonedToUtc } from '@coldcopy/queue-core';

export interface SendWindow {
  readonly timezone: string;
  /** local HH:MM; default 00:00 */
  readonly start?: string;
  /** local HH:MM, exclusive; default 24:00 */
  readonly end?: string;
  readonly excludeWeekends?: boolean;
}

function hhmm(value: string | undefined, fallback: number): number {
  if (!value) return fallback;
  const m = /^(\d{1,2}):(\d{2})$/.exec(value);
  if (!m) return fallback;
  return Math.min(24 * 60, Number(m[1]) * 60 + Number(m[2]));
}

function bounds(window: SendWindow): { start: number; end: number } {
  const start = hhmm(window.start, 0);
  const end = hhmm(window.end, 24 * 60);
  return end > start ? { start, end } : { start: 0, end: 24 * 60 };
}

export function isInWindow(date: Date, window: SendWindow): boolean {
  const p = localTime(date, window.timezone);
  const { start, end } = bounds(window);
  if (window.excludeWeekends && (p.weekday === 0 || p.weekday === 6)) return false;
  return p.minutes >= start && p.minutes < end;
}

/** `date` itself when it is inside the window, else the start of the next window. */
export function alignToWindow(date: Date, window: SendWindow): Date {
  if (isInWindow(date, window)) return date;
  const { start } = bounds(window);
  const p = localTime(date, window.timezone);
  for (let offset = 0; offset < 8; offset++) {
    // calendar arithmetic on the local date (Date.UTC normalises day overflow)
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day + offset));
    const weekday = d.getUTCDay();
    if (window.excludeWeekends && (weekday === 0 || weekday === 6)) continue;
    const candidate = zonedToUtc(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), start, window.timezone);
    if (candidate.getTime() > date.getTime()) return candidate;
  }
  throw new Error('no sending window within a week');
}

/** Midnight of the local day that contains `date`, as a UTC instant. */
export function startOfLocalDay(date: Date, timezone: string): Date {
  const p = localTime(date, timezone);
  return zonedToUtc(p.year, p.month, p.day, 0, timezone);
}

/** The UTC calendar day `YYYY-MM-DD` (mailbox daily caps count per UTC day). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The next UTC midnight after `date`. */
export function nextUtcMidnight(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1));
}
