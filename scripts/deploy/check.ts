/**
 * Consistency of the deployment files with the apps (scripts/deploy.test.ts): every app appears in
 * docker-compose.yml, app.yaml and the droplet units with the same start command, only variables
 * its env schema declares (and every one it requires), and a stop grace above its own shutdown
 * grace; Dockerfile.worker copies only paths that exist and runs `node` directly. Works on parsed
 * files so a test can feed it a file with a worker missing and see it complain.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AppInfo } from './apps.js';
import { mustSet } from './render.js';

/** The platform must wait at least this long beyond the app's own grace before killing it. */
export const MIN_MARGIN_SECONDS = 10;
const INFRA_SERVICES = new Set(['redis', 'postgres', 'migrate']);

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface DeployFiles {
  /** parsed docker-compose.yml (YAML merge keys resolved) */
  readonly compose: unknown;
  /** parsed app.yaml */
  readonly appSpec: unknown;
  /** unit file name → text, as scripts/worker-setup.sh writes them */
  readonly units: ReadonlyMap<string, string>;
  readonly dockerfile: string;
  readonly dockerignore: string;
}

function seconds(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(value.trim());
  if (!m || (!m[1] && !m[2])) return undefined;
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

function checkEnvNames(where: string, app: AppInfo, names: readonly string[], allowed: readonly string[] = []): string[] {
  const errors: string[] = [];
  const declared = new Set([...app.env.map((e) => e.name), ...allowed]);
  for (const n of names) {
    if (!declared.has(n)) errors.push(`${where}: sets ${n}, which apps/${app.name}/src/env.ts does not declare`);
  }
  for (const v of app.env) {
    if (mustSet(app, v) && !names.includes(v.name)) errors.push(`${where}: does not set ${v.name}, which ${app.name} needs`);
  }
  return errors;
}

export function checkCompose(apps: readonly AppInfo[], compose: unknown): string[] {
  const errors: string[] = [];
  const services = obj(obj(compose).services);
  const redis = obj(services.redis);
  const cmd = arr(redis.command).join(' ');
  if (!cmd.includes('--appendonly yes') || !cmd.includes('--maxmemory-policy noeviction')) {
    errors.push('docker-compose.yml: redis must run with --appendonly yes and --maxmemory-policy noeviction');
  }
  if (!obj(redis.healthcheck).test) errors.push('docker-compose.yml: redis has no healthcheck');
  const names = new Set(apps.map((a) => a.name));
  for (const name of Object.keys(services)) {
    if (!INFRA_SERVICES.has(name) && !names.has(name)) errors.push(`docker-compose.yml: service ${name} is not an app in apps/`);
  }
  for (const app of apps) {
    const where = `docker-compose.yml services.${app.name}`;
    const s = services[app.name];
    if (!s) {
      errors.push(`${where}: missing (run \`pnpm gen:deploy\`)`);
      continue;
    }
    const svc = obj(s);
    if (obj(obj(svc.build).args).APP !== app.name) errors.push(`${where}: build.args.APP must be ${app.name}`);
    if (obj(svc.build).dockerfile !== 'Dockerfile.worker') errors.push(`${where}: must build Dockerfile.worker`);
    if (JSON.stringify(svc.command) !== JSON.stringify(app.start)) {
      errors.push(`${where}: command ${JSON.stringify(svc.command)} differs from the app's start ${JSON.stringify(app.start)}`);
    }
    if (svc.init !== true) errors.push(`${where}: init: true is missing`);
    if (!svc.restart) errors.push(`${where}: no restart policy`);
    const grace = seconds(svc.stop_grace_period);
    if (grace === undefined || grace < app.appGraceSeconds + MIN_MARGIN_SECONDS) {
      errors.push(`${where}: stop_grace_period ${String(svc.stop_grace_period)} must be ≥ ${app.appGraceSeconds + MIN_MARGIN_SECONDS}s (app grace + margin)`);
    }
    const deps = obj(svc.depends_on);
    if (obj(deps.redis).condition !== 'service_healthy') errors.push(`${where}: depends_on redis with condition service_healthy is missing`);
    if (app.env.some((e) => e.name === 'DATABASE_URL') && obj(deps.postgres).condition !== 'service_healthy') {
      errors.push(`${where}: depends_on postgres with condition service_healthy is missing`);
    }
    if (app.env.some((e) => e.name === 'DATABASE_URL') && obj(deps.migrate).condition !== 'service_completed_successfully') {
      errors.push(`${where}: depends_on migrate with condition service_completed_successfully is missing`);
    }
    const deploy = obj(svc.deploy);
    if (deploy.replicas !== app.replicas) errors.push(`${where}: deploy.replicas ${String(deploy.replicas)} ≠ ${app.replicas}`);
    if (obj(obj(deploy.resources).limits).memory !== app.memory) errors.push(`${where}: memory limit must be ${app.memory}`);
    if (!obj(svc.healthcheck).test) errors.push(`${where}: no healthcheck`);
    const env = svc.environment;
    const keys = Array.isArray(env) ? env.map((e) => String(e).split('=')[0]!) : Object.keys(obj(env));
    errors.push(...checkEnvNames(where, app, keys));
  }
  return errors;
}

export function checkAppSpec(apps: readonly AppInfo[], spec: unknown): string[] {
  const errors: string[] = [];
  const root = obj(spec);
  const workers = arr(root.workers).map(obj);
  const services = arr(root.services).map(obj);
  const names = new Set(apps.map((a) => a.name));
  for (const c of [...workers, ...services]) {
    if (!names.has(String(c.name))) errors.push(`app.yaml: component ${String(c.name)} is not an app in apps/`);
  }
  const redisDb = arr(root.databases)
    .map(obj)
    .find((d) => d.engine === 'REDIS' || d.engine === 'VALKEY');
  if (!redisDb) errors.push('app.yaml: no managed Redis/Valkey database');
  for (const app of apps) {
    const list = app.kind === 'web' ? services : workers;
    const where = `app.yaml ${app.kind === 'web' ? 'services' : 'workers'}[${app.name}]`;
    const c = list.find((x) => x.name === app.name);
    if (!c) {
      errors.push(`${where}: missing (run \`pnpm gen:deploy\`)`);
      continue;
    }
    if (c.dockerfile_path !== 'Dockerfile.worker') errors.push(`${where}: dockerfile_path must be Dockerfile.worker`);
    if (c.run_command !== undefined) errors.push(`${where}: run_command overrides the image's CMD (node ${app.start.slice(1).join(' ')}); leave it out`);
    const envs = arr(c.envs).map(obj);
    const appArg = envs.find((e) => e.key === 'APP');
    if (appArg?.value !== app.name || appArg.scope !== 'BUILD_TIME') errors.push(`${where}: needs env APP=${app.name} with scope BUILD_TIME`);
    for (const e of envs) {
      const key = String(e.key);
      const value = typeof e.value === 'string' ? e.value : JSON.stringify(e.value ?? '');
      if (key !== 'APP' && key !== 'REDIS_URL' && e.type !== 'SECRET' && /(SECRET|PASSWORD|TOKEN|_KEY)$/.test(key)) {
        errors.push(`${where}: ${key} must be type: SECRET`);
      }
      if (key === 'REDIS_URL' && redisDb && value !== `\${${String(redisDb.name)}.DATABASE_URL}`) {
        errors.push(`${where}: REDIS_URL must be bound to \${${String(redisDb.name)}.DATABASE_URL}`);
      }
    }
    errors.push(
      ...checkEnvNames(
        where,
        app,
        envs.map((e) => String(e.key)),
        ['APP', 'NODE_VERSION'],
      ),
    );
    if (c.instance_count !== undefined && c.autoscaling !== undefined) errors.push(`${where}: instance_count and autoscaling are exclusive`);
    if (c.autoscaling === undefined && c.instance_count !== app.replicas) errors.push(`${where}: instance_count ${String(c.instance_count)} ≠ ${app.replicas}`);
    if (c.instance_size_slug !== app.doSize) errors.push(`${where}: instance_size_slug ${String(c.instance_size_slug)} ≠ ${app.doSize}`);
    const grace = obj(c.termination).grace_period_seconds;
    if (typeof grace !== 'number' || grace < app.appGraceSeconds + MIN_MARGIN_SECONDS) {
      errors.push(`${where}: termination.grace_period_seconds must be ≥ ${app.appGraceSeconds + MIN_MARGIN_SECONDS}`);
    }
    const live = obj(c.liveness_health_check);
    if (app.kind !== 'web') {
      if (live.port !== app.port || live.http_path !== app.livePath) errors.push(`${where}: liveness_health_check must probe :${app.port}${app.livePath}`);
    } else {
      if (c.http_port !== app.port) errors.push(`${where}: http_port must be ${app.port}`);
      if (obj(c.health_check).http_path !== app.readyPath) errors.push(`${where}: health_check must probe ${app.readyPath}`);
      const routed = arr(obj(root.ingress).rules).some((r) => obj(obj(r).component).name === app.name);
      if (!routed) errors.push(`${where}: no ingress rule routes to it`);
    }
  }
  return errors;
}

function unitValues(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

export function checkUnits(apps: readonly AppInfo[], units: ReadonlyMap<string, string>): string[] {
  const errors: string[] = [];
  const names = new Set(apps.map((a) => `coldcopy-${a.name}.service`));
  for (const file of units.keys()) if (!names.has(file)) errors.push(`scripts/worker-setup.sh: unit ${file} is not an app in apps/`);
  for (const app of apps) {
    const file = `coldcopy-${app.name}.service`;
    const where = `scripts/worker-setup.sh ${file}`;
    const text = units.get(file);
    if (!text) {
      errors.push(`${where}: missing (run \`pnpm gen:deploy\`)`);
      continue;
    }
    const exec = unitValues(text, 'ExecStart')[0] ?? '';
    const expected = [`/usr/bin/${app.start[0]}`, ...app.start.slice(1)].join(' ');
    if (exec !== expected) errors.push(`${where}: ExecStart "${exec}" ≠ "${expected}"`);
    if (unitValues(text, 'WorkingDirectory')[0] !== `/opt/coldcopy/apps/${app.name}`) errors.push(`${where}: wrong WorkingDirectory`);
    if (unitValues(text, 'Restart')[0] !== 'on-failure') errors.push(`${where}: Restart=on-failure is missing`);
    const stop = Number(unitValues(text, 'TimeoutStopSec')[0]);
    if (!(stop >= app.appGraceSeconds + MIN_MARGIN_SECONDS)) errors.push(`${where}: TimeoutStopSec must be ≥ ${app.appGraceSeconds + MIN_MARGIN_SECONDS}`);
    if (unitValues(text, 'StandardOutput')[0] !== 'journal') errors.push(`${where}: StandardOutput=journal is missing`);
    const envNames = unitValues(text, 'Environment').flatMap((l) => l.split(/\s+/).map((kv) => kv.split('=')[0]!));
    const declared = new Set(app.env.map((e) => e.name));
    for (const n of envNames) if (!declared.has(n)) errors.push(`${where}: sets ${n}, which apps/${app.name}/src/env.ts does not declare`);
  }
  return errors;
}

/** Dockerfile.worker: COPY sources exist, CMD runs node with every app's start file, tini, non-root. */
export function checkDockerfile(apps: readonly AppInfo[], dockerfile: string, dockerignore: string, root: string): string[] {
  const errors: string[] = [];
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  for (const line of lines) {
    const m = /^COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const parts = m[1]!.split(/\s+/).filter((p) => !p.startsWith('--'));
    if (/--from=/.test(m[1]!)) continue;
    for (const src of parts.slice(0, -1)) {
      if (src !== '.' && !existsSync(join(root, src))) errors.push(`Dockerfile.worker: COPY ${src}: no such path in the repository`);
    }
  }
  const parseCmd = (line: string): unknown => {
    try {
      return JSON.parse(line.slice(3).trim());
    } catch {
      return undefined;
    }
  };
  const cmds = lines.filter((l) => l.startsWith('CMD')).map(parseCmd);
  if (cmds.length === 0 || cmds.some((c) => !Array.isArray(c) || c[0] !== 'node')) {
    errors.push('Dockerfile.worker: CMD must be exec form ["node", …] in every stage (no npm/pnpm wrapper)');
  }
  // the final stage is the app image
  const cmdArgs = cmds.at(-1);
  for (const app of apps) {
    if (JSON.stringify(cmdArgs) !== JSON.stringify(app.start)) {
      errors.push(`Dockerfile.worker: CMD ${JSON.stringify(cmdArgs)} differs from ${app.name}'s start ${JSON.stringify(app.start)}`);
    }
  }
  if (!lines.some((l) => /^ENTRYPOINT\s+\["\/usr\/bin\/tini",\s*"--"\]/.test(l))) errors.push('Dockerfile.worker: ENTRYPOINT must be tini');
  const users = lines.filter((l) => /^USER\s+/.test(l));
  if (users.length === 0 || /^USER\s+(root|0)\b/.test(users.at(-1)!)) errors.push('Dockerfile.worker: the runtime stage must switch to a non-root USER');
  if (!lines.some((l) => /^ARG APP\b/.test(l))) errors.push('Dockerfile.worker: ARG APP (selects the app) is missing');
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  const nodeVersion = /^ARG NODE_VERSION=(\d+)/m.exec(dockerfile)?.[1];
  if (!nodeVersion || Number(nodeVersion) % 2 !== 0 || Number(nodeVersion) < 22) {
    errors.push(`Dockerfile.worker: NODE_VERSION ${String(nodeVersion)} is not a supported Node LTS (22 or a later even major)`);
  }
  if (!froms.at(-1)?.includes('-slim')) errors.push('Dockerfile.worker: the runtime image must be a slim Node image');
  for (const needed of ['pnpm fetch', 'pnpm install --offline --frozen-lockfile', '--prod deploy']) {
    if (!dockerfile.includes(needed)) errors.push(`Dockerfile.worker: "${needed}" is missing`);
  }
  const ignored = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const must of ['node_modules', '.git', '.env']) if (!ignored.includes(must)) errors.push(`.dockerignore: ${must} must be ignored`);
  for (const needed of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'apps', 'packages']) {
    if (ignored.includes(needed) || ignored.includes(`/${needed}`)) errors.push(`.dockerignore: ${needed} is needed by the build`);
  }
  return errors;
}

