import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@coldcopy/testing';
import { TEST_SIGNING_KEYS } from './keys.js';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface IntegrationWorkerProcess {
  readonly child: ChildProcess;
  readonly healthPort: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The real app (src/main.ts) in its own Node process; resolves once its /readyz answers 200. */
export async function spawnIntegrationWorker(env: Record<string, string>): Promise<IntegrationWorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['--conditions=@coldcopy/source', '--import', 'tsx', 'src/main.ts'], {
    cwd: APP_DIR,
    env: { ...process.env, HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', LOG_LEVEL: 'info', JOB_SIGNING_KEYS: TEST_SIGNING_KEYS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4_000_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4_000_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60_000;
  const ready = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`integration worker exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`integration worker did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, healthPort, output: () => out, exited };
}
