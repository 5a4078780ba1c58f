import { describe, expect, it } from 'vitest';
import { createSesWebhookHandler } from './ses-webhook.js';

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

describe('SES webhook request handler (Next.js route)', () => {
  it('enqueues the raw body as process-webhook and answers 202 at once', async () => {
    const producer = fakeProducer();
    const handler = createSesWebhookHandler({ producer: producer as never });
    const body = '{"Type":"Notification","Message":"{\\"a\\":1}"}';
    const res = await handler(
      new Request('https://app.example.com/api/webhooks/ses', {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': 'm-1', cookie: 'secret' },
      }),
    );
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

  it('refuses other methods, empty and oversized bodies; 503 when the queue is down (SNS retries)', async () => {
    const handler = createSesWebhookHandler({ producer: fakeProducer() as never });
    expect((await handler(new Request('https://x.example/', { method: 'GET' }))).status).toBe(405);
    expect((await handler(new Request('https://x.example/', { method: 'POST', body: '' }))).status).toBe(400);
    expect((await handler(new Request('https://x.example/', { method: 'POST', body: 'x'.repeat(300 * 1024) }))).status).toBe(413);
    const down = createSesWebhookHandler({ producer: fakeProducer(true) as never });
    expect((await down(new Request('https://x.example/', { method: 'POST', body: '{}' }))).status).toBe(503);
  });
});
