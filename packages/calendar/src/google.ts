import { calendar, type calendar_v3 } from '@googleapis/calendar';
import { OAuth2Client } from 'google-auth-library';
import { CalendarAuthError, CalendarInputError, CalendarProviderError, CalendarRateLimitError, CalendarSyncExpiredError, retryAfterMs } from './errors.js';
import { type BusyInterval, type CalendarChange, type CalendarEvent, type ChangePage, GOOGLE_EVENT_ID } from './events.js';

/**
 * Google Calendar v3 through `@googleapis/calendar` with a `google-auth-library` OAuth2 client
 * holding the connection's access token (refreshes are ours: the token manager's single flight).
 * `rootUrl` points the SDK at the emulator in tests and development. The SDK's own retries are
 * off: rate limits are waited out by the caller, everything else retries as a job.
 */
export interface GoogleCalendarOptions {
  /** default https://www.googleapis.com/ */
  readonly rootUrl?: string;
  readonly timeoutMs: number;
  /** events per page of a sync round (Google: 250 by default, at most 2500) */
  readonly pageSize?: number;
}

export interface NewCalendarEvent {
  /** deterministic, base32hex 5–1024 chars (Google) / transactionId (Graph): a retried create makes no second event */
  readonly id: string;
  readonly summary: string;
  readonly description?: string;
  readonly start: Date;
  readonly end: Date;
  readonly timeZone: string;
  readonly attendees?: readonly string[];
}

export interface GoogleCalendarApi {
  /** one page of a sync round: full (no syncToken) or incremental; 410 → CalendarSyncExpiredError */
  listChanges(accessToken: string, q: { calendarId: string; syncToken?: string; pageToken?: string; signal?: AbortSignal }): Promise<ChangePage>;
  /** creates the event under its deterministic id; one that exists already (409) is `created: false` */
  insertEvent(accessToken: string, calendarId: string, event: NewCalendarEvent, signal?: AbortSignal): Promise<{ id: string; created: boolean }>;
  freeBusy(accessToken: string, q: { calendarIds: readonly string[]; from: Date; to: Date; signal?: AbortSignal }): Promise<Map<string, BusyInterval[]>>;
}

export function createGoogleCalendarClient(options: GoogleCalendarOptions): GoogleCalendarApi {
  const pageSize = options.pageSize ?? 250;
  const api = (accessToken: string): calendar_v3.Calendar => {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: accessToken });
    return calendar({ version: 'v3', auth, ...(options.rootUrl ? { rootUrl: options.rootUrl } : {}) });
  };
  const call = (signal?: AbortSignal) => ({ retry: false, timeout: options.timeoutMs, ...(signal ? { signal } : {}) });

  return {
    async listChanges(accessToken, q) {
      const res = await api(accessToken)
        .events.list(
          {
            calendarId: q.calendarId,
            maxResults: pageSize,
            singleEvents: true,
            // a full sync needs no deleted events; an incremental one gets them as `cancelled`
            showDeleted: q.syncToken !== undefined,
            ...(q.syncToken ? { syncToken: q.syncToken } : {}),
            ...(q.pageToken ? { pageToken: q.pageToken } : {}),
          },
          call(q.signal),
        )
        .catch(rethrow);
      const data = res.data;
      return {
        changes: (data.items ?? []).map(toChange),
        ...(data.nextPageToken ? { next: data.nextPageToken } : {}),
        ...(data.nextSyncToken ? { cursor: data.nextSyncToken } : {}),
      };
    },

    async insertEvent(accessToken, calendarId, event, signal) {
      if (!GOOGLE_EVENT_ID.test(event.id)) throw new CalendarInputError(`google event id must be base32hex of 5-1024 characters`);
      if (event.end <= event.start) throw new CalendarInputError('event ends before it starts');
      try {
        const res = await api(accessToken).events.insert(
          {
            calendarId,
            sendUpdates: 'none',
            requestBody: {
              id: event.id,
              summary: event.summary,
              ...(event.description ? { description: event.description } : {}),
              start: { dateTime: event.start.toISOString(), timeZone: event.timeZone },
              end: { dateTime: event.end.toISOString(), timeZone: event.timeZone },
              ...(event.attendees?.length ? { attendees: event.attendees.map((email) => ({ email })) } : {}),
            },
          },
          call(signal),
        );
        return { id: res.data.id ?? event.id, created: true };
      } catch (err) {
        if (statusOf(err) === 409) return { id: event.id, created: false };
        return rethrow(err);
      }
    },

    async freeBusy(accessToken, q) {
      if (q.to <= q.from) throw new CalendarInputError('free/busy window ends before it starts');
      const res = await api(accessToken)
        .freebusy.query(
          { requestBody: { timeMin: q.from.toISOString(), timeMax: q.to.toISOString(), items: q.calendarIds.map((id) => ({ id })) } },
          call(q.signal),
        )
        .catch(rethrow);
      const out = new Map<string, BusyInterval[]>();
      for (const id of q.calendarIds) {
        const cal = res.data.calendars?.[id];
        if (!cal || cal.errors?.length) throw new CalendarProviderError('google', 200, `freeBusy: ${cal?.errors?.[0]?.reason ?? 'calendar missing'}`, false);
        out.set(
          id,
          (cal.busy ?? []).map((b) => ({ start: new Date(b.start!), end: new Date(b.end!) })),
        );
      }
      return out;
    },
  };
}

