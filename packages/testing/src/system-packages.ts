import { execFileSync } from 'node:child_process';
import { findBinary } from './binaries.js';

/**
 * Finds a binary from a Debian package, installing the package when missing and running as root
 * (this machine and CI). Otherwise returns undefined with the command to run, so the test can
 * skip with a clear message instead of failing obscurely.
 */
export function ensureDebianBinary(binary: string, debianPackage: string): { path?: string; missing?: string } {
  const found = findBinary(binary);
  if (found) return { path: found };
  const install = `apt-get update && apt-get install -y --no-install-recommends ${debianPackage}`;
  if (process.getuid?.() !== 0) return { missing: `${binary} not found; install it with: sudo ${install}` };
  try {
    execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${install}`], { stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    return { missing: `installing ${debianPackage} failed: ${(err as Error).message}` };
  }
  const installed = findBinary(binary);
  return installed ? { path: installed } : { missing: `${debianPackage} installed but ${binary} is still not on PATH` };
}
