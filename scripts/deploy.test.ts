/**
 * The deployment files: generated output equals the committed files, docker-compose.yml and
 * app.yaml pass the vendored JSON Schemas (ajv, scripts/deploy/schemas/), scripts pass shellcheck, the systemd units pass
 * `systemd-analyze verify` where it works, and every app appears everywhere consistently. A second
 * group proves the checks bite by removing a worker from each file and adding an app the files do
 * not know yet.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ajv, ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { describeEnvSchema, workerAppEnv } from '../packages/queue-core/src/config/env.js';
import { requireDebianBinary } from '../packages/testing/src/system-packages.js';
import { type AppInfo, discoverApps, ROOT, workerInfo } from './deploy/apps.js';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { QUEUE_SIZING } from './deploy/apps.js';
import { checkAppSpec, checkCompose, checkDockerfile, checkKubernetes, checkUnits } from './deploy/check.js';
import { K8S_DIR, loadScalingRules, renderScaledObject, ruleOf, waitList } from './deploy/kubernetes.js';
import { apply, generate, orphans, stale } from './gen-deploy.js';
import { deploySchemas, readYaml, unitsOf } from './deploy/validate.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** a vendored schema (scripts/deploy/schemas/, with its licence) */
const readSchema = (rel: string) => JSON.parse(read(`scripts/deploy/schemas/${rel}`)) as Record<string, unknown>;

let apps: AppInfo[];
let validateCompose: ValidateFunction;
let validateAppSpec: ValidateFunction;
let ajv: Ajv;

beforeAll(async () => {
  apps = await discoverApps();
  // the vendored Compose and App Platform schemas (their licences: scripts/deploy/schemas/README.md)
  ({ ajv, validateCompose, validateAppSpec } = deploySchemas());
}, 60_000);

