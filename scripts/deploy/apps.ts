/**
 * Discovery of the deployable apps: every `apps/<name>/package.json` with a `coldcopy` manifest.
 * The deployment files (docker-compose.yml, app.yaml, scripts/worker-setup.sh, the README's env
 * section, .env.example) are generated from what this module returns (scripts/gen-deploy.ts), and
 * the local stack (scripts/dev.ts) starts the same list, so a new worker app is one manifest:
 *
 *   "coldcopy": { "kind": "worker", "queue": "enrichment" }
 *
 * Sizes, replicas and memory default to the per-queue sizing below (QUEUE_SIZING); a manifest
 * may override them. The environment variables come from the app's own zod schema (src/env.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { workerEnvSchema } from '../../packages/queue-core/src/config/env.js';
import { securityEnvSchema } from '../../packages/queue-core/src/security/job-security.js';
import { isQueueName, QUEUES, type QueueName } from '../../packages/queue-core/src/definitions/queues.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Seconds the platform waits beyond the app's own shutdown grace before it kills (SIGKILL). */
export const KILL_MARGIN_SECONDS = 20;
/** Platform limit (DO App Platform termination.grace_period_seconds: 1–600). */
export const MAX_PLATFORM_GRACE_SECONDS = 600;

/**
 * The original design's sizing: memory from its "Vertical Scaling" table (email 2 GB,
 * AI 4 GB, analytics 8 GB, others 1 GB), DO sizes after "Worker Sizing" (the closest App Platform
 * slug; 4 vCPU/8 GB exists only as a dedicated size), replicas from option 1/2 (email 2).
 */
export const QUEUE_SIZING: Record<QueueName, { replicas: number; memory: string; doSize: string }> = {
  email: { replicas: 2, memory: '2g', doSize: 'apps-s-1vcpu-2gb' },
  enrichment: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-1gb' },
  ai: { replicas: 1, memory: '4g', doSize: 'apps-s-2vcpu-4gb' },
  analytics: { replicas: 1, memory: '8g', doSize: 'apps-d-4vcpu-8gb' },
  integration: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-2gb' },
  maintenance: { replicas: 1, memory: '1g', doSize: 'apps-s-1vcpu-1gb' },
};

const memory = z.string().regex(/^\d+[mg]$/, 'like 512m or 2g');
const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/);

const manifestSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('worker'),
      queue: z.string().refine(isQueueName, 'not one of the six queues (packages/queue-core/src/definitions/queues.ts)'),
      replicas: z.number().int().min(1).max(50).optional(),
      memory: memory.optional(),
      doSize: z.string().regex(/^apps-[sd]-/).optional(),
      /** variables deployments must set (beyond the ones the schema requires), e.g. API keys */
      deployEnv: z.array(envName).default([]),
      /** variables a library reads itself (not the app's schema), name → meaning, e.g. AWS SDK credentials */
      libraryEnv: z.record(envName, z.string()).default({}),
      /** extra variables for `npm run dev` only */
      devEnv: z.record(envName, z.string()).default({}),
      /** dev-only helper processes, e.g. the SES emulator; see scripts/dev.ts */
      devServices: z.array(z.string()).default([]),
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
      doSize: z.string().regex(/^apps-[sd]-/).default('apps-s-1vcpu-1gb'),
      deployEnv: z.array(envName).default([]),
      libraryEnv: z.record(envName, z.string()).default({}),
      devEnv: z.record(envName, z.string()).default({}),
      devServices: z.array(z.string()).default([]),
    })
    .strict(),
]);

export interface EnvVar {
  readonly name: string;
  /** no default and not optional in the schema */
  readonly required: boolean;
  readonly default?: string;
  readonly description: string;
  /** passed as a secret (DO `type: SECRET`) */
  readonly secret: boolean;
  /** read by a library rather than the app's schema (manifest `libraryEnv`) */
  readonly library?: boolean;
}

