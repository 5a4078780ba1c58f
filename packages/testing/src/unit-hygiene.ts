/**
 * Setup file of the `unit` vitest project (vitest.config.ts): a unit test reads only files of the
 * repository (and the temporary files it makes) and never installs system packages. Reading a
 * file elsewhere (a folder beside the repo, /etc, a home directory) or running a package manager
 * throws `UnitHygieneError` in the test that did it. Integration tests, which start real servers
 * from the system's binaries, are not held to this.
 *
 * What is checked: the content reads of node:fs (readFile, readFileSync, promises.readFile, open,
 * openSync, promises.open, createReadStream) and the commands of node:child_process (spawn,
 * spawnSync, exec, execSync, execFile, execFileSync, fork). Existence checks (stat, access) and
 * directory listings stay allowed: looking a binary up on PATH is not reading it. /proc and /sys
 * are kernel interfaces, not files, and stay readable.
 */
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export class UnitHygieneError extends Error {
  override name = 'UnitHygieneError';
}

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const allowedRoots = [...new Set([ROOT, fs.realpathSync(ROOT), resolve(tmpdir()), fs.realpathSync(tmpdir())])];
const allowedFiles = new Set(['/dev/null', '/dev/urandom', '/dev/random']);
/** kernel interfaces, not files: the process's own statistics (prom-client's process metrics read /proc/self) */
const kernelRoots = ['/proc/', '/sys/'];

/** Package managers a unit test must never run (they install system software). */
export const INSTALLERS = new Set(['apt', 'apt-get', 'aptitude', 'dpkg', 'sudo', 'apk', 'yum', 'dnf', 'zypper', 'pacman', 'brew', 'snap']);

/** Whether a unit test may read `path` (relative paths resolve against the working directory). */
export function readAllowed(path: string): boolean {
  const full = resolve(path);
  if (allowedFiles.has(full) || kernelRoots.some((root) => full.startsWith(root))) return true;
  return allowedRoots.some((root) => full === root || full.startsWith(root + sep));
}

/** The package manager a command line would run, if any (`sudo apt-get …`, `/usr/bin/dpkg …`, `sh -c "apt install x"`). */
export function installerIn(command: string, args: readonly unknown[] = []): string | undefined {
  const words = [command, ...args.filter((a): a is string => typeof a === 'string')].flatMap((w) => w.split(/[\s;&|()'"]+/)).filter(Boolean);
  return words.map((w) => basename(w)).find((w) => INSTALLERS.has(w));
}

function pathOf(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (target instanceof URL) return target.protocol === 'file:' ? fileURLToPath(target) : undefined;
  if (Buffer.isBuffer(target)) return target.toString('utf8');
  return undefined; // a file descriptor or handle: opened (and checked) before
}

function checkRead(target: unknown): void {
  const path = pathOf(target);
  if (path !== undefined && !readAllowed(path)) {
    throw new UnitHygieneError(`a unit test read ${resolve(path)}, outside the repository: copy what it needs into the repo (with its licence and source)`);
  }
}

function checkCommand(command: unknown, args: unknown): void {
  if (typeof command !== 'string') return;
  const found = installerIn(command, Array.isArray(args) ? (args as unknown[]) : []);
  if (found) throw new UnitHygieneError(`a unit test ran ${found} (\`${command}\`): unit tests never install system packages`);
}

type AnyFn = (...args: never[]) => unknown;

function wrap<T extends object, K extends keyof T>(target: T, key: K, check: (args: unknown[]) => void, async = false): void {
  const original = target[key] as unknown as AnyFn;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    try {
      check(args);
    } catch (err) {
      if (async) return Promise.reject(err as Error);
      throw err;
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  Object.defineProperty(wrapped, 'name', { value: original.name });
  target[key] = wrapped as unknown as T[K];
}

let installed = false;

/** Installs the checks in this process (idempotent). */
export function installUnitHygiene(): void {
  if (installed) return;
  installed = true;
  for (const key of ['readFile', 'readFileSync', 'open', 'openSync', 'createReadStream'] as const) wrap(fs, key, (a) => checkRead(a[0]));
  for (const key of ['readFile', 'open'] as const) wrap(fs.promises, key, (a) => checkRead(a[0]), true);
  for (const key of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'] as const)
    wrap(childProcess, key, (a) => checkCommand(a[0], a[1]));
  syncBuiltinESMExports();
}

installUnitHygiene();
