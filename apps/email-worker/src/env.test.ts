import { ConfigError } from '@coldcopy/queue-core';
import { loadEnv } from '@coldcopy/queue-core/env';
import { describe, expect, it } from 'vitest';
import { envSchema as schema } from './env.js';

const required = {
  DATABASE_URL: 'postgres://u:p@localhost:5432/coldcopy',
  UNSUBSCRIBE_BASE_URL: 'https://app.example.com/u',
  UNSUBSCRIBE_MAILTO_DOMAIN: 'example.com',
  UNSUBSCRIBE_SECRET: 's'.repeat(32),
  SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-events',
};

describe('email worker env', () => {
  it('has defaults for everything but the required five', () => {
    const env = loadEnv(schema, required);
    expect(env.SES_REGION).toBe('us-east-1');
    expect(env.SES_ENDPOINT).toBeUndefined();
    expect(env.SES_MAX_SEND_RATE).toBe(10);
    expect(env.EMAIL_CONCURRENCY).toBe(5);
    expect(env.SNS_TOPIC_ARNS).toEqual(['arn:aws:sns:us-east-1:123456789012:ses-events']);
    expect(env.BOUNCE_RATE_LIMIT).toBe(0.05);
    expect(env.COMPLAINT_RATE_LIMIT).toBe(0.001);
  });

  it('names every missing or bad variable', () => {
    const err = (() => {
      try {
        loadEnv(schema, { UNSUBSCRIBE_BASE_URL: 'http://insecure.example/u', SNS_TOPIC_ARNS: 'not-an-arn', SES_ENDPOINT: 'nope' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    for (const name of ['DATABASE_URL', 'UNSUBSCRIBE_BASE_URL', 'UNSUBSCRIBE_SECRET', 'UNSUBSCRIBE_MAILTO_DOMAIN', 'SNS_TOPIC_ARNS', 'SES_ENDPOINT']) {
      expect(err!.message).toContain(name);
    }
  });

  it('parses lists and numbers', () => {
    const env = loadEnv(schema, {
      ...required,
      SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:a, arn:aws:sns:eu-west-1:123456789012:b',
      SES_MAX_SEND_RATE: '12.5',
      SES_ENDPOINT: 'http://127.0.0.1:8005',
    });
    expect(env.SNS_TOPIC_ARNS).toHaveLength(2);
    expect(env.SES_MAX_SEND_RATE).toBe(12.5);
    expect(env.SES_ENDPOINT).toBe('http://127.0.0.1:8005');
  });
});

describe('send lease against the time budget (deps.ts)', () => {
  it("refuses a lease not comfortably longer than send-email's budget plus the SES timeout, and a test certificate in production", async () => {
    const { createDeps, minimumSendLeaseMs } = await import('./deps.js');
    const tools = {} as Parameters<typeof createDeps>[1];
    expect(minimumSendLeaseMs({ SES_TIMEOUT_MS: 10_000 })).toBe(75_000); // 60 s budget + 10 s + 5 s
    await expect(createDeps(loadEnv(schema, { ...required, SEND_LEASE_MS: '15000' }), tools)).rejects.toThrow(/SEND_LEASE_MS=15000 is too short/);
    await expect(createDeps(loadEnv(schema, { ...required, SEND_LEASE_MS: '74999' }), tools)).rejects.toBeInstanceOf(ConfigError);
    expect(loadEnv(schema, required).SEND_LEASE_MS).toBeGreaterThanOrEqual(75_000);
    await expect(createDeps(loadEnv(schema, { ...required, SNS_TEST_CERTIFICATE: 'true', NODE_ENV: 'production' }), tools)).rejects.toThrow(
      /SNS_TEST_CERTIFICATE/,
    );
  });
});
