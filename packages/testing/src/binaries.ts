import { findExecutable, pathDirs, postgresBinDirs } from '@coldcopy/binaries';

export { postgresBinDirs };

/**
 * Finds a server binary on PATH or in the places Debian installs it. Returns undefined when absent;
 * callers turn that into the exact install command (the test script installs it when run as root).
 */
export function findBinary(name: string, extraDirs: readonly string[] = []): string | undefined {
  return findExecutable(name, [...pathDirs(), '/usr/sbin', '/usr/local/sbin', ...extraDirs]);
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
