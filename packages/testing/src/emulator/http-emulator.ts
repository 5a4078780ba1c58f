import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP base of every provider emulator (Hunter, Apollo, HubSpot, Salesforce, …): a server on
 * 127.0.0.1 that routes real HTTP requests to the emulator's handlers, a request log (method,
 * endpoint, status, credits, a SHA-256 of the lookup input: never bodies or tokens), switchable
 * faults, and a control API for processes that did not start it (`npm run dev`):
 *   GET    /__emulator/health    200 when up (the dev-server ready check)
 *   GET    /__emulator/requests  the log;  DELETE clears it
 *   POST   /__emulator/faults    { status, endpoint?, times?, headers?, body?, delayMs? };  DELETE clears them
 * plus the emulator's own control routes (`options.control`).
 *
 * Bodies are parsed as JSON, or as form fields when the request says application/x-www-form-urlencoded.
 */

export interface RequestLogEntry {
  /** epoch ms when the request arrived */
  readonly at: number;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number;
  /** credits the answer cost (0 when the emulator does not meter) */
  readonly credits: number;
  /** SHA-256 of the lookup input, when the route gives one ('' otherwise) */
  readonly inputHash: string;
  /** the answer was a rate-limit answer */
  readonly rateLimited: boolean;
  /** a bulk request: each item's input hash and what its answer cost, in request order */
  readonly items?: ReadonlyArray<{ readonly inputHash: string; readonly credits: number }>;
}

export interface Fault {
  readonly status: number;
  /** only requests to this endpoint (default: any) */
  readonly endpoint?: string;
  /** how many requests it answers (default 1; Infinity: until cleared) */
  times?: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** wait this long before answering */
  readonly delayMs?: number;
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly credits?: number;
  readonly rateLimited?: boolean;
  /** a bulk request's per-item log (RequestLogEntry.items) */
  readonly items?: RequestLogEntry['items'];
}

export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** parsed JSON, or the form fields of an urlencoded body */
  readonly body: unknown;
  /**
   * epoch ms when the request arrived: the relay's stamp (`arrivalHeader`) when there is one, else
   * when this process began handling it. Rate windows are judged on it, as a provider's edge would.
   */
  readonly arrivedAt: number;
}

export interface RouteMatch {
  /** the log's name for the route (faults match on it) */
  readonly endpoint: string;
  /** SHA-256 of the lookup input (see `hashInput`), logged instead of the input */
  readonly inputHash?: string;
  readonly answer: () => Answer | Promise<Answer>;
}

export type Route = (req: EmulatorRequest) => RouteMatch | undefined;

/** An extra control route: an answer, or undefined when the path is not one of its own. */
export type ControlRoute = (method: string, path: string, body: unknown) => Answer | undefined;

export interface HttpEmulatorOptions {
  /** the emulator's own control routes under /__emulator/ */
  readonly control?: ControlRoute;
  /** the provider's error body (unknown route, invalid JSON, emulated fault, crash) */
  readonly errorBody?: (status: number, message: string) => unknown;
  /** a fault's answer counts as a rate-limit answer (default: 429) */
  readonly rateLimitStatuses?: readonly number[];
  /**
   * A request header (epoch ms) written by a relay in front (@coldcopy/testing's kernel-stamp relay):
   * the request's arrival time for the log and the rate windows, so that a stall of this process
   * (garbage collection, a busy CPU) cannot bunch arrivals into one window. Only for benches that
   * start the relay; default: none (the time this process began handling the request).
   */
  readonly arrivalHeader?: string;
}

const defaultErrorBody = (_status: number, message: string) => ({ status: 'error', message });

export class HttpEmulator {
  readonly requests: RequestLogEntry[] = [];
  readonly faults: Fault[] = [];
  private server: Server | undefined;
  url = '';
  private readonly control: ControlRoute | undefined;
  private readonly errorBody: (status: number, message: string) => unknown;
  private readonly rateLimitStatuses: readonly number[];
  private readonly arrivalHeader: string | undefined;

