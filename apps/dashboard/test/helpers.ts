import { deletePrefix, TEST_SIGNING_KEYS, testPrefix } from '@coldcopy/testing';
import { defineJob, type QueueName } from '@coldcopy/queue-core';
import { openAdminQueues, openDeadLetters, type AdminQueues, type AdminShard } from '@coldcopy/queue-core/admin';
import { JobSecurity, Producer, type EnqueuedJob, type EnqueueOptions } from '@coldcopy/queue-core/producer';
import { Writable } from 'node:stream';
import { createLogger, createSilentLogger, RedisConnections, startWorker, type Logger, type Worker } from '@coldcopy/queue-core/runtime';
import { z } from 'zod';
import winston from 'winston';
import bcrypt from 'bcryptjs';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterEach, beforeEach, expect, inject } from 'vitest';
import { createApp, type DashboardApp } from '../src/app.js';
import { deadLetterSizes } from '../src/dead-letters.js';
import { loadDashboardEnv, type DashboardEnv } from '../src/env.js';
import { listQueueTargets } from '../src/queue-targets.js';

export const PASSWORD = 'correct-horse-battery-staple';
// Cost 10, the lowest the dashboard accepts, keeps the tests quick.
const HASH = bcrypt.hashSync(PASSWORD, 10);
export const ADMIN_USERS = `ana:operator:${HASH},vic:viewer:${HASH}`;
export const SESSION_SECRET = 'test-secret-'.padEnd(48, 'x');

/** The payload of every test job: the fields these tests give their jobs, all optional. */
const testPayload = {
  n: z.number().int().optional(),
  to: z.string().optional(),
  workspaceId: z.string().optional(),
  apiKey: z.string().optional(),
  message: z.object({ subject: z.string(), html: z.string() }).optional(),
  /** the test worker's handler fails the attempt */
  fail: z.boolean().optional(),
};
const testJob = <N extends string, Q extends QueueName>(name: N, queue: Q) =>
  defineJob({ name, queue, description: `dashboard test job on ${queue}`, scope: 'global', payload: testPayload, options: { attempts: 1 } });

/**
 * Jobs of these tests, one per queue they fill, under the names the board shows (the producer
 * and the test worker take them instead of the catalog's, so any payload above is accepted).
 */
export const TEST_JOBS = {
  email: testJob('send-email', 'email'),
  ai: testJob('draft-email', 'ai'),
  enrichment: testJob('enrich-lead', 'enrichment'),
  maintenance: testJob('purge-old-data', 'maintenance'),
  analytics: testJob('calculate-campaign-stats', 'analytics'),
  integration: testJob('sync-crm', 'integration'),
} as const;
export type TestQueue = keyof typeof TEST_JOBS;
export type TestPayload = z.input<(typeof TEST_JOBS)[TestQueue]['schema']>;

const testSecurity = () => new JobSecurity({ signingKeys: TEST_SIGNING_KEYS });

/**
 * Test jobs through the producer and test workers through the runtime, on `prefix` of `redisUrl`,
 * as producers and workers of the platform would add and run them. Closed by `close()`.
 */
export function testQueues(redisUrl: string, prefix: string, layout: { shards?: Partial<Record<QueueName, number>>; cluster?: boolean } = {}) {
  const security = testSecurity();
  let producer: Producer | undefined;
  const workers: Worker[] = [];
  return {
    enqueue(queue: TestQueue, data: TestPayload, options?: EnqueueOptions): Promise<EnqueuedJob> {
      producer ??= new Producer({ redisUrl, prefix, security, shards: layout.shards ?? {}, cluster: layout.cluster });
      return producer.enqueue(TEST_JOBS[queue], data, options);
    },
    /**
     * A worker of the queue's test job (every shard of it, with its own connections, as a worker
     * process has): the handler's result completes a job, a throw fails it (one attempt).
     */
    async startWorker(queue: TestQueue, handler: (data: TestPayload) => Promise<unknown>): Promise<Worker> {
      const def = TEST_JOBS[queue];
      const worker = await startWorker({
        queue: def.queue,
        definitions: [def],
        handlers: { [def.name]: handler } as never,
        deps: {},
        logger: createSilentLogger(),
        redisUrl,
        prefix,
        security,
        concurrency: 1,
        deadLetters: false,
        shards: layout.shards?.[def.queue] ?? 1,
        shardCounts: layout.shards ?? {},
        cluster: layout.cluster,
      });
      workers.push(worker);
      return worker;
    },
    async close(): Promise<void> {
      await Promise.allSettled(workers.splice(0).map((w) => w.close(2000)));
      await producer?.close();
    },
  };
}
export type TestQueues = ReturnType<typeof testQueues>;

