import type { PoolClient } from 'pg';
import type { Queryable } from '../pool.js';

/*
 * Backups (backup-data): the snapshot pg_dump reads, the row counts of that same snapshot, and the
 * scratch databases a verification restores into. Global (no workspace): the whole database.
 */

/** Ordinary tables (partitions included, partitioned parents not) outside the system schemas. */
const USER_TABLES = `
  SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  ORDER BY 1`;

/** Exact row counts of every user table, as seen by the client's current snapshot. */
export async function countUserTableRows(db: Queryable): Promise<Record<string, number>> {
  const { rows: tables } = await db.query<{ name: string }>(USER_TABLES);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    // the name is quote_ident'ed by Postgres itself
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`);
    counts[name] = Number(rows[0]!.n);
  }
  return counts;
}

export interface ExportedSnapshot {
  /** for `pg_dump --snapshot` */
  readonly snapshotId: string;
  readonly serverVersion: string;
  readonly database: string;
  /** row counts in the exported snapshot (what the dump will contain) */
  readonly tables: Record<string, number>;
}

/**
 * Opens a read-only REPEATABLE READ transaction on `client`, exports its snapshot and counts every
 * table in it. Keep the transaction open until pg_dump has finished, then `endSnapshot`.
 */
export async function exportSnapshot(client: PoolClient, options: { countRows: boolean }): Promise<ExportedSnapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // counting and holding the snapshot take as long as the dump: no pool-wide limits here
  await client.query(`SELECT set_config('statement_timeout', '0', true), set_config('idle_in_transaction_session_timeout', '0', true)`);
  const { rows } = await client.query<{ id: string; version: string; db: string }>(
    `SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version, current_database() AS db`,
  );
  const tables = options.countRows ? await countUserTableRows(client) : {};
  return { snapshotId: rows[0]!.id, serverVersion: rows[0]!.version, database: rows[0]!.db, tables };
}

export async function endSnapshot(client: PoolClient): Promise<void> {
  await client.query('COMMIT');
}

/** Ends the snapshot's transaction after a failure (never throws). */
export async function abortSnapshot(client: PoolClient): Promise<void> {
  await client.query('ROLLBACK').catch(() => {});
}

const SCRATCH = /^coldcopy_verify_[a-f0-9]{8,32}$/;

/** Creates an empty scratch database for a test restore (the role needs CREATEDB). */
export async function createScratchDatabase(db: Queryable, name: string): Promise<void> {
  if (!SCRATCH.test(name)) throw new TypeError(`not a scratch database name: ${name}`);
  await db.query(`CREATE DATABASE ${name}`);
}

/** Drops a scratch database, disconnecting whoever is still in it. */
export async function dropScratchDatabase(db: Queryable, name: string): Promise<void> {
  if (!SCRATCH.test(name)) throw new TypeError(`not a scratch database name: ${name}`);
  await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
