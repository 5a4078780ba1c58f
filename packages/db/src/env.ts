import { z } from 'zod';

/** Configuration is invalid; the message names every bad variable. */
export class DbConfigError extends Error {
  override name = 'DbConfigError';
}

export type DbSslMode = 'disable' | 'require' | 'verify-full';

export interface DbEnv {
  /** postgres://user:pass@host:port/db; ssl* query parameters are read here and then stripped */
  readonly DATABASE_URL: string;
  readonly DATABASE_POOL_MAX: number;
  readonly DATABASE_STATEMENT_TIMEOUT_MS: number;
  readonly DATABASE_SSL: DbSslMode;
  /** PEM of the CA that signed the server certificate (managed databases), optional */
  readonly DATABASE_CA_CERT: string | undefined;
  readonly DATABASE_APPLICATION_NAME: string;
}

/** `true/false/1/0` only: `z.coerce.boolean()` would read "false" as true. */
export const boolEnv = z.enum(['true', 'false', '1', '0'], { message: 'expected true, false, 1 or 0' }).transform((v) => v === 'true' || v === '1');

/** `DATABASE_POOL_MAX` with an app's own default and advice (spread after `dbEnv` to replace it). */
export const poolMaxEnv = (defaultValue: number, description: string, max = 1000) =>
  z.coerce.number().int().positive().max(max).default(defaultValue).meta({ description });

/**
 * The database variables as an env fragment: a worker app that uses Postgres spreads it into its
 * one env schema (`workerAppEnv(queue, { ...dbEnv, ...own })`) and passes the parsed values to
 * `dbConfig`. It lives here rather than in queue-core so that queue-core (which the web app
 * imports) knows nothing of Postgres. Metadata as in queue-core's env.ts.
 */
export const dbEnv = {
  DATABASE_URL: z
    .string({ message: 'required (postgres://user:password@host:5432/database)' })
    .min(1, 'required (postgres://user:password@host:5432/database)')
    .refine((v) => {
      try {
        const url = new URL(v);
        return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
      } catch {
        return false;
      }
    }, 'must be a postgres:// or postgresql:// URL')
    .meta({ description: '`postgres://user:password@host:5432/database` (`?sslmode=require` for managed databases)', secret: true }),
  DATABASE_POOL_MAX: poolMaxEnv(10, 'Postgres pool size per process; keep it near the queue concurrency'),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(30_000)
    .meta({ description: 'statement_timeout of every pooled connection (0: none)' }),
  DATABASE_SSL: z
    .enum(['disable', 'require', 'verify-full'])
    .optional()
    .meta({ description: "`disable`, `require` or `verify-full`; default from the URL's sslmode" }),
  DATABASE_CA_CERT: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || v.includes('-----BEGIN CERTIFICATE-----'), 'must be a PEM certificate')
    .meta({ description: 'PEM of the CA that signed the server certificate (managed databases; `\\n` for newlines)' }),
  DATABASE_APPLICATION_NAME: z
    .string()
    .min(1)
    .optional()
    .meta({ description: "application_name of the connections (pg_stat_activity); default the app's, e.g. `coldcopy-email-worker`" }),
};

const schema = z.object(dbEnv);

/** The parsed `dbEnv` variables. */
export type DbEnvValues = z.output<typeof schema>;

/** sslmode values that mean "encrypt" in libpq URLs. */
const SSLMODE_ENCRYPTED = new Set(['require', 'verify-ca', 'verify-full', 'prefer']);

/**
 * Reads the database settings. Call it from main (never at import time) so tests can pass a plain
 * object. Throws DbConfigError listing every bad variable.
 */
export function loadDbEnv(source: Record<string, string | undefined> = process.env): DbEnv {
  // empty strings count as unset, as most .env tooling writes them
  const input = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DbConfigError(`invalid database configuration:\n${lines.join('\n')}`);
  }
  return dbConfig(parsed.data);
}

/**
 * Settings for createPool from parsed variables (an app's one env parse): sslmode from the URL, CA
 * newlines, and `applicationName` (e.g. `coldcopy-email-worker`) unless DATABASE_APPLICATION_NAME is set.
 */
export function dbConfig(env: DbEnvValues, applicationName = 'coldcopy-worker'): DbEnv {
  let ssl: DbSslMode | undefined = env.DATABASE_SSL;
  if (ssl === undefined) {
    const sslmode = new URL(env.DATABASE_URL).searchParams.get('sslmode');
    if (sslmode === 'verify-full') ssl = 'verify-full';
    else ssl = sslmode !== null && SSLMODE_ENCRYPTED.has(sslmode) ? 'require' : 'disable';
  }
  const ca = env.DATABASE_CA_CERT ? env.DATABASE_CA_CERT.replace(/\\n/g, '\n') : undefined;
  return {
    DATABASE_URL: env.DATABASE_URL,
    DATABASE_POOL_MAX: env.DATABASE_POOL_MAX,
    DATABASE_STATEMENT_TIMEOUT_MS: env.DATABASE_STATEMENT_TIMEOUT_MS,
    DATABASE_SSL: ssl,
    DATABASE_CA_CERT: ca,
    DATABASE_APPLICATION_NAME: env.DATABASE_APPLICATION_NAME ?? applicationName,
  };
}
