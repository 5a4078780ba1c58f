import type { TestProject } from 'vitest/node';
import { PostgresServer } from './postgres-server.js';
import { RedisServer } from './redis-server.js';
import { createTemplateDatabase, databaseUrl, dropTestDatabase } from './test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * The migration runner lives in @coldcopy/db, whose tests depend on this package; importing it by
 * path (both are unbuilt internal packages) avoids a dependency cycle between the two.
 */
const MIGRATE_MODULE = new URL('../../db/src/migrate.ts', import.meta.url).href;
type MigrateFn = (databaseUrl: string) => Promise<string[]>;

/**
 * Vitest global setup for integration tests: uses TEST_REDIS_URL when given, otherwise starts a
 * private redis-server on a free port and stops it after the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];

  const givenRedis = process.env.TEST_REDIS_URL;
  if (givenRedis) {
    project.provide('redisUrl', givenRedis);
  } else {
    const redis = await RedisServer.start();
    project.provide('redisUrl', redis.url);
    stops.push(() => redis.stop());
  }

  try {
    await setupPostgres(project, stops);
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw err;
  }

  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

/**
 * Postgres: TEST_DATABASE_URL when given (a server you own: only `coldcopy_template_*` and `t_*`
 * databases are ever created or dropped there), otherwise a private initdb cluster. The
 * migrations run once, into a template database; createTestDatabase() clones it per test file.
 */
async function setupPostgres(project: TestProject, stops: Array<() => Promise<void>>): Promise<void> {
  const given = process.env.TEST_DATABASE_URL;
  let serverUrl: string;
  if (given) {
    serverUrl = given;
  } else {
    const postgres = await PostgresServer.start();
    serverUrl = postgres.url;
    stops.push(() => postgres.stop());
  }
  const template = await createTemplateDatabase(serverUrl, Boolean(given));
  if (given) stops.push(() => dropTestDatabase(serverUrl, template));
  const { migrate } = (await import(MIGRATE_MODULE)) as { migrate: MigrateFn };
  await migrate(databaseUrl(serverUrl, template));
  project.provide('databaseUrl', serverUrl);
  project.provide('databaseTemplate', template);
}
