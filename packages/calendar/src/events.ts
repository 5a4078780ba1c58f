/**
 * Provider events in one shape: what the sync stores (times and whether they block time; never
 * titles, attendees or bodies) and what free/busy returns.
 */
export interface BusyInterval {
  readonly start: Date;
  readonly end: Date;
}

export interface CalendarEvent {
  /** the provider's event id (ours when we created it with a deterministic id) */
  readonly id: string;
  readonly status: 'confirmed' | 'tentative';
  readonly start: Date;
  readonly end: Date;
  readonly allDay: boolean;
  /** blocks time: Google `transparency` opaque, Graph `showAs` busy/tentative/oof/unknown */
  readonly busy: boolean;
  readonly iCalUid: string | null;
  /** the provider's last-modified time, when it sends one */
  readonly updatedAt: Date | null;
}

export type CalendarChange = { readonly kind: 'upsert'; readonly event: CalendarEvent } | { readonly kind: 'delete'; readonly id: string };

/**
 * One page of a sync round. `next` continues the round (Google page token, Graph nextLink);
 * `cursor` is on the last page only (Google nextSyncToken, Graph deltaLink) and starts the next round.
 */
export interface ChangePage {
  readonly changes: CalendarChange[];
  readonly next?: string;
  readonly cursor?: string;
}

/** Sorted, overlapping and touching intervals joined, clipped to [from, to). */
export function mergeBusy(intervals: readonly BusyInterval[], from: Date, to: Date): BusyInterval[] {
  const clipped = intervals
    .map((b) => ({ start: Math.max(b.start.getTime(), from.getTime()), end: Math.min(b.end.getTime(), to.getTime()) }))
    .filter((b) => b.end > b.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Array<{ start: number; end: number }> = [];
  for (const b of clipped) {
    const last = out.at(-1);
    if (last && b.start <= last.end) last.end = Math.max(last.end, b.end);
    else out.push({ ...b });
  }
  return out.map((b) => ({ start: new Date(b.start), end: new Date(b.end) }));
}

/** Google event ids: base32hex (a–v, 0–9), 5 to 1024 characters. */
export const GOOGLE_EVENT_ID = /^[a-v0-9]{5,1024}$/;

/**
 * A deterministic Google event id for something of ours (a scheduled meeting): the uuid's hex
 * digits are base32hex already; a prefix keeps our ids apart from any other scheme.
 */
export function meetingEventId(meetingId: string): string {
  const hex = meetingId.toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new TypeError('meetingEventId: the meeting id must be a uuid');
  return `ccm${hex}`;
}
