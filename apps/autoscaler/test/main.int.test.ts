import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { APP_ID, TOKEN, useHarness } from './harness.js';

const APP_DIR = join(import.meta.dirname, '..');

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@coldcopy/source', '--import', 'tsx', 'src/main.ts', ...args], {
    cwd: APP_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('node src/main.ts --dry-run --once (what an operator runs against a real account)', () => {
  const h = useHarness();

  it('prints one decision per configured component from the shipped scaling.json, updates nothing, never prints the token', async () => {
    await h().scaler(); // starts the emulator
    await h().setBacklog('email', 1500);
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h().prefix,
      DO_API_URL: h().emulator.url,
      DO_API_TOKEN: TOKEN,
      DO_APP_ID: APP_ID,
      LOG_LEVEL: 'info',
    };
    const out = await run(['--dry-run', '--once'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^email-worker\s+email\s+1500\s+-\s+2\s+3\s+up\s+backlog_high$/m);
    expect(out.stdout).toMatch(/^enrichment-worker\s+enrichment\s+0\s+-\s+1\s+1\s+hold\s+at_min$/m);
    expect(out.stdout).toContain('not applied: dry run');
    // ai-worker is in scaling.json but not in this app's spec: reported, the others still decided
    expect(out.stdout).toContain('"component":"ai-worker"');
    expect(h().emulator.requests.map((r) => r.method)).toEqual(['GET']);
    expect(out.stdout + out.stderr).not.toContain(TOKEN);
  });

  it('refuses to start without the token or the app id, naming them', async () => {
    const out = await run(['--dry-run', '--once'], { REDIS_URL: inject('redisUrl') });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('DO_API_TOKEN and DO_APP_ID are required');
  });
});
