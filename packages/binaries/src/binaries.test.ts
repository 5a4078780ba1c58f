import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findExecutable, pathDirs, postgresBinDirs } from './binaries.js';

describe('binaries', () => {
  const root = mkdtempSync(join(tmpdir(), 'coldcopy-binaries-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const file = (dir: string, name: string, mode: number) => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, name), '#!/bin/sh\n');
    chmodSync(join(root, dir, name), mode);
    return join(root, dir);
  };

  it('finds the first executable of that name in the given order, passing over one that is not executable', () => {
    const plain = file('a', 'tool', 0o644);
    const first = file('b', 'tool', 0o755);
    const second = file('c', 'tool', 0o755);
    expect(findExecutable('tool', [plain, '', first, second])).toBe(join(first, 'tool'));
    expect(findExecutable('tool', [second, first])).toBe(join(second, 'tool'));
    expect(findExecutable('tool', [plain])).toBeUndefined();
    expect(findExecutable('absent', [first, second])).toBeUndefined();
  });

  it('lists Debian-style PostgreSQL bin directories newest major first, ignoring other entries, and none without the folder', () => {
    for (const v of ['9', '16', '17', 'common']) mkdirSync(join(root, 'postgresql', v, 'bin'), { recursive: true });
    expect(postgresBinDirs(join(root, 'postgresql'))).toEqual(['17', '16', '9'].map((v) => `${join(root, 'postgresql')}/${v}/bin`));
    expect(postgresBinDirs(join(root, 'nowhere'))).toEqual([]);
  });

  it('splits a PATH value into its directories', () => {
    expect(pathDirs(['/usr/bin', '', '/bin'].join(delimiter))).toEqual(['/usr/bin', '/bin']);
    expect(pathDirs('')).toEqual([]);
  });
});
