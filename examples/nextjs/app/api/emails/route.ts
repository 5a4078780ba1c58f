import { jobErrorResponse, type JobInput, producerFromEnv, readJsonBody, sendEmail } from '@coldcopy/web';

// the producer needs Node (Bull, ioredis, node:crypto for the job signature)
export const runtime = 'nodejs';

/**
 * Enqueues one send-email job: 202 with the job id; 400 with every validation issue, or for a body
 * that is not JSON; 503 while Redis is unreachable (the producer fails fast instead of queueing).
 */
export async function POST(request: Request): Promise<Response> {
  try {
    // the producer validates against the job's schema before anything reaches Redis
    const data = (await readJsonBody(request)) as JobInput<typeof sendEmail>;
    const job = await producerFromEnv().enqueue(sendEmail, data);
    return Response.json({ jobId: job.id }, { status: 202 });
  } catch (err) {
    return jobErrorResponse(err);
  }
}
