import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeRedisUrl, parseEnvFile, resolveSettings, shellQuote } from './connection.js';

describe('describeRedisUrl', () => {
  it('names host, port and database, never the user or password', () => {
    expect(describeRedisUrl('redis://127.0.0.1:6390')).toBe('127.0.0.1:6390');
    expect(describeRedisUrl('redis://localhost')).toBe('localhost:6379');
    const secret = describeRedisUrl('rediss://default:s3cr%40t@db.example.com:25061/2');
    expect(secret).toBe('tls db.example.com:25061 db 2');
    expect(describeRedisUrl('redis+cluster://u:pw@10.0.0.1:7000,10.0.0.2')).toBe('cluster 10.0.0.1:7000,10.0.0.2:6379');
    expect(describeRedisUrl('http://x')).toBe('an unparsable REDIS_URL');
  });
});

describe('env file', () => {
  it('round-trips values with quotes through shellQuote and parseEnvFile', () => {
    const text = `A=${shellQuote("it's")}\nB=${shellQuote('redis://127.0.0.1:1')}\n# comment\n`;
    expect(parseEnvFile(text)).toEqual({ A: "it's", B: 'redis://127.0.0.1:1' });
  });
});

describe('resolveSettings (the dev stack file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-settings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const writeDevEnv = (pid: number) =>
    writeFileSync(join(dir, 'dev.env'), `REDIS_URL='redis://127.0.0.1:6390'\nBULL_PREFIX='bull'\nJOB_SIGNING_KEYS='dev1:abc'\nCOLDCOPY_DEV_PID='${pid}'\n`);

  it('without a dev stack: the default Redis, and says REDIS_URL is not set', () => {
    const s = resolveSettings({ DEV_DATA_DIR: dir }, dir);
    expect(s.env.REDIS_URL).toBeUndefined();
    expect(s.notice).toBe('jobs: Redis 127.0.0.1:6379, prefix bull (the default: REDIS_URL is not set)\n');
  });

  it('while the stack runs: fills what the environment leaves unset, and says so', async () => {
    // a process whose command line names dev.ts, as the real stack's does
    const stack = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'dev.ts'], { stdio: 'ignore' });
    try {
      writeDevEnv(stack.pid!);
      const s = resolveSettings({ DEV_DATA_DIR: dir, JOB_SIGNING_KEYS: 'mine:xyz' }, dir);
      expect(s.env).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6390', BULL_PREFIX: 'bull', JOB_SIGNING_KEYS: 'mine:xyz' });
      expect(s.env).not.toHaveProperty('COLDCOPY_DEV_PID');
      expect(s.notice).toBe(`jobs: Redis 127.0.0.1:6390, prefix bull (from dev.env: npm run dev is running (pid ${stack.pid}))\n`);
      const explicit = resolveSettings({ DEV_DATA_DIR: dir, REDIS_URL: 'redis://:pw@10.1.2.3:6379', BULL_PREFIX: 'p' }, dir);
      expect(explicit.env.REDIS_URL).toBe('redis://:pw@10.1.2.3:6379');
      expect(explicit.notice).toMatch(/^jobs: Redis 10\.1\.2\.3:6379, prefix p \(from REDIS_URL/);
      expect(explicit.notice).not.toContain('pw');
    } finally {
      stack.kill();
    }
  });

  it('a file left by a stack that is gone (or a reused pid) is ignored', async () => {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    writeDevEnv(gone.pid!);
    expect(resolveSettings({ DEV_DATA_DIR: dir }, dir).env.REDIS_URL).toBeUndefined();
    writeDevEnv(process.pid); // alive, but not scripts/dev.ts
    expect(resolveSettings({ DEV_DATA_DIR: dir }, dir).env.REDIS_URL).toBeUndefined();
  });
});
