import { deletePrefix, testPrefix } from '@coldcopy/testing';
import { openAdminQueues, openDeadLetters, type AdminQueues } from '@coldcopy/queue-core/admin';
import { Writable } from 'node:stream';
import { createLogger, RedisConnections, type Logger } from '@coldcopy/queue-core/runtime';
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

export interface DashboardFixture {
  readonly prefix: string;
  readonly redisUrl: string;
  readonly admin: AdminQueues;
  readonly app: DashboardApp;
  readonly env: DashboardEnv;
  /** every log entry the app wrote, parsed */
  readonly logs: Array<Record<string, unknown>>;
  /** more admin queue sets (e.g. processing ones), closed after the test */
  openQueues(options?: { metricsDataPoints?: number }): AdminQueues;
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
    closers.push(
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
      openQueues(options = {}) {
        const queues = openAdminQueues({ redisUrl: url, prefix, ...options });
        closers.unshift(() => queues.close());
        return queues;
      },
    };
  });
  afterEach(async () => {
    // In order: extra queues, the app's queues, the probe client, then the keys of the prefix.
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
