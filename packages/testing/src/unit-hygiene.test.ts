import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installerIn, readAllowed, UnitHygieneError } from './unit-hygiene.js';

// This file runs in the unit project, so the checks are installed (vitest.config.ts setupFiles):
// these tests plant the violations and see them refused.
describe('unit test hygiene (setup file of the unit project)', () => {
  it('refuses to read a file outside the repository, by any of the read calls', async () => {
    expect(() => readFileSync('/etc/hostname')).toThrow(UnitHygieneError);
    expect(() => readFileSync(new URL('file:///etc/passwd'))).toThrow(/outside the repository/);
    await expect(readFile('/etc/hostname')).rejects.toThrow(UnitHygieneError);
    // outside the repository and outside the temporary folder (a clone under /tmp has its siblings there)
    expect(() => readFileSync('/var/coldcopy-outside.md')).toThrow(UnitHygieneError);
  });

  it('reads the repository’s files, its own temporary files and the process’s /proc entries', () => {
    expect(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')).toContain('@coldcopy/testing');
    const dir = mkdtempSync(join(tmpdir(), 'hygiene-'));
    try {
      writeFileSync(join(dir, 'a.txt'), 'x');
      expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(readAllowed('/proc/self/status')).toBe(true);
  });

  it('refuses to run a package manager, directly, through sudo or a shell', () => {
    expect(() => execFileSync('apt-get', ['install', '-y', 'redis-server'])).toThrow(/never install system packages/);
    expect(() => spawnSync('sudo', ['apt', 'install', 'x'])).toThrow(UnitHygieneError);
    expect(() => execFileSync('sh', ['-c', 'apt-get update && apt-get install -y x'])).toThrow(UnitHygieneError);
    expect(installerIn('/usr/bin/dpkg', ['-i', 'x.deb'])).toBe('dpkg');
    expect(installerIn('git', ['ls-files'])).toBeUndefined();
    expect(execFileSync('git', ['--version'], { encoding: 'utf8' })).toMatch(/^git version/);
  });
});
