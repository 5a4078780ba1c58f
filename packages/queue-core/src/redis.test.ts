import { describe, expect, it } from 'vitest';
import { clientOptions, redact, redisOptionsFromUrl } from './redis.js';

describe('redis options', () => {
  it('parses redis:// and rediss:// URLs with user, password and db', () => {
    expect(redisOptionsFromUrl('redis://127.0.0.1:6380/2')).toMatchObject({ host: '127.0.0.1', port: 6380, db: 2, tls: undefined });
    const managed = redisOptionsFromUrl('rediss://default:s%40cret@db-valkey.example.com:25061');
    expect(managed).toMatchObject({ host: 'db-valkey.example.com', port: 25061, username: 'default', password: 's@cret' });
    expect(managed.tls).toEqual({ servername: 'db-valkey.example.com' });
  });

  it('rejects other schemes and bad db indexes', () => {
    expect(() => redisOptionsFromUrl('http://x')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisOptionsFromUrl('redis://x/abc')).toThrow(/database index/);
  });

  it('never shows a password', () => {
    expect(redact('rediss://default:hunter2@host:25061')).toBe('rediss://default:***@host:25061');
    expect(() => redisOptionsFromUrl('nope://u:hunter2@x')).toThrow(/^((?!hunter2).)*$/);
  });

  it('gives blocking and subscriber clients the options Bull requires, and producers fail fast', () => {
    const base = redisOptionsFromUrl('redis://127.0.0.1:6379');
    for (const type of ['bclient', 'subscriber'] as const) {
      for (const role of ['worker', 'producer'] as const) {
        expect(clientOptions(base, role, type)).toMatchObject({ maxRetriesPerRequest: null, enableReadyCheck: false });
      }
    }
    expect(clientOptions(base, 'producer', 'client')).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(clientOptions(base, 'worker', 'client')).toMatchObject({ maxRetriesPerRequest: null });
  });
});
