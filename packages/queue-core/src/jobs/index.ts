import type { QueueName } from '../definitions/queues.js';
import { aiJobs } from './ai.jobs.js';
import { analyticsJobs } from './analytics.jobs.js';
import { emailJobs } from './email.jobs.js';
import { enrichmentJobs } from './enrichment.jobs.js';
import { integrationJobs } from './integration.jobs.js';
import { maintenanceJobs } from './maintenance.jobs.js';

/**
 * The job catalog: the 24 job definitions, four per queue (domain.md §5). Producers and workers
 * both look jobs up here, so a job exists for one side only if it exists for both.
 */

export * from './ai.jobs.js';
export * from './analytics.jobs.js';
export * from './email.jobs.js';
export * from './enrichment.jobs.js';
export * from './integration.jobs.js';
export * from './maintenance.jobs.js';

export const allJobs = [...emailJobs, ...enrichmentJobs, ...aiJobs, ...analyticsJobs, ...integrationJobs, ...maintenanceJobs] as const;

export type CatalogJob = (typeof allJobs)[number];
export type JobName = CatalogJob['name'];
export type JobsOn<Q extends QueueName> = Extract<CatalogJob, { queue: Q }>;

export const jobByName: ReadonlyMap<string, CatalogJob> = new Map(allJobs.map((job) => [job.name, job]));

export function getJob(name: string): CatalogJob | undefined {
  return jobByName.get(name);
}

const byQueue = new Map<QueueName, readonly CatalogJob[]>();
for (const job of allJobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);

/** The definitions of one queue, in catalog order (empty for a queue without jobs). */
export function jobsOnQueue(queue: QueueName): readonly CatalogJob[] {
  return byQueue.get(queue) ?? [];
}
export * from './schedules.js';
