/**
 * The web package must stay light: a Next.js app that depends on it gets no worker SDK, logger or
 * metrics library. Two checks: the installed dependency tree (every package reachable through
 * `dependencies`, `optionalDependencies` and required peers, as resolved in node_modules), and the
 * modules a process actually loads when it imports `@coldcopy/web`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
const FORBIDDEN = /^(@aws-sdk\/.*|@smithy\/.*|nodemailer|mailparser|winston|prom-client|pg|express|@bull-board\/.*|openai|@anthropic-ai\/.*)$/;

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Node's lookup: `node_modules/<name>` in the package's (real) folder, then in each parent. */
function installedDir(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** name@version of every package reachable from `root` in the installed tree. */
function resolvedTree(root: string): { packages: Map<string, string>; unresolved: string[] } {
  const packages = new Map<string, string>(); // real dir -> name@version
  const unresolved: string[] = [];
  const visit = (dir: string) => {
    if (packages.has(dir)) return;
    const manifest = readManifest(dir);
    packages.set(dir, `${manifest.name}@${manifest.version}`);
    const required = Object.keys({ ...manifest.dependencies });
    const optional = Object.keys({ ...manifest.optionalDependencies });
    for (const peer of Object.keys({ ...manifest.peerDependencies })) {
      if (manifest.peerDependenciesMeta?.[peer]?.optional)
        optional.push(peer); // the consumer's choice
      else required.push(peer);
    }
    for (const name of required) {
      const found = installedDir(name, dir);
      if (found) visit(found);
      else unresolved.push(`${name} (needed by ${manifest.name})`);
    }
    for (const name of optional) {
      if (manifest.peerDependencies?.[name] !== undefined) continue; // optional peers: not installed for us
      const found = installedDir(name, dir);
      if (found) visit(found);
    }
  };
  visit(realpathSync(root));
  return { packages, unresolved };
}

describe('@coldcopy/web dependency tree', () => {
  it('resolves completely and holds no worker SDK, logger, metrics, database or HTTP framework package', () => {
    const { packages, unresolved } = resolvedTree(WEB_DIR);
    expect(unresolved).toEqual([]);
    const names = [...packages.values()].map((p) => p.slice(0, p.lastIndexOf('@')));
    // sanity: the walk is real (the producer needs Bull, ioredis and zod)
    expect(names).toEqual(expect.arrayContaining(['@coldcopy/web', '@coldcopy/queue-core', 'bull', 'ioredis', 'zod']));
    expect(names.filter((n) => FORBIDDEN.test(n))).toEqual([]);
  });

  it('the walk does find forbidden packages where they are (the email worker)', () => {
    const worker = fileURLToPath(new URL('../../../apps/email-worker', import.meta.url));
    expect(readManifest(worker).dependencies).toHaveProperty('@aws-sdk/client-ses');
    const here = realpathSync(WEB_DIR);
    expect(installedDir('@aws-sdk/client-ses', here)).toBeUndefined();
    expect(installedDir('@aws-sdk/client-ses', realpathSync(worker))).toBeDefined();
  });

  it('importing @coldcopy/web loads no worker code, SDK, logger or metrics library', () => {
    const script = fileURLToPath(new URL('../../testing/src/list-loaded-modules.ts', import.meta.url));
    const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', script, entry], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const loaded = JSON.parse(result.stdout) as string[];
    expect(loaded.some((m) => m.includes('/bull/'))).toBe(true); // sanity: the list is real
    expect(loaded.some((m) => m.includes('/web/src/ses-webhook.ts'))).toBe(true);
    const forbidden =
      /\/(winston|prom-client|express|pg|nodemailer|mailparser|@aws-sdk|@smithy|openai|@anthropic-ai|@bull-board)\/|\/apps\/|queue-core\/src\/(runtime|observability|dead-letters)\//;
    expect(loaded.filter((m) => forbidden.test(m))).toEqual([]);
  });
});
