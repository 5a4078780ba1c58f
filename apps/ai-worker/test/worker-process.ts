import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@coldcopy/testing';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from './keys.js';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface AiWorkerProcess {
  readonly child: ChildProcess;
  readonly healthPort: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The real app (src/main.ts) in its own Node process; resolves once its /readyz answers 200. */
export async function spawnAiWorker(env: Record<string, string>): Promise<AiWorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: APP_DIR,
    env: {
      ...process.env,
      HEALTH_PORT: String(healthPort),
      HEALTH_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JOB_SIGNING_KEYS: TEST_SIGNING_KEYS,
      JOB_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-1_000_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`ai worker exited early:\n${out}`);
      return (await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status === 200, () => false)) || false;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'the ai worker to be ready' },
  );
  return { child, healthPort, output: () => out, exited };
}
