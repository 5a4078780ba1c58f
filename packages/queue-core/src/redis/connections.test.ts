import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createBullQueue } from './bull-queue.js';
import {
  whenReady,
  clientOptions,
  clusterClientOptions,
  isClusterUrl,
  redact,
  RedisConnections,
  redisOptionsFromUrl,
  redisTargetFromUrl,
  redisUrlProblem,
} from './connections.js';

/** The message of what `fn` throws (fails the test when nothing is thrown). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('redis options', () => {
  it('parses redis:// and rediss:// URLs with user, password and db', () => {
    expect(redisOptionsFromUrl('redis://127.0.0.1:6380/2')).toMatchObject({ host: '127.0.0.1', port: 6380, db: 2, tls: undefined });
    const managed = redisOptionsFromUrl('rediss://default:s%40cret@db-valkey.example.com:25061');
    expect(managed).toMatchObject({ host: 'db-valkey.example.com', port: 25061, username: 'default', password: 's@cret' });
    expect(managed.tls).toEqual({ servername: 'db-valkey.example.com' });
  });

  it('rejects other schemes and bad db indexes', () => {
    expect(() => redisOptionsFromUrl('http://x')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisOptionsFromUrl('redis://x/abc')).toThrow(/database index/);
  });

  it('never shows a password', () => {
    expect(redact('rediss://default:hunter2@host:25061')).toBe('rediss://default:***@host:25061');
    expect(() => redisOptionsFromUrl('nope://u:hunter2@x')).toThrow(/^((?!hunter2).)*$/);
  });

  it('gives blocking and subscriber clients the options Bull requires, and producers fail fast', () => {
    const base = redisOptionsFromUrl('redis://127.0.0.1:6379');
    for (const type of ['bclient', 'subscriber'] as const) {
      for (const role of ['worker', 'producer'] as const) {
        expect(clientOptions(base, role, type)).toMatchObject({ maxRetriesPerRequest: null, enableReadyCheck: false });
      }
    }
    expect(clientOptions(base, 'producer', 'client')).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(clientOptions(base, 'worker', 'client')).toMatchObject({ maxRetriesPerRequest: null });
  });
});

describe('Redis Cluster URLs', () => {
  it('parses seed nodes, credentials and TLS', () => {
    const target = redisTargetFromUrl('redis+cluster://10.0.0.1:7000, 10.0.0.2:7001,node-c,[::1]:7002/');
    expect(target.cluster).toBe(true);
    if (!target.cluster) return;
    expect(target.nodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: 'node-c', port: 6379 },
      { host: '::1', port: 7002 },
    ]);
    expect(target.options).toEqual({ username: undefined, password: undefined, tls: undefined });

    // a password with `@`, `/` and `,` (percent-encoded or not, up to the last `@`)
    const tls = redisTargetFromUrl('rediss+cluster://default:p%40ss/w,rd@redis-a.example.com:6380,redis-b.example.com:6380/0');
    expect(tls).toMatchObject({
      cluster: true,
      nodes: [
        { host: 'redis-a.example.com', port: 6380 },
        { host: 'redis-b.example.com', port: 6380 },
      ],
      options: { username: 'default', password: 'p@ss/w,rd' },
    });
    // no fixed servername: every node is checked against its own name
    expect(tls.options.tls).toEqual({});
    expect(isClusterUrl('REDISS+CLUSTER://h:1')).toBe(true);
    expect(isClusterUrl('rediss://h:1')).toBe(false);
    expect(redisTargetFromUrl('redis://h:1').cluster).toBe(false);
  });

  it('refuses bad cluster URLs with a TypeError naming the variable and never the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['redis+cluster://u:hunter2@', /at least one host:port/],
      ['redis+cluster://u:hunter2@a:7000,b:99999', /node #2/],
      ['redis+cluster://u:hunter2@a:7000/3', /only database 0/],
      ['rediss+cluster://u:hunter2@a:7000?tls=false', /query strings/],
      ['redis+cluster://u:hunter2@a b:7000', /node #1/],
      ['redis+cluster://u:hunter%zz@a:7000', /percent-encoding/],
      // the `@` is missing: `u:hunter2` must not be echoed as a bad node
      ['redis+cluster://u:hunter2', /node #1/],
    ];
    for (const [url, message] of cases) {
      const err = thrown(() => redisTargetFromUrl(url, 'QUEUE_REDIS_URL'));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^QUEUE_REDIS_URL: /);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/hunter/);
      expect(redisUrlProblem(url)).toMatch(message);
    }
    expect(thrown(() => redisOptionsFromUrl('redis+cluster://a:7000')).message).toMatch(/REDIS_URL: .*cluster client/);
    expect(thrown(() => redisTargetFromUrl(':hunter2@host')).message).not.toMatch(/hunter2/);
    expect(redisUrlProblem('rediss+cluster://default:pw@a:7000,b:7000')).toBeUndefined();
  });

  it('redacts cluster URLs and passwords holding / or @', () => {
    expect(redact('rediss+cluster://default:hunter2@a:7000,b:7000')).toBe('rediss+cluster://default:***@a:7000,b:7000');
    expect(redact('redis+cluster://:hu/nt@er2@a:7000')).toBe('redis+cluster://:***@a:7000');
    expect(redact('redis+cluster://a:7000,b:7001')).toBe('redis+cluster://a:7000,b:7001');
  });

  it('gives every node connection the per-role options; reconnects and the offline queue belong to the Cluster', () => {
    const target = redisTargetFromUrl('rediss+cluster://default:pw@a.example.com:7000');
    for (const type of ['bclient', 'subscriber'] as const) {
      for (const role of ['worker', 'producer'] as const) {
        const opts = clusterClientOptions(target.options, role, type);
        // what Bull checks on a Cluster (client.options.redisOptions)
        expect(opts.redisOptions).toMatchObject({ maxRetriesPerRequest: null, enableReadyCheck: false });
        expect(opts.enableOfflineQueue).toBe(true);
      }
    }
    const producer = clusterClientOptions(target.options, 'producer', 'client');
    expect(producer.enableOfflineQueue).toBe(false);
    expect(producer.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, connectTimeout: 2000, password: 'pw', tls: {} });
    const worker = clusterClientOptions(target.options, 'worker', 'client');
    expect(worker.redisOptions).toMatchObject({ maxRetriesPerRequest: null });
    for (const opts of [producer, worker]) {
      expect(opts.redisOptions).not.toHaveProperty('retryStrategy');
      expect(opts.redisOptions).not.toHaveProperty('enableOfflineQueue');
      expect(opts.clusterRetryStrategy?.(3)).toBe(400);
    }
    // TLS: node host names are kept (certificate checks), not resolved to addresses
    let resolved: string | undefined;
    producer.dnsLookup?.('a.example.com', (_err, address) => (resolved = address));
    expect(resolved).toBe('a.example.com');
    expect(clusterClientOptions(redisTargetFromUrl('redis+cluster://a:7000').options, 'worker', 'client')).not.toHaveProperty('dnsLookup');
  });

  it('makes Cluster clients (a new bclient per call) that Bull accepts, with the cluster key layout', async () => {
    // nothing listens on port 1: the clients never become ready, which is all this test needs
    const connections = new RedisConnections('redis+cluster://127.0.0.1:1', 'worker', 'unit');
    try {
      expect(connections.cluster).toBe(true);
      const b1 = connections.createClient('bclient');
      expect(b1).toBeInstanceOf(Cluster);
      expect(connections.createClient('bclient')).not.toBe(b1);
      expect(connections.createClient('subscriber')).toBe(connections.createClient('subscriber'));
      expect(connections.commandClient).toBe(connections.client);
      expect(connections.client).toBeInstanceOf(Cluster);
      // cluster: false is overridden by cluster connections
      const queue = createBullQueue('email', { prefix: 'bull', connections, skipVersionCheck: true, shard: 1, cluster: false });
      expect(queue.toKey('wait')).toBe('{bull-email-1}:email-1:wait');
      // Bull throws here when a bclient or subscriber has the wrong options
      const lazy = queue as unknown as { bclient: unknown; eclient: unknown }; // getters missing from Bull's typings
      expect(() => [lazy.bclient, lazy.eclient]).not.toThrow();
    } finally {
      await connections.close();
    }
    const single = new RedisConnections('redis://127.0.0.1:1', 'worker');
    expect(single.cluster).toBe(false);
    expect(single.client).toBeInstanceOf(Redis);
    await single.close();
    expect(() => single.createClient('client')).toThrow(/closed/);
  });
});

describe('whenReady', () => {
  it('concurrent waiters share one pair of listeners and all see the outcome', async () => {
    // nothing listens on port 1 and there is no retry: the connection ends
    const client = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    const waits = Array.from({ length: 50 }, () => whenReady(client, 30_000));
    expect(client.listenerCount('ready')).toBe(1);
    expect(client.listenerCount('end')).toBe(1);
    const outcomes = await Promise.allSettled(waits);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(client.listenerCount('ready')).toBe(0);
    client.disconnect();
  });
});
