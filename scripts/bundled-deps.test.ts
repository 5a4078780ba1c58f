/**
 * Each app's build (tsup.app.ts) bundles our workspace packages from their sources and leaves every
 * npm package external, so the deployed app (`pnpm deploy`, the Docker image) has only the npm
 * packages its own package.json declares. This test bundles each app's src/main.ts the same way
 * (esbuild, the `@coldcopy/source` condition, write nothing) and fails when an npm package that
 * the bundle imports, from the app or from a workspace package it bundles, is not among the app's
 * `dependencies`, naming the importing file.
 */
import { builtinModules, createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appDirs, ROOT } from './deploy/apps.js';

interface EsbuildPlugin {
  name: string;
  setup(build: {
    onResolve(o: { filter: RegExp }, cb: (args: { path: string; importer: string }) => { external: true; path: string } | undefined): void;
  }): void;
}
/** esbuild as tsup (a root devDependency) brings it */
const esbuild = createRequire(createRequire(join(ROOT, 'package.json')).resolve('tsup'))('esbuild') as {
  build(options: Record<string, unknown> & { plugins: EsbuildPlugin[] }): Promise<unknown>;
};

const BUILTIN = new Set(builtinModules);

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name` */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The npm packages the app's bundle imports, each with the files (relative to the repo) that import it. */
async function bundledImports(appDir: string): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  await esbuild.build({
    entryPoints: [join(appDir, 'src/main.ts')],
    absWorkingDir: appDir,
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    conditions: ['@coldcopy/source'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'record-externals',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith('@coldcopy/')) return undefined; // bundled: esbuild follows it
            if (args.path.startsWith('node:') || BUILTIN.has(args.path) || BUILTIN.has(args.path.split('/')[0]!)) return { external: true, path: args.path };
            const name = packageName(args.path);
            const importers = found.get(name) ?? new Set<string>();
            importers.add(relative(ROOT, args.importer));
            found.set(name, importers);
            return { external: true, path: args.path };
          });
        },
      },
    ],
  });
  return found;
}

/** Packages the bundle imports that `declared` lacks, with who imports them. */
function undeclared(imports: Map<string, Set<string>>, declared: ReadonlySet<string>): string[] {
  return [...imports]
    .filter(([name]) => !declared.has(name))
    .map(([name, importers]) => `${name} (imported by ${[...importers].sort().slice(0, 3).join(', ')})`)
    .sort();
}

const dependenciesOf = (appDir: string) =>
  new Set(Object.keys((JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}));

describe('apps declare the runtime dependencies of what they bundle', () => {
  const apps = appDirs();

  it.each(apps)(
    'apps/%s',
    async (name) => {
      const dir = join(ROOT, 'apps', name);
      const imports = await bundledImports(dir);
      expect(imports.size).toBeGreaterThan(0);
      expect(undeclared(imports, dependenciesOf(dir)), `add these to apps/${name}/package.json "dependencies" (catalog:)`).toEqual([]);
    },
    60_000,
  );

  it('reports a package a bundled workspace package imports and the app does not declare', async () => {
    const worker = apps.find((a) => JSON.parse(readFileSync(join(ROOT, 'apps', a, 'package.json'), 'utf8')).coldcopy?.kind === 'worker')!;
    const dir = join(ROOT, 'apps', worker);
    const declared = dependenciesOf(dir);
    declared.delete('ioredis');
    expect(undeclared(await bundledImports(dir), declared)).toEqual([expect.stringMatching(/^ioredis \(imported by .*packages\/queue-core\/src\//)]);
  }, 60_000);

  it('names packages by their package name', () => {
    expect(packageName('@aws-sdk/client-ses')).toBe('@aws-sdk/client-ses');
    expect(packageName('pg-query-stream/dist/x.js')).toBe('pg-query-stream');
    expect(packageName('zod/v4')).toBe('zod');
  });
});
