import { CalendarAuthError, CalendarInputError, CalendarProviderError, CalendarRateLimitError, CalendarSyncExpiredError, retryAfterMs } from './errors.js';
import type { BusyInterval, CalendarChange, ChangePage } from './events.js';
import type { NewCalendarEvent } from './google.js';

/**
 * Microsoft Graph v1.0 calendars over fetch: `calendarView/delta` rounds (pages by
 * `@odata.nextLink`, a round ends with the `@odata.deltaLink` that starts the next), `getSchedule`
 * for free/busy, and event creation made idempotent by `transactionId`. Every time is asked for in
 * UTC (`Prefer: outlook.timezone="UTC"`). Links are followed only on the configured Graph origin, so
 * a stored or returned link can never send the token elsewhere.
 */
export interface GraphCalendarOptions {
  /** default https://graph.microsoft.com */
  readonly baseUrl?: string;
  readonly timeoutMs: number;
  /** `Prefer: odata.maxpagesize` of delta pages */
  readonly pageSize?: number;
  /** fallback wait of a 429 without Retry-After */
  readonly defaultRetryAfterMs?: number;
}

export interface GraphCalendarApi {
  /** the first page of a new round over [from, to), or the page behind a nextLink / deltaLink; 410 → CalendarSyncExpiredError */
  delta(accessToken: string, q: { link: string; signal?: AbortSignal } | { from: Date; to: Date; signal?: AbortSignal }): Promise<ChangePage>;
  /** creates the event; the same transactionId again gives back the first one */
  createEvent(accessToken: string, event: NewCalendarEvent, signal?: AbortSignal): Promise<{ id: string }>;
  /** busy intervals per schedule (mailbox address) */
  getSchedule(
    accessToken: string,
    q: { schedules: readonly string[]; from: Date; to: Date; intervalMinutes?: number; signal?: AbortSignal },
  ): Promise<Map<string, BusyInterval[]>>;
}

interface GraphDateTime {
  dateTime?: string;
  timeZone?: string;
}
interface GraphEvent {
  id?: string;
  '@removed'?: { reason?: string };
  isCancelled?: boolean;
  isAllDay?: boolean;
  showAs?: string;
  start?: GraphDateTime;
  end?: GraphDateTime;
  iCalUId?: string;
  lastModifiedDateTime?: string;
  responseStatus?: { response?: string };
}

const NOT_BUSY = new Set(['free', 'workingElsewhere']);

