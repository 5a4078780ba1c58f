import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findBinary, MissingBinaryError } from './binaries.js';
import { RedisCluster } from './redis-cluster.js';

describe('RedisCluster', () => {
  const saved = process.env.PATH;
  const dirs: string[] = [];
  afterEach(() => {
    process.env.PATH = saved;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('fails with the install command when redis-cli is missing, before starting anything', async () => {
    const server = findBinary('redis-server');
    if (!server) throw new MissingBinaryError('redis-server', 'redis-server');
    // a PATH with redis-server only (findBinary also looks in /usr/sbin and /usr/local/sbin)
    const dir = mkdtempSync(join(tmpdir(), 'coldcopy-path-'));
    dirs.push(dir);
    symlinkSync(server, join(dir, 'redis-server'));
    process.env.PATH = dir;
    if (findBinary('redis-cli')) throw new Error('redis-cli is in /usr/sbin or /usr/local/sbin: this test cannot hide it');
    const err: unknown = await RedisCluster.start().then(
      async (cluster) => (await cluster.stop(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MissingBinaryError);
    expect((err as Error).message).toContain('redis-cli was not found');
    expect((err as Error).message).toContain('sudo apt-get update && sudo apt-get install -y redis-tools');
  });

  it('refuses fewer than 3 primaries', async () => {
    await expect(RedisCluster.start({ primaries: 2 })).rejects.toThrow(/at least 3 primaries/);
  });
});
