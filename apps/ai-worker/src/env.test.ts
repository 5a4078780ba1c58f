import { loadEnv } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { envSchema } from './env.js';

const schema = envSchema;

describe('ai worker env', () => {
  it('defaults', () => {
    const env = loadEnv(schema, { DATABASE_URL: 'postgres://u:p@127.0.0.1/db', OPENAI_API_KEY: 'k' });
    expect(env).toMatchObject({ AI_DEFAULT_PROVIDER: 'openai', AI_FALLBACK: true, OPENAI_MODEL: 'gpt-4.1-mini', AI_CONCURRENCY: 3, LLM_TIMEOUT_MS: 45_000 });
  });

  it('names the missing and bad variables', () => {
    expect(() => loadEnv(schema, { AI_DEFAULT_PROVIDER: 'mistral', OPENAI_BASE_URL: 'not a url' })).toThrow(
      /DATABASE_URL[\s\S]*AI_DEFAULT_PROVIDER|AI_DEFAULT_PROVIDER[\s\S]*DATABASE_URL/,
    );
  });

  it('reads AI_FALLBACK=false as false', () => {
    expect(loadEnv(schema, { DATABASE_URL: 'postgres://x', AI_FALLBACK: 'false' }).AI_FALLBACK).toBe(false);
  });
});
