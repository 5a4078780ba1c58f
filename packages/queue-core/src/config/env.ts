import { z } from 'zod';
import { ConfigError } from '../definitions/errors.js';
import { QUEUE_NAMES, QUEUES, type QueueName } from '../definitions/queues.js';
import { redisUrlProblem } from '../redis/connections.js';

/**
 * Environment fragments shared by every app. Each app composes them into one zod schema and calls
 * `loadEnv(schema)` from its main.ts (never at import time, so tests pass a plain object).
 */

/** `true/false/1/0/yes/no`; `z.coerce.boolean()` would read "false" as true. */
export const boolEnv = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'FALSE'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'TRUE'].includes(v));

const intEnv = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

/**
 * `redis://` / `rediss://` (TLS), or for Redis Cluster `redis+cluster://` / `rediss+cluster://`
 * with comma-separated seed nodes (redis.ts). Messages never contain the password.
 */
export const redisUrl = z.string().superRefine((url, ctx) => {
  const problem = redisUrlProblem(url);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const redisEnv = {
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  /** Bull key prefix; use a hash-tagged one such as `{bull}` on Redis Cluster */
  BULL_PREFIX: z.string().regex(/^[A-Za-z0-9_{}.-]{1,64}$/, 'letters, digits, _ . - { } only').default('bull'),
};

export const loggingEnv = {
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
};

export const workerEnv = {
  ...redisEnv,
  ...loggingEnv,
  /** side port for /livez, /readyz and /metrics */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  HEALTH_HOST: z.string().default('0.0.0.0'),
  /** Seconds to let in-flight jobs finish on SIGTERM; keep it below the platform's kill timeout. */
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().positive().max(590).optional(),
  LOCK_DURATION_MS: intEnv(0, 0).optional(),
  STALLED_INTERVAL_MS: intEnv(0, 0).optional(),
  GUARD_INTERVAL_MS: intEnv(0, 0).optional(),
};

/** `<QUEUE>_CONCURRENCY` for one queue, defaulting to the catalog value. */
export function concurrencyEnv<Q extends QueueName>(queue: Q) {
  const key = `${queue.toUpperCase()}_CONCURRENCY` as `${Uppercase<Q>}_CONCURRENCY`;
  return { [key]: z.coerce.number().int().min(1).max(1000).default(QUEUES[queue].concurrency) } as {
    [K in `${Uppercase<Q>}_CONCURRENCY`]: z.ZodDefault<z.ZodCoercedNumber<unknown>>;
  };
}

export function workerEnvSchema<Q extends QueueName>(queue: Q) {
  return z.object({ ...workerEnv, ...concurrencyEnv(queue) });
}

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
