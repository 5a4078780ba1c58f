import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boolEnv, loadEnv, workerEnvSchema } from './env.js';
import { ConfigError } from '../definitions/errors.js';

describe('env', () => {
  it('applies defaults, including the queue concurrency from the catalog', () => {
    const env = loadEnv(workerEnvSchema('email'), {});
    expect(env).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', BULL_PREFIX: 'bull', EMAIL_CONCURRENCY: 5, HEALTH_PORT: 9464, LOG_LEVEL: 'info' });
    expect(loadEnv(workerEnvSchema('enrichment'), {}).ENRICHMENT_CONCURRENCY).toBe(20);
    expect(loadEnv(workerEnvSchema('email'), { EMAIL_CONCURRENCY: '12' }).EMAIL_CONCURRENCY).toBe(12);
  });

  it('names every bad variable in one error', () => {
    const err = (() => {
      try {
        loadEnv(workerEnvSchema('ai'), { REDIS_URL: 'http://nope', AI_CONCURRENCY: '0', LOG_LEVEL: 'loud' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toMatch(/REDIS_URL/);
    expect(err?.message).toMatch(/AI_CONCURRENCY/);
    expect(err?.message).toMatch(/LOG_LEVEL/);
  });

  it('parses booleans explicitly ("false" is false)', () => {
    const schema = z.object({ FLAG: boolEnv(true) });
    expect(loadEnv(schema, { FLAG: 'false' }).FLAG).toBe(false);
    expect(loadEnv(schema, { FLAG: '0' }).FLAG).toBe(false);
    expect(loadEnv(schema, { FLAG: '1' }).FLAG).toBe(true);
    expect(loadEnv(schema, {}).FLAG).toBe(true);
    expect(() => loadEnv(schema, { FLAG: 'maybe' })).toThrow(ConfigError);
  });

  it('accepts Redis Cluster URLs and refuses bad ones without printing the password', () => {
    const url = 'rediss+cluster://default:hunter2@node-a.example.com:25061,node-b.example.com:25061';
    expect(loadEnv(workerEnvSchema('email'), { REDIS_URL: url }).REDIS_URL).toBe(url);
    for (const bad of ['rediss+cluster://default:hunter2@', 'redis+cluster://default:hunter2@a:7000/2', 'redis://default:hunter2@host/x']) {
      const err = (() => {
        try {
          loadEnv(workerEnvSchema('email'), { REDIS_URL: bad });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect(err?.message).toMatch(/REDIS_URL/);
      expect(err?.message).not.toMatch(/hunter2/);
    }
  });

  it('treats empty strings as unset', () => {
    expect(loadEnv(workerEnvSchema('email'), { REDIS_URL: '' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });
});
