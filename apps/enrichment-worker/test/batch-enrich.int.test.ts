import { createEnrichmentJob, getEnrichmentJob } from '@coldcopy/db';
import { batchEnrich } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import type { Worker } from '@coldcopy/queue-core/runtime';
import { useEnrichmentHarness } from './harness.js';

const h = useEnrichmentHarness();

async function runBatch(workspaceId: string, leadIds: string[], providerId: string, worker: Pick<Worker, 'inspect'>) {
  const batch = await createEnrichmentJob(h.pool, workspaceId, { providerId, enrichmentTypes: ['email'], leadIds });
  const { id } = await h.producer.enqueue(batchEnrich, {
    workspaceId,
    requestedBy: 'test',
    enrichmentJobId: batch.id,
    leadIds,
    providerId,
    enrichmentTypes: ['email'],
  });
  const job = await waitFor(
    async () => {
      // its fields are read after its state: never older than it
      const j = await worker.inspect.job<any>(id);
      if (j?.state !== 'completed' && j?.state !== 'failed') return false;
      if (j.state === 'failed') throw new Error(j.failedReason ?? 'failed');
      return j;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'batch completed' },
  );
  return { job, batchId: batch.id };
}

describe('batch-enrich', () => {
  it('fans out one child per lead, aggregates the counts, and a second batch over the same leads makes no provider call', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 60, domains: ['acme.com', 'globex.com', 'unknown-one.com'] });
    const worker = await h.worker(h.deps({ bulkLingerMs: 100 }).deps);
    const leadIds = leads.map((l) => l.id);
    const { job, batchId } = await runBatch(workspaceId, leadIds, h.apolloId, worker);
    expect(job.returnValue).toEqual({
      total: 60,
      enriched: 40,
      failed: [],
      failedCount: 0,
      skippedCached: 0,
      noMatch: 20,
      skippedNoCredits: 0,
      stopReason: null,
    });
    expect(job.progress).toMatchObject({ total: 60, processed: 60 });
    expect(await getEnrichmentJob(h.pool, workspaceId, batchId)).toMatchObject({ status: 'completed', processed: 60, succeeded: 40, no_match: 20 });
    // the children shared Apollo's bulk endpoint: at most 10 people per request, each lead asked once
    const bulk = h.apollo.log('people/bulk_match');
    expect(h.apollo.log('people/match')).toHaveLength(0);
    expect(bulk.every((r) => r.status === 200 && r.items!.length >= 1 && r.items!.length <= 10)).toBe(true);
    // grouped: how many share a request depends on how the children's jobs overlap (machine load)
    expect(bulk.length).toBeLessThan(60 / 2);
    const people = bulk.flatMap((r) => r.items!);
    expect(new Set(people.map((p) => p.inputHash)).size).toBe(60);
    expect(people).toHaveLength(60);
    // Apollo charged the 40 matches once each
    expect(people.filter((p) => p.credits > 0)).toHaveLength(40);
    expect(bulk.reduce((n, r) => n + r.credits, 0)).toBe(40);
    const charged = (
      await h.pool.query(`SELECT count(*)::int AS n, sum(credits)::int AS c FROM enrichment_ledger WHERE workspace_id = $1 AND outcome = 'charged'`, [
        workspaceId,
      ])
    ).rows[0];
    expect(charged).toEqual({ n: 40, c: 40 });

    const second = await runBatch(workspaceId, leadIds, h.apolloId, worker);
    expect(second.job.returnValue).toMatchObject({ total: 60, enriched: 40, skippedCached: 40, noMatch: 20 });
    expect(h.apollo.requests).toHaveLength(bulk.length);
    expect(
      (await h.pool.query(`SELECT credits_used FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2`, [workspaceId, h.apolloId])).rows[0]
        .credits_used,
    ).toBe(40);
  });

  it('stops cleanly when the credits run out and reports what was left', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 30, credits: 10, domains: ['acme.com'] });
    const { deps, alerter } = h.deps();
    const worker = await h.worker(deps, 2);
    const { job } = await runBatch(
      workspaceId,
      leads.map((l) => l.id),
      h.hunterId,
      worker,
    );
    const r = job.returnValue;
    expect(r.stopReason).toBe('no_credits');
    expect(r.enriched).toBe(10);
    expect(r.enriched + r.skippedNoCredits + r.failedCount).toBe(30);
    expect(r.skippedNoCredits).toBeGreaterThan(0);
    expect(
      (
        await h.pool.query(`SELECT credits_available, credits_used FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2`, [
          workspaceId,
          h.hunterId,
        ])
      ).rows[0],
    ).toEqual({
      credits_available: 0,
      credits_used: 10,
    });
    expect(alerter.alerts.some((a) => a.message === 'enrichment credits exhausted: batch stopped')).toBe(true);
  });
});
