import { randomBytes, randomUUID } from 'node:crypto';
import { type Answer, HttpEmulator, RollingWindow } from './http-emulator.js';
import { calendarControl } from './calendar-control.js';
import type { OAuthEmulator } from './oauth-emulator.js';

/**
 * Microsoft Graph v1.0 calendars as the sync and free/busy use them (providers.md §9), on the wire:
 * - `GET /v1.0/me/calendarView/delta?startDateTime=&endDateTime=` starts a round over the window;
 *   pages of `Prefer: odata.maxpagesize` events (default 10) linked by `@odata.nextLink`
 *   (`$skiptoken`); the last page carries `@odata.deltaLink` (`$deltatoken`), whose round returns
 *   what changed since: events created or changed in the window, and `@removed` entries for
 *   deleted ones and ones moved out of it. A round reads the calendar as it was when it started.
 *   A delta token issued before `expireDeltaTokens()` answers **410** `SyncStateNotFound`.
 * - `POST /v1.0/me/calendar/getSchedule` `{ schedules, startTime, endTime, availabilityViewInterval }`
 *   → per schedule `availabilityView` and `scheduleItems` (UTC with `Prefer: outlook.timezone`).
 * - `POST /v1.0/me/events`: 201; a `transactionId` seen before returns the event it created.
 * - `POST /{tenant}/oauth2/v2.0/token`: the OAuth token endpoint (login.microsoftonline.com) of the
 *   given OAuth emulator.
 * - Bearer tokens checked with the OAuth emulator (401 `InvalidAuthenticationToken`); past
 *   `perTenSeconds` requests of one mailbox, **429** `ApplicationThrottled` with `Retry-After`.
 * Times are always written and read as UTC. The OAuth account name is the mailbox address; events
 * are changed "in Outlook" with `put` / `remove` (or `POST|DELETE /__emulator/events` with the mailbox as `account`).
 */
export interface GraphEventInput {
  readonly id?: string;
  readonly subject?: string;
  /** ISO date-times (UTC) */
  readonly start: string;
  readonly end: string;
  readonly showAs?: 'free' | 'tentative' | 'busy' | 'oof' | 'workingElsewhere';
  readonly isAllDay?: boolean;
}

export interface GraphStoredEvent {
  id: string;
  subject: string;
  start: number;
  end: number;
  showAs: string;
  isAllDay: boolean;
  removed: boolean;
  iCalUId: string;
  transactionId?: string;
  created: string;
  modified: string;
  seq: number;
}

export interface GraphEmulator extends HttpEmulator {
  put(mailbox: string, event: GraphEventInput): GraphStoredEvent;
  remove(mailbox: string, id: string): void;
  /** live events of the mailbox */
  events(mailbox: string): GraphStoredEvent[];
  /** every delta token issued so far answers 410 on next use */
  expireDeltaTokens(): void;
}

export interface GraphEmulatorOptions {
  readonly oauth: OAuthEmulator;
  /** requests per rolling 10 s per mailbox before 429 */
  readonly perTenSeconds?: number;
  /** Retry-After of those 429s, in seconds */
  readonly retryAfterSeconds?: number;
}

interface Round {
  mailbox: string;
  from: number;
  to: number;
  upTo: number;
  /** delta rounds: changes after this position */
  after: number | undefined;
  lastId: string;
  pageSize: number;
}

const graphError = (status: number, code: string, message: string, headers?: Record<string, string>): Answer => ({
  status,
  body: { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID() } } },
  ...(headers ? { headers } : {}),
});

const wireTime = (ms: number) => ({ dateTime: new Date(ms).toISOString().replace('Z', '0000'), timeZone: 'UTC' });
const AVAILABILITY: Record<string, string> = { free: '0', tentative: '1', busy: '2', oof: '3', workingElsewhere: '4' };

