/**
 * The packages a web app consumes (@coldcopy/queue-core, @coldcopy/web) as it gets them: built to
 * ESM with declarations (tsup), exports pointing at dist/, and packed tarballs that carry dist/
 * and package.json only. Builds once for the file (the DTS step is slow on a shared machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../scripts/deploy/apps.js';

const PACKAGES = ['queue-core', 'web'] as const;
const BUILD_MS = 600_000;

type Exports = Record<string, string | Record<string, string>>;
const manifest = (pkg: string) =>
  JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { name: string; exports: Exports; files: string[] };

/** pnpm at the pinned version: the global one, or through npx as scripts/lib.sh does without it. */
function pnpm(): [string, string[]] {
  const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager.split('@')[1]!;
  const global = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  return global.status === 0 && global.stdout.trim() === pinned ? ['pnpm', []] : ['npx', ['--yes', `pnpm@${pinned}`]];
}

/** Builds queue-core, then web (tsup from each package's own devDependencies: no pnpm needed). */
function buildWebPackages(): void {
  for (const pkg of PACKAGES) {
    const dir = join(ROOT, 'packages', pkg);
    const r = spawnSync(join(dir, 'node_modules/.bin/tsup'), [], { cwd: dir, encoding: 'utf8', timeout: BUILD_MS });
    if (r.status !== 0) throw new Error(`tsup in packages/${pkg} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

describe('web-facing packages: build and pack', () => {
  let packDir: string;
  const tarballs = new Map<string, { files: string[]; manifest: Record<string, unknown> }>();

  beforeAll(() => {
    buildWebPackages();
    packDir = mkdtempSync(join(tmpdir(), 'coldcopy-pack-'));
    const [cmd, pre] = pnpm();
    for (const pkg of PACKAGES) {
      const r = spawnSync(cmd, [...pre, 'pack', '--pack-destination', packDir], { cwd: join(ROOT, 'packages', pkg), encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`pnpm pack in packages/${pkg} failed:\n${r.stdout}\n${r.stderr}`);
      const tgz = join(packDir, `coldcopy-${pkg}-0.1.0.tgz`);
      const files = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' }).stdout.trim().split('\n');
      const packed = JSON.parse(spawnSync('tar', ['xzf', tgz, '-O', 'package/package.json'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
      tarballs.set(pkg, { files, manifest: packed });
    }
  }, BUILD_MS * 2);

  afterAll(() => {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  });

  it('every export has ESM JavaScript and declarations in dist/, and its sources under the "@coldcopy/source" condition', () => {
    for (const pkg of PACKAGES) {
      const { exports } = manifest(pkg);
      for (const [subpath, target] of Object.entries(exports)) {
        if (typeof target === 'string') continue; // ./package.json
        expect(Object.keys(target), `${pkg} ${subpath}`).toEqual(['@coldcopy/source', 'types', 'default']);
        for (const file of Object.values(target)) expect(existsSync(join(ROOT, 'packages', pkg, file)), `${pkg} ${subpath} → ${file}`).toBe(true);
        expect(target.default).toMatch(/^\.\/dist\/.*\.js$/);
        expect(target.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
        expect(readFileSync(join(ROOT, 'packages', pkg, target.default!), 'utf8')).toMatch(/^(import|export) /m);
      }
    }
  });

  it('the tarballs carry dist/ and package.json only; their exports name dist files that are inside, without the source condition or workspace specifiers', () => {
    for (const pkg of PACKAGES) {
      const { files, manifest: packed } = tarballs.get(pkg)!;
      expect(files.filter((f) => !/^package\/(dist\/[^/]+\.(js|js\.map|d\.ts)|package\.json)$/.test(f)), pkg).toEqual([]);
      expect(files.some((f) => /test|bench|tsconfig|\/src\//.test(f)), pkg).toBe(false);
      const text = JSON.stringify(packed);
      expect(text).not.toContain('@coldcopy/source');
      expect(text).not.toMatch(/"(workspace|catalog):/);
      for (const target of Object.values(packed.exports as Exports)) {
        for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
          expect(files, `${pkg}: ${file}`).toContain(`package/${file.replace(/^\.\//, '')}`);
        }
      }
    }
    const web = tarballs.get('web')!.manifest as { dependencies: Record<string, string> };
    expect(Object.keys(web.dependencies).sort()).toEqual(['@coldcopy/queue-core', 'zod']);
  });

  it('without the source condition, Node loads the built files (what a web app outside this workspace runs)', () => {
    const script = `
      const web = await import('@coldcopy/web');
      const urls = ['@coldcopy/web', '@coldcopy/queue-core', '@coldcopy/queue-core/producer'].map((s) => import.meta.resolve(s));
      console.log(JSON.stringify({ urls, helpers: [typeof web.jobErrorResponse, typeof web.producerFromEnv, typeof web.createSesWebhookHandler, web.sendEmail.name] }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(ROOT, 'packages/web'),
      env: { ...process.env, NODE_OPTIONS: '' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { urls: string[]; helpers: string[] };
    for (const url of out.urls) expect(url).toMatch(/\/packages\/(web|queue-core)\/dist\/[a-z]+\.js$/);
    expect(out.helpers).toEqual(['function', 'function', 'function', 'send-email']);
  });
});
