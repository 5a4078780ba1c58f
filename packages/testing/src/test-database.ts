import { randomBytes } from 'node:crypto';
import pg from 'pg';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Postgres server URL (its maintenance database), for createTestDatabase() */
    databaseUrl: string;
    /** migrated template database that createTestDatabase() clones */
    databaseTemplate: string;
  }
}

/** Prefix of every database the test harness creates; it only ever drops names with it. */
export const TEST_DATABASE_PREFIX = 't_';

export interface TestDatabase {
  /** URL of the fresh, migrated database */
  readonly url: string;
  readonly name: string;
  /** drops the database (terminating leftover sessions); safe to call twice */
  drop(): Promise<void>;
}

/** Same server and credentials as `serverUrl`, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name: ${name}`);
  return `"${name}"`;
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `t_<random>` as a copy of the migrated template from global setup, so each test file
 * gets its own database in milliseconds instead of running migrations. `serverUrl` is what
 * `inject('databaseUrl')` returns; `template` is `inject('databaseTemplate')`.
 */
export async function createTestDatabase(serverUrl: string, template: string): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  await withAdmin(serverUrl, async (client) => {
    // concurrent clones of one template can collide on its lock ("source database is being
    // accessed by other users"); retry briefly
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  let dropped = false;
  return {
    url: databaseUrl(serverUrl, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await dropTestDatabase(serverUrl, name);
    },
  };
}

/** Drops a database the harness created (refuses any name without the harness prefixes). */
export async function dropTestDatabase(serverUrl: string, name: string): Promise<void> {
  if (!name.startsWith(TEST_DATABASE_PREFIX) && !name.startsWith(TEMPLATE_PREFIX)) {
    throw new Error(`refusing to drop ${name}: not created by the test harness`);
  }
  await withAdmin(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

export const TEMPLATE_PREFIX = 'coldcopy_template';

/**
 * Creates an empty database for the template and returns its name. On the private server the name
 * is fixed; against TEST_DATABASE_URL it gets a random suffix so concurrent runs never share (or
 * drop) each other's template.
 */
export async function createTemplateDatabase(serverUrl: string, unique: boolean): Promise<string> {
  const name = unique ? `${TEMPLATE_PREFIX}_${randomBytes(4).toString('hex')}` : TEMPLATE_PREFIX;
  await withAdmin(serverUrl, async (client) => {
    if (!unique) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  return name;
}