  constructor(
    readonly name: string,
    private readonly route: Route,
    options: HttpEmulatorOptions | ControlRoute = {},
  ) {
    const o = typeof options === 'function' ? { control: options } : options;
    this.control = o.control;
    this.errorBody = o.errorBody ?? defaultErrorBody;
    this.rateLimitStatuses = o.rateLimitStatuses ?? [429];
    this.arrivalHeader = o.arrivalHeader?.toLowerCase();
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.errorBody(500, err.message)));
      });
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Adds a fault: the next `times` matching requests get this answer instead of the real one. */
  fault(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Log entries, optionally of one endpoint. */
  log(endpoint?: string): RequestLogEntry[] {
    return endpoint ? this.requests.filter((r) => r.endpoint === endpoint) : [...this.requests];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const stamped = this.arrivalHeader ? Number(req.headers[this.arrivalHeader]) : NaN;
    const at = Number.isFinite(stamped) && stamped > 0 ? stamped : Date.now();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const raw = await readBody(req);
    let body: unknown;
    if (raw) {
      if (String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw));
      else {
        try {
          body = JSON.parse(raw);
        } catch {
          return send(res, { status: 400, body: this.errorBody(400, 'invalid JSON') });
        }
      }
    }
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/__emulator/')) return send(res, this.controlAnswer(method, url.pathname, body));
    const matched = this.route({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body, arrivedAt: at });
    if (!matched) return send(res, { status: 404, body: this.errorBody(404, `no route ${method} ${url.pathname}`) });
    const i = this.faults.findIndex((f) => !f.endpoint || f.endpoint === matched.endpoint);
    let answer: Answer;
    if (i >= 0) {
      const fault = this.faults[i]!;
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(i, 1);
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      answer = {
        status: fault.status,
        body: fault.body ?? this.errorBody(fault.status, `emulated ${fault.status}`),
        headers: fault.headers,
        rateLimited: this.rateLimitStatuses.includes(fault.status),
      };
    } else {
      answer = await matched.answer();
    }
    this.requests.push({
      at,
      method,
      endpoint: matched.endpoint,
      status: answer.status,
      credits: answer.credits ?? 0,
      inputHash: matched.inputHash ?? '',
      rateLimited: answer.rateLimited ?? false,
      ...(answer.items ? { items: answer.items } : {}),
    });
    send(res, answer);
  }

  private controlAnswer(method: string, path: string, body: unknown): Answer {
    if (path === '/__emulator/health') return { status: 200, body: { emulator: this.name } };
    if (path === '/__emulator/requests' && method === 'GET') return { status: 200, body: { emulator: this.name, requests: this.requests } };
    if (path === '/__emulator/requests' && method === 'DELETE') {
      this.requests.length = 0;
      return { status: 204 };
    }
    if (path === '/__emulator/faults' && method === 'POST') {
      const f = body as Fault | undefined;
      if (!f || typeof f.status !== 'number') return { status: 400, body: { error: 'a fault needs a numeric status' } };
      this.fault(f);
      return { status: 201, body: { faults: this.faults.length } };
    }
    if (path === '/__emulator/faults' && method === 'DELETE') {
      this.clearFaults();
      return { status: 204 };
    }
    return this.extraControl(method, path, body) ?? { status: 404, body: { error: 'unknown control route' } };
  }

  /** The emulator's own control routes: `options.control`, or an override in a subclass. */
  protected extraControl(method: string, path: string, body: unknown): Answer | undefined {
    return this.control?.(method, path, body);
  }
}

/** Writes an answer: JSON body (when there is one) with the answer's headers. */
export function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...(answer.headers ?? {}) };
  if (answer.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(answer.status, headers);
  res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
}

/** A request's whole body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes `body` as JSON (with its length), or an empty answer when `body` is undefined. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers }).end(text);
}

/**
 * Counts requests in a sliding window of `windowMs`: a request at `now` fits when fewer than `max`
 * taken requests arrived after `now - windowMs`. Arrival stamps taken by a relay (`arrivalHeader`)
 * can reach the emulator a little out of order; they are kept in time order, and a late one is
 * taken only when every window it falls in has room: its own and the window ending at each request
 * stamped after it (within `windowMs`). So no 1 window of taken requests ever holds more than `max`,
 * and a request is refused only when taking it would put more than `max` into one: whatever order
 * the stamps come in, the emulator refuses exactly when the arrivals exceed the limit somewhere.
 * (For stamps in order this is the plain count of the last `windowMs`.)
 */
export class SlidingWindow {
  private readonly stamps: number[] = [];
  private head = 0;
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}
  private expire(now: number): void {
    // stamps older than any window still to be judged (a late stamp is at most a window behind)
    while (this.head < this.stamps.length && this.stamps[this.head]! <= now - 2 * this.windowMs) this.head++;
    if (this.head > 4096) {
      this.stamps.splice(0, this.head);
      this.head = 0;
    }
  }
  /** index of the first stamp greater than t */
  private after(t: number): number {
    let lo = this.head;
    let hi = this.stamps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.stamps[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** taken requests in the window ending at `t`, (t - windowMs, t] */
  private countAt(t: number): number {
    return this.after(t) - this.after(t - this.windowMs);
  }
  /** the room a request at `now` has: `max` less the fullest window it would fall in */
  private room(now: number): number {
    let fullest = this.countAt(now);
    // the windows ending at requests stamped after `now` that would also hold it
    for (let j = this.after(now); j < this.stamps.length && this.stamps[j]! < now + this.windowMs; j++)
      fullest = Math.max(fullest, this.countAt(this.stamps[j]!));
    return this.max - fullest;
  }
  /** takes one; false when a window it falls in is full */
  take(now: number): boolean {
    this.expire(now);
    if (this.room(now) <= 0) return false;
    this.stamps.splice(this.after(now), 0, now);
    return true;
  }
  /** how many more fit now */
  remaining(now: number): number {
    this.expire(now);
    return Math.max(0, this.room(now));
  }
}

export class FixedWindow {
  private openedAt = -Infinity;
  private used = 0;
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}
  private roll(now: number) {
    if (now >= this.openedAt + this.windowMs) {
      this.openedAt = now;
      this.used = 0;
    }
  }
  /** takes one request; false when the window is full */
  take(now: number): boolean {
    this.roll(now);
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  left(now: number): number {
    if (now >= this.openedAt + this.windowMs) return this.max;
    return Math.max(0, this.max - this.used);
  }
  /** ms until the window reopens */
  reopensIn(now: number): number {
    return Math.max(0, this.openedAt + this.windowMs - now);
  }
}

/** SHA-256 of lookup inputs (trimmed, lower-cased, one a line): what the log keeps instead of them. */
export const hashInput = (...parts: Array<string | undefined | null>) =>
  createHash('sha256')
    .update(parts.map((p) => (p ?? '').trim().toLowerCase()).join('\n'))
    .digest('hex');

/** Deterministic pick from a list by an input hash. */
export const pick = <T>(hash: string, list: readonly T[], salt = 0): T => list[(parseInt(hash.slice(salt * 2, salt * 2 + 8), 16) >>> 0) % list.length]!;

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
