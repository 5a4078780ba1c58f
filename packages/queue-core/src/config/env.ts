import { z } from 'zod';
import { ConfigError } from '../definitions/errors.js';
import { QUEUE_NAMES, QUEUES, type QueueName } from '../definitions/queues.js';
import { redisUrlProblem } from '../redis/connections.js';
import { clusterMode, MAX_SHARDS, shardCountsOf, type ShardCounts } from '../redis/sharding.js';

/**
 * Environment fragments shared by every app. An app's `src/env.ts` composes them with its own
 * variables into ONE zod object (`workerAppEnv(queue, own)` for a worker) and exports it as
 * `envSchema`; main.ts hands it to `runWorkerApp`, which parses it once (never at import time, so
 * tests pass a plain object), and the deploy generator (scripts/gen-deploy.ts) reads the same
 * schema to write compose, app.yaml, .env.example and the README tables.
 *
 * Every variable carries its documentation in zod metadata, set last in the chain:
 *
 *   SES_REGION: z.string().min(1).default('us-east-1').meta({ description: 'SES region' }),
 *   HUNTER_API_KEY: z.string().min(1).meta({ description: 'Hunter.io API key', secret: true }),
 *
 * `description` is required, `secret: true` marks values deployments store encrypted (DO
 * `type: SECRET`) and the generated files never fill in; the default is the schema's `.default()`.
 */

/** The metadata every environment variable carries (`.meta(…)`, last in the chain). */
export interface EnvMeta {
  readonly description: string;
  /** stored encrypted by deployments; never printed */
  readonly secret?: boolean;
  /**
   * Deployments must set it although the schema lets it be unset (checked later, e.g. signing
   * keys are refused missing only once JOB_SIGNING is known); compose, app.yaml and the README
   * treat it as required.
   */
  readonly deployRequired?: boolean;
}

/** `true/false/1/0/yes/no`; `z.coerce.boolean()` would read "false" as true. */
export const boolEnv = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'FALSE'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'TRUE'].includes(v));

/** An optional boolean (unset: `undefined`, the caller decides). */
const optionalBoolEnv = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'FALSE'])
    .optional()
    .transform((v) => (v === undefined ? undefined : ['true', '1', 'yes', 'TRUE'].includes(v)));

const optionalMs = (description: string) => z.coerce.number().int().min(0).optional().meta({ description });

/**
 * `redis://` / `rediss://` (TLS), or for Redis Cluster `redis+cluster://` / `rediss+cluster://`
 * with comma-separated seed nodes (redis.ts). Messages never contain the password.
 */
export const redisUrl = z.string().superRefine((url, ctx) => {
  const problem = redisUrlProblem(url);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const redisEnv = {
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379').meta({
    description:
      'queue Redis: `redis://` or `rediss://` (TLS) with password; Redis Cluster: `redis+cluster://` / `rediss+cluster://` with comma-separated seed nodes',
    secret: true,
  }),
  BULL_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]{1,64}$/, 'letters, digits, _ . - { } only')
    .default('bull')
    .meta({ description: 'Bull key prefix; use a hash-tagged one such as `{bull}` on Redis Cluster' }),
};

export const loggingEnv = {
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info').meta({ description: 'winston log level' }),
};

/**
 * Bull key layout: `<QUEUE>_SHARDS` of every queue (a worker's follow-up jobs go to other queues,
 * and a producer that routes to a shard no worker consumes leaves jobs waiting: every process must
 * see the same values) and `BULL_CLUSTER`.
 */
export const shardingEnv = {
  BULL_CLUSTER: optionalBoolEnv().meta({
    description: 'Redis Cluster key layout (one hash slot per queue shard); on by default with a cluster REDIS_URL or a hash-tagged BULL_PREFIX',
  }),
  ...(Object.fromEntries(QUEUE_NAMES.map((q) => [shardsVarOf(q), shardsSchema(q)])) as {
    [K in QueueName as `${Uppercase<K>}_SHARDS`]: ReturnType<typeof shardsSchema>;
  }),
};

function shardsVarOf<Q extends QueueName>(queue: Q): `${Uppercase<Q>}_SHARDS` {
  return `${queue.toUpperCase()}_SHARDS` as `${Uppercase<Q>}_SHARDS`;
}

