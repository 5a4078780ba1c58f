import { processWebhook } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';
import { producerFromEnv } from './producer-from-env.js';

/**
 * The SNS endpoint for the Next.js app (Web `Request` in, `Response` out): it enqueues the raw
 * body as `process-webhook` and answers at once. Verification happens in the worker, before
 * anything is written; the route only bounds the input. Use with `export const runtime = 'nodejs'`:
 *
 *   // app/api/webhooks/ses/route.ts
 *   import { createSesWebhookHandler } from '@coldcopy/web';
 *   export const runtime = 'nodejs';
 *   export const POST = createSesWebhookHandler();
 */
export interface SesWebhookHandlerOptions {
  /** default: the process-wide producer from REDIS_URL / BULL_PREFIX (producerFromEnv) */
  readonly producer?: Pick<Producer, 'enqueue'>;
}

/** processWebhook's payload bound, in characters */
const MAX_BODY = 256 * 1024;
const KEPT_HEADERS = ['x-amz-sns-message-type', 'x-amz-sns-message-id', 'x-amz-sns-topic-arn', 'x-amz-sns-subscription-arn'];

export function createSesWebhookHandler(options: SesWebhookHandlerOptions = {}): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'POST') return new Response('method not allowed', { status: 405, headers: { allow: 'POST' } });
    const declared = Number(request.headers.get('content-length') ?? 0);
    if (declared > MAX_BODY * 4) return new Response('payload too large', { status: 413 });
    // SNS posts text/plain JSON: read the raw text, never a parsed body (the signature covers values)
    const body = await request.text();
    if (body.length === 0) return new Response('empty body', { status: 400 });
    if (body.length > MAX_BODY) return new Response('payload too large', { status: 413 });
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = request.headers.get(name);
      if (value) headers[name] = value.slice(0, 2000);
    }
    const producer = options.producer ?? producerFromEnv();
    try {
      await producer.enqueue(processWebhook, { provider: 'ses', body, receivedAt: new Date().toISOString(), headers });
    } catch (err) {
      // SNS retries on 5xx: better than losing the event
      return new Response(`could not enqueue: ${(err as Error).name}`, { status: 503 });
    }
    return new Response(null, { status: 202 });
  };
}
