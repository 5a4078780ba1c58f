import { loadEnv } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { envSchema as schema } from './env.js';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' };

describe('enrichment worker env', () => {
  it('applies the providers.md defaults', () => {
    const env = loadEnv(schema, base);
    expect(env).toMatchObject({
      HUNTER_BASE_URL: 'https://api.hunter.io/v2',
      HUNTER_RATE_PER_SECOND: 15,
      HUNTER_RATE_PER_MINUTE: 500,
      HUNTER_VERIFY_RATE_PER_SECOND: 10,
      HUNTER_VERIFY_RATE_PER_MINUTE: 300,
      APOLLO_BASE_URL: 'https://api.apollo.io/api/v1',
      APOLLO_RATE_PER_MINUTE: 50,
      APOLLO_RATE_PER_HOUR: 200,
      APOLLO_RATE_PER_DAY: 600,
      PROVIDER_LIMITS_SHARED: true,
      DNS_SERVERS: [],
    });
    expect(env.HUNTER_API_KEY).toBeUndefined();
  });

  it('names a missing DATABASE_URL and a bad number', () => {
    expect(() => loadEnv(schema, { REDIS_URL: base.REDIS_URL })).toThrow(/DATABASE_URL/);
    expect(() => loadEnv(schema, { ...base, HUNTER_RATE_PER_SECOND: 'fast' })).toThrow(/HUNTER_RATE_PER_SECOND/);
  });

  it('parses booleans strictly and splits DNS_SERVERS', () => {
    expect(loadEnv(schema, { ...base, PROVIDER_LIMITS_SHARED: 'false' }).PROVIDER_LIMITS_SHARED).toBe(false);
    expect(loadEnv(schema, { ...base, PROVIDER_LIMITS_SHARED: '0' }).PROVIDER_LIMITS_SHARED).toBe(false);
    expect(() => loadEnv(schema, { ...base, PROVIDER_LIMITS_SHARED: 'no' })).toThrow(/PROVIDER_LIMITS_SHARED/);
    expect(loadEnv(schema, { ...base, DNS_SERVERS: '127.0.0.1:5353, 10.0.0.2' }).DNS_SERVERS).toEqual(['127.0.0.1:5353', '10.0.0.2']);
  });
});
