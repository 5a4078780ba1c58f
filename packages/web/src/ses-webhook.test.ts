import { sample, sesNotification, signEnvelope, testCertificateFetcher } from '@coldcopy/sns/testing';
import { describe, expect, it } from 'vitest';
import { createSesWebhookHandler, type SesWebhookHandlerOptions } from './ses-webhook.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:coldcopy-ses-events';
const URL_ = 'https://app.example.com/api/webhooks/ses';

function fakeProducer(fail = false) {
  const calls: Array<{ name: string; data: Record<string, unknown> }> = [];
  return {
    calls,
    async enqueue(def: { name: string }, data: unknown) {
      if (fail) throw Object.assign(new Error('Redis down'), { name: 'QueueUnavailableError' });
      calls.push({ name: def.name, data: data as Record<string, unknown> });
      return { id: 'job-1', queue: 'email' as const, name: def.name };
    },
  };
}

function handlerWith(producer = fakeProducer(), options: Partial<SesWebhookHandlerOptions> = {}) {
  return createSesWebhookHandler({ producer: producer as never, topicArns: [TOPIC], fetchCertificate: testCertificateFetcher, ...options });
}

const post = (body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request(URL_, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers }, duplex: 'half' });

/** A body of `total` bytes in 64 KiB chunks, produced only as it is read; `pulled()` counts what was read. */
function lazyBody(total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(0x7b);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

describe('SES webhook request handler (Next.js route)', () => {
  it('verifies a genuine notification, enqueues the raw body as process-webhook and answers 202', async () => {
    const producer = fakeProducer();
    const body = sesNotification(sample('ses-event-delivery.json'), { topicArn: TOPIC });
    const res = await handlerWith(producer)(post(body, { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': 'm-1', cookie: 'secret' }));
    expect(res.status).toBe(202);
    expect(producer.calls).toHaveLength(1);
    expect(producer.calls[0]!.name).toBe('process-webhook');
    expect(producer.calls[0]!.data).toMatchObject({
      provider: 'ses',
      body,
      headers: { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': 'm-1' },
    });
    expect(producer.calls[0]!.data.headers).not.toHaveProperty('cookie');
  });

  it('refuses forged, tampered, foreign-topic and non-SNS bodies with 403 and enqueues nothing', async () => {
    const producer = fakeProducer();
    const handler = handlerWith(producer);
    const genuine = JSON.parse(sesNotification(sample('ses-event-bounce.json'), { topicArn: TOPIC })) as Record<string, unknown>;
    const bodies = [
      JSON.stringify({ ...genuine, Message: JSON.stringify({ eventType: 'Complaint' }) }), // tampered
      JSON.stringify({ ...genuine, Signature: 'EXAMPLE' }), // forged
      sesNotification(sample('ses-event-bounce.json'), { topicArn: 'arn:aws:sns:us-east-1:999999999999:theirs' }), // someone else's topic
      JSON.stringify(
        signEnvelope(
          { ...sample('ses-sns-envelope-notification-generic.json'), TopicArn: TOPIC },
          { certUrl: 'https://evil.example.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem' },
        ),
      ),
      '{"Type":"Notification","Message":"{}"}',
      'not json at all',
    ];
    for (const body of bodies) expect((await handler(post(body))).status).toBe(403);
    expect(producer.calls).toEqual([]);
  });

  it('bounds the body in bytes: a declared length over the bound is refused unread, a chunked one is cut off while it streams', async () => {
    const producer = fakeProducer();
    const handler = handlerWith(producer);
    expect((await handler(new Request(URL_, { method: 'POST', body: 'x', headers: { 'content-length': String(300 * 1024) } }))).status).toBe(413);
    // 200 MB, chunked (no Content-Length): read no further than the bound plus one chunk
    const huge = lazyBody(200 * 1024 * 1024);
    expect((await handler(post(huge.stream))).status).toBe(413);
    expect(huge.pulled()).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    // the bound counts bytes, not characters: 100 K three-byte characters are 300 KB
    expect((await handler(post('€'.repeat(100 * 1024)))).status).toBe(413);
    expect(producer.calls).toEqual([]);
  });

  it('refuses other methods and empty bodies; 503 when the certificate or the queue is unreachable (SNS retries)', async () => {
    const handler = handlerWith();
    expect((await handler(new Request(URL_, { method: 'GET' }))).status).toBe(405);
    expect((await handler(post(''))).status).toBe(400);
    const body = sesNotification(sample('ses-event-delivery.json'), { topicArn: TOPIC });
    const noCert = handlerWith(fakeProducer(), { fetchCertificate: async () => Promise.reject(new Error('ECONNRESET')) });
    expect((await noCert(post(body))).status).toBe(503);
    expect((await handlerWith(fakeProducer(true))(post(body))).status).toBe(503);
  });

  it('needs its topics: an empty list is refused at once, a missing SNS_TOPIC_ARNS on the first request', async () => {
    expect(() => createSesWebhookHandler({ topicArns: [] })).toThrow(/topicArns is empty/);
    const saved = process.env.SNS_TOPIC_ARNS;
    delete process.env.SNS_TOPIC_ARNS;
    try {
      const handler = createSesWebhookHandler({ producer: fakeProducer() as never });
      await expect(handler(post('{}'))).rejects.toThrow(/SNS_TOPIC_ARNS is not set/);
    } finally {
      if (saved !== undefined) process.env.SNS_TOPIC_ARNS = saved;
    }
  });
});
