import { deletePrefix, testPrefix } from '@coldcopy/testing';
import { createProducer, JobSecurity, type Producer } from '@coldcopy/queue-core/producer';
import { sample, sesNotification, testCertificateFetcher } from '@coldcopy/sns/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createSesWebhookHandler } from '../src/ses-webhook.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:coldcopy-ses-events';

describe('SES webhook route against a real Redis', () => {
  let prefix: string;
  let producer: Producer;
  let redis: Redis;
  beforeEach(() => {
    prefix = testPrefix();
    producer = createProducer({
      redisUrl: inject('redisUrl'),
      prefix,
      security: new JobSecurity({ signingKeys: `k1:${Buffer.alloc(32, 7).toString('base64')}` }),
    });
    redis = new Redis(inject('redisUrl'));
  });
  afterEach(async () => {
    await producer.close();
    redis.disconnect();
    await deletePrefix(inject('redisUrl'), prefix);
  });

  const keys = () => redis.keys(`${prefix}:*`);
  const post = (body: string) => new Request('https://app.example.com/api/webhooks/ses', { method: 'POST', body });

  it('forged requests get 403 and leave no key in Redis; a genuine one is enqueued', async () => {
    const handler = createSesWebhookHandler({ producer, topicArns: [TOPIC], fetchCertificate: testCertificateFetcher });
    const genuine = sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC });
    const forged = JSON.stringify({ ...(JSON.parse(genuine) as object), Signature: 'A'.repeat(344) });
    // 40 forged posts near the size bound, as an attacker would send them
    const padded = JSON.stringify({ ...(JSON.parse(genuine) as object), Message: 'x'.repeat(250_000) });
    for (let i = 0; i < 40; i++) expect((await handler(post(i % 2 ? forged : padded))).status).toBe(403);
    expect(await keys()).toEqual([]);
    expect((await handler(post(genuine))).status).toBe(202);
    const waiting = await redis.lrange(`${prefix}:email:wait`, 0, -1);
    expect(waiting).toHaveLength(1);
    expect(await redis.hget(`${prefix}:email:${waiting[0]}`, 'name')).toBe('process-webhook');
  });
});
