/**
 * How long does a Prometheus scrape of the dashboard take with 1,000,000 jobs in Redis?
 *
 *   pnpm --filter @coldcopy/dashboard bench            # JOBS=1000000 SCRAPES=50 by default
 *
 * Starts a private redis-server, writes the jobs straight into Bull v4's key layout (a job hash
 * per job plus its id in the state's list or sorted set, as Bull's addJob/moveToFinished scripts
 * leave them) with a Lua loop of 10,000 jobs per EVAL: about a million jobs in 10-20 s, where
 * addBulk (one Lua script call per job, sent from Node) needs minutes. Then connects two
 * connections per queue named the way Bull names its workers' blocking clients, and times
 * SCRAPES requests of GET /metrics over HTTP against the real app (median, p95).
 */
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { QUEUE_NAMES, type QueueName } from '@coldcopy/queue-core';
import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { createSilentLogger, RedisConnections } from '@coldcopy/queue-core/runtime';
import { RedisServer } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { createApp } from '../src/app.js';
import { loadDashboardEnv } from '../src/env.js';
import { readQueueStates } from '../src/queue-state.js';
import { listQueueTargets } from '../src/queue-targets.js';

const TOTAL_JOBS = Number(process.env.JOBS ?? 1_000_000);
const SCRAPES = Number(process.env.SCRAPES ?? 50);
const PREFIX = 'bull';
const BATCH = 10_000;

/** Share of each queue's jobs per state (sums to 1). */
const STATES = [
  ['wait', 0.4],
  ['completed', 0.3],
  ['failed', 0.1],
  ['delayed', 0.15],
  ['active', 0.05],
] as const;
/** Bigger queues first, as in production (email and enrichment carry most jobs). */
const QUEUE_SHARE: Record<QueueName, number> = { email: 0.35, enrichment: 0.3, ai: 0.1, analytics: 0.1, integration: 0.1, maintenance: 0.05 };
/** One queue paused, so its waiting jobs sit in the `paused` list. */
const PAUSED_QUEUE: QueueName = 'integration';

/**
 * Writes one batch of jobs server-side (a Lua loop of HSET + LPUSH/ZADD): the same keys and
 * fields Bull's scripts leave behind, ~20x faster than sending every HSET from Node.
 * KEYS[1] state key (list or zset); ARGV: key prefix `<prefix>:<queue>:`, first id, count, state,
 * queue name, now (ms), queue job count (for spreading timestamps over the last hour).
 */
const LOAD_BATCH = `
local base, first, n, state, queue, now, total = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local ids, scored = {}, {}
for id = first, first + n - 1 do
  local ts = now - 3600000 + math.floor(id / total * 3600000)
  local delay = 0
  if state == 'delayed' then delay = 600000 end
  local key = base .. id
  redis.call('HSET', key, 'name', queue .. '-job',
    'data', '{"workspaceId":"7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11","leadId":"lead-' .. id .. '"}',
    'opts', '{"attempts":5,"delay":' .. delay .. ',"timestamp":' .. ts .. '}',
    'timestamp', ts, 'delay', delay, 'priority', 0)
  if state == 'completed' then
    redis.call('HSET', key, 'processedOn', ts + 50, 'finishedOn', ts + 120, 'returnvalue', '{"ok":true}', 'attemptsMade', 1)
  elseif state == 'failed' then
    redis.call('HSET', key, 'processedOn', ts + 50, 'finishedOn', ts + 120, 'failedReason', 'provider said no', 'attemptsMade', 5)
  elseif state == 'active' then
    redis.call('HSET', key, 'processedOn', now - 1000, 'attemptsMade', 0)
  else
    redis.call('HSET', key, 'attemptsMade', 0)
  end
  if state == 'wait' or state == 'active' or state == 'paused' then
    ids[#ids + 1] = tostring(id)
  elseif state == 'delayed' then
    scored[#scored + 1] = ts + delay
    scored[#scored + 1] = tostring(id)
  else
    scored[#scored + 1] = ts + 120
    scored[#scored + 1] = tostring(id)
  end
end
-- Bull LPUSHes new jobs onto wait: the oldest id ends up at the tail (LINDEX -1).
for i = 1, #ids, 4000 do redis.call('LPUSH', KEYS[1], unpack(ids, i, math.min(i + 3999, #ids))) end
for i = 1, #scored, 4000 do redis.call('ZADD', KEYS[1], unpack(scored, i, math.min(i + 3999, #scored))) end
return n
`;

