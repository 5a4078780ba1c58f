import { companyEnrich, enrichLead, type JobInput, verifyEmail } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';

/**
 * Jobs the handlers enqueue: a request re-queued after a provider's rate or "still running" answer
 * (a new job with a delay, so the wait uses up no Bull attempt), and batch-enrich's children.
 * Every key is deterministic: enqueueing twice while Redis still knows the job is a no-op.
 */
export interface FollowUps {
  enrichLeadLater(payload: JobInput<typeof enrichLead>, options: { delayMs: number; key: string }): Promise<void>;
  /** batch-enrich's fan-out, one bulk add per call */
  enrichLeads(items: ReadonlyArray<{ payload: JobInput<typeof enrichLead>; key: string }>): Promise<number>;
  verifyEmailLater(payload: JobInput<typeof verifyEmail>, options: { delayMs: number; key: string }): Promise<void>;
  companyEnrichLater(payload: JobInput<typeof companyEnrich>, options: { delayMs: number; key: string }): Promise<void>;
}

export function createProducerFollowUps(producer: Producer): FollowUps {
  const delay = (ms: number) => Math.max(0, Math.round(ms));
  return {
    async enrichLeadLater(payload, o) {
      await producer.enqueue(enrichLead, payload, { delay: delay(o.delayMs), idempotencyKey: o.key });
    },
    async enrichLeads(items) {
      const added = await producer.enqueueBulk(
        enrichLead,
        items.map((i) => ({ data: i.payload, options: { idempotencyKey: i.key } })),
      );
      return added.length;
    },
    async verifyEmailLater(payload, o) {
      await producer.enqueue(verifyEmail, payload, { delay: delay(o.delayMs), idempotencyKey: o.key });
    },
    async companyEnrichLater(payload, o) {
      await producer.enqueue(companyEnrich, payload, { delay: delay(o.delayMs), idempotencyKey: o.key });
    },
  };
}
