import { ConfigError } from '@coldcopy/queue-core';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { loadDashboardEnv } from './env.js';

const hash = bcrypt.hashSync('correct horse battery', 10);
const users = `ana:operator:${hash},vic:viewer:${hash}`;
const secret = 'x'.repeat(40);

function errorOf(source: Record<string, string>): Error | undefined {
  try {
    loadDashboardEnv(source);
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

describe('dashboard env', () => {
  it('applies defaults', () => {
    const env = loadDashboardEnv({ ADMIN_USERS: users });
    expect(env).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      BULL_PREFIX: 'bull',
      PORT: 3000,
      HOST: '0.0.0.0',
      NODE_ENV: 'development',
      ADMIN_AUTH: 'enabled',
      ADMIN_BASE_PATH: '/admin/queues',
      publicBoardPath: '/admin/queues',
      secureCookies: false,
      trustProxy: false,
      LOG_LEVEL: 'info',
    });
    expect(env.users.map((u) => [u.name, u.role])).toEqual([
      ['ana', 'operator'],
      ['vic', 'viewer'],
    ]);
  });

  it('refuses to start without credentials, naming the way out', () => {
    const err = errorOf({});
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toMatch(/ADMIN_USERS/);
    expect(err?.message).toMatch(/ADMIN_AUTH=disabled/);
  });

  it('in production: requires users and a session secret, and refuses ADMIN_AUTH=disabled', () => {
    expect(errorOf({ NODE_ENV: 'production' })?.message).toMatch(/ADMIN_USERS[\s\S]*ADMIN_SESSION_SECRET/);
    expect(errorOf({ NODE_ENV: 'production', ADMIN_USERS: users })?.message).toMatch(/ADMIN_SESSION_SECRET/);
    expect(errorOf({ NODE_ENV: 'production', ADMIN_AUTH: 'disabled' })?.message).toMatch(/ADMIN_AUTH=disabled is refused/);
    const env = loadDashboardEnv({ NODE_ENV: 'production', ADMIN_USERS: users, ADMIN_SESSION_SECRET: secret });
    expect(env.secureCookies).toBe(true);
  });

  it('allows ADMIN_AUTH=disabled outside production without users', () => {
    expect(loadDashboardEnv({ ADMIN_AUTH: 'disabled' }).users).toEqual([]);
  });

  it('rejects plain-text passwords and unknown roles', () => {
    expect(errorOf({ ADMIN_USERS: 'ana:operator:hunter2' })?.message).toMatch(/bcrypt hash/);
    expect(errorOf({ ADMIN_USERS: `ana:admin:${hash}` })?.message).toMatch(/role must be viewer or operator/);
    expect(errorOf({ ADMIN_USERS: `ana:viewer:${hash},ana:operator:${hash}` })?.message).toMatch(/duplicate/);
  });

  it('derives the public board path and cookie security from PUBLIC_URL', () => {
    const stripped = loadDashboardEnv({ ADMIN_USERS: users, PUBLIC_URL: 'https://example.com/ops/' });
    expect(stripped).toMatchObject({ publicBoardPath: '/ops/admin/queues', secureCookies: true, publicOrigin: 'https://example.com' });
    const preserved = loadDashboardEnv({ ADMIN_USERS: users, PUBLIC_URL: 'http://localhost:3000', ADMIN_BASE_PATH: '/ops/admin/queues/' });
    expect(preserved).toMatchObject({ ADMIN_BASE_PATH: '/ops/admin/queues', publicBoardPath: '/ops/admin/queues', secureCookies: false });
    expect(errorOf({ ADMIN_USERS: users, ADMIN_BASE_PATH: 'admin' })?.message).toMatch(/ADMIN_BASE_PATH/);
    expect(errorOf({ ADMIN_USERS: users, ADMIN_BASE_PATH: '/' })?.message).toMatch(/root path/);
  });

  it('parses TRUST_PROXY and validates METRICS_TOKEN length', () => {
    expect(loadDashboardEnv({ ADMIN_USERS: users, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadDashboardEnv({ ADMIN_USERS: users, TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(errorOf({ ADMIN_USERS: users, METRICS_TOKEN: 'short' })?.message).toMatch(/METRICS_TOKEN/);
  });
});
