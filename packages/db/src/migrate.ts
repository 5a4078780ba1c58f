import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { DbEnv } from './env.js';
import { clientConfig } from './pool.js';

/**
 * Migrations are plain SQL files run by node-pg-migrate: forward-only (no "Down Migration"
 * sections), each in its own transaction, under node-pg-migrate's advisory lock so two deploys
 * cannot migrate at once. File names start with a 17-digit UTC timestamp, which fixes the order.
 */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrateOptions {
  /** where progress lines go; default: nowhere */
  readonly log?: (line: string) => void;
  readonly dir?: string;
}

export interface MigrationStatus {
  readonly name: string;
  readonly appliedAt: Date | null;
}

type Target = string | DbEnv;

function connection(target: Target): pg.ClientConfig {
  // DDL can take longer than a worker's statement timeout: no limit for migrations
  const base = typeof target === 'string' ? { connectionString: target } : clientConfig(target);
  return { ...base, statement_timeout: 0 };
}

/** Applies every pending migration; returns the names applied (empty when up to date). */
export async function migrate(target: Target, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.log ?? (() => {});
  const applied = await runner({
    databaseUrl: connection(target),
    dir: options.dir ?? MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    checkOrder: true,
    singleTransaction: false,
    createSchema: false,
    verbose: false,
    logger: {
      debug: () => {},
      info: (msg: string) => log(msg),
      warn: (msg: string) => log(`warning: ${msg}`),
      error: (msg: string) => log(`error: ${msg}`),
    },
  });
  return applied.map((m) => m.name);
}

/** Migration files in the order node-pg-migrate runs them. */
export function migrationNames(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql') && !f.startsWith('.'))
    .sort()
    .map((f) => f.replace(/\.sql$/, ''));
}

/** Every migration file with the time it was applied, or null when pending. */
export async function migrationStatus(target: Target, dir = MIGRATIONS_DIR): Promise<MigrationStatus[]> {
  const client = new pg.Client(connection(target));
  await client.connect();
  try {
    const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`public.${MIGRATIONS_TABLE}`]);
    const applied = new Map<string, Date>();
    if (exists.rows[0]?.t) {
      const rows = await client.query<{ name: string; run_on: Date }>(`SELECT name, run_on FROM public.${MIGRATIONS_TABLE} ORDER BY run_on, id`);
      for (const row of rows.rows) applied.set(row.name, row.run_on);
    }
    const files = migrationNames(dir);
    const statuses: MigrationStatus[] = files.map((name) => ({ name, appliedAt: applied.get(name) ?? null }));
    // applied migrations whose file is gone still show up, so nobody mistakes them for pending
    for (const [name, at] of applied) if (!files.includes(name)) statuses.push({ name, appliedAt: at });
    return statuses;
  } finally {
    await client.end();
  }
}