describe('deployment files', () => {
  it('discovers every app in apps/ with a manifest, workers and the dashboard', () => {
    const dirs = readdirSync(join(ROOT, 'apps')).filter((d) => existsSync(join(ROOT, 'apps', d, 'src/main.ts')));
    expect(apps.map((a) => a.name).sort()).toEqual(dirs.sort());
    expect(apps.some((a) => a.kind === 'web')).toBe(true);
  });

  it('are up to date with the manifests and env schemas (`pnpm gen:deploy`)', () => {
    const files = generate(apps);
    expect(stale(files), 'run `pnpm gen:deploy` and commit the result').toEqual([]);
  });

  it('docker-compose.yml passes the Compose Specification schema', () => {
    const doc = readYaml(read('docker-compose.yml'));
    const ok = validateCompose(doc);
    expect(ok, ajv.errorsText(validateCompose.errors)).toBe(true);
  });

  it('app.yaml passes the strict DigitalOcean app spec schema', () => {
    const doc = readYaml(read('app.yaml'));
    const ok = validateAppSpec(doc);
    expect(ok, ajv.errorsText(validateAppSpec.errors)).toBe(true);
  });

  it('every app appears in compose, app.yaml and the droplet units consistently', () => {
    const errors = [
      ...checkCompose(apps, readYaml(read('docker-compose.yml'))),
      ...checkAppSpec(apps, readYaml(read('app.yaml'))),
      ...checkUnits(apps, unitsOf(read('scripts/worker-setup.sh'))),
      ...checkDockerfile(apps, read('Dockerfile.worker'), read('.dockerignore'), ROOT),
    ];
    expect(errors).toEqual([]);
  });

  it('every runtime variable reaches compose, .env.example and the README, including the ones hand-written files missed', () => {
    const email = apps.find((a) => a.queue === 'email')!;
    const compose = read('docker-compose.yml');
    const example = read(`apps/${email.name}/.env.example`);
    const readme = read('README.md');
    for (const name of [
      'EMAIL_SHARDS',
      'AI_SHARDS',
      'BULL_CLUSTER',
      'DATABASE_STATEMENT_TIMEOUT_MS',
      'UNKNOWN_OUTCOME_POLICY',
      'SES_QUOTA_RETRY_MS',
      'UNKNOWN_EVENT_WINDOW_MS',
      'SES_THROTTLE_RETRY_MS',
    ]) {
      expect(compose, name).toContain(`      ${name}: `);
      expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
      expect(readme, name).toContain(`| \`${name}\` |`);
    }
    // every variable of every app carries a description (describeEnvSchema refuses a blank one)
    for (const app of apps) for (const v of app.env) expect(v.description, `${app.name} ${v.name}`).not.toBe('');
  });

  it('.env.example documents every variable compose reads from .env', () => {
    const compose = read('docker-compose.yml');
    const example = new Set(
      read('.env.example')
        .split('\n')
        .filter((l) => /^[A-Z]/.test(l))
        .map((l) => l.split('=')[0]),
    );
    const used = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
    expect([...used].filter((n) => !example.has(n))).toEqual([]);
  });

  it('scripts pass shellcheck', (ctx) => {
    const shellcheck = requireDebianBinary('shellcheck', 'shellcheck');
    if (!shellcheck.path) return ctx.skip(shellcheck.missing);
    const scripts = ['scripts/worker-setup.sh', 'scripts/dev.sh', 'scripts/test.sh', 'scripts/with-node.sh', '.ci/run'].filter((s) =>
      existsSync(join(ROOT, s)),
    );
    const r = spawnSync(shellcheck.path, ['-x', '-P', 'scripts', ...scripts], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000); // shellcheck takes 16 s of wall time at load 38

  it('the systemd units pass `systemd-analyze verify`', (ctx) => {
    const analyze = requireDebianBinary('systemd-analyze', 'systemd');
    if (!analyze.path) return ctx.skip(analyze.missing);
    const dir = mkdtempSync(join(tmpdir(), 'coldcopy-verify-'));
    try {
      const units = unitsOf(read('scripts/worker-setup.sh'));
      for (const [file, text] of units) writeFileSync(join(dir, file), text);
      const r = spawnSync(analyze.path, ['verify', '--man=no', ...[...units.keys()].map((f) => join(dir, f))], { encoding: 'utf8' });
      // Only complaints about the units themselves count: the build host has no coldcopy user
      // and no /opt/coldcopy, which the droplet has.
      const complaints = (r.stderr + r.stdout)
        .split('\n')
        .filter(
          (l) =>
            l.trim() &&
            l.includes('coldcopy-') &&
            !/WorkingDirectory|Failed to resolve user|user.*coldcopy|No such file or directory|Failed to prepare filename/.test(l),
        );
      expect(complaints).toEqual([]);
      // and it does complain about a broken unit
      const [first] = units.keys();
      writeFileSync(join(dir, first!), units.get(first!)!.replace('Restart=on-failure', 'Restart=sometimes'));
      const bad = spawnSync(analyze.path, ['verify', '--man=no', join(dir, first!)], { encoding: 'utf8' });
      expect(bad.stderr + bad.stdout).toContain('restart specifier');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the consistency checks bite', () => {
  const worker = () => apps.find((a) => a.kind === 'worker') ?? apps[0]!;

  it('a worker removed from docker-compose.yml is reported', () => {
    const doc = readYaml(read('docker-compose.yml')) as { services: Record<string, unknown> };
    delete doc.services[worker().name];
    expect(checkCompose(apps, doc).join('\n')).toContain(`services.${worker().name}: missing`);
  });

  it('a worker removed from app.yaml is reported', () => {
    const doc = readYaml(read('app.yaml')) as { workers?: { name: string }[]; services?: { name: string }[] };
    doc.workers = doc.workers?.filter((w) => w.name !== worker().name);
    doc.services = doc.services?.filter((w) => w.name !== worker().name);
    expect(checkAppSpec(apps, doc).join('\n')).toMatch(new RegExp(`\\[${worker().name}\\]: missing`));
  });

  it('a worker removed from the droplet script is reported', () => {
    const units = unitsOf(read('scripts/worker-setup.sh'));
    units.delete(`coldcopy-${worker().name}.service`);
    expect(checkUnits(apps, units).join('\n')).toContain(`coldcopy-${worker().name}.service: missing`);
  });

  it('a new app the files do not know is reported in every file, and the generated files change', () => {
    // the next worker app, as discovery would describe it
    const next = workerInfo({
      name: 'next-worker',
      packageName: '@coldcopy/next-worker',
      dir: join(ROOT, 'apps/next-worker'),
      queue: 'enrichment',
      start: ['node', 'dist/main.js'],
      env: describeEnvSchema(workerAppEnv('enrichment')),
    });
    const all = [...apps, next];
    const msgs = [
      ...checkCompose(all, readYaml(read('docker-compose.yml'))),
      ...checkAppSpec(all, readYaml(read('app.yaml'))),
      ...checkUnits(all, unitsOf(read('scripts/worker-setup.sh'))),
    ].join('\n');
    expect(msgs).toContain('docker-compose.yml services.next-worker: missing');
    expect(msgs).toMatch(/app\.yaml (workers|services)\[next-worker\]: missing/);
    expect(msgs).toContain('coldcopy-next-worker.service: missing');
    expect(stale(generate(all))).toEqual(expect.arrayContaining(['docker-compose.yml', 'app.yaml', 'scripts/worker-setup.sh', 'README.md']));
    // and once generated, the new app is consistent everywhere
    const files = generate(all);
    expect([
      ...checkCompose(all, readYaml(files.get('docker-compose.yml')!)),
      ...checkAppSpec(all, readYaml(files.get('app.yaml')!)),
      ...checkUnits(all, unitsOf(files.get('scripts/worker-setup.sh')!)),
    ]).toEqual([]);
    expect(validateCompose(readYaml(files.get('docker-compose.yml')!)), ajv.errorsText(validateCompose.errors)).toBe(true);
    expect(validateAppSpec(readYaml(files.get('app.yaml')!)), ajv.errorsText(validateAppSpec.errors)).toBe(true);
  });

  it('an env variable the schema does not declare, a short grace or a wrapper CMD is reported', () => {
    const app = apps[0]!;
    const doc = readYaml(read('docker-compose.yml')) as { services: Record<string, { environment: Record<string, string>; stop_grace_period: string }> };
    doc.services[app.name]!.environment.WORKER_TYPE = 'email';
    doc.services[app.name]!.stop_grace_period = '10s';
    const msgs = checkCompose(apps, doc).join('\n');
    expect(msgs).toContain('sets WORKER_TYPE');
    expect(msgs).toContain('stop_grace_period 10s');
    const dockerfile = read('Dockerfile.worker')
      .replace(/^CMD .*$/gm, 'CMD ["pnpm", "start"]')
      .replace('COPY package.json', 'COPY package.json missing.txt');
    const df = checkDockerfile(apps, dockerfile, read('.dockerignore'), ROOT).join('\n');
    expect(df).toContain('CMD must be exec form ["node"');
    expect(df).toContain('COPY missing.txt: no such path');
  });
});

/**
 * KEDA's CRD schemas (scripts/deploy/schemas/keda/, KEDA v2.20.1, Apache-2.0) closed the way the
 * strict DO bundle is: an object schema with `properties` rejects other keys (the API server would
 * silently prune them, so a typo would be lost), except where KEDA keeps unknown fields.
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  return out;
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  let validateScaledObject: ValidateFunction;
  let validateTriggerAuth: ValidateFunction;
  const parseAll = (text: string) => YAML.parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
  const k8sFiles = (files: Map<string, string>) =>
    new Map([...files].filter(([p]) => p.startsWith(`${K8S_DIR}/`)).map(([p, text]) => [p.slice(K8S_DIR.length + 1), parseAll(text)]));
  const rules = () => loadScalingRules();
  const expected = (app: AppInfo) => {
    const rule = ruleOf(app, rules());
    return {
      cpu: QUEUE_SIZING[app.queue!].cpu,
      memory: app.memory.replace(/g$/, 'Gi').replace(/m$/, 'Mi'),
      min: rule.min,
      max: rule.max,
      listLength: String(rule.scaleUpBacklog),
      lists: Array.from({ length: rule.shards }, (_, i) => waitList(app.queue!, i)),
    };
  };
  /** every document of a Kubernetes file against its schema; error texts, empty when valid */
  const schemaErrors = (docs: readonly Record<string, unknown>[]): string[] =>
    docs.flatMap((doc) => {
      if (doc.kind === 'Deployment') {
        try {
          new Deployment(doc).validate();
          return [];
        } catch (err) {
          return [`Deployment: ${(err as Error).message}`];
        }
      }
      const validate = doc.kind === 'ScaledObject' ? validateScaledObject : doc.kind === 'TriggerAuthentication' ? validateTriggerAuth : undefined;
      if (doc.kind === 'Kustomization') return [];
      if (!validate) return [`unexpected kind ${String(doc.kind)}`];
      const kind = String(doc.kind);
      if (doc.apiVersion !== 'keda.sh/v1alpha1') return [`${kind}: apiVersion must be keda.sh/v1alpha1`];
      return validate(doc) ? [] : [`${kind}: ${ajv.errorsText(validate.errors)}`];
    });

  beforeAll(() => {
    validateScaledObject = ajv.compile(closed(readSchema('keda/scaledobject.schema.json')) as object);
    validateTriggerAuth = ajv.compile(closed(readSchema('keda/triggerauthentication.schema.json')) as object);
  });

  it('one file per worker app with its Deployment and ScaledObject, the trigger authentication and a kustomization listing them', () => {
    const files = k8sFiles(generate(apps));
    const workers = apps.filter((a) => a.kind === 'worker').map((a) => `${a.name}.yaml`);
    expect([...files.keys()].sort()).toEqual([...workers, 'keda-trigger-auth.yaml', 'kustomization.yaml'].sort());
    expect(files.get('kustomization.yaml')![0]!.resources).toEqual(['keda-trigger-auth.yaml', ...workers]);
    for (const w of workers) expect(files.get(w)!.map((d) => d.kind)).toEqual(['Deployment', 'ScaledObject']);
  });

  it("validate against the Kubernetes Deployment schema and KEDA's ScaledObject and TriggerAuthentication CRD schemas", () => {
    for (const [file, docs] of k8sFiles(generate(apps))) expect(schemaErrors(docs), file).toEqual([]);
  });

  it("agree with the apps: start command, env, probes, pod grace above the app's, the seed's sizes, the scaler's thresholds, every shard", () => {
    const files = new Map(readdirSync(join(ROOT, K8S_DIR)).map((f) => [f, parseAll(read(`${K8S_DIR}/${f}`))] as const));
    expect(checkKubernetes(apps, files, expected)).toEqual([]);
    // the seed's email rule through scaling.json: 2–10 replicas, 1,000 jobs per replica
    const email = apps.find((a) => a.queue === 'email');
    if (email) expect(expected(email)).toMatchObject({ min: 2, max: 10, listLength: '1000', cpu: '2', memory: '2Gi' });
  });

  it('with several shards, one trigger per shard wait list, summed, and still valid', () => {
    const worker = apps.find((a) => a.kind === 'worker')!;
    const so = renderScaledObject(worker, { ...ruleOf(worker, rules()), shards: 3 }, 30);
    expect(so.spec.triggers.map((t) => t.metadata.listName)).toEqual([0, 1, 2].map((i) => waitList(worker.queue!, i)));
    expect(so.spec.advanced.scalingModifiers).toEqual({ formula: 'shard0 + shard1 + shard2', target: '1000', metricType: 'AverageValue' });
    expect(schemaErrors([so as unknown as Record<string, unknown>])).toEqual([]);
  });

  it('the checks bite: a bad field, a typo, a missing probe, a short grace, a missing shard', () => {
    const worker = apps.find((a) => a.kind === 'worker')!;
    const docs = k8sFiles(generate(apps)).get(`${worker.name}.yaml`)!;
    const copy = () => structuredClone(docs) as [Record<string, any>, Record<string, any>];
    const [d1, s1] = copy();
    d1.spec.replicas = 'two';
    s1.spec.minReplicas = 1; // typo of minReplicaCount
    const errors = schemaErrors([d1, s1]).join('\n');
    expect(errors).toContain('replicas must be integer');
    expect(errors).toContain('must NOT have additional properties');
    const [d2, s2] = copy();
    delete d2.spec.template.spec.containers[0].readinessProbe;
    d2.spec.template.spec.terminationGracePeriodSeconds = 5;
    s2.spec.triggers = [];
    const msgs = checkKubernetes(apps, new Map([...k8sFiles(generate(apps))].map(([f, d]) => [f, f === `${worker.name}.yaml` ? [d2, s2] : d])), expected).join(
      '\n',
    );
    expect(msgs).toContain('readinessProbe must GET /readyz');
    expect(msgs).toContain('terminationGracePeriodSeconds must be');
    expect(msgs).toContain("expected every shard's wait list");
  });

  it('removing an app folder removes its manifest and its kustomization entry', () => {
    const gone = apps.find((a) => a.kind === 'worker')!;
    const rest = apps.filter((a) => a !== gone);
    const tmp = mkdtempSync(join(tmpdir(), 'coldcopy-k8s-'));
    try {
      // the committed state in a scratch root
      apply(generate(apps), tmp);
      expect(existsSync(join(tmp, K8S_DIR, `${gone.name}.yaml`))).toBe(true);
      // the app's folder is gone: what the generator would now write
      const files = generate(rest);
      expect(orphans(files, tmp)).toEqual([`${K8S_DIR}/${gone.name}.yaml`]);
      expect(stale(files, tmp)).toContain(`${K8S_DIR}/${gone.name}.yaml`);
      const { removed } = apply(files, tmp);
      expect(removed).toEqual([`${K8S_DIR}/${gone.name}.yaml`]);
      expect(existsSync(join(tmp, K8S_DIR, `${gone.name}.yaml`))).toBe(false);
      expect(readFileSync(join(tmp, K8S_DIR, 'kustomization.yaml'), 'utf8')).not.toContain(gone.name);
      expect(stale(files, tmp)).toEqual([]);
      expect(checkKubernetes(rest, k8sFiles(files), expected)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
