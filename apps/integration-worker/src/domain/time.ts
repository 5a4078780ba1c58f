import { assertTimezone, localTime } from '@coldcopy/queue-core';

/** Milliseconds from `now` to the next midnight in `timeZone` (HubSpot's DAILY limit resets then); UTC for an unknown zone. */
export function msUntilMidnight(now: Date, timeZone: string): number {
  let zone = timeZone;
  try {
    assertTimezone(zone);
  } catch {
    zone = 'UTC';
  }
  const local = localTime(now, zone);
  const elapsed = (local.minutes * 60 + local.seconds) * 1000 + now.getUTCMilliseconds();
  return Math.max(1000, 86_400_000 - elapsed);
}
