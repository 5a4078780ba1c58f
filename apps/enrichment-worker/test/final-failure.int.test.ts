import { completeEnrichmentJob, createEnrichmentJob, getEnrichmentJob, startEnrichmentJob } from '@coldcopy/db';
import { enrichLead, verifyEmail } from '@coldcopy/queue-core';
import type { FinalFailure } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { settleBatchChild } from '../src/handlers/final-failure.js';
import { useEnrichmentHarness } from './harness.js';

const h = useEnrichmentHarness();

/** A final failure as the worker runtime hands it to the app (a plain job view). */
function failure(name: string, data: Record<string, unknown>, message = 'job stalled more than allowable limit'): FinalFailure {
  return {
    queue: 'enrichment',
    error: new Error(message),
    job: {
      id: `${name}.x`,
      name,
      state: 'failed',
      data,
      returnValue: undefined,
      progress: 0,
      failedReason: message,
      attemptsMade: 1,
      attempts: 3,
      delay: 0,
      timestamp: 0,
      finishedOn: 0,
    } as unknown as FinalFailure['job'],
  };
}

describe('a batch child that failed for good without its handler settling it', () => {
  it('settles its item as failed, once, so that the batch completes; other jobs are left alone', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 3, domains: ['acme.com'] });
    const batch = await createEnrichmentJob(h.pool, workspaceId, { providerId: h.hunterId, enrichmentTypes: ['email'], leadIds: leads.map((l) => l.id) });
    // what batch-enrich does first: one pending item per lead
    await startEnrichmentJob(
      h.pool,
      workspaceId,
      batch.id,
      leads.map((l) => l.id),
      'batch-enrich.test',
    );
    const child = (leadId: string) => ({ workspaceId, leadId, providerId: h.hunterId, enrichmentJobId: batch.id });

    // not a batch child, or not enrich-lead: nothing to settle
    await settleBatchChild(failure(enrichLead.name, { workspaceId, leadId: leads[0]!.id, providerId: h.hunterId }), { pool: h.pool });
    await settleBatchChild(failure(verifyEmail.name, child(leads[0]!.id)), { pool: h.pool });
    expect(await getEnrichmentJob(h.pool, workspaceId, batch.id)).toMatchObject({ processed: 0, failed: 0 });

    await settleBatchChild(failure(enrichLead.name, child(leads[0]!.id)), { pool: h.pool });
    await settleBatchChild(failure(enrichLead.name, child(leads[0]!.id)), { pool: h.pool }); // again: no second count
    expect(await getEnrichmentJob(h.pool, workspaceId, batch.id)).toMatchObject({ processed: 1, failed: 1 });
    const items = await h.pool.query(`SELECT lead_id, status, error FROM enrichment_job_items WHERE enrichment_job_id = $1 AND status <> 'pending'`, [
      batch.id,
    ]);
    expect(items.rows).toEqual([{ lead_id: leads[0]!.id, status: 'failed', error: 'Error: job stalled more than allowable limit' }]);

    // with every item settled, batch-enrich can complete the batch
    expect(await completeEnrichmentJob(h.pool, workspaceId, batch.id)).toBeUndefined();
    for (const lead of leads.slice(1)) await settleBatchChild(failure(enrichLead.name, child(lead.id)), { pool: h.pool });
    expect(await completeEnrichmentJob(h.pool, workspaceId, batch.id)).toMatchObject({ status: 'completed', total: 3, processed: 3, failed: 3 });
  });
});
