/**
 * Turning the producer's typed errors into HTTP answers for route handlers (Web `Request` and
 * `Response`, as in Next.js app routes):
 *
 *   try {
 *     const job = await producerFromEnv().enqueue(sendEmail, (await readJsonBody(request)) as JobInput<typeof sendEmail>);
 *     return Response.json({ jobId: job.id }, { status: 202 });
 *   } catch (err) {
 *     return jobErrorResponse(err); // 400 with the issues, 503 while Redis is unreachable; rethrows the rest
 *   }
 */
import type { FieldIssue } from '@coldcopy/queue-core';
import { readBoundedText, RequestBodyError } from './body.js';

/** 1 MiB: far above any job's data, far below what would hurt the server. */
const DEFAULT_MAX_BYTES = 1024 * 1024;

/**
 * Reads the body as JSON, or throws a `RequestBodyError` (empty, too large, bad UTF-8 or not JSON).
 * The byte bound holds while the body streams (body.ts), chunked or not.
 */
export async function readJsonBody(request: Request, options: { maxBytes?: number } = {}): Promise<unknown> {
  const text = await readBoundedText(request, options.maxBytes ?? DEFAULT_MAX_BYTES);
  if (text.length === 0) throw new RequestBodyError(400, 'empty body: send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RequestBodyError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The JSON bodies `jobErrorResponse` answers with. */
export type JobErrorBody =
  | { error: 'invalid_job_data'; job: string; issues: readonly FieldIssue[] }
  | { error: 'invalid_enqueue_options' | 'unknown_job' | 'invalid_body'; message: string }
  | { error: 'queue_unavailable'; message: string };

/** Seconds a client should wait before retrying while Redis is unreachable. */
const RETRY_AFTER_SECONDS = 5;

/**
 * 400 for `JobValidationError` (with every issue: path and message), `EnqueueOptionsError`,
 * `UnknownJobNameError` and `RequestBodyError` (its own status); 503 with `Retry-After` for
 * `QueueUnavailableError` (whose message, naming the Redis host, stays in the server log only).
 * Anything else is rethrown: it is a bug, and the framework's 500 and error log are the right answer.
 * Errors are matched by `name`, as queue-core's own classifier does, so a second copy of
 * queue-core in a bundle still matches.
 */
export function jobErrorResponse(err: unknown): Response {
  const name = err instanceof Error ? err.name : undefined;
  switch (name) {
    case 'JobValidationError': {
      const e = err as Error & { jobName: string; issues: readonly FieldIssue[] };
      return json(400, { error: 'invalid_job_data', job: e.jobName, issues: e.issues });
    }
    case 'EnqueueOptionsError':
      return json(400, { error: 'invalid_enqueue_options', message: (err as Error).message });
    case 'UnknownJobNameError':
      return json(400, { error: 'unknown_job', message: (err as Error).message });
    case 'RequestBodyError':
      return json((err as RequestBodyError).status, { error: 'invalid_body', message: (err as Error).message });
    case 'QueueUnavailableError':
      return json(
        503,
        { error: 'queue_unavailable', message: 'the job queue is unavailable; try again shortly' },
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    default:
      throw err;
  }
}

function json(status: number, body: JobErrorBody, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers });
}
