import { randomBytes } from 'node:crypto';
import { EnqueueOptionsError, JobValidationError, QueueUnavailableError, sendEmail, UnknownJobNameError } from '@coldcopy/queue-core';
import { createProducer, JobSecurity } from '@coldcopy/queue-core/producer';
import { describe, expect, it } from 'vitest';
import { RequestBodyError } from './body.js';
import { jobErrorResponse, readJsonBody } from './responses.js';

const post = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
  new Request('https://app.example.com/api/emails', { method: 'POST', body, headers });

async function bodyError(request: Request, options?: { maxBytes?: number }): Promise<RequestBodyError> {
  const err = await readJsonBody(request, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RequestBodyError);
  return err as RequestBodyError;
}

describe('readJsonBody', () => {
  it('returns the parsed JSON', async () => {
    expect(await readJsonBody(post('{"a":[1,2]}'))).toEqual({ a: [1, 2] });
  });

  it('refuses empty, non-JSON, non-UTF-8 and oversized bodies with 400 or 413', async () => {
    expect((await bodyError(post(''))).status).toBe(400);
    const notJson = await bodyError(post('name=ana'));
    expect(notJson.status).toBe(400);
    expect(notJson.message).toMatch(/not valid JSON/);
    expect((await bodyError(post(new Uint8Array([0x7b, 0xff, 0x7d])))).message).toMatch(/UTF-8/);
    expect((await bodyError(post('"' + 'x'.repeat(100) + '"'), { maxBytes: 50 })).status).toBe(413);
    expect((await bodyError(post('{}', { 'content-length': String(2 * 1024 * 1024) }))).status).toBe(413);
  });

  it('stops reading a chunked body as soon as it passes the bound', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request('https://app.example.com/api/emails', { method: 'POST', body: endless, duplex: 'half' });
    expect((await bodyError(request, { maxBytes: 64 * 1024 })).status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(64 * 1024 + 16 * 1024);
  });
});

describe('jobErrorResponse', () => {
  it('answers a JobValidationError from the real producer with 400 and every issue', async () => {
    // validation runs before any connection is used: no Redis needed
    const producer = createProducer({
      redisUrl: 'redis://127.0.0.1:1',
      security: new JobSecurity({ signingKeys: `t1:${randomBytes(32).toString('base64')}` }),
    });
    let caught: unknown;
    try {
      producer.validate(sendEmail, { workspaceId: 'not-a-uuid' });
    } catch (err) {
      caught = err;
    }
    await producer.close();
    expect(caught).toBeInstanceOf(JobValidationError);
    const res = jobErrorResponse(caught);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { error: string; job: string; issues: Array<{ path: string; message: string }> };
    expect(body.error).toBe('invalid_job_data');
    expect(body.job).toBe('send-email');
    expect(body.issues.map((i) => i.path).sort()).toEqual(['campaignEmailId', 'workspaceId']);
    expect(body.issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it('answers 503 with Retry-After for QueueUnavailableError, without the Redis address', async () => {
    const res = jobErrorResponse(new QueueUnavailableError('Redis at redis://:***@10.0.0.7:6379 is unavailable: ECONNREFUSED'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'queue_unavailable' });
    expect(text).not.toContain('10.0.0.7');
  });

  it('answers 400 for bad options, unknown job names and bad bodies; rethrows anything else', async () => {
    expect(jobErrorResponse(new EnqueueOptionsError('delay must be >= 0')).status).toBe(400);
    expect(jobErrorResponse(new UnknownJobNameError('no-such-job')).status).toBe(400);
    const tooBig = jobErrorResponse(new RequestBodyError(413, 'body larger than 10 bytes'));
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ error: 'invalid_body', message: 'body larger than 10 bytes' });
    const bug = new TypeError('x is undefined');
    expect(() => jobErrorResponse(bug)).toThrow(bug);
    expect(() => jobErrorResponse('a string')).toThrow();
  });

  it('matches by name, so an error from a second copy of queue-core still maps', () => {
    const copy = Object.assign(new Error('down'), { name: 'QueueUnavailableError' });
    expect(jobErrorResponse(copy).status).toBe(503);
  });
});
