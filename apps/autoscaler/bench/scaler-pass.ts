/**
 * Cost of one scaler pass (lease renewal, admin view of every queue and shard, GET of the app
 * spec, decisions, memory write) against a private redis-server and the Apps API emulator, with a
 * large backlog: the pass reads O(1) per Bull queue, so its time must not grow with the backlog.
 *
 *   pnpm --filter @coldcopy/autoscaler bench [--passes 200] [--backlog 100000] [--shards 8]
 *
 * Prints markdown table rows: | backlog | shards | passes | p50 ms | p95 ms | max ms |.
 */
import { parseArgs } from 'node:util';
import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { createSilentLogger } from '@coldcopy/queue-core/runtime';
import { RedisServer } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { adminBacklog } from '../src/backlog.js';
import { parseScalingConfig } from '../src/config.js';
import { DoAppsClient } from '../src/do-apps.js';
import { DoAppsEmulator } from '../src/emulators/do-apps-emulator.js';
import { LeaderLock } from '../src/leader-lock.js';
import { createScalerMetrics } from '../src/metrics.js';
import { Scaler } from '../src/scaler.js';

const { values } = parseArgs({
  options: { passes: { type: 'string', default: '200' }, backlog: { type: 'string', default: '100000' }, shards: { type: 'string', default: '8' } },
});
const passes = Number(values.passes);
const backlog = Number(values.backlog);
const shards = Number(values.shards);

const server = await RedisServer.start();
const emulator = new DoAppsEmulator({
  token: 'bench',
  apps: [{ id: 'bench-app', spec: { name: 'bench', workers: [{ name: 'email-worker', instance_count: 2 }] } }],
});
const url = await emulator.start();
const redis = new Redis(server.url);
try {
  for (let s = 0; s < shards; s++) {
    const key = `bull:${s === 0 ? 'email' : `email-${s}`}:wait`;
    const n = Math.floor(backlog / shards);
    for (let i = 0; i < n; i += 10_000) await redis.rpush(key, ...Array.from({ length: Math.min(10_000, n - i) }, (_, j) => String(i + j)));
  }
  const admin = openAdminQueues({ redisUrl: server.url, shards: { email: shards }, cluster: false });
  const config = parseScalingConfig({ workers: { 'email-worker': { queue: 'email', min: 2, max: 2 } } });
  const scaler = new Scaler({
    config,
    appId: 'bench-app',
    api: new DoAppsClient({ baseUrl: url, token: 'bench' }),
    backlog: adminBacklog(admin),
    lock: new LeaderLock(admin.connections.commandClient, 'bench-autoscaler', 'bench', 60_000),
    logger: createSilentLogger(),
    metrics: createScalerMetrics(undefined, false),
  });
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const start = process.hrtime.bigint();
    await scaler.tick();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
  console.log('| backlog | shards | passes | p50 ms | p95 ms | max ms |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| ${backlog.toLocaleString('en')} | ${shards} | ${passes} | ${at(0.5)} | ${at(0.95)} | ${times.at(-1)!.toFixed(2)} |`);
  await admin.close();
} finally {
  redis.disconnect();
  await emulator.close();
  await server.stop();
}
