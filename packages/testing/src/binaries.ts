import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Finds a server binary on PATH or in the places Debian installs it. Returns undefined when absent;
 * callers turn that into the exact install command (the test script installs it when run as root).
 */
export function findBinary(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', ...extraDirs];
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

/** Debian keeps PostgreSQL's server binaries in /usr/lib/postgresql/<major>/bin, off PATH. */
export function postgresBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

export class MissingBinaryError extends Error {
  override name = 'MissingBinaryError';
  constructor(binary: string, debianPackage: string) {
    super(
      `${binary} was not found. Install it with:\n  sudo apt-get update && sudo apt-get install -y ${debianPackage}\n` +
        `(or run the tests as root, which installs it, or point the tests at a server you own)`,
    );
  }
}
