import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * kernel-stamp-relay.py in front of an emulator (the benches' arrival instrument): requests that
 * start with one of `match` are stamped with the kernel's receive time (SO_TIMESTAMPNS), so that no
 * stall of a user-space process, the emulator's included, can bunch the stamps; with `stampHeader`
 * the relay also writes the stamp into the request, for an emulator that judges its rate windows on
 * it (HttpEmulator's `arrivalHeader`). Null when there is no python3 (or BENCH_INSTRUMENT=node):
 * the bench then stamps in user space and says so.
 */
export interface KernelStampRelayOptions {
  /** request prefixes to stamp, e.g. `POST / ` (default) or `GET /v2/email-finder` */
  readonly match?: readonly string[];
  /** write each stamp into its request as this header (epoch ms) */
  readonly stampHeader?: string;
}

export interface KernelStampReport {
  /** epoch ms per stamped request, in the order the relay read them */
  readonly sendTimes: number[];
  /** the client's port per stamp (one per connection) */
  readonly ports: number[];
  /** client port → the pid that held that connection (looked up when it was accepted) */
  readonly owners: Record<string, number>;
  readonly kernelStamped: number;
  /** what the stamps are, for the bench's report */
  readonly instrument: string;
}

export interface KernelStampRelay {
  readonly url: string;
  /** the relay process (for CPU sampling) */
  readonly pid: number;
  report(): Promise<KernelStampReport>;
  close(): Promise<void>;
}

export async function startKernelStampRelay(upstreamUrl: string, options: KernelStampRelayOptions = {}): Promise<KernelStampRelay | null> {
  if (process.env.BENCH_INSTRUMENT === 'node' || spawnSync('python3', ['--version']).status !== 0) return null;
  const upstream = new URL(upstreamUrl);
  const args = [fileURLToPath(new URL('./kernel-stamp-relay.py', import.meta.url)), upstream.hostname, upstream.port];
  for (const m of options.match ?? []) args.push('--match', m);
  if (options.stampHeader) args.push('--stamp-header', options.stampHeader);
  const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async <T>(): Promise<T> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`kernel-stamp-relay.py exited (${child.exitCode})`);
    return JSON.parse(value) as T;
  };
  const { url } = await nextLine<{ url: string }>();
  return {
    url,
    pid: child.pid!,
    async report() {
      child.stdin.write('report\n');
      const r = await nextLine<Omit<KernelStampReport, 'instrument'>>();
      return { ...r, instrument: `kernel receive time (SO_TIMESTAMPNS) of ${r.kernelStamped} of ${r.sendTimes.length} requests` };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end('close\n');
      await exited;
    },
  };
}

/** Which of `roots` a pid is, or descends from (the /proc parent chain), or undefined. */
export function ancestorAmong(pid: number, roots: readonly number[]): number | undefined {
  for (let p = pid, hops = 0; p > 1 && hops < 32; hops++) {
    if (roots.includes(p)) return p;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces or parentheses
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
