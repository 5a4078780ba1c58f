import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Field types and key helpers shared by the job files. */

/**
 * Start of a time slot in ISO 8601 basic format, UTC, minute precision: `20250709T1430Z`. Basic
 * format because Bull job ids must avoid `:` (keys containing one are hashed, which hides them in
 * the dashboard). The producer floors the current time to the slot size.
 */
export const SLOT_PATTERN = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])[0-5]\dZ$/;
export const timeSlot = z.string().regex(SLOT_PATTERN, 'expected a UTC slot like 20250709T1430Z');

/** The slot of `minutes` that contains `at`: UTC, floored, e.g. `20250709T1430Z`. */
export function timeSlotOf(at: Date | number, minutes: number): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('timeSlotOf: invalid time');
  const step = minutes * 60_000;
  const floored = new Date(ms - (((ms % step) + step) % step));
  return `${floored.toISOString().slice(0, 16).replace(/[-:]/g, '')}Z`;
}

export const email = z.email().max(254);
export const shortText = z.string().min(1).max(200);

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
export const sortedUnique = (values: readonly string[]) => [...new Set(values)].sort();
