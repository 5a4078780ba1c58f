/**
 * README "Add a worker": a new worker app is one folder. The repository is copied to a temporary
 * folder (sources only; node_modules linked, as pnpm would), the minimal worker app of
 * test/fixtures/minimal-worker (one handler for the catalog's cache-warming job) is added as
 * apps/minimal-worker, and then, with no edit outside that folder:
 *   - `pnpm gen:deploy` (scripts/gen-deploy.ts) writes valid compose, app.yaml, .env.example files,
 *     droplet units, Kubernetes manifests and README tables that contain it, consistently;
 *   - `npm run dev -- --plan` (scripts/dev.ts) starts it with a health port;
 *   - the worker harness of @coldcopy/testing runs it against the test's Redis: a job completes,
 *     kill -9 during a job and a restart, the job completes;
 * and removing the folder and generating again gives back the original files byte for byte.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cacheWarming } from '../packages/queue-core/src/jobs/maintenance.jobs.js';
import { WorkerAppHarness } from '../packages/testing/src/worker-app.js';
import { discoverApps, ROOT } from '../scripts/deploy/apps.js';
import { checkAppSpec, checkCompose, checkUnits } from '../scripts/deploy/check.js';
import { deploySchemas, readYaml, unitsOf } from '../scripts/deploy/validate.js';

const APP = 'minimal-worker';
const FIXTURE = join(ROOT, 'test/fixtures', APP);
/** not needed to generate or run: history, local data and tools, build output, the big root node_modules (linked) */
const SKIP = new Set(['.git', '.data', '.tools', 'dist', 'coverage', '.next', '.turbo']);

let copy: string;
const read = (path: string) => readFileSync(join(copy, path), 'utf8');

/** Every file of the copy outside node_modules, by path: what the generator may have written. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(join(copy, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.name === 'node_modules') continue;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) out.set(rel, readFileSync(join(copy, rel), 'utf8'));
    }
  };
  walk('');
  return out;
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: copy,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, DEV_HEALTH_PORT_BASE: '9464' },
  });
  expect(r.status, `${args.join(' ')}\n${r.stderr}\n${r.stdout}`).toBe(0);
  return r.stdout;
}

/**
 * The app's node_modules as `pnpm install` would link it: workspace packages to packages/<name>,
 * npm packages to the same store entry another workspace folder already links (no registry, no install).
 */
function linkDependencies(appDir: string): void {
  const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const folders = ['apps', 'packages'].flatMap((d) => {
    const base = join(ROOT, d);
    return existsSync(base)
      ? spawnSync('ls', [base], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean)
          .map((n) => join(base, n))
      : [];
  });
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
    const link = join(appDir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    if (name.startsWith('@coldcopy/')) {
      symlinkSync(relative(dirname(link), join(copy, 'packages', name.slice('@coldcopy/'.length))), link);
      continue;
    }
    const source = folders.map((f) => join(f, 'node_modules', name)).find((p) => existsSync(p));
    if (!source) throw new Error(`no workspace folder links ${name}: add it to the catalog and run pnpm install in the repository`);
    // same depth (<folder>/node_modules/<name>), so the relative target points into the copy's store link
    symlinkSync(readlinkSync(source), link);
  }
}

