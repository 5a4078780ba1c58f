import { analyzeSentiment, extractMeetingIntent, generateSmartReply } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';
import type { ReplyAnalysis } from './reply-analysis.js';

/**
 * The AI jobs of a reply through the worker's producer (a separate producer, closed after the
 * worker: bull-v4.md §9). No idempotencyKey option: each definition's own key makes the job id
 * (`analyze-sentiment.<ws>.<email_messages.id>`, ...), so a repeated call adds nothing while Redis
 * still knows the jobs. The producer validates every payload against the job's schema first.
 */
export function createProducerReplyAnalysis(producer: Producer): ReplyAnalysis {
  return {
    async enqueueReplyAnalysis(jobs) {
      // three definitions, three adds; if one fails the caller retries all three (the others are no-ops then)
      const added = await Promise.all([
        producer.enqueue(analyzeSentiment, jobs.sentiment),
        producer.enqueue(generateSmartReply, jobs.smartReply),
        producer.enqueue(extractMeetingIntent, jobs.meeting),
      ]);
      return added.map((a) => a.id);
    },
  };
}
