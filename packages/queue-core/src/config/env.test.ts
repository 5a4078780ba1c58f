import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DLQ_DEFAULTS } from '../dead-letters/store.js';
import { boolEnv, deadLetterEnv, describeEnvSchema, loadEnv, workerAppEnv } from './env.js';
import { ConfigError } from '../definitions/errors.js';

describe('env', () => {
  it('applies defaults, including the queue concurrency from the catalog', () => {
    const env = loadEnv(workerAppEnv('email'), {});
    expect(env).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', BULL_PREFIX: 'bull', EMAIL_CONCURRENCY: 5, HEALTH_PORT: 9464, LOG_LEVEL: 'info' });
    expect(loadEnv(workerAppEnv('enrichment'), {}).ENRICHMENT_CONCURRENCY).toBe(20);
    expect(loadEnv(workerAppEnv('email'), { EMAIL_CONCURRENCY: '12' }).EMAIL_CONCURRENCY).toBe(12);
  });

  it('names every bad variable in one error', () => {
    const err = (() => {
      try {
        loadEnv(workerAppEnv('ai'), { REDIS_URL: 'http://nope', AI_CONCURRENCY: '0', LOG_LEVEL: 'loud' });
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
    expect(loadEnv(workerAppEnv('email'), { REDIS_URL: url }).REDIS_URL).toBe(url);
    for (const bad of ['rediss+cluster://default:hunter2@', 'redis+cluster://default:hunter2@a:7000/2', 'redis://default:hunter2@host/x']) {
      const err = (() => {
        try {
          loadEnv(workerAppEnv('email'), { REDIS_URL: bad });
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
    expect(loadEnv(workerAppEnv('email'), { REDIS_URL: '' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });

  it('has <QUEUE>_SHARDS for every queue and BULL_CLUSTER, parsed with the rest', () => {
    const env = loadEnv(workerAppEnv('email'), { EMAIL_SHARDS: '4', AI_SHARDS: '2', BULL_CLUSTER: 'false' });
    expect(env).toMatchObject({ EMAIL_SHARDS: 4, AI_SHARDS: 2, ENRICHMENT_SHARDS: 1, BULL_CLUSTER: false });
    expect(loadEnv(workerAppEnv('email'), {}).BULL_CLUSTER).toBeUndefined();
    expect(() => loadEnv(workerAppEnv('email'), { EMAIL_SHARDS: '65' })).toThrow(/EMAIL_SHARDS/);
  });

  it('describes every variable from its metadata: description, default, required and secret', () => {
    const vars = describeEnvSchema(workerAppEnv('email', { API_KEY: z.string().min(1).meta({ description: 'a key', secret: true }) }));
    const byName = new Map(vars.map((v) => [v.name, v]));
    expect(byName.get('EMAIL_CONCURRENCY')).toMatchObject({ default: '5', required: false, secret: false });
    expect(byName.get('REDIS_URL')).toMatchObject({ default: 'redis://127.0.0.1:6379', secret: true });
    expect(byName.get('API_KEY')).toEqual({ name: 'API_KEY', description: 'a key', required: true, secret: true });
    expect(byName.get('BULL_CLUSTER')?.required).toBe(false);
    for (const v of vars) expect(v.description, v.name).not.toBe('');
    // a variable without a description is refused, so no generated file goes blank
    expect(() => describeEnvSchema(workerAppEnv('email', { UNDOCUMENTED: z.string() }))).toThrow(/UNDOCUMENTED/);
  });

  it("keeps the dead-letter defaults equal to the store's own (dead-letter.ts)", () => {
    const env = loadEnv(z.object(deadLetterEnv), {});
    expect(env.DLQ_MAX_ENTRIES).toBe(DLQ_DEFAULTS.maxEntries);
    expect(env.DLQ_MAX_AGE_DAYS * 86_400_000).toBe(DLQ_DEFAULTS.maxAgeMs);
  });
});
