import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The parts both provider emulators share: an HTTP server on 127.0.0.1, a request log, switchable
 * faults, sliding rate windows and a credit balance. The log keeps a SHA-256 of each request's
 * lookup input, never the input itself.
 *
 * Control API (for processes that did not start the emulator, e.g. `npm run dev`):
 *   GET    /__emulator/requests  the log
 *   DELETE /__emulator/requests  clears it
 *   POST   /__emulator/faults    adds a fault ({ status, endpoint?, times?, headers?, body?, delayMs? })
 *   DELETE /__emulator/faults    clears them
 *   POST   /__emulator/credits   { credits } sets the balance
 */

export interface RequestLogEntry {
  /** epoch ms when the request arrived */
  readonly at: number;
  readonly endpoint: string;
  readonly status: number;
  /** credits the answer cost */
  readonly credits: number;
  /** SHA-256 of the lookup input (see each emulator) */
  readonly inputHash: string;
  /** the answer was a rate-limit answer */
  readonly rateLimited: boolean;
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
}

export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

export type Route = (req: EmulatorRequest) => { endpoint: string; inputHash: string; answer: () => Answer } | undefined;

export class EmulatorServer {
  readonly requests: RequestLogEntry[] = [];
  readonly faults: Fault[] = [];
  private server: Server | undefined;
  url = '';

  constructor(
    private readonly name: string,
    private readonly route: Route,
  ) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
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
    const url = new URL(req.url ?? '/', 'http://emulator');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, { status: 400, body: { error: 'invalid JSON' } });
      }
    }
    if (url.pathname.startsWith('/__emulator/')) return this.control(req.method ?? 'GET', url.pathname, body, res);
    const request: EmulatorRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
    const matched = this.route(request);
    if (!matched) return send(res, { status: 404, body: { errors: [{ id: 'not_found', code: 404, details: 'no such route' }] } });
    const at = Date.now();
    const faultIndex = this.faults.findIndex((f) => !f.endpoint || f.endpoint === matched.endpoint);
    let answer: Answer;
    if (faultIndex >= 0) {
      const fault = this.faults[faultIndex]!;
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(faultIndex, 1);
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      answer = {
        status: fault.status,
        body: fault.body ?? { error: `emulated ${fault.status}` },
        headers: fault.headers,
        rateLimited: fault.status === 429 || fault.status === 403,
      };
    } else {
      answer = matched.answer();
    }
    this.requests.push({
      at,
      endpoint: matched.endpoint,
      status: answer.status,
      credits: answer.credits ?? 0,
      inputHash: matched.inputHash,
      rateLimited: answer.rateLimited ?? false,
    });
    send(res, answer);
  }

  private control(method: string, path: string, body: unknown, res: ServerResponse): void {
    if (path === '/__emulator/requests' && method === 'GET') return send(res, { status: 200, body: { emulator: this.name, requests: this.requests } });
    if (path === '/__emulator/requests' && method === 'DELETE') {
      this.requests.length = 0;
      return send(res, { status: 204 });
    }
    if (path === '/__emulator/faults' && method === 'POST') {
      const f = body as Fault | undefined;
      if (!f || typeof f.status !== 'number') return send(res, { status: 400, body: { error: 'a fault needs a numeric status' } });
      this.fault(f);
      return send(res, { status: 201, body: { faults: this.faults.length } });
    }
    if (path === '/__emulator/faults' && method === 'DELETE') {
      this.clearFaults();
      return send(res, { status: 204 });
    }
    if (path === '/__emulator/credits' && method === 'POST') {
      const credits = (body as { credits?: unknown } | undefined)?.credits;
      if (typeof credits !== 'number') return send(res, { status: 400, body: { error: 'credits must be a number' } });
      this.onCredits?.(credits);
      return send(res, { status: 204 });
    }
    send(res, { status: 404, body: { error: 'unknown control route' } });
  }

  /** set by the provider emulator: the control API's credit setter */
  onCredits: ((credits: number) => void) | undefined;
}

function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...(answer.headers ?? {}) };
  if (answer.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(answer.status, headers);
  res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
}

/** Counts requests in a sliding window of `windowMs`; `take` says whether one more fits under `max`. */
export class SlidingWindow {
  private readonly stamps: number[] = [];
  private head = 0;
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}
  take(now: number): boolean {
    while (this.head < this.stamps.length && this.stamps[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 4096) {
      this.stamps.splice(0, this.head);
      this.head = 0;
    }
    if (this.stamps.length - this.head >= this.max) return false;
    this.stamps.push(now);
    return true;
  }
}

/** A fixed window that opens at its first request (Apollo's minute/hour/day windows). */
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

export const hashInput = (...parts: Array<string | undefined | null>) =>
  createHash('sha256')
    .update(parts.map((p) => (p ?? '').trim().toLowerCase()).join('\n'))
    .digest('hex');

/** Deterministic pick from a list by an input hash. */
export const pick = <T>(hash: string, list: readonly T[], salt = 0): T => list[(parseInt(hash.slice(salt * 2, salt * 2 + 8), 16) >>> 0) % list.length]!;

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
