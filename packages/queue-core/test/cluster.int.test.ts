import { createServer } from 'node:net';
import { RedisCluster, testPrefix, waitFor } from '@coldcopy/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAdminQueues } from '../src/admin/index.js';
import { bullQueueOf } from '../src/admin/admin-queues.js';
import { workerClientName } from '../src/admin/queue-counts.js';
import { openDeadLetters } from '../src/dead-letters/store.js';
import { QueueUnavailableError } from '../src/definitions/errors.js';
import { SIGNATURE_OPTION } from '../src/security/job-security.js';
import type { Schedule } from '../src/jobs/schedules.js';
import { createSilentLogger } from '../src/observability/logger.js';
import { Producer } from '../src/producer/producer.js';
import { createRateLimiter } from '../src/redis/rate-limit.js';
import { RedisConnections, type RedisClient } from '../src/redis/connections.js';
import { reconcileSchedules } from '../src/runtime/schedule-reconciler.js';
import { scheduleRows } from '../src/admin/schedule-status.js';
import { bullKeyLayout, hashTagOf, shardFor, shardQueueName } from '../src/redis/sharding.js';
import { bullQueuesOf, startWorker, type Worker, type WorkerOptions } from '../src/runtime/worker.js';
import { testEcho, testFlaky, testHandlers, testJobs, type TestDeps } from './fixtures/test-jobs.js';
import { testSecurity } from './fixtures/test-keys.js';

/**
 * queue-core against a real Redis Cluster: three `redis-server --cluster-enabled yes` primaries
 * with a password, joined by `redis-cli --cluster create` (@coldcopy/testing RedisCluster). The
 * only configuration is the cluster URL (`redis+cluster://:pw@127.0.0.1:p1,…`): producers,
 * workers, the admin queues and the dead-letter store get ioredis `Cluster` clients and the
 * cluster key layout from it (nobody passes `cluster: true` here).
 */

/** with characters that must be percent-encoded in the URL */
const PASSWORD = 'cluster p@ss/w%rd';
const ws = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Two workspace ids on different shards of 2. */
function workspacesOnDifferentShards(): [string, string] {
  const a = ws(1);
  for (let n = 2; ; n++) if (shardFor(ws(n), 2) !== shardFor(a, 2)) return [a, ws(n)];
}

const patient = { timeoutMs: 60_000 };

