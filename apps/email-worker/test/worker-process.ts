import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@coldcopy/testing';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from './harness-keys.js';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface EmailWorkerProcess {
  readonly child: ChildProcess;
  /** its /healthz, /readyz and /metrics */
  readonly healthPort: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The real app (src/main.ts) in its own Node process; resolves once its /readyz answers 200.
 * `nodeArgs` go before the script (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a worker).
 */
export async function spawnEmailWorker(env: Record<string, string>, options: { nodeArgs?: readonly string[] } = {}): Promise<EmailWorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'], {
    cwd: APP_DIR,
    env: {
      ...process.env,
      HEALTH_PORT: String(healthPort),
      HEALTH_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      JOB_SIGNING_KEYS: TEST_SIGNING_KEYS,
      JOB_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      UNSUBSCRIBE_BASE_URL: 'https://app.example.com/u',
      UNSUBSCRIBE_MAILTO_DOMAIN: 'example.com',
      UNSUBSCRIBE_SECRET: 's'.repeat(32),
      SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-events',
      SEND_JITTER_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-2_000_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-2_000_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  const ready = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`email worker exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`email worker did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, healthPort, output: () => out, exited };
}
