import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/**
 * A Web-standard request handler (`Request` in, `Response` out, like the SNS webhook route of
 * @coldcopy/web) served by node:http on loopback, for the local SES event simulator's webhook in
 * development and tests. Routes by exact path; anything else is 404.
 */
export async function serveWebHandlers(
  routes: Readonly<Record<string, (request: Request) => Promise<Response>>>,
  options: { port?: number; host?: string } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const handler = routes[url.pathname];
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(url, {
      method: req.method,
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
    handler(request).then(
      async (response) => {
        // forEach, not Object.fromEntries(headers): the Next.js example type-checks this file with lib "dom", whose Headers is not iterable
        const out: Record<string, string> = {};
        response.headers.forEach((value, key) => {
          out[key] = value;
        });
        res.writeHead(response.status, out);
        res.end(Buffer.from(await response.arrayBuffer()));
      },
      (err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String((err as Error)?.message ?? err));
      },
    );
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, host, r));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
