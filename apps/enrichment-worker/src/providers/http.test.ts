import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderUnavailableError } from './enrichment-provider.js';
import { MAX_RESPONSE_BYTES, requestJson } from './http.js';

// A real HTTP server on 127.0.0.1 (no fake fetch): a small answer, and one that streams past the cap.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/small') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { email: 'x' } }));
      return;
    }
    // chunked, no content-length: 64 KiB chunks until the client goes away
    res.setHeader('content-type', 'application/json');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let streamed = 0;
    const pump = () => {
      while (!res.destroyed && streamed < 4 * MAX_RESPONSE_BYTES) {
        streamed += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.write('{"data":"');
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('requestJson', () => {
  const signal = new AbortController().signal;
  it('reads a JSON answer', async () => {
    const res = await requestJson('hunter', `${base}/small`, { method: 'GET', headers: {} }, 5000, signal);
    expect(res).toMatchObject({ status: 200, body: { data: { email: 'x' } } });
  });
  it('cuts off an answer larger than MAX_RESPONSE_BYTES (transient error) instead of buffering it whole', async () => {
    const err = await requestJson('hunter', `${base}/huge`, { method: 'GET', headers: {} }, 20_000, signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect((err as Error).message).toMatch(/larger than/);
  });
});
