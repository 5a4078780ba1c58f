import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StoredEmail } from '../test/ses-local.js';

/**
 * bench/kernel-stamp-relay.py in front of the emulator: SendRawEmail arrivals stamped by the kernel
 * (SO_TIMESTAMPNS), so that no stall of a user-space relay can bunch the stamps. Null when there
 * is no python3 (the bench then stamps in its Node relay, bench/ses-process.ts).
 */
export async function startKernelStampRelay(emulatorUrl: string) {
  if (process.env.BENCH_INSTRUMENT === 'node' || spawnSync('python3', ['--version']).status !== 0) return null;
  const upstream = new URL(emulatorUrl);
  const child = spawn('python3', [fileURLToPath(new URL('./kernel-stamp-relay.py', import.meta.url)), upstream.hostname, upstream.port], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async <T>(): Promise<T> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`kernel-stamp-relay.py exited (${child.exitCode})`);
    return JSON.parse(value) as T;
  };
  const { url } = await nextLine<{ url: string }>();
  return {
    child,
    url,
    async report() {
      child.stdin.write('report\n');
      const { sendTimes, kernelStamped } = await nextLine<{ sendTimes: number[]; kernelStamped: number }>();
      const { emails } = (await (await fetch(`${emulatorUrl}/store`)).json()) as { emails: StoredEmail[] };
      return {
        sendTimes,
        recipients: emails.map((e) => e.destination.to[0]!),
        instrument: `kernel receive time (SO_TIMESTAMPNS) of ${kernelStamped} of ${sendTimes.length} requests`,
      };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end('close\n');
      await exited;
    },
  };
}