/**
 * deploy/kubernetes/<worker>.yaml (parsed documents, by file name): a Deployment and a KEDA
 * ScaledObject per worker app, with the app's start command, only declared variables (every one
 * it needs, not optional), probes on its health port, a pod grace above its own, resources, and a
 * Redis trigger on the wait list of every shard. Works on parsed documents so a test can remove a
 * piece and see it complain.
 */
export function checkKubernetes(
  apps: readonly AppInfo[],
  files: ReadonlyMap<string, readonly unknown[]>,
  expected: (app: AppInfo) => { cpu: string; memory: string; min: number; max: number; listLength: string; lists: readonly string[] },
): string[] {
  const errors: string[] = [];
  const workerNames = new Set(apps.filter((a) => a.kind === 'worker').map((a) => `${a.name}.yaml`));
  for (const file of files.keys()) {
    if (!workerNames.has(file) && !['kustomization.yaml', 'keda-trigger-auth.yaml'].includes(file))
      errors.push(`deploy/kubernetes/${file}: not a worker app in apps/`);
  }
  const resources = arr(obj(files.get('kustomization.yaml')?.[0]).resources).map(String);
  for (const app of apps.filter((a) => a.kind === 'worker')) {
    const where = `deploy/kubernetes/${app.name}.yaml`;
    const docs = files.get(`${app.name}.yaml`);
    if (!docs) {
      errors.push(`${where}: missing (run \`pnpm gen:deploy\`)`);
      continue;
    }
    if (!resources.includes(`${app.name}.yaml`)) errors.push(`deploy/kubernetes/kustomization.yaml: does not list ${app.name}.yaml`);
    const want = expected(app);
    const deployment = docs.map(obj).find((d) => d.kind === 'Deployment');
    const scaled = docs.map(obj).find((d) => d.kind === 'ScaledObject');
    if (!deployment) errors.push(`${where}: no Deployment`);
    else {
      const pod = obj(obj(obj(deployment.spec).template).spec);
      const c = obj(arr(pod.containers)[0]);
      if (JSON.stringify(c.args) !== JSON.stringify(app.start))
        errors.push(`${where}: args ${JSON.stringify(c.args)} differ from the app's start ${JSON.stringify(app.start)}`);
      const grace = pod.terminationGracePeriodSeconds;
      if (typeof grace !== 'number' || grace < app.appGraceSeconds + MIN_MARGIN_SECONDS) {
        errors.push(`${where}: terminationGracePeriodSeconds must be ≥ ${app.appGraceSeconds + MIN_MARGIN_SECONDS}`);
      }
      const port = arr(c.ports)
        .map(obj)
        .find((p) => p.name === 'health');
      if (port?.containerPort !== app.port) errors.push(`${where}: no health port ${app.port}`);
      const probe = (p: unknown) => obj(obj(p).httpGet);
      if (probe(c.livenessProbe).path !== app.livePath || probe(c.livenessProbe).port !== 'health')
        errors.push(`${where}: livenessProbe must GET ${app.livePath} on the health port`);
      if (probe(c.readinessProbe).path !== app.readyPath || probe(c.readinessProbe).port !== 'health')
        errors.push(`${where}: readinessProbe must GET ${app.readyPath} on the health port`);
      const res = obj(c.resources);
      for (const kind of ['requests', 'limits']) {
        const r = obj(res[kind]);
        if (String(r.cpu) !== want.cpu || r.memory !== want.memory) errors.push(`${where}: resources.${kind} must be cpu ${want.cpu}, memory ${want.memory}`);
      }
      const env = arr(c.env).map(obj);
      errors.push(
        ...checkEnvNames(
          where,
          app,
          env.map((e) => String(e.name)),
          ['HOST', 'HEALTH_HOST', 'SHUTDOWN_GRACE_SECONDS'],
        ),
      );
      for (const e of env) {
        const ref = obj(obj(e.valueFrom).secretKeyRef ?? obj(e.valueFrom).configMapKeyRef);
        const v = app.env.find((x) => x.name === e.name);
        if (v && mustSet(app, v) && ref.optional === true) errors.push(`${where}: ${String(e.name)} is required but optional`);
        if (v?.secret && obj(e.valueFrom).secretKeyRef === undefined) errors.push(`${where}: ${String(e.name)} must come from a Secret`);
      }
    }
    if (!scaled) errors.push(`${where}: no ScaledObject`);
    else {
      const spec = obj(scaled.spec);
      if (obj(spec.scaleTargetRef).name !== app.name) errors.push(`${where}: the ScaledObject must target ${app.name}`);
      if (spec.minReplicaCount !== want.min || spec.maxReplicaCount !== want.max) errors.push(`${where}: replicas must be ${want.min}–${want.max}`);
      const triggers = arr(spec.triggers).map(obj);
      const lists = triggers.filter((t) => t.type === 'redis').map((t) => String(obj(t.metadata).listName));
      if (JSON.stringify(lists) !== JSON.stringify(want.lists))
        errors.push(`${where}: redis triggers on ${JSON.stringify(lists)}, expected every shard's wait list ${JSON.stringify(want.lists)}`);
      for (const t of triggers) if (obj(t.metadata).listLength !== want.listLength) errors.push(`${where}: listLength must be ${want.listLength}`);
      if (want.lists.length > 1 && !obj(obj(spec.advanced).scalingModifiers).formula)
        errors.push(`${where}: several shards need scalingModifiers summing them`);
    }
  }
  return errors;
}