export interface AppInfo {
  /** directory name = service/component/unit name, e.g. `email-worker` */
  readonly name: string;
  readonly packageName: string;
  readonly dir: string;
  readonly kind: 'worker' | 'web';
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
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Variable names treated as secrets in deployment files. */
export function isSecretName(name: string): boolean {
  return /(^|_)(URL|SECRET|TOKEN|PASSWORD|USERS|KEY|KEYS|KEY_ID|CERT)$/.test(name) && name !== 'PUBLIC_URL';
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
  const env = [
    ...(await envOf(root, name, m.kind === 'worker' ? (m.queue as QueueName) : undefined)),
    ...Object.entries(m.libraryEnv).map(([key, meaning]) => ({
      name: key,
      required: false,
      description: `${meaning} (read by a library, listed in the manifest's libraryEnv)`,
      secret: isSecretName(key),
      library: true,
    })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  const declared = new Set(env.map((e) => e.name));
  for (const key of [...m.deployEnv, ...Object.keys(m.devEnv)]) {
    if (!declared.has(key)) throw new ManifestError(`apps/${name}: manifest names ${key}, which apps/${name}/src/env.ts does not declare`);
  }
  if (m.kind === 'worker') {
    const queue = m.queue as QueueName;
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
      replicas: m.replicas,
      memory: m.memory,
      doSize: m.doSize,
    });
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
  };
}

/**
 * The variables an app reads, from the zod schema(s) its `src/env.ts` exports (a schema, or a raw
 * shape of zod types). A worker's schema is merged with the shared worker variables, as
 * `runWorkerApp` does.
 */
async function envOf(root: string, name: string, queue: QueueName | undefined): Promise<EnvVar[]> {
  const file = join(root, 'apps', name, 'src', 'env.ts');
  if (!existsSync(file)) throw new ManifestError(`apps/${name}/src/env.ts is missing: every app declares its environment there`);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const schemas: z.ZodType[] = [];
  for (const value of Object.values(mod)) {
    if (value instanceof z.ZodType) schemas.push(value);
    else if (isRawShape(value)) schemas.push(z.object(value));
  }
  if (schemas.length === 0) throw new ManifestError(`apps/${name}/src/env.ts exports no zod schema`);
  const docFiles = [file, join(root, 'packages/queue-core/src/config/env.ts'), join(root, 'packages/db/src/env.ts')];
  if (!queue) return describeEnv(schemas, docFiles);
  // runWorkerApp reads the shared worker variables and, apart from the app schema, the job
  // security and dead-letter variables (packages/queue-core/src/config/hardening-env.ts)
  schemas.push(workerEnvSchema(queue), securityEnvSchema);
  const runtime = runtimeEnvDocs(join(root, 'packages/queue-core/src/config/hardening-env.ts'));
  const vars = new Map(describeEnv(schemas, docFiles).map((v) => [v.name, v]));
  for (const [key, text] of runtime) {
    const prev = vars.get(key);
    vars.set(key, {
      name: key,
      required: (prev?.required ?? false) || /^required unless\b/.test(text),
      ...(prev?.default !== undefined ? { default: prev.default } : {}),
      description: text,
      secret: isSecretName(key),
    });
  }
  return [...vars.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The `NAME   meaning` table in the header comment of hardening-env.ts. */
function runtimeEnvDocs(file: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(file)) return out;
  const header = readFileSync(file, 'utf8').split('*/')[0] ?? '';
  for (const m of header.matchAll(/^ \*\s{2,}([A-Z][A-Z0-9_]+)\s{2,}(.+)$/gm)) {
    // `NAME   meaning` or `NAME   format   meaning`
    const parts = m[2]!.trim().split(/\s{2,}/);
    const meaning = parts.at(-1)!;
    out.set(m[1]!, parts.length > 1 ? `${meaning} (\`${parts.slice(0, -1).join(' ')}\`)` : meaning);
  }
  return out;
}

/** Variables of zod object schemas, with descriptions from the doc comments in docFiles. */
export function describeEnv(schemas: readonly z.ZodType[], docFiles: readonly string[]): EnvVar[] {
  const docs = envDocs(docFiles);
  const vars = new Map<string, EnvVar>();
  for (const schema of schemas) {
    let json: { properties?: Record<string, { default?: unknown; description?: string }>; required?: string[] };
    try {
      json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as typeof json;
    } catch {
      continue;
    }
    if (!json.properties) continue;
    const required = new Set(json.required ?? []);
    for (const [key, prop] of Object.entries(json.properties)) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(key)) continue;
      const prev = vars.get(key);
      const def = prop.default === undefined ? undefined : String(prop.default);
      vars.set(key, {
        name: key,
        required: (prev?.required ?? false) || (required.has(key) && def === undefined),
        default: prev?.default ?? def,
        description: prev?.description || prop.description || docs.get(key) || FALLBACK_DOCS[key] || '',
        secret: isSecretName(key),
      });
    }
  }
  return [...vars.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function isRawShape(value: unknown): value is z.ZodRawShape {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length > 0 && entries.every(([k, v]) => /^[A-Z][A-Z0-9_]*$/.test(k) && v instanceof z.ZodType);
}

/** `/** text *\/` doc comments right before `NAME:` in the env sources. */
function envDocs(files: readonly string[]): Map<string, string> {
  const docs = new Map<string, string>();
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*\n\s*([A-Z][A-Z0-9_]*)\s*:/g)) {
      const body = m[1]!
        .split('\n')
        .map((l) => l.replace(/^\s*\*\s?/, '').trim())
        .filter(Boolean)
        .join(' ');
      if (!docs.has(m[2]!)) docs.set(m[2]!, body);
    }
  }
  return docs;
}

const FALLBACK_DOCS: Record<string, string> = {
  REDIS_URL: '`redis://` or `rediss://` (TLS) URL of the queue Redis, with password',
  DATABASE_URL: '`postgres://user:password@host:5432/database`',
  LOG_LEVEL: 'winston level',
  NODE_ENV: '`production` in deployments',
  PORT: 'HTTP port',
  HOST: 'HTTP bind address',
  HEALTH_HOST: 'bind address of the health port',
  LOCK_DURATION_MS: 'Bull lock duration (default per queue)',
  STALLED_INTERVAL_MS: 'Bull stalled-job check interval (default per queue)',
  GUARD_INTERVAL_MS: 'Bull delayed-job watchdog interval (default per queue)',
  ADMIN_SESSION_TTL_MINUTES: 'session lifetime',
  ...Object.fromEntries(Object.keys(QUEUES).map((q) => [`${q.toUpperCase()}_CONCURRENCY`, 'jobs at once per process'])),
};
