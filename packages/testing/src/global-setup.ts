import type { TestProject } from 'vitest/node';
import { RedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

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

  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
