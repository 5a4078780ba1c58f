/**
 * The README's test command on a fresh clone, as a user would run it: a `git clone` of this
 * repository into an empty temporary folder (no sibling folder to read fixtures from), an empty HOME,
 * the system PATH (no Node from .tools/), and, when this run is root, a throwaway non-root user
 * after root has used the machine: root-owned files sit in /tmp, including one at the fixed path
 * older scripts wrote to. `npm test -- <two small unit files>` must set itself up (Node from the
 * npm registry, pnpm, the dependencies) and pass.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const IS_ROOT = process.getuid?.() === 0;
/** where scripts/lib.sh wrote pnpm's errors before it used mktemp (issue: a non-root run died on it) */
const OLD_FIXED_PATH = join(tmpdir(), 'coldcopy-pnpm-install.err');

interface User {
  name: string;
  uid: number;
  gid: number;
}

function run(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolveRun({ code, output }));
  });
}

/** The system PATH: this run's PATH without the Node the test script put first, nor node_modules. */
function systemPath(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !dir.includes('/.tools/') && !dir.includes('node_modules'))
    .join(delimiter);
}

describe('npm test on a fresh clone', () => {
  let base: string;
  let clone: string;
  let home: string;
  let user: User | undefined;
  let createdLeftover = false;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'coldcopy-clone-'));
    clone = join(base, 'repo');
    home = join(base, 'home');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { stdio: 'pipe' });
    execFileSync('mkdir', [home]);
    if (IS_ROOT) {
      const name = `cc-test-${process.pid}`;
      execFileSync('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/bash', name], { stdio: 'pipe' });
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      user = { name, uid, gid };
      execFileSync('chown', ['-R', `${uid}:${gid}`, base]);
      // what a root run of the older scripts left behind: a root-only file at their fixed path
      if (!existsSync(OLD_FIXED_PATH)) {
        writeFileSync(OLD_FIXED_PATH, '', { mode: 0o600 });
        chownSync(OLD_FIXED_PATH, 0, 0);
        createdLeftover = true;
      }
    }
  }, 300_000);

  afterAll(() => {
    if (createdLeftover) rmSync(OLD_FIXED_PATH, { force: true });
    if (user) execFileSync('userdel', [user.name], { stdio: 'pipe' });
    if (base) rmSync(base, { recursive: true, force: true });
  }, 300_000);

  it(`the clone has nothing beside it and passes ${IS_ROOT ? 'as a non-root user after root' : 'as this user'}`, async () => {
    expect(readdirSync(base).sort()).toEqual(['home', 'repo']);
    expect(existsSync(join(clone, '..', 'shared'))).toBe(false);

    const env = [`HOME=${home}`, `PATH=${systemPath()}`, 'LANG=C.UTF-8', `CI=${process.env.CI ?? ''}`];
    const command = 'npm test -- --project unit scripts/self-contained.test.ts packages/testing/src/system-packages.test.ts';
    const shell = ['env', '-i', ...env, 'bash', '-c', `cd "${clone}" && ${command}`];
    const r = user ? await run('runuser', ['-u', user.name, '--', ...shell]) : await run(shell[0]!, shell.slice(1));

    const pinnedMajor = readFileSync(join(ROOT, '.node-version'), 'utf8').split('.')[0];
    expect(r.output.match(/==> node v(\d+)\./)?.[1], r.output).toBe(pinnedMajor);
    expect(r.output).not.toMatch(/Permission denied/);
    expect(r.output, r.output).toMatch(/^6 passed, 0 failed, 0 skipped$/m);
    expect(r.code).toBe(0);
  }, 900_000);
});
