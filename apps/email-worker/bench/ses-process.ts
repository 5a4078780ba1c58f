/**
 * The SES side of the benchmark in processes of its own, as SES is remote in production:
 *
 *   ses-process.ts emulator            aws-ses-v2-local (parses every message, keeps them all)
 *   ses-process.ts proxy <emulator>    a TCP relay in front of it that stamps each request's arrival
 *
 * Two processes, so that the emulator's parsing and garbage collection cannot delay the arrival
 * stamps (a stalled event loop stamps a queue of requests at once, and the 1 s window counts would
 * measure the stall instead of the senders). The relay does not parse HTTP: a client sends its
 * next request on a kept-alive connection only after the previous answer, so every request starts
 * a new read, and a read that starts with `POST / ` is a SendRawEmail (the only v1 call the worker
 * makes). IPC: each sends `{ type: 'ready', url }`; the proxy answers `{ type: 'report' }` with the
 * arrival times and the emulator's recipients; `{ type: 'close' }` closes and exits.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type StoredEmail, startSesEmulator } from '../test/ses-local.js';

export type SesProcessMessage =
  { type: 'ready'; url: string } | { type: 'report'; sendTimes: number[]; recipients: string[]; proxyEventLoopDelayMs: { p99: number; max: number } };

const send = (m: SesProcessMessage) => process.send!(m);
const [role, upstream] = process.argv.slice(2);

if (role === 'emulator') {
  const emulator = await startSesEmulator();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'close') void emulator.close().then(() => process.exit(0));
  });
  send({ type: 'ready', url: emulator.url });
} else {
  // the measuring instrument goes first when the two cores are busy (needs root or CAP_SYS_NICE)
  try {
    setPriority(-10);
  } catch {
    // unprivileged: stamps may be a little later under load (see proxyEventLoopDelayMs)
  }
  const target = new URL(upstream!);
  const sendTimes: number[] = [];
  const POST_ROOT = Buffer.from('POST / ');
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const up = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(up);
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (chunk.length >= POST_ROOT.length && chunk.subarray(0, POST_ROOT.length).equals(POST_ROOT)) sendTimes.push(Date.now());
      up.write(chunk);
    });
    up.pipe(client);
    const done = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('close', done).on('error', done);
    up.on('close', done).on('error', done);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  // a stalled loop would stamp a queue of requests at once: how late could a stamp be?
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'report') {
      void fetch(`${upstream}/store`)
        .then((res) => res.json() as Promise<{ emails: StoredEmail[] }>)
        .then(({ emails }) =>
          send({
            type: 'report',
            sendTimes,
            recipients: emails.map((e) => e.destination.to[0]!),
            proxyEventLoopDelayMs: { p99: Math.round(delay.percentile(99) / 1e6), max: Math.round(delay.max / 1e6) },
          }),
        );
    } else if (m.type === 'close') {
      for (const s of sockets) s.destroy();
      relay.close(() => process.exit(0));
    }
  });
  send({ type: 'ready', url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}` });
}
// the bench died without saying goodbye
process.on('disconnect', () => process.exit(0));
