import { randomBytes } from 'node:crypto';
import { type Answer, HttpEmulator, RollingWindow } from './http-emulator.js';
import { calendarControl } from './calendar-control.js';
import type { OAuthEmulator } from './oauth-emulator.js';

/**
 * Google Calendar v3 as the sync and free/busy use it (providers.md §9), on the wire:
 * - `GET /calendar/v3/calendars/{calendarId}/events`: `maxResults` (≤ 2500, default 250),
 *   `pageToken`, `syncToken`, `showDeleted`; `nextPageToken` on every page but the last, which
 *   carries `nextSyncToken`. Without a sync token: the live events (cancelled ones only with
 *   `showDeleted`); with one: every event changed since, deleted ones as `status: cancelled`. A
 *   round reads the calendar as it was when it started (later changes come with the next token).
 *   A sync token issued before `expireSyncTokens()` answers **410** `fullSyncRequired`.
 * - `POST /calendar/v3/calendars/{calendarId}/events` with a client `id` (base32hex, 5–1024
 *   characters, else 400 `invalid`): an id that exists, even deleted, answers **409** `duplicate`.
 * - `POST /calendar/v3/freeBusy` `{ timeMin, timeMax, items: [{ id }] }` → `calendars[id].busy`
 *   (opaque, not cancelled, merged and clipped), `errors: [{ reason: notFound }]` for a calendar
 *   the caller does not own.
 * - `POST /token`: the OAuth token endpoint (oauth2.googleapis.com) of the given OAuth emulator.
 * - Bearer tokens checked with the OAuth emulator: 401 `UNAUTHENTICATED` for an expired or unknown
 *   one; 403 `rateLimitExceeded` (`usageLimits`) past `perMinute` requests of one user.
 * `primary` is the account's own calendar (the OAuth account name). Events are changed "in Google"
 * with `put` / `remove` (or `POST|DELETE /__emulator/events`).
 */
export interface GoogleEventInput {
  readonly id?: string;
  readonly summary?: string;
  readonly start: string;
  readonly end: string;
  /** `YYYY-MM-DD` start and end instead of date-times */
  readonly allDay?: boolean;
  readonly status?: 'confirmed' | 'tentative';
  readonly transparency?: 'opaque' | 'transparent';
}

export interface GoogleStoredEvent {
  id: string;
  status: 'confirmed' | 'tentative' | 'cancelled';
  summary: string;
  start: { dateTime?: string; date?: string; timeZone?: string };
  end: { dateTime?: string; date?: string; timeZone?: string };
  transparency?: string;
  iCalUID: string;
  created: string;
  updated: string;
  etag: string;
  /** change sequence (the sync tokens are positions in it) */
  seq: number;
}

export interface GoogleCalendarEmulator extends HttpEmulator {
  /** creates or changes an event of the account's primary calendar, as a Google user would */
  put(account: string, event: GoogleEventInput): GoogleStoredEvent;
  /** deletes it (it stays as `cancelled`, as Google keeps deleted events for sync) */
  remove(account: string, id: string): void;
  /** the live (not cancelled) events of the account's calendar */
  events(account: string): GoogleStoredEvent[];
  /** every sync token issued so far stops working (410 on next use), as after Google expires them */
  expireSyncTokens(): void;
}

export interface GoogleCalendarEmulatorOptions {
  readonly oauth: OAuthEmulator;
  /** requests per rolling minute per user before 403 rateLimitExceeded (Google: 600) */
  readonly perMinute?: number;
}

interface RoundPosition {
  calendar: string;
  /** the change sequence the round reads up to */
  upTo: number;
  /** incremental rounds: changes after this position */
  after: number | undefined;
  showDeleted: boolean;
  /** keyset: the last id of the previous page */
  lastId: string;
  pageSize: number;
}

const ID = /^[a-v0-9]{5,1024}$/;
const validZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const googleError = (code: number, reason: string, message: string, domain = 'global'): Answer => ({
  status: code,
  body: { error: { errors: [{ domain, reason, message }], code, message } },
});