describe('adding a worker is one folder', () => {
  let original: Map<string, string>;

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'coldcopy-add-a-worker-'));
    cpSync(ROOT, copy, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => {
        const rel = relative(ROOT, src);
        const parts = rel.split('/');
        if (rel === 'node_modules') return false;
        return !parts.some((p) => SKIP.has(p)) && !(parts[0] === 'apps' && parts[1] === APP);
      },
    });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    original = snapshot();
    cpSync(FIXTURE, join(copy, 'apps', APP), { recursive: true });
    linkDependencies(join(copy, 'apps', APP));
  }, 120_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('the generator puts it in compose, app.yaml, .env.example, the droplet units and the README, valid and consistent', async () => {
    expect(run(['scripts/gen-deploy.ts'])).toContain(`${APP} (maintenance)`);
    const apps = await discoverApps(copy);
    const app = apps.find((a) => a.name === APP)!;
    expect(app).toMatchObject({ kind: 'worker', queue: 'maintenance' });

    const { ajv, validateCompose, validateAppSpec } = deploySchemas(copy);
    const compose = readYaml(read('docker-compose.yml')) as { services: Record<string, { environment?: Record<string, string> }> };
    expect(validateCompose(compose), ajv.errorsText(validateCompose.errors)).toBe(true);
    expect(compose.services[APP]?.environment).toHaveProperty('WARM_KEYS_PER_SCOPE');
    const spec = readYaml(read('app.yaml')) as { workers: { name: string }[] };
    expect(validateAppSpec(spec), ajv.errorsText(validateAppSpec.errors)).toBe(true);
    expect(spec.workers.map((w) => w.name)).toContain(APP);
    const units = unitsOf(read('scripts/worker-setup.sh'));
    expect([...units.keys()]).toContain(`coldcopy-${APP}.service`);
    expect([...checkCompose(apps, compose), ...checkAppSpec(apps, spec), ...checkUnits(apps, units)]).toEqual([]);

    expect(read(`apps/${APP}/.env.example`)).toMatch(/^WARM_PAUSE_MS=/m);
    expect(read(`apps/${APP}/.env.example`)).toMatch(/^MAINTENANCE_CONCURRENCY=/m);
    expect(read('.env.example')).toContain('WARM_KEYS_PER_SCOPE');
    expect(read('README.md')).toContain('| `WARM_KEYS_PER_SCOPE` |');
    expect(read('README.md')).toContain(APP);
    // the one new file outside the folder is generated too: its Kubernetes manifest (listed in the kustomization)
    const added = [...snapshot().keys()].filter((f) => !original.has(f) && !f.startsWith(`apps/${APP}/`));
    expect(added).toEqual([`deploy/kubernetes/${APP}.yaml`]);
    expect(read('deploy/kubernetes/kustomization.yaml')).toContain(`${APP}.yaml`);
  }, 240_000);

  it('`npm run dev` would start it, with a health port and no dev service', () => {
    const plan = JSON.parse(run(['scripts/dev.ts', '--plan'])) as {
      apps: { name: string; kind: string; cwd: string; HEALTH_PORT?: number; readyPath: string }[];
    };
    const entry = plan.apps.find((a) => a.name === APP);
    expect(entry).toMatchObject({ kind: 'worker', cwd: join(copy, 'apps', APP), readyPath: '/readyz' });
    const ports = plan.apps.map((a) => a.HEALTH_PORT).filter((p) => p !== undefined);
    expect(new Set(ports).size).toBe(ports.length);
  }, 240_000);

  it('runs from its folder under the worker harness: a job completes; kill -9 mid-job, restart, it completes', async () => {
    const harness = new WorkerAppHarness({
      appDir: join(copy, 'apps', APP),
      redisUrl: inject('redisUrl'),
      // a killed worker's job is taken over once its lock expires
      env: { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', SHUTDOWN_GRACE_SECONDS: '5' },
    });
    try {
      await harness.start();
      const quick = await harness.enqueue(cacheWarming, { scopes: ['lead-scores'], limits: { maxKeysPerWorkspace: 7 } });
      expect(await harness.waitForJob(quick)).toMatchObject({ state: 'completed', returnValue: { warmed: { 'lead-scores': 7 }, attempt: 1 } });

      await harness.kill();
      const held = await harness.start({ WARM_PAUSE_MS: '600000' }); // holds each job in its handler
      const job = await harness.enqueue(cacheWarming, {});
      await harness.waitForActive(job);
      const exit = await harness.kill(held);
      expect(exit.signal).toBe('SIGKILL');
      expect(await harness.jobState(job)).toBe('active'); // nobody finished it

      await harness.start(); // WARM_PAUSE_MS back to 0
      const outcome = await harness.waitForJob(job);
      expect(outcome).toMatchObject({
        state: 'completed',
        returnValue: { warmed: { 'campaign-performance': 100, 'lead-scores': 100, 'workspace-analytics': 100 } },
      });
    } finally {
      await harness.close();
    }
  }, 300_000);

  it('removing the folder removes it everywhere: the generated files are the original ones again', async () => {
    rmSync(join(copy, 'apps', APP), { recursive: true, force: true });
    run(['scripts/gen-deploy.ts']);
    const after = snapshot();
    expect([...after.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [f, text] of original) expect(after.get(f), f).toBe(text);
    expect((await discoverApps(copy)).map((a) => a.name)).not.toContain(APP);
    const plan = JSON.parse(run(['scripts/dev.ts', '--plan'])) as { apps: { name: string }[] };
    expect(plan.apps.map((a) => a.name)).not.toContain(APP);
  }, 240_000);
});
