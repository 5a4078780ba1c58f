import { type AnyJobDefinition, analyzeSentiment, extractMeetingIntent, generateSmartReply } from '@coldcopy/queue-core';
import type { ReplyAnalysis, ReplyAnalysisJobs } from './reply-analysis.js';

export interface FakeAiJob {
  readonly name: string;
  /** the Bull job id the producer would give it: `<job-name>.<idempotency key parts joined by '.'>` */
  readonly jobId: string;
  /** the payload as the worker would receive it (parsed by the job's schema, defaults applied) */
  readonly data: Record<string, unknown>;
}

/**
 * Records the AI jobs process-webhook enqueues. Like the producer, it validates each payload with
 * the job's strict input schema (a wrong field throws) and derives the id from the definition's
 * idempotency key; like Bull, an id it has seen is not added again. `calls` counts every call,
 * `jobs` holds the jobs that were added. `failNext` makes the next call throw (a Redis outage).
 */
export function createFakeReplyAnalysis() {
  const jobs: FakeAiJob[] = [];
  const calls: ReplyAnalysisJobs[] = [];
  const ids = new Set<string>();
  let failures = 0;
  const add = (def: AnyJobDefinition, input: unknown): string => {
    const data = def.inputSchema.parse(input) as Record<string, unknown>;
    const jobId = `${def.name}.${def.idempotencyKey!(data).map(String).join('.')}`;
    if (!ids.has(jobId)) {
      ids.add(jobId);
      jobs.push({ name: def.name, jobId, data });
    }
    return jobId;
  };
  const analysis: ReplyAnalysis = {
    async enqueueReplyAnalysis(input) {
      calls.push(input);
      if (failures > 0) {
        failures--;
        throw new Error('Redis is unavailable (fake)');
      }
      return [add(analyzeSentiment, input.sentiment), add(generateSmartReply, input.smartReply), add(extractMeetingIntent, input.meeting)];
    },
  };
  return Object.assign(analysis, {
    jobs,
    calls,
    failNext(times = 1) {
      failures += times;
    },
  });
}