export async function startGoogleCalendarEmulator(options: GoogleCalendarEmulatorOptions, port = 0): Promise<GoogleCalendarEmulator> {
  /** calendar id → (event id → event) */
  const calendars = new Map<string, Map<string, GoogleStoredEvent>>();
  const syncTokens = new Map<string, { calendar: string; upTo: number; generation: number }>();
  const pageTokens = new Map<string, RoundPosition>();
  const windows = new Map<string, RollingWindow>();
  let seq = 0;
  let generation = 0;
  const expireCursors = () => {
    generation++;
  };

  const calendarOf = (name: string) => {
    let c = calendars.get(name);
    if (!c) calendars.set(name, (c = new Map<string, GoogleStoredEvent>()));
    return c;
  };
  const stamp = (e: GoogleStoredEvent) => {
    e.seq = ++seq;
    e.updated = new Date().toISOString();
    e.etag = `"${e.seq}"`;
  };
  const when = (value: string, allDay: boolean | undefined) => (allDay ? { date: value } : { dateTime: value, timeZone: 'UTC' });

  function put(account: string, input: GoogleEventInput): GoogleStoredEvent {
    const cal = calendarOf(account);
    const id = input.id ?? randomBytes(13).toString('hex');
    const now = new Date().toISOString();
    const e: GoogleStoredEvent = cal.get(id) ?? {
      id,
      status: 'confirmed',
      summary: '',
      start: {},
      end: {},
      iCalUID: `${id}@google.com`,
      created: now,
      updated: now,
      etag: '',
      seq: 0,
    };
    Object.assign(e, {
      status: input.status ?? 'confirmed',
      summary: input.summary ?? e.summary,
      start: when(input.start, input.allDay),
      end: when(input.end, input.allDay),
      ...(input.transparency ? { transparency: input.transparency } : {}),
    });
    if (!input.transparency) delete e.transparency;
    stamp(e);
    cal.set(id, e);
    return e;
  }

  function remove(account: string, id: string): void {
    const e = calendarOf(account).get(id);
    if (!e || e.status === 'cancelled') return;
    e.status = 'cancelled';
    stamp(e);
  }

  const authed = (authorization: string | undefined, then: (account: string) => Answer): Answer => {
    const account = options.oauth.check(authorization);
    if (!account || account === 'expired') {
      return {
        status: 401,
        body: {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
            errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' }],
            status: 'UNAUTHENTICATED',
          },
        },
      };
    }
    if (options.perMinute) {
      let w = windows.get(account);
      if (!w) windows.set(account, (w = new RollingWindow(options.perMinute, 60_000)));
      if (!w.take(Date.now())) return googleError(403, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits');
    }
    return then(account);
  };
  const owned = (account: string, calendarId: string) => (calendarId === 'primary' || calendarId === account ? account : undefined);

  const wire = (e: GoogleStoredEvent) =>
    e.status === 'cancelled'
      ? { kind: 'calendar#event', etag: e.etag, id: e.id, status: 'cancelled' }
      : {
          kind: 'calendar#event',
          etag: e.etag,
          id: e.id,
          status: e.status,
          htmlLink: `https://www.google.com/calendar/event?eid=${e.id}`,
          created: e.created,
          updated: e.updated,
          summary: e.summary,
          start: e.start,
          end: e.end,
          ...(e.transparency ? { transparency: e.transparency } : {}),
          iCalUID: e.iCalUID,
          sequence: 0,
          eventType: 'default',
        };

  function list(account: string, calendarId: string, q: URLSearchParams): Answer {
    const name = owned(account, calendarId);
    if (!name) return googleError(404, 'notFound', 'Not Found');
    let pos: RoundPosition;
    const pageToken = q.get('pageToken');
    const syncToken = q.get('syncToken');
    if (pageToken) {
      const held = pageTokens.get(pageToken);
      if (!held || held.calendar !== name) return googleError(400, 'invalid', 'Invalid page token value.');
      pos = held;
    } else {
      let after: number | undefined;
      if (syncToken) {
        const held = syncTokens.get(syncToken);
        if (!held || held.calendar !== name) return googleError(400, 'invalid', 'Invalid sync token value.');
        if (held.generation !== generation) return googleError(410, 'fullSyncRequired', 'Sync token is no longer valid, a full sync is required.');
        after = held.upTo;
      }
      const max = Number(q.get('maxResults') ?? 250);
      if (!Number.isInteger(max) || max < 1) return googleError(400, 'invalid', 'Invalid value for maxResults');
      pos = {
        calendar: name,
        upTo: seq,
        after,
        showDeleted: after !== undefined || q.get('showDeleted') === 'true',
        lastId: '',
        pageSize: Math.min(max, 2500),
      };
    }
    const rows = [...calendarOf(name).values()]
      .filter((e) => e.seq <= pos.upTo && (pos.after === undefined || e.seq > pos.after) && (pos.showDeleted || e.status !== 'cancelled') && e.id > pos.lastId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = rows.slice(0, pos.pageSize);
    const more = rows.length > page.length;
    const body: Record<string, unknown> = {
      kind: 'calendar#events',
      etag: `"p${seq}"`,
      summary: name,
      updated: new Date().toISOString(),
      timeZone: 'UTC',
      accessRole: 'owner',
      defaultReminders: [],
      items: page.map(wire),
    };
    if (more) {
      const token = `pt${randomBytes(12).toString('hex')}`;
      pageTokens.set(token, { ...pos, lastId: page.at(-1)!.id });
      body.nextPageToken = token;
    } else {
      const token = `st${randomBytes(16).toString('base64url')}`;
      syncTokens.set(token, { calendar: name, upTo: pos.upTo, generation });
      body.nextSyncToken = token;
    }
    return { status: 200, body };
  }

  function insert(account: string, calendarId: string, body: unknown): Answer {
    const name = owned(account, calendarId);
    if (!name) return googleError(404, 'notFound', 'Not Found');
    type When = { dateTime?: string; date?: string; timeZone?: string };
    const b = (body ?? {}) as { id?: unknown; summary?: unknown; start?: When; end?: When };
    if (b.id !== undefined && (typeof b.id !== 'string' || !ID.test(b.id))) return googleError(400, 'invalid', 'Invalid resource id value.');
    const start = b.start?.dateTime ?? b.start?.date;
    const end = b.end?.dateTime ?? b.end?.date;
    if (!start || !end) return googleError(400, 'required', 'Missing end time.');
    if ([b.start, b.end].some((t) => t?.timeZone !== undefined && !validZone(t.timeZone)))
      return googleError(400, 'invalid', 'Invalid time zone definition for start time.');
    if (Date.parse(end) < Date.parse(start)) return googleError(400, 'timeRangeEmpty', 'The specified time range is empty.');
    if (typeof b.id === 'string' && calendarOf(name).has(b.id)) return googleError(409, 'duplicate', 'The requested identifier already exists.');
    const e = put(name, { ...(typeof b.id === 'string' ? { id: b.id } : {}), summary: String(b.summary ?? ''), start, end, allDay: !b.start?.dateTime });
    return { status: 200, body: wire(e) };
  }

  function freeBusy(account: string, body: unknown): Answer {
    const b = (body ?? {}) as { timeMin?: string; timeMax?: string; items?: Array<{ id?: string }> };
    const from = Date.parse(b.timeMin ?? '');
    const to = Date.parse(b.timeMax ?? '');
    if (!Number.isFinite(from) || !Number.isFinite(to)) return googleError(400, 'required', 'Missing timeMin or timeMax.');
    if (to < from) return googleError(400, 'timeRangeEmpty', 'The specified time range is empty.');
    const out: Record<string, unknown> = {};
    for (const item of b.items ?? []) {
      const id = String(item.id ?? '');
      const name = owned(account, id);
      if (!name) {
        out[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
        continue;
      }
      const spans = [...calendarOf(name).values()]
        .filter((e) => e.status !== 'cancelled' && e.transparency !== 'transparent')
        .map((e) => ({
          s: Math.max(Date.parse(e.start.dateTime ?? `${e.start.date}T00:00:00Z`), from),
          t: Math.min(Date.parse(e.end.dateTime ?? `${e.end.date}T00:00:00Z`), to),
        }))
        .filter((x) => x.t > x.s)
        .sort((x, y) => x.s - y.s);
      const merged: Array<{ s: number; t: number }> = [];
      for (const x of spans) {
        const last = merged.at(-1);
        if (last && x.s <= last.t) last.t = Math.max(last.t, x.t);
        else merged.push({ ...x });
      }
      out[id] = { busy: merged.map((x) => ({ start: new Date(x.s).toISOString(), end: new Date(x.t).toISOString() })) };
    }
    return { status: 200, body: { kind: 'calendar#freeBusy', timeMin: new Date(from).toISOString(), timeMax: new Date(to).toISOString(), calendars: out } };
  }

  const EVENTS = /^\/calendar\/v3\/calendars\/([^/]+)\/events$/;
  const emulator = new HttpEmulator(
    'google-calendar',
    (req) => {
      const m = EVENTS.exec(req.path);
      if (m && req.method === 'GET')
        return { endpoint: 'events.list', answer: () => authed(req.headers.authorization, (a) => list(a, decodeURIComponent(m[1]!), req.query)) };
      if (m && req.method === 'POST')
        return { endpoint: 'events.insert', answer: () => authed(req.headers.authorization, (a) => insert(a, decodeURIComponent(m[1]!), req.body)) };
      if (req.method === 'POST' && req.path === '/calendar/v3/freeBusy')
        return { endpoint: 'freeBusy', answer: () => authed(req.headers.authorization, (a) => freeBusy(a, req.body)) };
      if (req.method === 'POST' && req.path === '/token') return { endpoint: 'token', answer: () => options.oauth.tokenAnswer(req.body) };
      return undefined;
    },
    calendarControl<GoogleEventInput>({
      oauth: options.oauth,
      put,
      remove,
      expireCursors,
      cursorsPath: '/__emulator/sync-tokens',
    }),
  ) as GoogleCalendarEmulator;
  Object.assign(emulator, {
    put,
    remove,
    events: (account: string) => [...calendarOf(account).values()].filter((e) => e.status !== 'cancelled'),
    expireSyncTokens: expireCursors,
  });
  await emulator.listen(port);
  return emulator;
}