export async function startGraphEmulator(options: GraphEmulatorOptions, port = 0): Promise<GraphEmulator> {
  const mailboxes = new Map<string, Map<string, GraphStoredEvent>>();
  const skipTokens = new Map<string, Round>();
  const deltaTokens = new Map<string, { mailbox: string; from: number; to: number; upTo: number; generation: number }>();
  const windows = new Map<string, RollingWindow>();
  let seq = 0;
  let generation = 0;
  const expireCursors = () => {
    generation++;
  };
  let base = '';

  const box = (mailbox: string) => {
    const key = mailbox.toLowerCase();
    let m = mailboxes.get(key);
    if (!m) mailboxes.set(key, (m = new Map<string, GraphStoredEvent>()));
    return m;
  };
  const touch = (e: GraphStoredEvent) => {
    e.seq = ++seq;
    e.modified = new Date().toISOString();
  };

  function put(mailbox: string, input: GraphEventInput, transactionId?: string): GraphStoredEvent {
    const events = box(mailbox);
    const id = input.id ?? `AAMk${randomBytes(24).toString('base64url')}`;
    const now = new Date().toISOString();
    const e: GraphStoredEvent = events.get(id) ?? {
      id,
      subject: '',
      start: 0,
      end: 0,
      showAs: 'busy',
      isAllDay: false,
      removed: false,
      iCalUId: `040000008200E00074C5B7101A82E008${randomBytes(16).toString('hex').toUpperCase()}`,
      created: now,
      modified: now,
      seq: 0,
      ...(transactionId ? { transactionId } : {}),
    };
    Object.assign(e, {
      subject: input.subject ?? e.subject,
      start: Date.parse(input.start),
      end: Date.parse(input.end),
      showAs: input.showAs ?? 'busy',
      isAllDay: input.isAllDay ?? false,
      removed: false,
    });
    touch(e);
    events.set(id, e);
    return e;
  }

  function remove(mailbox: string, id: string): void {
    const e = box(mailbox).get(id);
    if (!e || e.removed) return;
    e.removed = true;
    touch(e);
  }

  const authed = (authorization: string | undefined, then: (mailbox: string) => Answer): Answer => {
    const mailbox = options.oauth.check(authorization);
    if (!mailbox || mailbox === 'expired') return graphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    if (options.perTenSeconds) {
      let w = windows.get(mailbox);
      if (!w) windows.set(mailbox, (w = new RollingWindow(options.perTenSeconds, 10_000)));
      if (!w.take(Date.now())) {
        return graphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
          'retry-after': String(options.retryAfterSeconds ?? 1),
        });
      }
    }
    return then(mailbox);
  };

  const wire = (e: GraphStoredEvent) => ({
    '@odata.type': '#microsoft.graph.event',
    '@odata.etag': `W/"${e.seq}"`,
    id: e.id,
    createdDateTime: e.created,
    lastModifiedDateTime: e.modified,
    changeKey: String(e.seq),
    iCalUId: e.iCalUId,
    subject: e.subject,
    isAllDay: e.isAllDay,
    isCancelled: false,
    showAs: e.showAs,
    type: 'singleInstance',
    start: wireTime(e.start),
    end: wireTime(e.end),
    ...(e.transactionId ? { transactionId: e.transactionId } : {}),
  });
  const removedWire = (e: GraphStoredEvent) => ({ '@odata.type': '#microsoft.graph.event', id: e.id, '@removed': { reason: 'deleted' } });

  function delta(mailbox: string, q: URLSearchParams, prefer: string | undefined): Answer {
    const pageSize = Math.min(Number(/odata\.maxpagesize=(\d+)/.exec(prefer ?? '')?.[1] ?? 10), 1000);
    let round: Round;
    const skip = q.get('$skiptoken');
    const deltaToken = q.get('$deltatoken');
    if (skip) {
      const held = skipTokens.get(skip);
      if (!held || held.mailbox !== mailbox) return graphError(400, 'InvalidSkipToken', 'The skip token is invalid.');
      round = held;
    } else if (deltaToken) {
      const held = deltaTokens.get(deltaToken);
      if (!held || held.mailbox !== mailbox) return graphError(400, 'ErrorInvalidParameter', 'The delta token is invalid.');
      if (held.generation !== generation) return graphError(410, 'SyncStateNotFound', 'The sync state generation is not found. Please reinitialize the sync.');
      round = { mailbox, from: held.from, to: held.to, upTo: seq, after: held.upTo, lastId: '', pageSize };
    } else {
      const from = Date.parse(q.get('startDateTime') ?? '');
      const to = Date.parse(q.get('endDateTime') ?? '');
      if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
        return graphError(400, 'ErrorInvalidParameter', 'startDateTime and endDateTime are required and must define a window.');
      }
      round = { mailbox, from, to, upTo: seq, after: undefined, lastId: '', pageSize };
    }
    const inWindow = (e: GraphStoredEvent) => !e.removed && e.start < round.to && e.end > round.from;
    const rows = [...box(mailbox).values()]
      .filter((e) => e.seq <= round.upTo && e.id > round.lastId && (round.after === undefined ? inWindow(e) : e.seq > round.after))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = rows.slice(0, round.pageSize);
    const body: Record<string, unknown> = {
      '@odata.context': `${base}/v1.0/$metadata#Collection(event)`,
      value: page.map((e) => (inWindow(e) ? wire(e) : removedWire(e))),
    };
    if (rows.length > page.length) {
      const token = randomBytes(18).toString('base64url');
      skipTokens.set(token, { ...round, lastId: page.at(-1)!.id });
      body['@odata.nextLink'] = `${base}/v1.0/me/calendarView/delta?$skiptoken=${token}`;
    } else {
      const token = randomBytes(18).toString('base64url');
      deltaTokens.set(token, { mailbox, from: round.from, to: round.to, upTo: round.upTo, generation });
      body['@odata.deltaLink'] = `${base}/v1.0/me/calendarView/delta?$deltatoken=${token}`;
    }
    return { status: 200, body, headers: { 'preference-applied': `odata.maxpagesize=${round.pageSize}, outlook.timezone="UTC"` } };
  }

  function create(mailbox: string, body: unknown): Answer {
    const b = (body ?? {}) as {
      subject?: string;
      start?: { dateTime?: string; timeZone?: string };
      end?: { dateTime?: string; timeZone?: string };
      transactionId?: string;
    };
    const start = b.start?.dateTime;
    const end = b.end?.dateTime;
    const utc = (t: { timeZone?: string } | undefined) => !t?.timeZone || t.timeZone.toUpperCase() === 'UTC';
    if (!start || !end || !utc(b.start) || !utc(b.end)) return graphError(400, 'ErrorInvalidRequest', 'start and end are required (UTC in this emulator).');
    const s = Date.parse(/Z$/.test(start) ? start : `${start}Z`);
    const t = Date.parse(/Z$/.test(end) ? end : `${end}Z`);
    if (!Number.isFinite(s) || !Number.isFinite(t) || t < s) return graphError(400, 'ErrorInvalidRequest', 'The start and end of the event are invalid.');
    if (b.transactionId) {
      const seen = [...box(mailbox).values()].find((e) => e.transactionId === b.transactionId);
      if (seen) return { status: 201, body: wire(seen) };
    }
    const e = put(mailbox, { subject: String(b.subject ?? ''), start: new Date(s).toISOString(), end: new Date(t).toISOString() }, b.transactionId);
    return { status: 201, body: wire(e) };
  }

  function schedule(body: unknown): Answer {
    const b = (body ?? {}) as { schedules?: unknown; startTime?: { dateTime?: string }; endTime?: { dateTime?: string }; availabilityViewInterval?: number };
    const from = Date.parse(`${b.startTime?.dateTime ?? ''}Z`.replace(/ZZ$/, 'Z'));
    const to = Date.parse(`${b.endTime?.dateTime ?? ''}Z`.replace(/ZZ$/, 'Z'));
    const interval = b.availabilityViewInterval ?? 30;
    if (!Array.isArray(b.schedules) || !b.schedules.length || !Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
      return graphError(400, 'ErrorInvalidRequest', 'schedules, startTime and endTime are required.');
    }
    if (b.schedules.length > 100) return graphError(400, 'ErrorInvalidRequest', 'At most 100 schedules.');
    if (!Number.isInteger(interval) || interval < 5 || interval > 1440)
      return graphError(400, 'ErrorInvalidRequest', 'availabilityViewInterval must be 5 to 1440.');
    const value = (b.schedules as unknown[]).map((s) => {
      const id = String(s);
      if (!mailboxes.has(id.toLowerCase())) {
        return {
          scheduleId: id,
          availabilityView: '',
          error: { message: 'The specified object was not found in the store.', responseCode: 'ErrorMailboxNotFound' },
        };
      }
      const items = [...box(id).values()].filter((e) => !e.removed && e.start < to && e.end > from).sort((x, y) => x.start - y.start);
      let view = '';
      for (let t = from; t < to; t += interval * 60_000) {
        const slot = items.filter((e) => e.start < t + interval * 60_000 && e.end > t).map((e) => Number(AVAILABILITY[e.showAs] ?? 2));
        view += String(slot.length ? Math.max(...slot) : 0);
      }
      return {
        scheduleId: id,
        availabilityView: view,
        scheduleItems: items.map((e) => ({
          isPrivate: false,
          status: e.showAs,
          subject: e.subject,
          location: '',
          start: wireTime(e.start),
          end: wireTime(e.end),
        })),
        workingHours: {
          daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
          startTime: '08:00:00.0000000',
          endTime: '17:00:00.0000000',
          timeZone: { name: 'UTC' },
        },
      };
    });
    return { status: 200, body: { '@odata.context': `${base}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)`, value } };
  }

  const emulator = new HttpEmulator(
    'microsoft-graph',
    (req) => {
      const auth = req.headers.authorization;
      if (req.method === 'GET' && req.path === '/v1.0/me/calendarView/delta') {
        const prefer = Array.isArray(req.headers.prefer) ? req.headers.prefer.join(',') : req.headers.prefer;
        return { endpoint: 'calendarView.delta', answer: () => authed(auth, (m) => delta(m, req.query, prefer)) };
      }
      if (req.method === 'POST' && req.path === '/v1.0/me/calendar/getSchedule')
        return { endpoint: 'getSchedule', answer: () => authed(auth, () => schedule(req.body)) };
      if (req.method === 'POST' && req.path === '/v1.0/me/events') return { endpoint: 'events.create', answer: () => authed(auth, (m) => create(m, req.body)) };
      if (req.method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(req.path))
        return { endpoint: 'token', answer: () => options.oauth.tokenAnswer(req.body) };
      return undefined;
    },
    calendarControl<GraphEventInput>({
      oauth: options.oauth,
      put: (mailbox, input) => wire(put(mailbox, input)),
      remove,
      expireCursors,
      cursorsPath: '/__emulator/delta-tokens',
    }),
  ) as GraphEmulator;
  Object.assign(emulator, {
    put: (mailbox: string, input: GraphEventInput) => put(mailbox, input),
    remove,
    events: (mailbox: string) => [...box(mailbox).values()].filter((e) => !e.removed),
    expireDeltaTokens: expireCursors,
  });
  base = await emulator.listen(port);
  return emulator;
}