function toChange(e: calendar_v3.Schema$Event): CalendarChange {
  if (!e.id) throw new CalendarProviderError('google', 200, 'event without an id', false);
  if (e.status === 'cancelled') return { kind: 'delete', id: e.id };
  const allDay = !e.start?.dateTime && !!e.start?.date;
  const start = parseTime(e.start);
  const end = parseTime(e.end);
  const event: CalendarEvent = {
    id: e.id,
    status: e.status === 'tentative' ? 'tentative' : 'confirmed',
    start,
    end: end > start ? end : start,
    allDay,
    busy: e.transparency !== 'transparent',
    iCalUid: e.iCalUID ?? null,
    updatedAt: e.updated ? new Date(e.updated) : null,
  };
  return { kind: 'upsert', event };
}

function parseTime(t: calendar_v3.Schema$EventDateTime | undefined): Date {
  // all-day events: a date in the calendar's zone; UTC midnight is what we can know without it
  const d = t?.dateTime ? new Date(t.dateTime) : t?.date ? new Date(`${t.date}T00:00:00Z`) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new CalendarProviderError('google', 200, 'event without a readable start or end', false);
  return d;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; response?: { status?: unknown } };
  const s = e.response?.status ?? e.status;
  return typeof s === 'number' ? s : undefined;
}

/** A Google error answer as one of ours (the reason from `error.errors[0].reason`). */
function rethrow(err: unknown): never {
  const status = statusOf(err);
  const e = err as { response?: { data?: unknown; headers?: Headers | Record<string, string> }; name?: string };
  const data = e.response?.data as { error?: { errors?: Array<{ reason?: string }>; status?: string } } | undefined;
  const reason = String(data?.error?.errors?.[0]?.reason ?? data?.error?.status ?? e.name ?? 'error').slice(0, 60);
  const headers = e.response?.headers;
  const retryAfter = headers instanceof Headers ? headers.get('retry-after') : (headers?.['retry-after'] ?? null);
  if (status === 410) throw new CalendarSyncExpiredError('google', reason);
  if (status === 429 || (status === 403 && /rateLimitExceeded|userRateLimitExceeded|quotaExceeded/.test(reason))) {
    throw new CalendarRateLimitError('google', status, reason, retryAfterMs(retryAfter, 2000));
  }
  if (status === 401) throw new CalendarAuthError('google', reason);
  if (status === undefined) throw new CalendarProviderError('google', undefined, reason, true);
  throw new CalendarProviderError('google', status, reason, status >= 500 || status === 408);
}