async function load(redis: Redis): Promise<void> {
  const now = Date.now();
  let written = 0;
  const started = performance.now();
  for (const queue of QUEUE_NAMES) {
    const count = Math.round(TOTAL_JOBS * QUEUE_SHARE[queue]);
    const key = (k: string) => `${PREFIX}:${queue}:${k}`;
    let id = 1;
    for (const [state, share] of STATES) {
      // The last state takes the rounding remainder so the queue's total is exact.
      const n = state === STATES[STATES.length - 1]![0] ? count - (id - 1) : Math.round(count * share);
      const stored = state === 'wait' && queue === PAUSED_QUEUE ? 'paused' : state;
      for (let from = 0; from < n; from += BATCH) {
        const size = Math.min(BATCH, n - from);
        await redis.eval(LOAD_BATCH, 1, key(stored), key(''), id, size, stored, queue, now, count);
        id += size;
        written += size;
      }
    }
    await redis.set(key('id'), id - 1);
    // Bull's per-queue finished totals, as workers with the `metrics` option keep them.
    await redis.hset(key('metrics:completed'), { count: Math.round(count * 1.2), prevTS: now - 30_000, prevCount: Math.round(count * 1.2) - 100 });
    await redis.hset(key('metrics:failed'), { count: Math.round(count * 0.1), prevTS: now - 30_000, prevCount: Math.round(count * 0.1) - 3 });
    if (queue === PAUSED_QUEUE) await redis.set(key('meta-paused'), '1');
    process.stdout.write(`  ${queue}: ${count.toLocaleString('en-US')} jobs\n`);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `loaded ${written.toLocaleString('en-US')} jobs in ${seconds.toFixed(1)} s (${Math.round(written / seconds).toLocaleString('en-US')} jobs/s)\n`,
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  process.stdout.write(`starting a private redis-server…\n`);
  const server = await RedisServer.start();
  const redis = new Redis(server.url);
  const workers: Redis[] = [];
  const admin = openAdminQueues({ redisUrl: server.url, prefix: PREFIX });
  const probe = new RedisConnections(server.url, 'producer', 'dashboard-bench');
  await new Promise((resolve) => (probe.client.status === 'ready' ? resolve(null) : probe.client.once('ready', resolve)));
  try {
    process.stdout.write(`loading ${TOTAL_JOBS.toLocaleString('en-US')} jobs over ${QUEUE_NAMES.length} queues (Lua loops writing Bull's key layout)…\n`);
    await load(redis);
    const info = await redis.info('memory');
    const used = /used_memory_human:(\S+)/.exec(info)?.[1];
    process.stdout.write(`Redis: ${(await redis.dbsize()).toLocaleString('en-US')} keys, ${used} used\n`);

    // Two connections per queue named like Bull workers' blocking clients (CLIENT LIST input).
    for (const queue of QUEUE_NAMES) {
      for (let i = 0; i < 2; i++) {
        workers.push(new Redis(server.url, { connectionName: `${PREFIX}:${Buffer.from(queue).toString('base64')}` }));
      }
    }
    await Promise.all(workers.map((w) => w.ping()));

    const env = loadDashboardEnv({ REDIS_URL: server.url, BULL_PREFIX: PREFIX, ADMIN_AUTH: 'disabled', LOG_LEVEL: 'error' });
    const app = createApp({ env, targets: listQueueTargets(admin), redis: probe.client, logger: createSilentLogger() });
    const http = app.listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;

    // Sanity: the numbers add up.
    const states = await readQueueStates(probe.client, listQueueTargets(admin));
    const total = states.reduce((sum, s) => sum + Object.values(s.counts).reduce((a, b) => a + b, 0), 0);
    if (total !== TOTAL_JOBS) throw new Error(`expected ${TOTAL_JOBS} jobs, counted ${total}`);
    const body = await (await fetch(url)).text();
    if (!body.includes('bull_queue_jobs{queue="email",shard="",state="waiting"}')) throw new Error('unexpected /metrics output');

    for (let i = 0; i < 20; i++) await (await fetch(url)).text(); // warm-up (JIT, connections)
    const times: number[] = [];
    const redisTimes: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      await res.text();
      times.push(performance.now() - t0);
      const t1 = performance.now();
      await readQueueStates(probe.client, listQueueTargets(admin));
      redisTimes.push(performance.now() - t1);
    }
    const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
    times.sort((a, b) => a - b);
    redisTimes.sort((a, b) => a - b);
    const fmt = (n: number) => `${n.toFixed(2)} ms`;
    process.stdout.write(
      [
        '',
        `GET /metrics with ${TOTAL_JOBS.toLocaleString('en-US')} jobs, ${SCRAPES} scrapes (HTTP, end to end):`,
        `  median ${fmt(percentile(times, 50))}   p95 ${fmt(percentile(times, 95))}   min ${fmt(times[0]!)}   max ${fmt(times[times.length - 1]!)}`,
        `Redis read alone (one MULTI + CLIENT LIST): median ${fmt(percentile(redisTimes, 50))}   p95 ${fmt(percentile(redisTimes, 95))}`,
        `response size ${body.length.toLocaleString('en-US')} bytes`,
        `machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, Redis ${redisVersion}`,
        '',
      ].join('\n'),
    );
    await new Promise((r) => http.close(r));
  } finally {
    await admin.close();
    await probe.close();
    for (const w of workers) w.disconnect();
    redis.disconnect();
    await server.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
