import { openAdminQueues, type AdminQueues } from '@coldcopy/queue-core/admin';
import { createSilentLogger, RedisConnections } from '@coldcopy/queue-core/runtime';
import { RedisCluster, testPrefix, waitFor } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type DashboardApp } from '../src/app.js';
import { loadDashboardEnv } from '../src/env.js';
import { readQueueStates, type QueueState } from '../src/queue-state.js';
import { listQueueTargets, type QueueTarget } from '../src/queue-targets.js';
import { ADMIN_USERS, sample, SESSION_SECRET, testQueues, type TestQueue } from './helpers.js';

/**
 * The dashboard's worker counts on a real Redis Cluster (three `redis-server --cluster-enabled`
 * primaries, @coldcopy/testing RedisCluster). A Bull worker's blocking client is an ioredis
 * Cluster; Bull names it with a keyless CLIENT SETNAME, which queue-core sends to the primary that
 * serves the queue, so the dashboard has to read CLIENT LIST on every primary and merge
 * (queue-state.ts).
 */

const PASSWORD = 'dash cluster p@ss';
const SHARDS = { email: 2 } as const;

const clientName = (t: QueueTarget) => t.source.workerClientName;

describe('dashboard worker counts on a Redis Cluster (3 primaries)', { timeout: 180_000 }, () => {
  let cluster: RedisCluster;
  let closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password: PASSWORD });
  }, 120_000);
  afterEach(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers = [];
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Runs `command` on one node over a plain connection (not through the cluster client). */
  async function onNode<T>(port: number, command: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis(cluster.nodeUrl(port), { maxRetriesPerRequest: 1, connectionName: 'probe' });
    try {
      return await command(r);
    } finally {
      r.disconnect();
    }
  }

  /** Ground truth: port of every node → names of its connections (without the probe's). */
  async function namesByNode(): Promise<Map<number, string[]>> {
    const byNode = new Map<number, string[]>();
    for (const port of cluster.ports) {
      const list = (await onNode(port, (r) => r.client('LIST'))) as string;
      byNode.set(
        port,
        [...list.matchAll(/ name=(\S*)/g)].map((m) => m[1]!).filter((n) => n !== 'probe'),
      );
    }
    return byNode;
  }

  function dashboard(prefix: string): { app: DashboardApp; admin: AdminQueues; probe: RedisConnections; targets: QueueTarget[] } {
    const admin = openAdminQueues({ redisUrl: cluster.url, prefix, shards: SHARDS });
    const probe = new RedisConnections(cluster.url, 'producer', 'dashboard-test');
    closers.push(
      () => admin.close(),
      () => probe.close(),
    );
    const env = loadDashboardEnv({ REDIS_URL: cluster.url, BULL_PREFIX: prefix, ADMIN_USERS, ADMIN_SESSION_SECRET: SESSION_SECRET });
    const targets = listQueueTargets(admin);
    const app = createApp({ env, targets, redis: probe.client, logger: createSilentLogger(), registry: new Registry() });
    return { app, admin, probe, targets };
  }

  const primaryOfQueue = async (t: QueueTarget) => cluster.primaryOf(await cluster.keySlot(t.source.keyOf('wait')));

  /**
   * Two worker processes (each its own connections, as two processes have): one of `a`'s queue
   * (email: both its shards, `a` being shard 1), one of `b`'s, whose queue lives on another
   * primary; each worker names one blocking connection per shard, on the primary of that shard's
   * queue, so no single node's CLIENT LIST sees them all (retried in case a name is not where
   * expected, to report what was found). `worked`: the targets with a worker.
   */
  async function workersNamedOnDifferentPrimaries(prefix: string, targets: readonly QueueTarget[], a: QueueTarget, b: QueueTarget) {
    const worked = targets.filter((t) => t.queue === a.queue || t === b);
    for (let attempt = 1; ; attempt++) {
      const workers = [a, b].map(() => testQueues(cluster.url, prefix, { shards: SHARDS }));
      await Promise.all([a, b].map((t, i) => workers[i]!.startWorker(t.queue as TestQueue, async () => 'ok')));
      const close = () => Promise.allSettled(workers.map((w) => w.close()));
      const where = await waitFor(
        async () => {
          const byNode = await namesByNode();
          const nodesOf = (t: QueueTarget) => [...byNode].filter(([, names]) => names.includes(clientName(t))).map(([port]) => port);
          const found = [nodesOf(a), nodesOf(b)];
          const nodes = new Map(worked.map((t) => [t, nodesOf(t)]));
          return [...nodes.values()].every((ports) => ports.length > 0) ? { found, byNode, nodes, worked } : undefined;
        },
        { timeoutMs: 20_000, what: 'every worker named' },
      );
      const [onA, onB] = where.found;
      if (onA![0] !== onB![0] || attempt === 20) {
        closers.push(close);
        return where;
      }
      await close();
    }
  }

  async function setup() {
    const prefix = testPrefix();
    const fx = dashboard(prefix);
    // email shard 1 and a queue whose keys live on another primary
    const a = fx.targets.find((t) => t.queue === 'email' && t.shard === '1')!;
    const primaryOfA = await primaryOfQueue(a);
    let b: QueueTarget | undefined;
    for (const t of fx.targets) if (t.queue !== a.queue && (await primaryOfQueue(t)) !== primaryOfA) b ??= t;
    expect(b, 'a queue on another primary').toBeDefined();
    const where = await workersNamedOnDifferentPrimaries(prefix, fx.targets, a, b!);
    return { ...fx, a, b: b!, where };
  }

  it('counts each worker exactly once, whichever primary Bull named its connection on', async () => {
    const { app, probe, targets, a, where } = await setup();

    // Bull's naming, checked on the real cluster: each worker connection's name sits on exactly one
    // node connection (one primary), and here a's and b's sit on different primaries.
    const [onA, onB] = where.found;
    expect(onA).toHaveLength(1);
    expect(onB).toHaveLength(1);
    expect(onA![0]).not.toBe(onB![0]);
    const everyName = [...where.byNode.values()].flat();
    for (const t of where.worked) {
      expect(where.nodes.get(t), `${t.bullName}: nodes holding its name`).toHaveLength(1);
      expect(
        everyName.filter((n) => n === clientName(t)),
        t.bullName,
      ).toHaveLength(1);
    }
    expect(where.worked).toHaveLength(3); // email, email-1 and b

    const states = await readQueueStates(probe.commandClient, targets);
    const byTarget = new Map<QueueTarget, QueueState>(targets.map((t, i) => [t, states[i]!]));
    for (const [t, s] of byTarget) {
      const expected = where.worked.includes(t) ? 1 : 0;
      expect(s.workers, `${t.bullName} workers`).toHaveLength(expected);
      expect(s.workersPartial).toBe(false);
    }
    expect(byTarget.get(a)!.workers![0]!.addr).toMatch(/^127\.0\.0\.1:\d+$/);

    const text = (await request(app).get('/metrics').expect(200)).text;
    expect(sample(text, 'bull_redis_up')).toBe(1);
    for (const t of targets) {
      const expected = where.worked.includes(t) ? 1 : 0;
      expect(sample(text, 'bull_queue_workers', { queue: t.queue, shard: t.shard }), `${t.bullName} gauge`).toBe(expected);
    }
    const total = targets.reduce((sum, t) => sum + (sample(text, 'bull_queue_workers', { queue: t.queue, shard: t.shard }) ?? 0), 0);
    expect(total).toBe(3);

    const health = await request(app).get('/health').expect(200);
    const rows = health.body.queues as Array<{ queue: string; shard?: string; workers: number | null; workersPartial?: boolean }>;
    expect(rows.find((r) => r.queue === 'email' && r.shard === '1')).toMatchObject({ workers: 1 });
    expect(rows.some((r) => 'workersPartial' in r)).toBe(false);
  });

  it('a primary that refuses CLIENT LIST makes the answer partial: a lower bound, no gauge; all refusing gives null', async () => {
    const { app, probe, targets, a, b, where } = await setup();
    const [onA] = where.found;
    const refusing = onA![0]!; // the primary holding the name of a's worker connection
    const deny = (port: number) => onNode(port, (r) => r.call('ACL', 'SETUSER', 'default', '-client|list'));
    const allow = (port: number) => onNode(port, (r) => r.call('ACL', 'SETUSER', 'default', '+client|list'));
    closers.push(() => Promise.all(cluster.ports.map(allow)));

    await deny(refusing);
    const states = await readQueueStates(probe.commandClient, targets);
    const answered = (t: QueueTarget) => (where.nodes.get(t) ?? []).some((port) => port !== refusing);
    expect(answered(a)).toBe(false);
    expect(answered(b)).toBe(true);
    for (const [i, t] of targets.entries()) {
      expect(states[i]!.workersPartial).toBe(true);
      // what the answering primaries hold: b's worker connection (and email's when on another primary), not a's
      expect(states[i]!.workers, t.bullName).toHaveLength(answered(t) ? 1 : 0);
    }
    const text = (await request(app).get('/metrics').expect(200)).text;
    expect(sample(text, 'bull_redis_up')).toBe(1);
    expect(text).not.toMatch(/^bull_queue_workers\{/m);
    expect(sample(text, 'bull_queue_jobs', { queue: a.queue, shard: a.shard, state: 'waiting' })).toBe(0);
    const health = await request(app).get('/health').expect(200);
    const row = (health.body.queues as Array<{ queue: string; shard?: string; workers: number | null; workersPartial?: boolean }>).find(
      (r) => r.queue === b.queue && (r.shard ?? '') === b.shard,
    );
    expect(row).toMatchObject({ workers: 1, workersPartial: true });

    for (const port of await cluster.primaries()) await deny(port);
    const none = await readQueueStates(probe.commandClient, targets);
    for (const s of none) expect([s.workers, s.workersPartial]).toEqual([null, false]);
    const text2 = (await request(app).get('/metrics').expect(200)).text;
    expect(text2).not.toMatch(/^bull_queue_workers\{/m);
    expect(sample(text2, 'bull_redis_up')).toBe(1);
  });
});
