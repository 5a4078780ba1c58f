import type { QueueName } from '@coldcopy/queue-core';
import { createLogger, RedisConnections } from '@coldcopy/queue-core/runtime';
import bcrypt from 'bcryptjs';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import { createApp } from '../src/app.js';
import { loadDashboardEnv } from '../src/env.js';
import { ADMIN_USERS, cookieValue, login, PASSWORD, SESSION_SECRET, useDashboard, waitFor, type DashboardFixture, type TestPayload } from './helpers.js';

const silentLogger = () => createLogger({ level: 'error', transports: [new winston.transports.Console({ silent: true })] });

const BASE = '/admin/queues';

/** A job in the failed set of `email`, failed by a throwaway worker. */
async function failedEmailJob(fx: DashboardFixture, data: TestPayload = { to: 'lead-1' }) {
  const worker = await fx.queues.startWorker('email', async () => {
    throw new Error('provider said no');
  });
  const job = await fx.queues.enqueue('email', data, { attempts: 1 });
  await waitFor(async () => (await stateOf(fx, 'email', job.id)) === 'failed', { what: 'the job to fail' });
  await worker.close();
  return job.id;
}

/** A job's state as the admin's inspector reads it (null when absent). */
async function stateOf(fx: DashboardFixture, queue: QueueName, id: string) {
  return (await fx.shard(queue).inspect.job(id))?.state ?? null;
}

const isPaused = async (fx: DashboardFixture, queue: QueueName) => (await fx.shard(queue).inspect.counts()).paused;