describe('Redis Cluster (3 primaries, real redis-server processes)', { timeout: 180_000 }, () => {
  let cluster: RedisCluster;
  let cleanups: Array<() => unknown> = [];
  const track = <T>(resource: T, close: (r: T) => unknown): T => {
    cleanups.push(() => close(resource));
    return resource;
  };

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password: PASSWORD });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    cleanups = [];
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Primary that serves the slot of `key`. */
  const primaryOfKey = async (key: string) => cluster.primaryOf(await cluster.keySlot(key));
  /** A Bull key of shard `shard` of `maintenance` in the cluster layout. */
  const shardKey = (prefix: string, shard: number, suffix = 'wait') => {
    const layout = bullKeyLayout(prefix, shardQueueName('maintenance', shard), true);
    return `${layout.prefix}:${layout.name}:${suffix}`;
  };

  /**
   * A fresh prefix whose two `maintenance` shards are served by different primaries. Their slots
   * differ for any prefix (one hash tag per shard); with 3 primaries two slots share a primary
   * about a third of the time, so the test picks a prefix where they do not, to exercise
   * cross-node operation.
   */
  async function prefixOnTwoPrimaries(): Promise<string> {
    for (;;) {
      const prefix = testPrefix();
      if ((await primaryOfKey(shardKey(prefix, 0))) !== (await primaryOfKey(shardKey(prefix, 1)))) return prefix;
    }
  }

  /** The test's own cluster client (events list, assertions). */
  function clusterClient(): RedisClient {
    const connections = track(new RedisConnections(cluster.url, 'worker', 'cluster-test'), (c) => c.close());
    return connections.commandClient;
  }

  function producer(prefix: string): Producer {
    return track(new Producer({ redisUrl: cluster.url, prefix, security: testSecurity(), shards: { maintenance: 2 } }), (p) => p.close());
  }

  async function worker(prefix: string, overrides: Partial<WorkerOptions<'maintenance', TestDeps>> = {}): Promise<Worker> {
    const events = clusterClient();
    const deps: TestDeps = { record: async (e) => void (await events.rpush(`${prefix}:events`, e)) };
    const w = await startWorker({
      queue: 'maintenance',
      redisUrl: cluster.url,
      prefix,
      definitions: testJobs,
      handlers: testHandlers as never,
      deps,
      logger: createSilentLogger(),
      concurrency: 2,
      shards: 2,
      security: testSecurity(),
      ...overrides,
    });
    return track(w, (x) => x.close(5000));
  }

  /** Names of the client connections on every node (CLIENT LIST), without the probe's own. */
  async function connectionNames(): Promise<string[]> {
    const names: string[] = [];
    for (const port of cluster.ports) {
      const probe = new Redis(cluster.nodeUrl(port), { maxRetriesPerRequest: 1, connectionName: 'probe' });
      try {
        const list = (await probe.client('LIST')) as string;
        for (const m of list.matchAll(/ name=(\S*)/g)) if (m[1] !== 'probe') names.push(m[1]!);
      } finally {
        probe.disconnect();
      }
    }
    return names;
  }

  it('enqueues signed jobs on 2 shards that live on different primaries, processes them all, and closes every connection', async () => {
    const prefix = await prefixOnTwoPrimaries();
    const [a, b] = workspacesOnDifferentShards();
    const p = producer(prefix);
    const single = await p.enqueue(testEcho, { workspaceId: b, value: 'single' });
    const bulk = await p.enqueueBulk(
      testEcho,
      Array.from({ length: 20 }, (_, n) => ({ data: { workspaceId: n % 2 ? b : a, value: `v${n}` } })),
    );
    expect(bulk).toHaveLength(20);

    const w = await worker(prefix);
    const events = clusterClient();
    const done = await waitFor(
      async () => {
        const list = await events.lrange(`${prefix}:events`, 0, -1);
        return list.length >= 21 ? list : undefined;
      },
      { ...patient, what: '21 processed jobs' },
    );
    expect(done.filter((e) => e.startsWith('echo:')).sort()).toEqual(['echo:single:0', ...Array.from({ length: 20 }, (_, n) => `echo:v${n}:0`)].sort());
    // both shards did work, and every job carried the producer's signature (checked by the worker)
    const completed = await Promise.all(bullQueuesOf(w).map((q) => q.getCompleted(0, -1)));
    expect(completed.map((jobs) => jobs.length).sort()).toEqual([10, 11]);
    const shardOfB = shardFor(b, 2);
    expect(completed[shardOfB]!.map((j) => String(j.id))).toContain(single.id);
    for (const job of completed.flat()) expect(String((job.opts as Record<string, unknown>)[SIGNATURE_OPTION])).toMatch(/^v2\.k2\./);

    // Key layout: every key of a shard in one slot, the two shards in different slots, on the
    // two different primaries the keys were found on.
    const byShard = new Map<number, Set<number>>();
    const foundOn = new Map<number, Set<number>>();
    for (const port of await cluster.primaries()) {
      for (const key of await cluster.keysOn(port, `{${prefix}-*`)) {
        const shard = hashTagOf(key) === `${prefix}-maintenance` ? 0 : hashTagOf(key) === `${prefix}-maintenance-1` ? 1 : -1;
        expect(shard, `unexpected key ${key}`).not.toBe(-1);
        (byShard.get(shard) ?? byShard.set(shard, new Set()).get(shard)!).add(await cluster.keySlot(key));
        (foundOn.get(shard) ?? foundOn.set(shard, new Set()).get(shard)!).add(port);
      }
    }
    expect([...byShard.keys()].sort()).toEqual([0, 1]);
    expect(byShard.get(0)!.size).toBe(1);
    expect(byShard.get(1)!.size).toBe(1);
    expect([...byShard.get(0)!][0]).not.toBe([...byShard.get(1)!][0]);
    expect(foundOn.get(0)!.size).toBe(1);
    expect(foundOn.get(1)!.size).toBe(1);
    expect([...foundOn.get(0)!][0]).not.toBe([...foundOn.get(1)!][0]);
    expect([...foundOn.get(0)!][0]).toBe(await primaryOfKey(shardKey(prefix, 0)));

    // Closing the worker, producer and test clients quits every cluster connection they opened
    // (Bull reconnects a bclient while closing; RedisConnections still quits it).
    expect((await connectionNames()).some((n) => n.startsWith('coldcopy-'))).toBe(true);
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
    const left = await waitFor(
      async () => {
        const names = (await connectionNames()).filter((n) => n.startsWith('coldcopy-') || n.startsWith('cluster-test') || n.includes(prefix));
        return names.length === 0 ? names : undefined;
      },
      { timeoutMs: 10_000, what: 'every connection to close' },
    ).catch(async () => connectionNames());
    expect(left).toEqual([]);
  });

  it("names each shard's blocking client on the primary that serves the shard, once, and again after it reconnects", async () => {
    const prefix = await prefixOnTwoPrimaries();
    const w = await worker(prefix);
    // Bull's worker name (`<keyPrefix>:<base64 queue name>`), which the dashboard counts
    const names = bullQueuesOf(w).map((q) => workerClientName(q));
    /** For each name: the ports of the nodes holding a connection with it. */
    const placed = async () => {
      const found: number[][] = names.map(() => []);
      for (const port of cluster.ports) {
        const probe = new Redis(cluster.nodeUrl(port), { maxRetriesPerRequest: 1, connectionName: 'probe' });
        try {
          const list = (await probe.client('LIST')) as string;
          for (const m of list.matchAll(/ name=(\S*)/g)) {
            const i = names.indexOf(m[1]!);
            if (i >= 0) found[i]!.push(port);
          }
        } finally {
          probe.disconnect();
        }
      }
      return found;
    };
    const owners = [await primaryOfKey(shardKey(prefix, 0)), await primaryOfKey(shardKey(prefix, 1))];
    const onceOnOwners = async () => {
      const found = await placed();
      return found.every((ports, i) => ports.length === 1 && ports[0] === owners[i]) ? found : undefined;
    };
    await waitFor(onceOnOwners, { timeoutMs: 10_000, what: 'each name once, on the primary of its shard' });

    // Bull's local pause ends the blocking client; resume connects it again: the name comes back
    await bullQueuesOf(w)[0]!.pause(true);
    await bullQueuesOf(w)[0]!.resume(true);
    expect(await waitFor(onceOnOwners, { timeoutMs: 10_000, what: 'the name back after the reconnect' }).catch(placed)).toEqual(owners.map((p) => [p]));
  });

  it('dead letters: a permanently failing job lands in the store (one slot); list, count, replay and purge work', async () => {
    const prefix = await prefixOnTwoPrimaries();
    await worker(prefix);
    const job = await producer(prefix).enqueue(testFlaky, { mode: 'permanent', tag: 'dlq' });
    const dlq = track(openDeadLetters({ redisUrl: cluster.url, prefix }), (d) => d.close());
    const id = `maintenance:${job.id}`;
    const entry = await waitFor(() => dlq.get(id), { ...patient, what: 'the dead-letter entry' });
    expect(entry).toMatchObject({ queue: 'maintenance', jobName: 'test-flaky', error: { name: 'PermanentJobError' } });
    expect((await dlq.list()).map((e) => e.id)).toEqual([id]);
    expect(await dlq.count('maintenance')).toBe(1);
    expect((await dlq.countByQueue()).maintenance).toBe(1);

    // index, per-queue set and entry share the hash tag {<prefix>} and so one slot
    const dlqKeys: string[] = [];
    for (const port of await cluster.primaries()) dlqKeys.push(...(await cluster.keysOn(port, `{${prefix}}:dlq:*`)));
    expect(dlqKeys.sort()).toEqual([`{${prefix}}:dlq:e:${id}`, `{${prefix}}:dlq:index`, `{${prefix}}:dlq:q:maintenance`]);
    expect(new Set(await Promise.all(dlqKeys.map((k) => cluster.keySlot(k)))).size).toBe(1);

    // replay goes back to the queue under the same id (the cluster layout), fails again, returns
    expect(await dlq.replay([id], { security: testSecurity() })).toEqual([{ id, status: 'replayed', jobId: job.id }]);
    const events = clusterClient();
    await waitFor(async () => (await events.lrange(`${prefix}:events`, 0, -1)).filter((e) => e === 'attempt:dlq:1').length >= 2 || undefined, {
      ...patient,
      what: 'the replayed job to run',
    });
    await waitFor(() => dlq.get(id), { ...patient, what: 'the entry to come back' });
    expect(await dlq.purge({ queue: 'maintenance' })).toBe(1);
    expect(await dlq.count()).toBe(0);
  });

  it('admin reads (`pnpm jobs status`, `pnpm jobs schedules`) see every shard, pauses and reconciled schedules', async () => {
    const prefix = await prefixOnTwoPrimaries();
    const [a, b] = workspacesOnDifferentShards();
    const hourly: Schedule = {
      key: 'test-echo-hourly',
      job: testEcho,
      cron: '0 * * * *',
      tz: 'UTC',
      data: { workspaceId: a, value: 'scheduled' },
      description: 'test schedule',
    };
    await producer(prefix).enqueueBulk(
      testEcho,
      [a, b, b].map((workspaceId) => ({ data: { workspaceId, value: 'x' } })),
    );
    const admin = track(openAdminQueues({ redisUrl: cluster.url, prefix, shards: { maintenance: 2 } }), (x) => x.close());
    // what a worker does at startup on shard 0: lock (SET NX), repeatable add, unlock (Lua)
    const reconciled = await reconcileSchedules({ queue: bullQueueOf(admin.shardsOf('maintenance')[0]!), schedules: [hourly], security: testSecurity() });
    expect(reconciled).toMatchObject({ reconciled: true, added: ['test-echo-hourly'] });
    expect(admin.connections.cluster).toBe(true);
    await admin.shardsOf('maintenance')[1]!.inspect.pause();
    const rows = (await admin.status()).filter((r) => r.queue === 'maintenance');
    const onA = shardFor(a, 2);
    expect(rows.map((r) => [r.bullName, r.shard, r.waiting, r.paused])).toEqual([
      ['maintenance', 0, onA === 0 ? 1 : 2, false],
      ['maintenance-1', 1, onA === 0 ? 2 : 1, true],
    ]);
    // the armed run of the schedule is the one delayed job of shard 0
    expect(rows[0]!.delayed).toBe(1);
    const schedules = await scheduleRows(admin, [hourly]);
    expect(schedules).toEqual([expect.objectContaining({ key: 'test-echo-hourly', state: 'active', cron: '0 * * * *' })]);
  });

  it('the GCRA rate limiter runs on the cluster, with keys on different primaries', async () => {
    const prefix = testPrefix();
    const client = clusterClient();
    expect(client).toBeInstanceOf(Cluster);
    const limiter = createRateLimiter(client, { prefix: `${prefix}:rate` });
    // two limiter keys served by different primaries
    const k1 = 'mailbox-0';
    let k2 = 'mailbox-1';
    for (let n = 1; (await primaryOfKey(`${prefix}:rate:${k2}`)) === (await primaryOfKey(`${prefix}:rate:${k1}`)); n++) k2 = `mailbox-${n}`;
    const limit = { max: 2, perMs: 1000 };
    for (const key of [k1, k2]) {
      expect(await limiter.tryAcquire(key, limit)).toBe(0);
      const wait = await limiter.tryAcquire(key, limit);
      expect(wait).toBeGreaterThan(400);
      expect(wait).toBeLessThanOrEqual(500);
    }
    // acquire reserves and waits: 5 per second is one slot every 200 ms
    const steady = { max: 5, perMs: 1000 };
    await limiter.acquire(k1, steady);
    const started = Date.now();
    await limiter.acquire(k1, steady);
    await limiter.acquire(k1, steady);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    // a hash-tagged prefix puts every limiter key in one slot: still works
    const tagged = createRateLimiter(client, { prefix: `{${prefix}}:rate` });
    expect(await tagged.tryAcquire('x', limit)).toBe(0);
    expect(await tagged.tryAcquire('y', limit)).toBe(0);
    expect(await tagged.tryAcquire('x', limit)).toBeGreaterThan(0);
  });

  it('a producer pointed at an unreachable cluster fails fast with QueueUnavailableError', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    const p = track(
      new Producer({
        redisUrl: `redis+cluster://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
        prefix: testPrefix(),
        security: testSecurity(),
        connectTimeoutMs: 1000,
      }),
      (x) => x.close(),
    );
    const started = Date.now();
    const err = await p.enqueue(testEcho, { workspaceId: ws(1), value: 'x' }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect((err as Error).message).not.toContain('p@ss');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
