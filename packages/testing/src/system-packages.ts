import { findBinary } from './binaries.js';

/** True when the environment says it is a CI run (`CI=true`, as CI services and .ci/run set it). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return !!ci && ci !== 'false' && ci !== '0';
}

/**
 * A binary from one of the Debian packages the tests use (README, "Tests"; the test script
 * installs the missing ones before vitest starts, so no test installs anything). When it is
 * missing anyway (vitest run directly): in CI this throws, naming the package, so the run fails
 * instead of skipping; elsewhere it returns the reason for `ctx.skip(missing)`.
 */
export function requireDebianBinary(
  binary: string,
  debianPackage: string,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; missing?: undefined } | { path?: undefined; missing: string } {
  const found = findBinary(binary);
  if (found) return { path: found };
  const missing =
    `${binary} (Debian package ${debianPackage}) is not installed; \`npm test\` installs it when run as root, ` +
    `or: sudo apt-get update && sudo apt-get install -y ${debianPackage}`;
  if (isCi(env)) throw new Error(missing);
  return { missing };
}