function shardsSchema(queue: QueueName) {
  return z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_SHARDS)
    .default(1)
    .meta({ description: `Bull queues the \`${queue}\` queue is split into; the same value in every process` });
}

/**
 * The Bull key layout from parsed `redisEnv` + `shardingEnv` variables: shard counts and cluster
 * mode. Throws ConfigError when BULL_CLUSTER=false contradicts a Redis Cluster REDIS_URL.
 */
export function keyLayoutOf(
  env: { readonly REDIS_URL: string; readonly BULL_PREFIX: string; readonly BULL_CLUSTER?: boolean | undefined } & Readonly<Record<string, unknown>>,
): { shards: ShardCounts; cluster: boolean } {
  return { shards: shardCountsOf(env), cluster: clusterMode({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, flag: env.BULL_CLUSTER }) };
}

/** `<QUEUE>_CONCURRENCY` (default from the catalog) and `<QUEUE>_SHARDS` of one queue. */
export function queueEnv<Q extends QueueName>(queue: Q) {
  const concurrency = `${queue.toUpperCase()}_CONCURRENCY` as `${Uppercase<Q>}_CONCURRENCY`;
  return {
    [concurrency]: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(QUEUES[queue].concurrency)
      .meta({ description: `\`${queue}\` jobs at once per process (spread over its shards)` }),
    [shardsVarOf(queue)]: shardsSchema(queue),
  } as {
    [K in `${Uppercase<Q>}_CONCURRENCY`]: z.ZodDefault<z.ZodCoercedNumber<unknown>>;
  } & { [K in `${Uppercase<Q>}_SHARDS`]: ReturnType<typeof shardsSchema> };
}

/** Job signing and field encryption (job-security.ts validates the key rings without printing them). */
export const signingEnv = {
  JOB_SIGNING_KEYS: z.string().optional().meta({
    description: '`kid:base64[,oldkid:base64]`: HMAC keys of signed jobs, the same for producers and workers; required unless JOB_SIGNING=disabled',
    secret: true,
    deployRequired: true,
  }),
  JOB_ENCRYPTION_KEYS: z.string().optional().meta({
    description: '`kid:base64` (32 bytes)[,…]: keys of encrypted job fields; required by workers of jobs with sensitive fields',
    secret: true,
  }),
  JOB_SIGNING: z
    .enum(['enabled', 'disabled'])
    .default('enabled')
    .meta({ description: '`disabled` runs unsigned (development only; refused with NODE_ENV=production)' }),
  NODE_ENV: z.string().optional().meta({ description: '`production` in deployments' }),
};

/** Dead letters and their alerts (dead-letter.ts, alert-webhook.ts). */
export const deadLetterEnv = {
  ALERT_WEBHOOK_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .meta({ description: 'Slack-compatible webhook for dead-letter alerts', secret: true }),
  ALERT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60).meta({ description: 'aggregation window of the dead-letter alerts' }),
  DLQ_MAX_ENTRIES: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000) // DLQ_DEFAULTS (dead-letter.ts, which imports Bull); env.test.ts pins them equal
    .meta({ description: 'dead-letter store bound: entries kept per queue' }),
  DLQ_MAX_AGE_DAYS: z.coerce.number().positive().max(365).default(30).meta({ description: 'dead-letter store bound: days an entry is kept' }),
};

/** The worker process: health port, shutdown grace and Bull's lock timings. */
export const workerProcessEnv = {
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9464).meta({ description: 'side port for /livez, /readyz and /metrics' }),
  HEALTH_HOST: z.string().default('0.0.0.0').meta({ description: 'bind address of the health port' }),
  SHUTDOWN_GRACE_SECONDS: z.coerce
    .number()
    .positive()
    .max(590)
    .optional()
    .meta({ description: 'seconds in-flight jobs get on SIGTERM (default per queue); keep it below the platform kill timeout' }),
  LOCK_DURATION_MS: optionalMs('Bull lock duration (default per queue)'),
  STALLED_INTERVAL_MS: optionalMs('Bull stalled-job check interval (default per queue)'),
  GUARD_INTERVAL_MS: optionalMs('Bull delayed-job watchdog interval (default per queue)'),
};

/** Everything the worker runtime (runWorkerApp) reads, for a worker of `queue`. */
export function workerRuntimeEnv<Q extends QueueName>(queue: Q) {
  return {
    ...redisEnv,
    ...loggingEnv,
    ...workerProcessEnv,
    ...shardingEnv,
    ...queueEnv(queue),
    ...signingEnv,
    ...deadLetterEnv,
  };
}

