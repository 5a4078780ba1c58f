/**
 * Discovery of the deployable apps: every `apps/<name>/package.json` with a `coldcopy` manifest.
 * The deployment files (docker-compose.yml, app.yaml, scripts/worker-setup.sh, the README's env
 * section, .env.example) are generated from what this module returns (scripts/gen-deploy.ts), and
 * the local stack (scripts/dev.ts) starts the same list, so a new worker app is one manifest:
 *
 *   "coldcopy": { "kind": "worker", "queue": "enrichment" }
 *
 * Sizes, replicas and memory default to the per-queue sizing below (QUEUE_SIZING); a manifest
 * may override them. The environment variables, with their descriptions, defaults and secret flags,
 * come from the metadata of the app's one env schema: the `envSchema` export of its src/env.ts
 * (queue-core env.ts `describeEnvSchema`), the same object its main.ts parses.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { describeEnvSchema, type EnvVarInfo } from '../../packages/queue-core/src/config/env.js';
import { isQueueName, QUEUES, type QueueName } from '../../packages/queue-core/src/definitions/queues.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Seconds the platform waits beyond the app's own shutdown grace before it kills (SIGKILL). */
export const KILL_MARGIN_SECONDS = 20;
/** Platform limit (DO App Platform termination.grace_period_seconds: 1–600). */
export const MAX_PLATFORM_GRACE_SECONDS = 600;

/**
 * The original design's sizing: memory from its "Vertical Scaling" table (email 2 GB,
 * AI 4 GB, analytics 8 GB, others 1 GB), DO sizes after "Worker Sizing" (the closest App Platform
 * slug; 4 vCPU/8 GB exists only as a dedicated size), replicas from option 1/2 (email 2), Kubernetes CPU
 * (`cpu`, vCPUs) from the "Worker Sizing" table.
 */
export const QUEUE_SIZING: Record<QueueName, { replicas: number; memory: string; doSize: string; cpu: string }> = {
  email: { replicas: 2, memory: '2g', doSize: 'apps-s-1vcpu-2gb', cpu: '2' },
  enrichment: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-1gb', cpu: '1' },
  ai: { replicas: 1, memory: '4g', doSize: 'apps-s-2vcpu-4gb', cpu: '2' },
  analytics: { replicas: 1, memory: '8g', doSize: 'apps-d-4vcpu-8gb', cpu: '4' },
  integration: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-2gb', cpu: '1' },
  maintenance: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-1gb', cpu: '1' },
};

const memory = z.string().regex(/^\d+[mg]$/, 'like 512m or 2g');
const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
const serviceName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and dashes');

/** local servers the app owns for `npm run dev` (scripts/dev-services.ts) */
const devServers = z
  .record(
    serviceName,
    z
      .object({
        /** a .ts file of the app, run with tsx from the app's folder */
        entry: z
          .string()
          .regex(/\.ts$/, 'a .ts file of the app')
          .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'inside the app'),
        /** the variable the server reads its port from */
        portEnv: envName,
        port: z.number().int().min(1).max(65535),
        /** HTTP path answering 200 when up (absent: not waited for, e.g. a UDP server) */
        ready: z.string().startsWith('/').optional(),
      })
      .strict(),
  )
  .default({});

/** what every kind of app declares about its environment and its development servers */
const envAndDev = {
  /** variables deployments must set (beyond the ones the schema requires), e.g. API keys */
  deployEnv: z.array(envName).default([]),
  /** extra variables for `npm run dev` only */
  devEnv: z.record(envName, z.string()).default({}),
  /** dev-only servers the app needs, by name: its own devServers, another app's, or `ses` (scripts/dev-services.ts) */
  devServices: z.array(z.string()).default([]),
  devServers,
};

const manifestSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('worker'),
      queue: z.string().refine(isQueueName, 'not one of the six queues (packages/queue-core/src/definitions/queues.ts)'),
      replicas: z.number().int().min(1).max(50).optional(),
      memory: memory.optional(),
      doSize: z
        .string()
        .regex(/^apps-[sd]-/)
        .optional(),
      ...envAndDev,
    })
    .strict(),
  z
    .object({
      /**
       * a long-running process that is neither a queue worker nor a web app (the autoscaler): a
       * worker component on App Platform, a compose service behind a profile of its name (not
       * started by `docker compose up`), a droplet unit not installed by default; health on
       * HEALTH_PORT (/livez, /readyz)
       */
      kind: z.literal('service'),
      shutdownGraceSeconds: z.number().int().min(1).max(580),
      replicas: z.number().int().min(1).max(50).default(1),
      memory: memory.default('512m'),
      doSize: z
        .string()
        .regex(/^apps-[sd]-/)
        .default('apps-s-1vcpu-0.5gb'),
      ...envAndDev,
    })
    .strict(),
  z
    .object({
      kind: z.literal('web'),
      port: z.number().int().min(1).max(65535),
      healthPath: z.string().startsWith('/'),
      livePath: z.string().startsWith('/'),
      /** seconds the app itself takes at most to stop (its main.ts) */
      shutdownGraceSeconds: z.number().int().min(1).max(580),
      replicas: z.number().int().min(1).max(50).default(1),
      memory: memory.default('1g'),
      doSize: z
        .string()
        .regex(/^apps-[sd]-/)
        .default('apps-s-1vcpu-1gb'),
      ...envAndDev,
    })
    .strict(),
]);

