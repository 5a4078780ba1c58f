/**
 * One Node.js version everywhere: .node-version is the pin; the test run, the version managers'
 * files, `engines`, the Docker image, the droplet script, docker-compose.yml, app.yaml, the
 * bundles' target and @types/node name the same major. Bumping Node is one line: edit
 * .node-version, then `pnpm gen:deploy` rewrites every file that repeats it
 * (scripts/deploy/node-version.ts); this test names every file that still disagrees. @types/node
 * is a dependency, bumped in the catalog like any other.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const PINNED = read('.node-version').trim();
const MAJOR = PINNED.split('.')[0]!;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

describe('Node.js version', () => {
  it('.node-version pins one exact release of an LTS (even) major', () => {
    expect(PINNED).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(MAJOR) % 2).toBe(0);
  });

  it('the tests run on the pinned major (the test script puts it first on PATH)', () => {
    // `npm test -- --node 26` runs the unit tests on Node 26 as well and says so here
    const expected = process.env.COLDCOPY_NODE_MAJOR || MAJOR;
    expect(
      process.versions.node,
      `running on Node.js ${process.versions.node}; use \`npm test\` (it fetches Node ${PINNED} into .tools/) or put Node ${MAJOR} first on PATH`,
    ).toMatch(new RegExp(`^${expected}\\.`));
  });

  it('version managers read the same version: .nvmrc (nvm, fnm), package.json volta', () => {
    expect(read('.nvmrc').trim()).toBe(PINNED);
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; volta: { node: string } };
    expect(pkg.volta.node).toBe(PINNED);
    // engines: at least some release of the pinned major, below the next one
    const range = /^>=(\d+)\.\d+\.\d+ <(\d+)$/.exec(pkg.engines.node);
    expect(range, `engines.node "${pkg.engines.node}"`).not.toBeNull();
    expect(range![1]).toBe(MAJOR);
    expect(Number(range![2])).toBe(Number(MAJOR) + 1);
  });

  it('Dockerfile.worker, scripts/worker-setup.sh, docker-compose.yml and app.yaml name the pinned major', () => {
    const mismatches: string[] = [];
    const dockerfile = /^ARG NODE_VERSION=(\S+)$/m.exec(read('Dockerfile.worker'))?.[1];
    if (dockerfile !== MAJOR) mismatches.push(`Dockerfile.worker: ARG NODE_VERSION=${String(dockerfile)}`);
    if (!/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS runtime$/m.test(read('Dockerfile.worker'))) {
      mismatches.push('Dockerfile.worker: the runtime stage is not node:${NODE_VERSION}-bookworm-slim');
    }
    const droplet = /^NODE_MAJOR="\$\{NODE_MAJOR:-(\d+)\}"$/m.exec(read('scripts/worker-setup.sh'))?.[1];
    if (droplet !== MAJOR) mismatches.push(`scripts/worker-setup.sh: NODE_MAJOR default ${String(droplet)}`);

    const compose = obj(YAML.parse(read('docker-compose.yml'), { merge: true }));
    let built = 0;
    for (const [name, svc] of Object.entries(obj(compose.services))) {
      const build = obj(obj(svc).build);
      if (Object.keys(build).length === 0) continue;
      built++;
      const arg = obj(build.args).NODE_VERSION;
      if (arg !== MAJOR) mismatches.push(`docker-compose.yml: ${name} build.args.NODE_VERSION=${String(arg)}`);
    }
    expect(built).toBeGreaterThan(0);

    const spec = obj(YAML.parse(read('app.yaml')));
    let components = 0;
    for (const kind of ['services', 'workers', 'jobs']) {
      for (const c of (spec[kind] as unknown[] | undefined) ?? []) {
        if (obj(c).dockerfile_path === undefined) continue;
        components++;
        const env = ((obj(c).envs as unknown[] | undefined) ?? []).map(obj).find((e) => e.key === 'NODE_VERSION');
        if (env?.value !== MAJOR || env.scope !== 'BUILD_TIME')
          mismatches.push(`app.yaml: ${String(obj(c).name)} NODE_VERSION=${String(env?.value)} (BUILD_TIME)`);
      }
    }
    expect(components).toBeGreaterThan(0);
    expect(mismatches, `Node ${MAJOR} is pinned in .node-version; run \`pnpm gen:deploy\` for the generated files`).toEqual([]);
  });

  it('the app bundles target the pinned major and @types/node matches it', () => {
    const apps = readdirSync(join(ROOT, 'apps')).filter((a) => existsSync(join(ROOT, 'apps', a, 'tsup.config.ts')));
    expect(apps.length).toBeGreaterThan(0);
    // every app builds with the shared tsup.app.ts, whose target is the major of .node-version
    expect(read('tsup.app.ts'), 'tsup.app.ts target').toMatch(/target: `node\$\{NODE_MAJOR\}`/);
    expect(read('tsup.app.ts')).toMatch(/readFileSync\(new URL\('\.\/\.node-version', import\.meta\.url\)/);
    for (const app of apps) {
      const config = read(`apps/${app}/tsup.config.ts`);
      expect(config, `apps/${app}/tsup.config.ts uses appBuild()`).toMatch(/export default appBuild\(/);
      expect(config, `apps/${app}/tsup.config.ts sets no target of its own`).not.toMatch(/target:/);
    }
    const types = /^\s*"@types\/node":\s*(\S+)$/m.exec(read('pnpm-workspace.yaml'))?.[1];
    expect(types?.split('.')[0], 'pnpm-workspace.yaml catalog @types/node').toBe(MAJOR);
  });
});

describe('bumping Node.js', () => {
  it('is one line in .node-version: the generator rewrites every file that repeats it', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { nodeVersionFiles, readNodePin, withSetupNodeMajor } = await import('./deploy/node-version.js');
    const dir = mkdtempSync(join(tmpdir(), 'coldcopy-node-bump-'));
    try {
      for (const f of ['package.json', 'Dockerfile.worker']) writeFileSync(join(dir, f), read(f));
      writeFileSync(join(dir, '.node-version'), '26.1.0\n');
      mkdirSync(join(dir, 'scripts'));
      const pin = readNodePin(dir);
      expect(pin).toEqual({ version: '26.1.0', major: '26' });
      const files = nodeVersionFiles(dir, pin);
      expect(files.get('.nvmrc')).toBe('26.1.0\n');
      const pkg = JSON.parse(files.get('package.json')!) as { engines: { node: string }; volta: { node: string } };
      expect(pkg.volta.node).toBe('26.1.0');
      expect(pkg.engines.node).toBe('>=26.0.0 <27');
      // nothing else in package.json changes: two lines differ, the rest is byte for byte the same
      const before = read('package.json').split('\n');
      const after = files.get('package.json')!.split('\n');
      expect(after.length).toBe(before.length);
      expect(after.filter((line, i) => line !== before[i])).toEqual([expect.stringContaining('>=26.0.0 <27'), expect.stringContaining('"26.1.0"')]);
      expect(files.get('Dockerfile.worker')).toMatch(/^ARG NODE_VERSION=26$/m);
      expect(withSetupNodeMajor(read('scripts/worker-setup.sh'), pin)).toMatch(/^NODE_MAJOR="\$\{NODE_MAJOR:-26\}"$/m);
      writeFileSync(join(dir, '.node-version'), '26\n');
      expect(() => readNodePin(dir)).toThrow(/one exact release/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('package scripts', () => {
  it('every script that runs code in an app or package goes through scripts/with-node.sh (the pinned Node, the source condition); `start` runs the built bundle in the image', () => {
    const offenders: string[] = [];
    for (const group of ['apps', 'packages']) {
      for (const name of readdirSync(join(ROOT, group))) {
        const path = join(group, name, 'package.json');
        if (!existsSync(join(ROOT, path))) continue;
        const scripts = (JSON.parse(read(path)) as { scripts?: Record<string, string> }).scripts ?? {};
        for (const [script, command] of Object.entries(scripts)) {
          if (script !== 'start' && /^(tsx|node|vitest)\b/.test(command)) offenders.push(`${path} "${script}": ${command}`);
        }
      }
    }
    expect(offenders, 'prefix them with `bash ../../scripts/with-node.sh`').toEqual([]);
  });
});
