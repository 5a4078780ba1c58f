import { completeEnrichmentJob, getEnrichmentJob, startEnrichmentJob } from '@coldcopy/db';
import { type batchEnrich, enrichLead, type JobPayload, PermanentJobError } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { sleep } from '../domain/sleep.js';

type Payload = JobPayload<typeof batchEnrich>;
type Ctx = JobContext<EnrichmentDeps>;

export interface BatchEnrichResult {
  readonly total: number;
  readonly enriched: number;
  /** leads whose enrichment failed for good, with the reason (first 100) */
  readonly failed: ReadonlyArray<{ leadId: string; error: string }>;
  readonly failedCount: number;
  readonly skippedCached: number;
  readonly noMatch: number;
  /** leads left unenriched because the workspace ran out of credits */
  readonly skippedNoCredits: number;
  readonly stopReason: string | null;
}

/** children per bulk add */
const CHUNK = 500;

/**
 * batch-enrich (domain.md §5): records one item per lead on the durable `enrichment_jobs` batch,
 * enqueues an enrich-lead child for every item still pending through ctx.enqueueBulk (signed, sharded, deterministic ids
 * `enrich-lead.batch.<batch>.<lead>`, one bulk add per 500), then waits for the children, reporting
 * progress on the Bull job, completes the batch once every item has settled, and returns the batch's
 * counts. The children settle their own item (once), and the counts are read from the items, so a batch job that dies and runs again resumes: it
 * re-enqueues only pending items (Bull ignores ids it still has) and no child is charged twice
 * (their ledger key is the batch item).
 */
export async function batchEnrichHandler(p: Payload, ctx: Ctx): Promise<BatchEnrichResult> {
  const { deps } = ctx;
  const ws = p.workspaceId;
  const existing = await getEnrichmentJob(deps.pool, ws, p.enrichmentJobId);
  if (!existing) throw new PermanentJobError(`enrichment job ${p.enrichmentJobId} does not exist in workspace ${ws}`);
  const leadIds = p.leadIds ?? existing.lead_ids;
  if (leadIds.length === 0) throw new PermanentJobError(`enrichment job ${p.enrichmentJobId} has no leads`);
  const { pending } = await startEnrichmentJob(deps.pool, ws, p.enrichmentJobId, leadIds, ctx.jobId);
  for (let i = 0; i < pending.length; i += CHUNK) {
    ctx.signal.throwIfAborted();
    await ctx.enqueueBulk(
      enrichLead,
      pending.slice(i, i + CHUNK).map((leadId) => ({
        data: {
          workspaceId: ws,
          requestedBy: p.requestedBy,
          traceId: p.traceId,
          leadId,
          providerId: p.providerId,
          enrichmentTypes: p.enrichmentTypes,
          enrichmentJobId: p.enrichmentJobId,
        },
        options: { idempotencyKey: `batch.${p.enrichmentJobId}.${leadId}` },
      })),
    );
  }
  let lastProcessed = -1;
  for (;;) {
    let job = await getEnrichmentJob(deps.pool, ws, p.enrichmentJobId);
    if (!job) throw new PermanentJobError(`enrichment job ${p.enrichmentJobId} disappeared`);
    if (job.processed !== lastProcessed) {
      lastProcessed = job.processed;
      await ctx.progress({ total: job.total, processed: job.processed, enriched: job.succeeded, failed: job.failed });
    }
    // every item settled: the batch completes here (its counts come from the items)
    if (job.processed >= job.total) job = (await completeEnrichmentJob(deps.pool, ws, p.enrichmentJobId)) ?? job;
    if (job.status === 'completed') {
      return {
        total: job.total,
        enriched: job.succeeded,
        failed: job.errors,
        failedCount: job.failed,
        skippedCached: job.skipped_cached,
        noMatch: job.no_match,
        skippedNoCredits: job.skipped_no_credits,
        stopReason: job.stop_reason,
      };
    }
    await sleep(deps.config.batchPollMs, ctx.signal);
  }
}