/** A local server an app owns for `npm run dev` (manifest `devServers`, scripts/dev-services.ts). */
export type DevServerDecl = z.infer<typeof devServers>[string];

/** One variable of an app's env schema, from its `.meta()` (queue-core env.ts). */
export type EnvVar = EnvVarInfo;

export interface AppInfo {
  /** directory name = service/component/unit name, e.g. `email-worker` */
  readonly name: string;
  readonly packageName: string;
  readonly dir: string;
  readonly kind: 'worker' | 'web' | 'service';
  readonly queue?: QueueName;
  readonly replicas: number;
  readonly memory: string;
  readonly doSize: string;
  /** the app's own shutdown grace, seconds */
  readonly appGraceSeconds: number;
  /** compose stop_grace_period, DO termination grace, systemd TimeoutStopSec */
  readonly stopGraceSeconds: number;
  /** port of the health endpoints: HEALTH_PORT for workers, PORT for web apps */
  readonly port: number;
  readonly portVar: 'HEALTH_PORT' | 'PORT';
  readonly livePath: string;
  readonly readyPath: string;
  /** the start command relative to the app's directory (package.json `start`) */
  readonly start: readonly string[];
  readonly env: readonly EnvVar[];
  readonly deployEnv: readonly string[];
  readonly devEnv: Readonly<Record<string, string>>;
  readonly devServices: readonly string[];
  readonly devServers: Readonly<Record<string, DevServerDecl>>;
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/**
 * Every app directory: a package.json and an entry point, src/main.ts. An app without its entry
 * point is still being written and cannot run anywhere; it joins the deployment files (and the
 * test insists on it) as soon as main.ts exists. Without a manifest or env schema it is an error.
 */
export function appDirs(root = ROOT): string[] {
  const apps = join(root, 'apps');
  if (!existsSync(apps)) return [];
  return readdirSync(apps, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(apps, d.name, 'package.json')) && existsSync(join(apps, d.name, 'src', 'main.ts')))
    .map((d) => d.name)
    .sort();
}

/**
 * The apps, workers first. Strict by default (an app without a valid manifest or env schema is an
 * error); `onSkip` makes it lenient instead, for the local stack while an app is being written.
 */
export async function discoverApps(root = ROOT, onSkip?: (name: string, reason: string) => void): Promise<AppInfo[]> {
  const out: AppInfo[] = [];
  for (const name of appDirs(root)) {
    try {
      out.push(await loadApp(root, name));
    } catch (err) {
      if (!onSkip) throw err;
      onSkip(name, (err as Error).message);
    }
  }
  // workers first (queue order), then web apps
  const order = (a: AppInfo) => (a.kind === 'worker' ? Object.keys(QUEUES).indexOf(a.queue!) : 100);
  return out.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
}

