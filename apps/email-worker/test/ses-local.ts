import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesLocalModule from 'aws-ses-v2-local';

/** What aws-ses-v2-local keeps per email (GET /store). */
export interface StoredEmail {
  messageId: string;
  from: string;
  replyTo: string[];
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  at: number;
}

export interface RecordedRequest {
  /** Date.now() when the request reached the emulator's front door */
  readonly at: number;
  readonly form: URLSearchParams;
}

export interface SesLocal {
  /** the endpoint to give the SES client (the recording proxy) */
  readonly endpoint: string;
  /** every SES API request, in arrival order */
  readonly requests: RecordedRequest[];
  emails(): Promise<StoredEmail[]>;
  /** raw MIME of every SendRawEmail, decoded from the recorded request */
  rawMessages(): string[];
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * aws-ses-v2-local on a free loopback port, behind a small recording proxy: the emulator parses
 * raw messages but does not keep their headers, so the proxy keeps each request (for the
 * List-Unsubscribe assertions) and its arrival time (for the rate measurements).
 */
export async function startSesLocal(): Promise<SesLocal> {
  // Node's ESM loader gives the CommonJS exports object (call its .default, email-ses-sns.md §4);
  // vitest's interop already unwraps it to the function.
  type Start = (c: { host: string; port: number }) => Promise<Server>;
  const mod = sesLocalModule as unknown as Start | { default: Start };
  const start = typeof mod === 'function' ? mod : mod.default;
  const emulator = await start({ host: '127.0.0.1', port: 0 });
  if (!emulator.listening) await new Promise((r) => emulator.once('listening', r));
  const upstream = `http://127.0.0.1:${(emulator.address() as AddressInfo).port}`;
  const requests: RecordedRequest[] = [];

  const proxy = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/') requests.push({ at, form: new URLSearchParams(body.toString()) });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(`${upstream}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body })
        .then(async (up) => {
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
          res.end(Buffer.from(await up.arrayBuffer()));
        })
        .catch((err: Error) => {
          res.writeHead(502);
          res.end(err.message);
        });
    });
  });
  proxy.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  return {
    endpoint,
    requests,
    async emails() {
      const res = await fetch(`${upstream}/store`);
      return ((await res.json()) as { emails: StoredEmail[] }).emails;
    },
    rawMessages() {
      return requests
        .filter((r) => r.form.get('Action') === 'SendRawEmail')
        .map((r) => Buffer.from(r.form.get('RawMessage.Data') ?? '', 'base64').toString());
    },
    async clear() {
      requests.length = 0;
      await fetch(`${upstream}/clear-store`, { method: 'POST' });
    },
    async close() {
      proxy.closeAllConnections();
      emulator.closeAllConnections();
      await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => emulator.close(r))]);
    },
  };
}
