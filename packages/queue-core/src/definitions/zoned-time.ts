/**
 * Wall-clock time in an IANA time zone, with Intl only (no time-zone library): the campaign send
 * windows, meeting availability and providers' local midnights all read and build local times
 * through these.
 */

/** A local date and time of day in a time zone. */
export interface LocalTime {
  readonly year: number;
  /** 1–12 */
  readonly month: number;
  readonly day: number;
  /** minutes since local midnight */
  readonly minutes: number;
  readonly seconds: number;
  /** 0 = Sunday */
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Throws RangeError for an unknown IANA zone. */
export function assertTimezone(timezone: string): void {
  formatter(timezone);
}

/** The local date and time of `date` in `timezone` (RangeError for an unknown zone). */
export function localTime(date: Date, timezone: string): LocalTime {
  const parts = Object.fromEntries(
    formatter(timezone)
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    seconds: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
  };
}

/** The UTC instant of a local wall-clock time (the later one when DST makes it ambiguous). */
export function zonedToUtc(year: number, month: number, day: number, minutes: number, timezone: string): Date {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  let guess = wall;
  for (let i = 0; i < 3; i++) {
    const p = localTime(new Date(guess), timezone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, 0, p.minutes, p.seconds);
    const diff = seen - wall;
    if (diff === 0) break;
    guess -= diff;
  }
  return new Date(guess);
}