export type WorkerRuntimeShape<Q extends QueueName> = ReturnType<typeof workerRuntimeEnv<Q>>;

/**
 * A worker app's one env schema: the runtime's variables plus the app's own (`own`, a raw shape
 * of zod types with `.meta()`). Export it from the app's `src/env.ts` as `envSchema`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the empty raw shape: an app with no own variables
export function workerAppEnv<Q extends QueueName, E extends z.ZodRawShape = {}>(queue: Q, own?: E) {
  return z.object({ ...workerRuntimeEnv(queue), ...(own ?? ({} as E)) });
}

/** The parsed variables of the worker runtime for `queue`. */
export type WorkerRuntimeEnv<Q extends QueueName> = z.output<z.ZodObject<WorkerRuntimeShape<Q>>>;

/** The queue-independent part of WorkerRuntimeEnv (what the runtime reads by name). */
export type WorkerRuntimeBase = z.output<
  z.ZodObject<typeof redisEnv & typeof loggingEnv & typeof workerProcessEnv & typeof shardingEnv & typeof signingEnv & typeof deadLetterEnv>
>;

/** Parses env, or throws a ConfigError naming every bad variable. */
export function loadEnv<S extends z.ZodType>(schema: S, source: Record<string, string | undefined> = process.env): z.output<S> {
  // Treat empty strings as unset, as shells and .env files commonly produce them.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(`invalid environment:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export const ALL_CONCURRENCY_VARS = QUEUE_NAMES.map((q) => `${q.toUpperCase()}_CONCURRENCY`);

// ---------------------------------------------------------------- reading the schema (generator)

/** One variable of an env schema, as the deployment files describe it. */
export interface EnvVarInfo {
  readonly name: string;
  readonly description: string;
  /** the schema's default, as the string a deployment would set */
  readonly default?: string;
  /** no default and not optional, or `deployRequired`: a deployment must set it */
  readonly required: boolean;
  readonly secret: boolean;
}

/** The object under a schema that wraps one in transforms or refinements (`z.object(…).transform(…)`). */
function objectOf(schema: z.ZodType): z.ZodObject | undefined {
  let s: unknown = schema;
  for (let i = 0; i < 8 && s; i++) {
    if (s instanceof z.ZodObject) return s;
    const def = (s as { _zod?: { def?: { type?: string; in?: unknown; innerType?: unknown } } })._zod?.def;
    s = def?.type === 'pipe' ? def.in : def?.innerType;
  }
  return undefined;
}

/** The metadata of a field, looked up through wrappers applied after `.meta()`. */
function metaOf(field: z.ZodType): EnvMeta | undefined {
  let s: unknown = field;
  for (let i = 0; i < 8 && s; i++) {
    const meta = z.globalRegistry.get(s as z.ZodType) as Partial<EnvMeta> | undefined;
    if (meta?.description) return meta as EnvMeta;
    const def = (s as { _zod?: { def?: { type?: string; in?: unknown; innerType?: unknown } } })._zod?.def;
    s = def?.type === 'pipe' ? def.in : def?.innerType;
  }
  return undefined;
}

/**
 * The variables of an env schema with their metadata, sorted by name. Throws when a variable has
 * no description (every variable documents itself, so the generated files never go blank).
 */
export function describeEnvSchema(schema: z.ZodType): EnvVarInfo[] {
  const object = objectOf(schema);
  if (!object) throw new TypeError('not an env schema: expected a zod object (or one wrapped in a transform)');
  const out: EnvVarInfo[] = [];
  const missing: string[] = [];
  for (const [name, field] of Object.entries(object.shape) as Array<[string, z.ZodType]>) {
    const meta = metaOf(field);
    if (!meta) missing.push(name);
    const json = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as { default?: unknown };
    const optional = field.safeParse(undefined).success;
    out.push({
      name,
      description: meta?.description ?? '',
      ...(json.default !== undefined ? { default: typeof json.default === 'string' ? json.default : JSON.stringify(json.default) } : {}),
      required: !optional || meta?.deployRequired === true,
      secret: meta?.secret === true,
    });
  }
  if (missing.length > 0) throw new TypeError(`env variables without .meta({ description }): ${missing.join(', ')}`);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
