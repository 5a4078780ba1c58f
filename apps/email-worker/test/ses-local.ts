import { Agent, createServer, request, type Server } from 'node:http';
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

export interface SesLocalOptions {
  /** URL of an aws-ses-v2-local already running (startSesEmulator): only the proxy starts here */
  readonly upstream?: string;
}

/**
 * aws-ses-v2-local alone on a free loopback port. Its idle kept-alive sockets stay open 2 minutes,
 * longer than any client here keeps them (see the proxy's agent).
 */
export async function startSesEmulator(): Promise<{ url: string; close(): Promise<void> }> {
  // Node's ESM loader gives the CommonJS exports object (call its .default, email-ses-sns.md §4);
  // vitest's interop already unwraps it to the function.
  type Start = (c: { host: string; port: number }) => Promise<Server>;
  const mod = sesLocalModule as unknown as Start | { default: Start };
  const start = typeof mod === 'function' ? mod : mod.default;
  const emulator = await start({ host: '127.0.0.1', port: 0 });
  if (!emulator.listening) await new Promise((r) => emulator.once('listening', r));
  emulator.keepAliveTimeout = 120_000;
  emulator.headersTimeout = 125_000;
  return {
    url: `http://127.0.0.1:${(emulator.address() as AddressInfo).port}`,
    async close() {
      emulator.closeAllConnections();
      await new Promise((r) => emulator.close(r));
    },
  };
}

/**
 * aws-ses-v2-local on a free loopback port, behind a small recording proxy: the emulator parses
 * raw messages but does not keep their headers, so the proxy keeps each request (for the
 * List-Unsubscribe assertions) and its arrival time (for the rate measurements). The proxy
 * forwards with node:http over kept-alive sockets (fetch cost more CPU than the emulator itself).
 */
export async function startSesLocal(options: SesLocalOptions = {}): Promise<SesLocal> {
  const emulator = options.upstream ? undefined : await startSesEmulator();
  const upstream = options.upstream ?? emulator!.url;
  const upstreamPort = Number(new URL(upstream).port);
  const requests: RecordedRequest[] = [];
  // Kept-alive sockets must be closed by the proxy, never by the emulator: a request sent on a
  // socket the server is closing at that moment fails (ECONNRESET, a 502, an `unknown` send). The
  // emulator keeps idle sockets 2 minutes, the proxy's agent drops them after 30 s.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

  const proxy = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/') {
        requests.push({ at, form: new URLSearchParams(body.toString()) });
      }
      const headers: Record<string, string | string[]> = { host: `127.0.0.1:${upstreamPort}`, 'content-length': String(body.length) };
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined && !['host', 'content-length', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
      }
      const up = request({ agent, host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'text/plain' });
        answer.pipe(res);
      });
      up.on('error', (err: Error) => {
        if (res.headersSent) return res.destroy(err);
        res.writeHead(502);
        res.end(err.message);
      });
      up.end(req.method === 'GET' ? undefined : body);
    });
  });
  // longer than any SES client here keeps an idle socket (same race as above, one hop earlier)
  proxy.keepAliveTimeout = 600_000;
  proxy.headersTimeout = 605_000;
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
      agent.destroy();
      await Promise.all([new Promise((r) => proxy.close(r)), emulator?.close()]);
    },
  };
}
