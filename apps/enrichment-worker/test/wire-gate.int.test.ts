import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRateLimiter, type RateLimiter } from '@coldcopy/queue-core/runtime';
import { testPrefix } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { ProviderRetryError } from '../src/providers/enrichment-provider.js';
import { requestJson } from '../src/providers/http.js';
import { createRedisProviderLimits, keyId } from '../src/providers/redis-provider-limits.js';

/**
 * The rate window's check and the request's write, end to end: queue-core's window check on a real
 * Redis, node:http to a local server that stamps each request when it arrives. The limit holds on
 * the time a request is written only if nothing of the worker can run between the check that its
 * admission is fresh and the write.
 */
const SLACK_MS = 20;
const wall = () => performance.timeOrigin + performance.now();

let redis: Redis;
let prefix: string;
let server: Server;
let base: string;
let arrivals: number[];

beforeEach(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
  prefix = testPrefix();
  arrivals = [];
  server = createServer((req, res) => {
    arrivals.push(wall());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

function limitsOn(limiter: RateLimiter, perSecond: number, maxWaitMs = 5000) {
  return createRedisProviderLimits({
    redis,
    limiter,
    prefix,
    keys: { hunter: 'k' },
    limits: { hunter: { person: { perSecond, maxConcurrent: 4 } }, apollo: {} },
    maxWaitMs,
    slackMs: SLACK_MS,
    marginPercent: 0,
    shared: false,
  });
}

const logKey = () => `${prefix}:rate:hunter:${keyId('k')}:person:log`;

describe('provider requests are written through the rate window gate', () => {
  it('a stall after the check answered makes the admission stale: released by name, asked again, the request written within half the slack of its record', async () => {
    const real = createRateLimiter(redis, { prefix: `${prefix}:rate` });
    let admits = 0;
    const limiter: RateLimiter = {
      ...real,
      async admit(key, limit) {
        const admission = await real.admit(key, limit);
        // the first answer reaches a process that then loses the CPU for 30 ms (more than half the slack)
        if (++admits === 1) for (const until = performance.now() + 30; performance.now() < until;);
        return admission;
      },
    };
    const limits = limitsOn(limiter, 10);
    const res = await limits.run('hunter', 'person', new AbortController().signal, (gate) =>
      requestJson('hunter', `${base}/v2/email-finder?x=1`, { method: 'GET', headers: {} }, 5000, new AbortController().signal, gate),
    );
    expect(res.status).toBe(200);
    expect(admits).toBe(2);
    expect(arrivals).toHaveLength(1);
    // the stale record is gone, the used one stays: one call, one record
    const records = await redis.zrange(logKey(), 0, -1, 'WITHSCORES');
    expect(records).toHaveLength(2);
    // arrival (stamped by the server in this process, so no earlier than the write) within half the slack of the record
    expect(arrivals[0]! - Number(records[1])).toBeLessThanOrEqual(SLACK_MS / 2 + 1);
    await limits.close();
  });

  it('no fresh admission within the allowed wait: the request is never written, the call is a rate-limit retry', async () => {
    const limiter = createRateLimiter(redis, { prefix: `${prefix}:rate` });
    // another replica's call fills the window (1 per 1,020 ms) just before
    const other = await limiter.admit(`hunter:${keyId('k')}:person`, { max: 1, perMs: 1000, slackMs: SLACK_MS });
    expect(other.waitMs).toBe(0);
    const limits = limitsOn(limiter, 1, 200);
    const err = await limits
      .run('hunter', 'person', new AbortController().signal, (gate) =>
        requestJson('hunter', `${base}/v2/email-finder?x=2`, { method: 'GET', headers: {} }, 5000, new AbortController().signal, gate),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderRetryError);
    expect(err).toMatchObject({ reason: 'rate-limit' });
    // give a write that slipped through time to arrive
    await new Promise((r) => setTimeout(r, 100));
    expect(arrivals).toEqual([]);
    expect(await redis.zcard(logKey())).toBe(1);
    await limits.close();
  });
});