export interface DashboardFixture {
  readonly prefix: string;
  readonly redisUrl: string;
  readonly admin: AdminQueues;
  readonly app: DashboardApp;
  readonly env: DashboardEnv;
  /** every log entry the app wrote, parsed */
  readonly logs: Array<Record<string, unknown>>;
  /** the producer and test workers of the test's prefix, closed after the test */
  readonly queues: TestQueues;
  /** shard 0 of a queue in the app's admin set (its `inspect` reads jobs and counts as plain values) */
  shard(queue: QueueName): AdminShard;
}

/**
 * A dashboard app per test on a random Bull prefix of the shared test Redis (or on `redisUrl()`),
 * closed and cleaned after the test (only its own keys, never FLUSHALL).
 */
export function useDashboard(envOverrides: Record<string, string> = {}, redisUrl: () => string = () => inject('redisUrl')): DashboardFixture {
  let current: DashboardFixture | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  beforeEach(() => {
    const url = redisUrl();
    const prefix = testPrefix();
    const admin = openAdminQueues({ redisUrl: url, prefix });
    const probe = new RedisConnections(url, 'producer', 'dashboard-test');
    const deadLetters = openDeadLetters({ redisUrl: url, prefix });
    const queues = testQueues(url, prefix);
    closers.push(
      () => queues.close(),
      () => admin.close(),
      () => probe.close(),
      () => deadLetters.close(),
      () => deletePrefix(url, prefix),
    );
    const env = loadDashboardEnv({
      REDIS_URL: url,
      BULL_PREFIX: prefix,
      ADMIN_USERS,
      ADMIN_SESSION_SECRET: SESSION_SECRET,
      ...envOverrides,
    });
    const logs: Array<Record<string, unknown>> = [];
    const app = createApp({
      env,
      targets: listQueueTargets(admin),
      redis: probe.client,
      logger: memoryLogger(logs),
      registry: new Registry(),
      readDeadLetterSizes: deadLetterSizes(deadLetters),
    });
    current = {
      prefix,
      redisUrl: url,
      admin,
      app,
      env,
      logs,
      queues,
      shard: (queue) => admin.shardsOf(queue)[0]!,
    };
  });
  afterEach(async () => {
    // In order: test workers and producer, the app's queues, the probe client, then the keys of the prefix.
    const order = [...closers];
    closers.length = 0;
    for (const close of order) await close().catch(() => {});
  });
  return new Proxy({} as DashboardFixture, {
    get(_t, key) {
      if (!current) throw new Error('useDashboard(): only available inside a test');
      return current[key as keyof DashboardFixture];
    },
  });
}

/** Logs in through the form; the agent keeps the cookies. Returns the CSRF token for writes. */
export async function login(app: DashboardApp, user: 'ana' | 'vic', basePath = '/admin/queues') {
  const agent = request.agent(app);
  const res = await agent
    .post(`${basePath}/login`)
    .type('form')
    .send({ username: user, password: PASSWORD, next: `${basePath}/` });
  expect(res.status).toBe(303);
  const csrf = cookieValue(res.headers['set-cookie'], 'XSRF-TOKEN');
  expect(csrf).toBeTruthy();
  return { agent, csrf: csrf! };
}

export function cookieValue(setCookie: string | string[] | undefined, name: string): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  for (const c of list) {
    const [pair] = c.split(';');
    const i = pair!.indexOf('=');
    if (pair!.slice(0, i) === name) return decodeURIComponent(pair!.slice(i + 1));
  }
  return undefined;
}

export { waitFor } from '@coldcopy/testing';

/** The production logger (JSON lines, redaction) writing into an array. */
function memoryLogger(into: Array<Record<string, unknown>>): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] });
}

/** A sample's value from a Prometheus text exposition; a label absent from the series counts as ''. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => (got[k] ?? '') === v)) return Number(match[3]);
  }
  return undefined;
}
