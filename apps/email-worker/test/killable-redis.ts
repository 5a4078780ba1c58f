import { RedisServer } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/**
 * A private redis-server with AOF for the enclosing describe, that its tests may kill -9 and
 * restart (`server.stopProcess('SIGKILL')`, `server.startProcess()`), and a client that reconnects
 * to it. Read `server` and `redis` inside the tests (set in beforeAll).
 */
export function useKillableRedis(): { server: RedisServer; redis: Redis } {
  const state = {} as { server: RedisServer; redis: Redis };
  beforeAll(async () => {
    state.server = await RedisServer.start({ appendOnly: true });
    state.redis = new Redis(state.server.url, { maxRetriesPerRequest: null });
    state.redis.on('error', () => undefined); // refused connections while the server is down
    await state.redis.ping();
  });
  afterAll(async () => {
    state.redis?.disconnect();
    await state.server?.stop();
  });
  return state;
}
