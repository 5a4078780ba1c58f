import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { DbEnv, DbSslMode } from './env.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Anything that runs a query: the pool, a checked-out client, or a client inside a transaction.
 * Every access function takes one, so callers decide about transactions.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * TLS options for node-postgres. `require` encrypts without verifying the certificate (what libpq's
 * sslmode=require does; managed databases with private CAs), `verify-full` checks the chain and
 * the host name, against DATABASE_CA_CERT when given.
 */
export function sslOptions(mode: DbSslMode, ca?: string): false | ConnectionOptions {
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  return ca ? { rejectUnauthorized: true, ca } : { rejectUnauthorized: true };
}

/**
 * node-postgres lets ssl* parameters of the URL override the `ssl` option (and reads
 * sslmode=require as verify-full), so they are removed and DATABASE_SSL decides.
 */
export function stripSslParams(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  for (const key of [...url.searchParams.keys()]) {
    if (key.startsWith('ssl')) url.searchParams.delete(key);
  }
  return url.toString();
}

/** node-postgres client settings for an env (also used by the migration runner). */
export function clientConfig(env: DbEnv): pg.ClientConfig {
  return {
    connectionString: stripSslParams(env.DATABASE_URL),
    ssl: sslOptions(env.DATABASE_SSL, env.DATABASE_CA_CERT),
    application_name: env.DATABASE_APPLICATION_NAME,
    // 0 = no limit (Postgres semantics)
    statement_timeout: env.DATABASE_STATEMENT_TIMEOUT_MS,
    // a transaction left open by a crashed handler must not hold locks forever
    idle_in_transaction_session_timeout: Math.max(env.DATABASE_STATEMENT_TIMEOUT_MS * 2, 60_000),
    connectionTimeoutMillis: 10_000,
  };
}

export interface CreatePoolOptions {
  /** called for errors of idle clients (server restart, network); default: console.error */
  readonly onError?: (err: Error) => void;
}

/** A pg pool from the env: DATABASE_POOL_MAX clients, statement timeout, TLS. */
export function createPool(env: DbEnv, options: CreatePoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    ...clientConfig(env),
    max: env.DATABASE_POOL_MAX,
    idleTimeoutMillis: 30_000,
  });
  // an idle client that loses its connection emits 'error' on the pool; without a listener the
  // process would crash
  pool.on('error', options.onError ?? ((err) => console.error('[db] idle client error:', err.message)));
  return pool;
}

const closing = new WeakMap<pg.Pool, Promise<void>>();

/**
 * Clean shutdown: waits for checked-out clients to be released, then closes every connection.
 * Safe to call more than once. Rejects when clients are still busy after `timeoutMs`.
 */
export function closePool(pool: pg.Pool, timeoutMs = 10_000): Promise<void> {
  const existing = closing.get(pool);
  if (existing) return existing;
  let timer: NodeJS.Timeout | undefined;
  const done = Promise.race([
    pool.end(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`database pool did not close within ${timeoutMs} ms (${pool.totalCount - pool.idleCount} clients busy)`)),
        timeoutMs,
      );
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
  closing.set(pool, done);
  return done;
}

/**
 * Runs `fn` in a transaction on one client; commits on success, rolls back on error. A checked-out
 * client has no error listener (the pool's is for idle clients): a connection lost between two
 * statements (a Postgres restart's FATAL message, a reset) would be an unhandled 'error' event
 * and end the process. It is caught here, fails the transaction's next statement, and the client
 * is released as broken (destroyed, not reused).
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => (lost ??= err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(lost);
  }
}