describe('dashboard authentication and roles', () => {
  const fx = useDashboard({ ADMIN_LOGIN_MAX_FAILURES: '3' });

  it('sends anonymous visitors to the login page and refuses the API with 401', async () => {
    const page = await request(fx.app).get(`${BASE}/`).set('accept', 'text/html');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe(`${BASE}/login?next=${encodeURIComponent(`${BASE}/`)}`);
    const deep = await request(fx.app).get(`${BASE}/queue/email`).set('accept', 'text/html');
    expect(deep.headers.location).toBe(`${BASE}/login?next=${encodeURIComponent(`${BASE}/queue/email`)}`);
    expect((await request(fx.app).get(`${BASE}/api/queues`)).status).toBe(401);
    expect((await request(fx.app).put(`${BASE}/api/queues/email/1/retry`)).status).toBe(401);
    expect((await request(fx.app).get(`${BASE}/static/js/nope.js`)).status).toBe(401);
    const form = await request(fx.app).get(`${BASE}/login`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('name="password"');
  });

  it('refuses a forged session cookie', async () => {
    const res = await request(fx.app).get(`${BASE}/api/queues`).set('cookie', 'coldcopy_admin_session=eyJ1IjoiYW5hIn0.AAAA');
    expect(res.status).toBe(401);
  });

  it('rejects wrong passwords and rate-limits repeated failures', async () => {
    const attempt = () => request(fx.app).post(`${BASE}/login`).type('form').send({ username: 'ana', password: 'wrong' });
    for (let i = 0; i < 3; i++) {
      const res = await attempt();
      expect(res.status).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('Too many failed sign-ins');
    const failures = fx.logs.filter((l) => l.message === 'login failed');
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({ level: 'warn', user: 'ana' });
    expect(failures[0]!.ip).toBeTruthy();
    expect(JSON.stringify(fx.logs)).not.toContain('wrong'); // never the password
    expect(fx.logs.some((l) => l.message === 'login rate limit exceeded')).toBe(true);
  });

  it('lets a viewer read every queue but refuses a retry', async () => {
    const id = await failedEmailJob(fx);
    const { agent, csrf } = await login(fx.app, 'vic');
    const list = await agent.get(`${BASE}/api/queues`).query({ activeQueue: 'email', status: 'failed', page: 1, jobsPerPage: 10 });
    expect(list.status).toBe(200);
    const queues = list.body.queues as Array<{ name: string; readOnlyMode: boolean }>;
    expect(queues.map((q) => q.name).sort()).toEqual(['ai', 'analytics', 'email', 'enrichment', 'integration', 'maintenance']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const page = await agent.get(`${BASE}/`).set('accept', 'text/html');
    expect(page.status).toBe(200);
    expect(page.text).toContain('(read-only)');

    const retry = await agent.put(`${BASE}/api/queues/email/${id}/retry`).set('x-xsrf-token', csrf);
    expect(retry.status).toBe(403);
    expect(await stateOf(fx, 'email', id)).toBe('failed');
  });

  it('lets an operator retry a failed job, with a CSRF token from the same origin', async () => {
    const id = await failedEmailJob(fx);
    const { agent, csrf } = await login(fx.app, 'ana');
    const list = await agent.get(`${BASE}/api/queues`);
    const queues = list.body.queues as Array<{ name: string; readOnlyMode: boolean }>;
    expect(queues.find((q) => q.name === 'email')?.readOnlyMode).toBe(false);
    expect(queues.find((q) => q.name === 'maintenance')?.readOnlyMode).toBe(true);

    expect((await agent.put(`${BASE}/api/queues/email/${id}/retry`)).status).toBe(403); // no token
    expect((await agent.put(`${BASE}/api/queues/email/${id}/retry`).set('x-xsrf-token', 'x'.repeat(129))).status).toBe(403);
    const crossSite = await agent.put(`${BASE}/api/queues/email/${id}/retry`).set('x-xsrf-token', csrf).set('origin', 'https://evil.example');
    expect(crossSite.status).toBe(403);
    expect(await stateOf(fx, 'email', id)).toBe('failed');

    const retry = await agent.put(`${BASE}/api/queues/email/${id}/retry`).set('x-xsrf-token', csrf);
    expect(retry.status).toBeLessThan(300);
    expect(await stateOf(fx, 'email', id)).toBe('waiting');
    expect(fx.logs.find((l) => l.message === 'board action' && l.status === 204)).toMatchObject({ user: 'ana', role: 'operator', method: 'PUT' });
  });

  it('keeps the maintenance queue read-only and blocked actions closed for operators too', async () => {
    const { agent, csrf } = await login(fx.app, 'ana');
    const job = await fx.queues.enqueue('maintenance', {}, { delay: 60_000 });
    expect((await agent.put(`${BASE}/api/queues/maintenance/clean/delayed`).set('x-xsrf-token', csrf)).status).toBe(405);
    expect(await stateOf(fx, 'maintenance', job.id)).toBe('delayed');
    const email = await fx.queues.enqueue('email', { to: 'x' });
    const edit = await agent
      .patch(`${BASE}/api/queues/email/${email.id}/update-data`)
      .set('x-xsrf-token', csrf)
      .send({ jobData: { to: 'y' } });
    expect(edit.status).toBe(403);
    expect((await agent.put(`${BASE}/api/queues/email/obliterate`).set('x-xsrf-token', csrf)).status).toBe(403);
    expect((await agent.put(`${BASE}/api/queues/email/pause`).set('x-xsrf-token', csrf)).status).toBeLessThan(300);
    expect(await isPaused(fx, 'email')).toBe(true);
  });

  it.each(['data', 'opts'] as const)('lists the failed and latest jobs while one of them has corrupt %s, and names it without showing it', async (field) => {
    const id = await failedEmailJob(fx, { workspaceId: 'w-1', apiKey: 'sk-live-456' });
    const healthy = await failedEmailJob(fx, { workspaceId: 'w-2' });
    await fx.admin.connections.client.hset(fx.shard('email').keyOf(id), field, field === 'data' ? '{"apiKey":"sk-live-456",' : '{"attempts":');
    const { agent } = await login(fx.app, 'vic');
    for (const status of ['failed', 'latest']) {
      const res = await agent.get(`${BASE}/api/queues?activeQueue=email&status=${status}&page=1&jobsPerPage=10`);
      expect(res.status).toBe(200);
      const jobs = (res.body.queues as Array<{ name: string; jobs: Array<{ id: string; data: unknown }> }>).find((q) => q.name === 'email')!.jobs;
      expect(jobs.map((j) => j.id).sort()).toEqual([id, healthy].sort());
      if (field === 'data') expect(jobs.find((j) => j.id === id)!.data).toMatch(/^\[corrupt: 24 bytes/);
      expect(JSON.stringify(res.body)).not.toContain('sk-live-456');
    }
  });

  it('shows job data with secrets and bodies redacted', async () => {
    const job = await fx.queues.enqueue('email', {
      workspaceId: 'w-1',
      apiKey: 'sk-live-123',
      message: { subject: 'Hello', html: '<p>private</p>' },
    });
    const { agent } = await login(fx.app, 'vic');
    const res = await agent.get(`${BASE}/api/queues/email/${job.id}`);
    expect(res.status).toBe(200);
    expect(res.body.job.data).toEqual({ workspaceId: 'w-1', apiKey: '[redacted]', message: { subject: 'Hello', html: '[redacted]' } });
    expect(JSON.stringify(res.body)).not.toContain('sk-live-123');
  });

  it('logs out, and the old cookie no longer reads or writes anything', async () => {
    const { agent, csrf } = await login(fx.app, 'ana');
    // the cookies as an attacker who copied them would replay them
    const stolen = await agent.get(`${BASE}/api/queues`);
    expect(stolen.status).toBe(200);
    const cookies = agent.jar.getCookies({ path: `${BASE}/`, domain: '127.0.0.1', secure: false, script: false });
    const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    expect(header).toContain('coldcopy_admin_session=');
    const out = await agent.get(`${BASE}/logout`);
    expect(out.status).toBe(303);
    expect(cookieValue(out.headers['set-cookie'], 'coldcopy_admin_session')).toBe('');
    expect((await agent.get(`${BASE}/api/queues`)).status).toBe(401);
    expect((await request(fx.app).get(`${BASE}/api/queues`).set('cookie', header)).status).toBe(401);
    const pause = await request(fx.app).put(`${BASE}/api/queues/email/pause`).set('cookie', header).set('x-xsrf-token', csrf);
    expect(pause.status).toBe(401);
    expect(await isPaused(fx, 'email')).toBe(false);
    expect(fx.logs.some((l) => l.message === 'logout' && l.user === 'ana')).toBe(true);
  });

  it('sends security headers', async () => {
    const res = await request(fx.app).get(`${BASE}/login`);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('behind a reverse proxy that strips /ops', () => {
  const fx = useDashboard({ PUBLIC_URL: 'https://ops.example.com/ops', TRUST_PROXY: '1' });

  it('bakes the public path into the page, redirects and cookies', async () => {
    const anon = await request(fx.app).get(`${BASE}/`).set('accept', 'text/html');
    expect(anon.headers.location).toBe(`/ops${BASE}/login?next=${encodeURIComponent(`/ops${BASE}/`)}`);
    const res = await request(fx.app)
      .post(`${BASE}/login`)
      .set('origin', 'https://ops.example.com')
      .type('form')
      .send({ username: 'ana', password: 'correct-horse-battery-staple', next: `/ops${BASE}/queue/email` });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/ops${BASE}/queue/email`);
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const session = cookies.find((c) => c.startsWith('coldcopy_admin_session='))!;
    expect(session).toMatch(/Path=\/ops\/admin\/queues/);
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/Secure/);
    const page = await request(fx.app)
      .get(`${BASE}/`)
      .set('cookie', cookies.map((c) => c.split(';')[0]).join('; '))
      .set('accept', 'text/html');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<base href="/ops${BASE}/"`);
    expect(page.headers['strict-transport-security']).toBeDefined();
  });

  it('ignores a `next` outside the board (open redirect)', async () => {
    const res = await request(fx.app)
      .post(`${BASE}/login`)
      .type('form')
      .send({ username: 'ana', password: 'correct-horse-battery-staple', next: 'https://evil.example/' });
    expect(res.headers.location).toBe(`/ops${BASE}/`);
  });
});

describe('ADMIN_AUTH=disabled (local development)', () => {
  const fx = useDashboard({ ADMIN_AUTH: 'disabled', ADMIN_USERS: '' });

  it('opens the board as an operator, still with CSRF protection, and says so loudly', async () => {
    expect(fx.logs.find((l) => String(l.message).includes('ADMIN_AUTH=disabled'))).toMatchObject({ level: 'warn' });
    const agent = request.agent(fx.app);
    const page = await agent.get(`${BASE}/`).set('accept', 'text/html');
    expect(page.status).toBe(200);
    const csrf = cookieValue(page.headers['set-cookie'], 'XSRF-TOKEN')!;
    expect((await agent.put(`${BASE}/api/queues/email/pause`)).status).toBe(403);
    expect((await agent.put(`${BASE}/api/queues/email/pause`).set('x-xsrf-token', csrf)).status).toBeLessThan(300);
  });
});

describe('/metrics protection', () => {
  const fx = useDashboard({ METRICS_TOKEN: 'metrics-token-0123456789' });

  it('needs the bearer token when METRICS_TOKEN is set', async () => {
    expect((await request(fx.app).get('/metrics')).status).toBe(401);
    expect((await request(fx.app).get('/metrics').set('authorization', 'Bearer wrong-token-0123456789')).status).toBe(401);
    const ok = await request(fx.app).get('/metrics').set('authorization', 'Bearer metrics-token-0123456789');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('bull_redis_up 1');
    // 503 until the dashboard's Redis connection is ready (a start-up race on a busy machine)
    let health = await request(fx.app).get('/health');
    for (let i = 0; health.status === 503 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await request(fx.app).get('/health');
    }
    expect(health.status).toBe(200);
    expect(health.body.queues[0].workerConnections).toBeUndefined();
  });
});

describe('/metrics in production without METRICS_TOKEN', () => {
  const fx = useDashboard({ NODE_ENV: 'production' });

  it('refuses /metrics and shows /health without details, and says so at start', async () => {
    expect((await request(fx.app).get('/metrics')).status).toBe(401);
    // 503 until the dashboard's Redis connection is ready (a start-up race on a busy machine)
    let health = await request(fx.app).get('/health');
    for (let i = 0; health.status === 503 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await request(fx.app).get('/health');
    }
    expect(health.status).toBe(200);
    expect(health.body.queues[0].workerConnections).toBeUndefined();
    expect(fx.logs.some((l) => l.level === 'warn' && String(l.message).startsWith('METRICS_TOKEN is not set'))).toBe(true);
  });
});

describe('server-side sessions', () => {
  const fx = useDashboard();

  /** The cookie header of a fresh login, as a browser would send it. */
  async function sessionCookie(user: 'ana' | 'vic'): Promise<string> {
    const res = await request(fx.app)
      .post(`${BASE}/login`)
      .type('form')
      .send({ username: user, password: PASSWORD, next: `${BASE}/` });
    expect(res.status).toBe(303);
    return ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0])
      .join('; ');
  }

  /** A second dashboard replica on the same Redis and prefix with other users configured. */
  async function replica(adminUsers: string) {
    const redis = probe();
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const env = loadDashboardEnv({ REDIS_URL: fx.redisUrl, BULL_PREFIX: fx.prefix, ADMIN_USERS: adminUsers, ADMIN_SESSION_SECRET: SESSION_SECRET });
    return createApp({ env, targets: [], redis, logger: silentLogger(), registry: new Registry() });
  }
  let probes: RedisConnections[] = [];
  const probe = () => {
    const p = new RedisConnections(fx.redisUrl, 'producer', 'dashboard-test');
    probes.push(p);
    return p.client;
  };
  afterEach(async () => {
    for (const p of probes) await p.close();
    probes = [];
  });

  it('a logout on one replica ends the session on every replica', async () => {
    const cookie = await sessionCookie('ana');
    const other = await replica(ADMIN_USERS);
    expect((await request(other).get(`${BASE}/api/queues`).set('cookie', cookie)).status).toBe(200);
    await request(fx.app).get(`${BASE}/logout`).set('cookie', cookie);
    expect((await request(other).get(`${BASE}/api/queues`).set('cookie', cookie)).status).toBe(401);
  });

  it('a changed password or a removed user ends their sessions, and start-up clears them from Redis', async () => {
    const ana = await sessionCookie('ana');
    const vic = await sessionCookie('vic');
    const newHash = bcrypt.hashSync('another-long-password', 10);
    // ana gets a new password, vic is removed
    const other = await replica(`ana:operator:${newHash}`);
    expect((await request(other).get(`${BASE}/api/queues`).set('cookie', ana)).status).toBe(401);
    expect((await request(other).get(`${BASE}/api/queues`).set('cookie', vic)).status).toBe(401);
    expect(await other.sessions.revokeStale(loadDashboardEnv({ ADMIN_USERS: `ana:operator:${newHash}`, ADMIN_SESSION_SECRET: SESSION_SECRET }).users)).toEqual(
      expect.arrayContaining(['ana', 'vic']),
    );
    // gone from Redis: even the old configuration no longer accepts them
    expect((await request(fx.app).get(`${BASE}/api/queues`).set('cookie', ana)).status).toBe(401);
    expect((await request(fx.app).get(`${BASE}/api/queues`).set('cookie', vic)).status).toBe(401);
    // and a session under the unchanged configuration is not touched
    const fresh = await sessionCookie('ana');
    expect(await fx.app.sessions.revokeStale(fx.env.users)).toEqual([]);
    expect((await request(fx.app).get(`${BASE}/api/queues`).set('cookie', fresh)).status).toBe(200);
  });

  it('revokes every session of a user at once', async () => {
    const one = await sessionCookie('ana');
    const two = await sessionCookie('ana');
    expect(await fx.app.sessions.revokeUser('ana')).toBe(2);
    for (const cookie of [one, two]) expect((await request(fx.app).get(`${BASE}/api/queues`).set('cookie', cookie)).status).toBe(401);
  });

  it('fails closed with 503 while the session store is unreachable', async () => {
    const cookie = await sessionCookie('ana');
    const down = new RedisConnections('redis://127.0.0.1:1', 'producer', 'dashboard-test');
    probes.push(down);
    const env = loadDashboardEnv({ REDIS_URL: fx.redisUrl, BULL_PREFIX: fx.prefix, ADMIN_USERS, ADMIN_SESSION_SECRET: SESSION_SECRET });
    const app = createApp({ env, targets: [], redis: down.client, logger: silentLogger(), registry: new Registry() });
    const res = await request(app).get(`${BASE}/api/queues`).set('cookie', cookie);
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/session store unavailable/);
  });
});
