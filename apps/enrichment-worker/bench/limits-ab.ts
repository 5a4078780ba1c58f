/**
 * A/B of the provider limits' own cost: the same provider calls (a no-op standing in for the HTTP
 * request) through createRedisProviderLimits with bottleneck's ioredis datastore for the
 * concurrency cap (`PROVIDER_LIMITS_SHARED=true`) and with the cap per process (`false`), both
 * with queue-core's GCRA spacing in Redis. The limit is set far above what the loop can reach, so
 * the figures are the limiter's overhead per call, not the rate it enforces.
 *
 *   pnpm --filter @coldcopy/enrichment-worker exec tsx bench/limits-ab.ts
 *
 * Knobs: AB_CALLS (3000), AB_CONCURRENCY (20), AB_ROUNDS (2, alternating A and B). Own private
 * redis-server (the @coldcopy/testing one), never yours. Prints markdown table rows.
 */
import { cpus, loadavg } from 'node:os';
import { createRateLimiter } from '@coldcopy/queue-core/runtime';
import { RedisServer } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { createRedisProviderLimits } from '../src/providers/redis-provider-limits.js';

const CALLS = Number(process.env.AB_CALLS ?? 3000);
const CONCURRENCY = Number(process.env.AB_CONCURRENCY ?? 20);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 2);

const redis = await RedisServer.start();
const rows: string[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const shared of [true, false]) {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 2 });
      const prefix = `ab${round}${shared ? 's' : 'l'}`;
      const limits = createRedisProviderLimits({
        redis: client,
        limiter: createRateLimiter(client, { prefix: `${prefix}:rate` }),
        prefix,
        keys: { hunter: 'ab-key' },
        limits: { hunter: { person: { perSecond: 1_000_000, maxConcurrent: CONCURRENCY } }, apollo: {} },
        maxWaitMs: 60_000,
        slackMs: 0,
        marginPercent: 0,
        shared,
      });
      const signal = new AbortController().signal;
      const latencies: number[] = [];
      let next = 0;
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < CALLS) {
            next++;
            const t = performance.now();
            await limits.run('hunter', 'person', signal, (gate) => gate(() => {}));
            latencies.push(performance.now() - t);
          }
        }),
      );
      const wall = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      latencies.sort((a, b) => a - b);
      const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
      rows.push(
        `| ${round} | ${shared ? 'bottleneck (Redis)' : 'per process'} | ${CALLS} | ${CONCURRENCY} | ${(CALLS / wall).toFixed(0)} | ${q(0.5)} | ${q(0.95)} | ${((cpu.user + cpu.system) / 1000 / CALLS).toFixed(3)} | ${loadavg()[0]!.toFixed(1)} |`,
      );
      await limits.close();
      if (client.status !== 'end') client.disconnect();
    }
  }
} finally {
  await redis.stop();
}
process.stdout.write(
  [
    `limits A/B: ${cpus().length} cores`,
    '| round | concurrency cap | calls | in flight | calls/s | p50 ms | p95 ms | bench-process CPU ms per call | load (1 min) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n') + '\n',
);