export function createGraphCalendarClient(options: GraphCalendarOptions): GraphCalendarApi {
  const base = new URL(options.baseUrl ?? 'https://graph.microsoft.com');
  const origin = base.origin;
  const root = `${origin}${base.pathname.replace(/\/$/, '')}/v1.0`;

  async function request<T>(accessToken: string, method: string, url: string, body: unknown, signal: AbortSignal | undefined, prefer: string[]): Promise<T> {
    if (new URL(url).origin !== origin) throw new CalendarInputError('graph link is not on the configured Graph origin');
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/json',
          prefer: ['outlook.timezone="UTC"', ...prefer].join(', '),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new CalendarProviderError('microsoft', undefined, (err as Error).name, true);
    }
    const json = (await res.json().catch(() => undefined)) as (T & { error?: { code?: string } }) | undefined;
    if (res.ok && json) return json;
    const reason = String(json?.error?.code ?? `HTTP ${res.status}`).slice(0, 60);
    if (res.status === 410) throw new CalendarSyncExpiredError('microsoft', reason);
    if (res.status === 429 || res.status === 503) {
      if (res.status === 429 || res.headers.has('retry-after')) {
        throw new CalendarRateLimitError('microsoft', res.status, reason, retryAfterMs(res.headers.get('retry-after'), options.defaultRetryAfterMs ?? 5000));
      }
    }
    if (res.status === 401) throw new CalendarAuthError('microsoft', reason);
    throw new CalendarProviderError('microsoft', res.status, reason, res.status >= 500 || res.status === 408);
  }

  return {
    async delta(accessToken, q) {
      let url: string;
      if ('link' in q) url = q.link;
      else {
        if (q.to <= q.from) throw new CalendarInputError('delta window ends before it starts');
        url = `${root}/me/calendarView/delta?${new URLSearchParams({ startDateTime: q.from.toISOString(), endDateTime: q.to.toISOString() }).toString()}`;
      }
      const page = await request<{ value?: GraphEvent[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>(
        accessToken,
        'GET',
        url,
        undefined,
        q.signal,
        options.pageSize ? [`odata.maxpagesize=${options.pageSize}`] : [],
      );
      return {
        changes: (page.value ?? []).map(toChange),
        ...(page['@odata.nextLink'] ? { next: page['@odata.nextLink'] } : {}),
        ...(page['@odata.deltaLink'] ? { cursor: page['@odata.deltaLink'] } : {}),
      };
    },

    async createEvent(accessToken, event, signal) {
      if (event.end <= event.start) throw new CalendarInputError('event ends before it starts');
      const created = await request<{ id?: string }>(
        accessToken,
        'POST',
        `${root}/me/events`,
        {
          subject: event.summary,
          ...(event.description ? { body: { contentType: 'text', content: event.description } } : {}),
          start: { dateTime: graphTime(event.start), timeZone: 'UTC' },
          end: { dateTime: graphTime(event.end), timeZone: 'UTC' },
          ...(event.attendees?.length ? { attendees: event.attendees.map((address) => ({ emailAddress: { address }, type: 'required' })) } : {}),
          transactionId: event.id,
        },
        signal,
        [],
      );
      if (!created.id) throw new CalendarProviderError('microsoft', 201, 'created event without an id', false);
      return { id: created.id };
    },

    async getSchedule(accessToken, q) {
      if (q.to <= q.from) throw new CalendarInputError('free/busy window ends before it starts');
      const res = await request<{
        value?: Array<{
          scheduleId?: string;
          error?: { responseCode?: string };
          scheduleItems?: Array<{ status?: string; start?: GraphDateTime; end?: GraphDateTime }>;
        }>;
      }>(
        accessToken,
        'POST',
        `${root}/me/calendar/getSchedule`,
        {
          schedules: q.schedules,
          startTime: { dateTime: graphTime(q.from), timeZone: 'UTC' },
          endTime: { dateTime: graphTime(q.to), timeZone: 'UTC' },
          availabilityViewInterval: q.intervalMinutes ?? 30,
        },
        q.signal,
        [],
      );
      const out = new Map<string, BusyInterval[]>();
      for (const s of res.value ?? []) {
        if (!s.scheduleId) continue;
        if (s.error) throw new CalendarProviderError('microsoft', 200, `getSchedule: ${s.error.responseCode ?? 'error'}`, false);
        out.set(
          s.scheduleId.toLowerCase(),
          (s.scheduleItems ?? []).filter((i) => !NOT_BUSY.has(i.status ?? 'busy')).map((i) => ({ start: parseGraphTime(i.start), end: parseGraphTime(i.end) })),
        );
      }
      for (const s of q.schedules) if (!out.has(s.toLowerCase())) throw new CalendarProviderError('microsoft', 200, 'getSchedule: schedule missing', false);
      return out;
    },
  };
}

function toChange(e: GraphEvent): CalendarChange {
  if (!e.id) throw new CalendarProviderError('microsoft', 200, 'event without an id', false);
  if (e['@removed'] || e.isCancelled) return { kind: 'delete', id: e.id };
  const start = parseGraphTime(e.start);
  const end = parseGraphTime(e.end);
  return {
    kind: 'upsert',
    event: {
      id: e.id,
      status: e.showAs === 'tentative' || e.responseStatus?.response === 'tentativelyAccepted' ? 'tentative' : 'confirmed',
      start,
      end: end > start ? end : start,
      allDay: e.isAllDay === true,
      busy: !NOT_BUSY.has(e.showAs ?? 'busy'),
      iCalUid: e.iCalUId ?? null,
      updatedAt: e.lastModifiedDateTime ? new Date(e.lastModifiedDateTime) : null,
    },
  };
}

/** Graph's `dateTime` has no offset; we always ask for UTC. */
function parseGraphTime(t: GraphDateTime | undefined): Date {
  if (!t?.dateTime || (t.timeZone && t.timeZone.toUpperCase() !== 'UTC')) {
    throw new CalendarProviderError('microsoft', 200, 'event time missing or not in UTC', false);
  }
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(t.dateTime) ? t.dateTime : `${t.dateTime}Z`);
  if (Number.isNaN(d.getTime())) throw new CalendarProviderError('microsoft', 200, 'event time unreadable', false);
  return d;
}

function graphTime(d: Date): string {
  return d.toISOString().replace('Z', '');
}
