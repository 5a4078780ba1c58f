import { ConfigError, processWebhook } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';
import { fetchSnsCertificate, SnsVerificationError, verifySnsMessage, type SnsCertificateFetcher } from '@coldcopy/sns';
import { readBoundedText, RequestBodyError } from './body.js';
import { producerFromEnv } from './producer-from-env.js';

/**
 * The SNS endpoint for the Next.js app (Web `Request` in, `Response` out). It checks the delivery
 * before anything reaches Redis: body bounded in bytes while it streams, then the SNS signature
 * (certificate from an SNS host, cached) and the TopicArn; only a genuine message of one of our
 * topics is enqueued as `process-webhook` (202). A forged or foreign request gets 403 and leaves
 * nothing behind. The worker verifies again before it applies anything. Use with
 * `export const runtime = 'nodejs'`:
 *
 *   // app/api/webhooks/ses/route.ts
 *   import { createSesWebhookHandler } from '@coldcopy/web';
 *   export const runtime = 'nodejs';
 *   export const POST = createSesWebhookHandler();
 */
export interface SesWebhookHandlerOptions {
  /** default: the process-wide producer from REDIS_URL / BULL_PREFIX (producerFromEnv) */
  readonly producer?: Pick<Producer, 'enqueue'>;
  /** the SNS topics we subscribed to; default `SNS_TOPIC_ARNS` (comma-separated), as the email worker reads it */
  readonly topicArns?: readonly string[];
  /** default: HTTPS from the SNS host with a 5 s timeout and a small cache */
  readonly fetchCertificate?: SnsCertificateFetcher;
  /** default 256 KiB, the bound of `process-webhook`'s body */
  readonly maxBodyBytes?: number;
}

const MAX_BODY_BYTES = 256 * 1024;
const KEPT_HEADERS = ['x-amz-sns-message-type', 'x-amz-sns-message-id', 'x-amz-sns-topic-arn', 'x-amz-sns-subscription-arn'];

/**
 * Without topics (option or `SNS_TOPIC_ARNS`) every request throws a ConfigError saying so: read at
 * the first request rather than at import, so `next build` does not need the variable.
 */
export function createSesWebhookHandler(options: SesWebhookHandlerOptions = {}): (request: Request) => Promise<Response> {
  if (options.topicArns?.length === 0) throw new ConfigError('createSesWebhookHandler: topicArns is empty, so every notification would be refused');
  let topicArns = options.topicArns;
  const fetchCertificate = options.fetchCertificate ?? fetchSnsCertificate;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  return async (request) => {
    topicArns ??= topicArnsFromEnv(process.env.SNS_TOPIC_ARNS);
    if (request.method !== 'POST') return text(405, 'method not allowed', { allow: 'POST' });
    let body: string;
    try {
      // SNS posts text/plain JSON: the raw text, never a parsed body (the signature covers values)
      body = await readBoundedText(request, maxBodyBytes);
    } catch (err) {
      if (err instanceof RequestBodyError) return text(err.status, err.message);
      throw err;
    }
    if (body.length === 0) return text(400, 'empty body');
    try {
      await verifySnsMessage(body, { topicArns, fetchCertificate, signal: AbortSignal.timeout(5000) });
    } catch (err) {
      if (err instanceof SnsVerificationError) return text(403, 'not a genuine SNS message for this endpoint');
      // the certificate could not be fetched: SNS retries on 5xx
      return text(503, 'could not verify the message now');
    }
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
      return text(503, `could not enqueue: ${(err as Error).name}`);
    }
    return new Response(null, { status: 202 });
  };
}

function topicArnsFromEnv(value: string | undefined): string[] {
  const arns = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (arns.length === 0) {
    throw new ConfigError('SNS_TOPIC_ARNS is not set: the SES webhook accepts only notifications of the SNS topics listed there (comma-separated ARNs)');
  }
  return arns;
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}
