import { Writable } from 'node:stream';
import { openAdminQueues, type AdminQueues } from '@coldcopy/queue-core/admin';
import { createLogger, type Logger } from '@coldcopy/queue-core/runtime';
import { deletePrefix, testPrefix } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterEach, inject } from 'vitest';
import winston from 'winston';
import { adminBacklog } from '../src/backlog.js';
import { parseScalingConfig, type ScalingConfig } from '../src/config.js';
import { type AppSpec, DoAppsClient } from '../src/do-apps.js';
import { DoAppsEmulator, type DoAppsEmulatorOptions } from '../src/emulators/do-apps-emulator.js';
import { LeaderLock } from '../src/leader-lock.js';
import { createScalerMetrics, type ScalerMetrics } from '../src/metrics.js';
import { Scaler } from '../src/scaler.js';

export const APP_ID = 'f3b1c1de-0000-4000-8000-000000000001';
export const TOKEN = 'dop_v1_test_token_never_logged_0123456789abcdef';
export const T0 = Date.parse('2026-03-02T09:00:00Z');
export const MINUTE = 60_000;

/** An app spec as DigitalOcean returns it: the two scaled workers among other components. */
export function appSpec(): AppSpec {
  return {
    name: 'coldcopy-jobs',
    region: 'nyc',
    databases: [{ name: 'queue-redis', engine: 'VALKEY', production: true, cluster_name: 'coldcopy-valkey' }],
    services: [{ name: 'dashboard', instance_count: 1, http_port: 3000, envs: [{ key: 'ADMIN_SESSION_SECRET', value: 'EV[1:abc:def]', type: 'SECRET' }] }],
    workers: [
      {
        name: 'email-worker',
        instance_count: 2,
        instance_size_slug: 'apps-s-1vcpu-2gb',
        envs: [{ key: 'JOB_SIGNING_KEYS', value: 'EV[1:xyz:uvw]', type: 'SECRET' }],
      },
      { name: 'enrichment-worker', instance_count: 1, instance_size_slug: 'apps-s-1vcpu-1gb' },
      { name: 'analytics-worker', autoscaling: { min_instance_count: 1, max_instance_count: 2, metrics: { cpu: { percent: 80 } } } },
    ],
  };
}

export const CONFIG: ScalingConfig = parseScalingConfig({
  intervalSeconds: 30,
  workers: {
    'email-worker': { queue: 'email', min: 2, max: 5, scaleUpCooldownSeconds: 300, scaleDownCooldownSeconds: 600 },
    'enrichment-worker': { queue: 'enrichment', min: 1, max: 3 },
  },
});

/** The injected clock shared by the scalers, their API clients' backoff and the emulator. */
export class Clock {
  t = T0;
  readonly now = () => this.t;
  /** backoff and rate-limit waits advance the clock instead of sleeping */
  readonly sleep = async (ms: number) => {
    this.t += ms;
  };
}

export interface Harness {
  readonly clock: Clock;
  readonly emulator: DoAppsEmulator;
  readonly redis: Redis;
  readonly prefix: string;
  /** log lines of every scaler made here */
  readonly logs: string[];
  scaler(options?: { dryRun?: boolean; owner?: string; config?: ScalingConfig; attempts?: number }): Promise<TestScaler>;
  /**
   * sets the queue's waiting list lengths so they add up to `total`, split over `shards` Bull
   * queues; with `createdAt`, the next job of each shard is a job hash created then (ms)
   */
  setBacklog(queue: string, total: number, shards?: number, createdAt?: number): Promise<void>;
}

export interface TestScaler {
  readonly scaler: Scaler;
  readonly lock: LeaderLock;
  readonly metrics: ScalerMetrics;
  readonly admin: AdminQueues;
}

/** Per test: a private prefix on the integration Redis, an emulator on a free port, a fake clock. */
export function useHarness(options: { emulator?: Omit<DoAppsEmulatorOptions, 'now' | 'apps' | 'token'>; shards?: Record<string, number> } = {}): () => Harness {
  let current: Harness | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
    current = undefined;
  });
  return () => {
    if (current) return current;
    const redisUrl = inject('redisUrl');
    const clock = new Clock();
    const prefix = testPrefix();
    const emulator = new DoAppsEmulator({ ...options.emulator, now: clock.now, token: TOKEN, apps: [{ id: APP_ID, spec: appSpec() }] });
    const redis = new Redis(redisUrl);
    const logs: string[] = [];
    let started: Promise<string> | undefined;
    cleanup.push(
      () => emulator.close(),
      () => redis.quit(),
      () => deletePrefix(redisUrl, prefix),
      () => deletePrefix(redisUrl, `{${prefix}`),
    );
    const logger = (): Logger =>
      createLogger({
        transports: [
          new winston.transports.Stream({
            stream: new Writable({
              write(chunk: Buffer, _enc, done) {
                logs.push(chunk.toString('utf8'));
                done();
              },
            }),
          }),
        ],
      });
    current = {
      clock,
      emulator,
      redis,
      prefix,
      logs,
      async scaler(o = {}) {
        started ??= emulator.start();
        const url = await started;
        const admin = openAdminQueues({ redisUrl, prefix, shards: options.shards ?? {}, cluster: false });
        cleanup.push(() => admin.close());
        const metrics = createScalerMetrics(undefined, false);
        const lock = new LeaderLock(admin.connections.commandClient, `${prefix}:autoscaler`, o.owner ?? 'scaler-a', 60_000);
        const api = new DoAppsClient({
          baseUrl: url,
          token: TOKEN,
          sleep: clock.sleep,
          now: clock.now,
          attempts: o.attempts ?? 4,
          onResponse: (method, status) => metrics.apiResponses.inc({ method, status: String(status) }),
        });
        const scaler = new Scaler({
          config: o.config ?? CONFIG,
          appId: APP_ID,
          api,
          backlog: adminBacklog(admin),
          lock,
          dryRun: o.dryRun ?? false,
          now: clock.now,
          logger: logger(),
          metrics,
        });
        return { scaler, lock, metrics, admin };
      },
      async setBacklog(queue, total, shards = 1, createdAt) {
        const tx = redis.multi();
        for (let s = 0; s < shards; s++) {
          const bullName = s === 0 ? queue : `${queue}-${s}`;
          const key = `${prefix}:${bullName}:wait`;
          const n = Math.floor(total / shards) + (s < total % shards ? 1 : 0);
          tx.del(key);
          // Bull adds with LPUSH and takes from the right: the last id pushed here is the next job
          for (let i = 0; i < n; i += 1000) tx.rpush(key, ...Array.from({ length: Math.min(1000, n - i) }, (_, j) => String(i + j + 1)));
          if (createdAt !== undefined && n > 0) tx.hset(`${prefix}:${bullName}:${n}`, 'timestamp', String(createdAt), 'opts', '{}');
        }
        await tx.exec();
      },
    };
    return current;
  };
}

/** worker name → instance_count of a spec */
export function countsOf(spec: AppSpec): Record<string, number | undefined> {
  return Object.fromEntries((spec.workers ?? []).map((w) => [w.name, w.instance_count]));
}
