import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What every provider emulator of this app shares: an HTTP server on 127.0.0.1, a request log
 * (method, endpoint, status: never bodies or tokens), switchable faults, and a control API for
 * processes that did not start it (`npm run dev`):
 *   GET    /__emulator/health    200 when up (the dev-server ready check)
 *   GET    /__emulator/requests  the log;  DELETE clears it
 *   POST   /__emulator/faults    { status, endpoint?, times?, headers?, body? };  DELETE clears them
 */
export interface LogEntry {
  readonly at: number;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number;
}

export interface Fault {
  readonly status: number;
  readonly endpoint?: string;
  times?: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** parsed JSON, or the form fields of an urlencoded body */
  readonly body: unknown;
}

export type Route = (req: EmulatorRequest) => { endpoint: string; answer: () => Answer | Promise<Answer> } | undefined;

export class HttpEmulator {
  readonly requests: LogEntry[] = [];
  readonly faults: Fault[] = [];
  private server: Server | undefined;
  url = '';

  constructor(
    readonly name: string,
    private readonly route: Route,
    private readonly extraControl?: (method: string, path: string, body: unknown) => Answer | undefined,
  ) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', message: err.message }));
      });
    });
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

  fault(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  log(endpoint?: string): LogEntry[] {
    return endpoint ? this.requests.filter((r) => r.endpoint === endpoint) : [...this.requests];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) {
      if (String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw));
      else {
        try {
          body = JSON.parse(raw);
        } catch {
          return send(res, { status: 400, body: { status: 'error', message: 'invalid JSON' } });
        }
      }
    }
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/__emulator/')) return send(res, this.control(method, url.pathname, body));
    const matched = this.route({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body });
    if (!matched) return send(res, { status: 404, body: { status: 'error', message: `no route ${method} ${url.pathname}` } });
    const at = Date.now();
    const i = this.faults.findIndex((f) => !f.endpoint || f.endpoint === matched.endpoint);
    let answer: Answer;
    if (i >= 0) {
      const fault = this.faults[i]!;
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(i, 1);
      answer = { status: fault.status, body: fault.body ?? { status: 'error', message: `emulated ${fault.status}` }, headers: fault.headers };
    } else {
      answer = await matched.answer();
    }
    this.requests.push({ at, method, endpoint: matched.endpoint, status: answer.status });
    send(res, answer);
  }

  private control(method: string, path: string, body: unknown): Answer {
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
    return this.extraControl?.(method, path, body) ?? { status: 404, body: { error: 'unknown control route' } };
  }
}

export function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...(answer.headers ?? {}) };
  if (answer.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(answer.status, headers);
  res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
}

/** Requests in a sliding window (the providers' rolling limits). */
export class RollingWindow {
  private stamps: number[] = [];
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}
  /** takes one; false when the window is full */
  take(now: number): boolean {
    this.stamps = this.stamps.filter((t) => t > now - this.windowMs);
    if (this.stamps.length >= this.max) return false;
    this.stamps.push(now);
    return true;
  }
  remaining(now: number): number {
    return Math.max(0, this.max - this.stamps.filter((t) => t > now - this.windowMs).length);
  }
}
