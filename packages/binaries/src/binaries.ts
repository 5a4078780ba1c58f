import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The directories of a PATH value, in order, empty entries dropped. */
export function pathDirs(path: string | undefined = process.env.PATH): string[] {
  return (path ?? '').split(delimiter).filter(Boolean);
}

/** The first `dirs/<name>` this process may execute, or undefined when none is. */
export function findExecutable(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Debian keeps PostgreSQL's binaries (server and versioned clients) in /usr/lib/postgresql/<major>/bin,
 * off PATH: those directories, newest major first; none where PostgreSQL is not installed that way.
 */
export function postgresBinDirs(root = '/usr/lib/postgresql'): string[] {
  try {
    return readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `${root}/${v}/bin`);
  } catch {
    return [];
  }
}
