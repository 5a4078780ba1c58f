import { loadEnv } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { envSchema } from './env.js';

const schema = envSchema;
const TOKEN_KEYS = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

describe('ai worker env', () => {
  it('defaults', () => {
    const env = loadEnv(schema, { DATABASE_URL: 'postgres://u:p@127.0.0.1/db', OPENAI_API_KEY: 'k', INTEGRATION_TOKEN_KEYS: TOKEN_KEYS });
    expect(env).toMatchObject({
      AI_DEFAULT_PROVIDER: 'openai',
      AI_FALLBACK: true,
      OPENAI_MODEL: 'gpt-4.1-mini',
      AI_CONCURRENCY: 3,
      LLM_TIMEOUT_MS: 45_000,
      GOOGLE_CALENDAR_ROOT_URL: 'https://www.googleapis.com/',
      CALENDAR_TIMEOUT_MS: 10_000,
      TOKEN_REFRESH_AHEAD_SECONDS: 300,
    });
  });

  it('names the missing and bad variables', () => {
    expect(() => loadEnv(schema, { AI_DEFAULT_PROVIDER: 'mistral', OPENAI_BASE_URL: 'not a url' })).toThrow(
      /DATABASE_URL[\s\S]*AI_DEFAULT_PROVIDER|AI_DEFAULT_PROVIDER[\s\S]*DATABASE_URL/,
    );
    // the sealed calendar tokens' keys: required, and checked
    expect(() => loadEnv(schema, { DATABASE_URL: 'postgres://x' })).toThrow(/INTEGRATION_TOKEN_KEYS/);
    expect(() => loadEnv(schema, { DATABASE_URL: 'postgres://x', INTEGRATION_TOKEN_KEYS: 'k1:short' })).toThrow(/INTEGRATION_TOKEN_KEYS/);
  });

  it('reads AI_FALLBACK=false as false', () => {
    expect(loadEnv(schema, { DATABASE_URL: 'postgres://x', AI_FALLBACK: 'false', INTEGRATION_TOKEN_KEYS: TOKEN_KEYS }).AI_FALLBACK).toBe(false);
  });
});