async function loadApp(root: string, name: string): Promise<AppInfo> {
  const dir = join(root, 'apps', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    scripts?: Record<string, string>;
    files?: string[];
    coldcopy?: unknown;
  };
  if (pkg.coldcopy === undefined) {
    throw new ManifestError(
      `apps/${name}/package.json has no "coldcopy" manifest, so no deployment file knows it. Add e.g.\n` +
        `  "coldcopy": { "kind": "worker", "queue": "<queue>" }\nthen run \`pnpm gen:deploy\`.`,
    );
  }
  const parsed = manifestSchema.safeParse(pkg.coldcopy);
  if (!parsed.success) throw new ManifestError(`apps/${name}/package.json "coldcopy": ${z.prettifyError(parsed.error)}`);
  const m = parsed.data;
  if (!/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/.test(name)) throw new ManifestError(`apps/${name}: the name must be a valid DO component name`);
  if (!existsSync(join(dir, 'src', 'main.ts'))) throw new ManifestError(`apps/${name}/src/main.ts is missing`);
  const start = (pkg.scripts?.start ?? '').split(/\s+/).filter(Boolean);
  if (start[0] !== 'node' || start.length < 2) {
    throw new ManifestError(`apps/${name}/package.json: scripts.start must be \`node <file>\` (got "${pkg.scripts?.start ?? ''}")`);
  }
  if (!pkg.files?.includes('dist')) {
    throw new ManifestError(`apps/${name}/package.json: "files" must include "dist" (pnpm deploy copies only those)`);
  }
  const env = await envOf(root, name);
  const declared = new Set(env.map((e) => e.name));
  for (const key of [...m.deployEnv, ...Object.keys(m.devEnv)]) {
    if (!declared.has(key)) throw new ManifestError(`apps/${name}: manifest names ${key}, which apps/${name}/src/env.ts does not declare`);
  }
  if (m.kind === 'worker') {
    const queue = m.queue;
    return workerInfo({
      name,
      packageName: pkg.name,
      dir,
      queue,
      start,
      env,
      deployEnv: m.deployEnv,
      devEnv: m.devEnv,
      devServices: m.devServices,
      devServers: m.devServers,
      replicas: m.replicas,
      memory: m.memory,
      doSize: m.doSize,
    });
  }
  if (m.kind === 'service') {
    return {
      name,
      packageName: pkg.name,
      dir,
      kind: 'service',
      replicas: m.replicas,
      memory: m.memory,
      doSize: m.doSize,
      appGraceSeconds: m.shutdownGraceSeconds,
      stopGraceSeconds: Math.min(MAX_PLATFORM_GRACE_SECONDS, m.shutdownGraceSeconds + KILL_MARGIN_SECONDS),
      port: 9464,
      portVar: 'HEALTH_PORT',
      livePath: '/livez',
      readyPath: '/readyz',
      start,
      env,
      deployEnv: m.deployEnv,
      devEnv: m.devEnv,
      devServices: m.devServices,
      devServers: m.devServers,
    };
  }
  return {
    name,
    packageName: pkg.name,
    dir,
    kind: 'web',
    replicas: m.replicas,
    memory: m.memory,
    doSize: m.doSize,
    appGraceSeconds: m.shutdownGraceSeconds,
    stopGraceSeconds: Math.min(MAX_PLATFORM_GRACE_SECONDS, m.shutdownGraceSeconds + KILL_MARGIN_SECONDS),
    port: m.port,
    portVar: 'PORT',
    livePath: m.livePath,
    readyPath: m.healthPath,
    start,
    env,
    deployEnv: m.deployEnv,
    devEnv: m.devEnv,
    devServices: m.devServices,
    devServers: m.devServers,
  };
}

/** A worker app's deployment facts; sizes default to the seed's table for its queue. */
export function workerInfo(w: {
  name: string;
  packageName: string;
  dir: string;
  queue: QueueName;
  start: readonly string[];
  env: readonly EnvVar[];
  deployEnv?: readonly string[];
  devEnv?: Readonly<Record<string, string>>;
  devServices?: readonly string[];
  devServers?: Readonly<Record<string, DevServerDecl>>;
  replicas?: number | undefined;
  memory?: string | undefined;
  doSize?: string | undefined;
}): AppInfo {
  const appGrace = QUEUES[w.queue].shutdownGraceSeconds;
  return {
    name: w.name,
    packageName: w.packageName,
    dir: w.dir,
    kind: 'worker',
    queue: w.queue,
    replicas: w.replicas ?? QUEUE_SIZING[w.queue].replicas,
    memory: w.memory ?? QUEUE_SIZING[w.queue].memory,
    doSize: w.doSize ?? QUEUE_SIZING[w.queue].doSize,
    appGraceSeconds: appGrace,
    stopGraceSeconds: Math.min(MAX_PLATFORM_GRACE_SECONDS, appGrace + KILL_MARGIN_SECONDS),
    port: 9464,
    portVar: 'HEALTH_PORT',
    livePath: '/livez',
    readyPath: '/readyz',
    start: w.start,
    env: w.env,
    deployEnv: w.deployEnv ?? [],
    devEnv: w.devEnv ?? {},
    devServices: w.devServices ?? [],
    devServers: w.devServers ?? {},
  };
}

/** The variables of the app's one env schema: the `envSchema` export of its src/env.ts. */
async function envOf(root: string, name: string): Promise<EnvVar[]> {
  const file = join(root, 'apps', name, 'src', 'env.ts');
  if (!existsSync(file)) throw new ManifestError(`apps/${name}/src/env.ts is missing: every app declares its environment there`);
  const mod = (await import(pathToFileURL(file).href)) as { envSchema?: unknown };
  if (!(mod.envSchema instanceof z.ZodType)) {
    throw new ManifestError(`apps/${name}/src/env.ts must export its env schema as \`envSchema\` (a worker: workerAppEnv(queue, { ...own }))`);
  }
  try {
    return describeEnvSchema(mod.envSchema);
  } catch (err) {
    throw new ManifestError(`apps/${name}/src/env.ts: ${(err as Error).message}`);
  }
}
