import type { QueueName } from '@coldcopy/queue-core';
import type { DeadLetters } from '@coldcopy/queue-core/admin';

/** Reads the dead-letter store's size per queue for `bull_queue_dead_letter_jobs` (one MULTI). */
export function deadLetterSizes(deadLetters: Pick<DeadLetters, 'countByQueue'>): () => Promise<ReadonlyMap<QueueName, number>> {
  return async () => new Map(Object.entries(await deadLetters.countByQueue()) as Array<[QueueName, number]>);
}
