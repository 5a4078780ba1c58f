/**
 * The demo enrichment batch of `npm run dev` (scripts/dev.ts): a `batch-enrich` of the demo
 * workspace's first leads with the seeded `apollo` provider (packages/db seed: providers and
 * credits), which the enrichment worker runs against the Apollo emulator its devEnv points at
 * (apps/enrichment-worker package.json: devServers, devEnv). Every start records a new
 * `enrichment_jobs` row and enqueues its batch; the leads enriched by an earlier start come from
 * the cache, without a provider call.
 */
import { loadDbEnv } from '../packages/db/src/env.js';
import { closePool, createPool } from '../packages/db/src/pool.js';
import { createEnrichmentJob } from '../packages/db/src/repositories/enrichment.js';
import { batchEnrich } from '../packages/queue-core/src/jobs/enrichment.jobs.js';
import { Producer } from '../packages/queue-core/src/producer/producer.js';
import type { JobSecurity } from '../packages/queue-core/src/security/job-security.js';

export interface DemoEnrichment {
  readonly workspaceId: string;
  readonly enrichmentJobId: string;
  readonly providerId: string;
  readonly jobId: string;
  readonly leads: number;
}

/** Leads in the demo batch. */
export const DEMO_ENRICHMENT_LEADS = 25;

/** Records the demo batch and enqueues it; undefined when there is no demo workspace or provider. */
export async function enqueueDemoEnrichment(options: {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly prefix: string;
  readonly security: JobSecurity;
  readonly provider?: 'apollo' | 'hunter';
  readonly leads?: number;
}): Promise<DemoEnrichment | undefined> {
  const client = createPool(loadDbEnv({ DATABASE_URL: options.databaseUrl, DATABASE_POOL_MAX: '1' }));
  let batch: { workspaceId: string; providerId: string; enrichmentJobId: string; leads: number } | undefined;
  try {
    const { rows } = await client.query<{ workspace_id: string; provider_id: string; lead_ids: string[] }>(
      `SELECT w.id AS workspace_id, p.id AS provider_id,
              ARRAY(SELECT l.id FROM leads l WHERE l.workspace_id = w.id AND l.deleted_at IS NULL ORDER BY l.id LIMIT $2) AS lead_ids
         FROM workspaces w
         JOIN enrichment_credits c ON c.workspace_id = w.id
         JOIN enrichment_providers p ON p.id = c.provider_id AND p.name = $1 AND p.is_active
        WHERE w.slug LIKE 'demo-%'
        ORDER BY w.created_at LIMIT 1`,
      [options.provider ?? 'apollo', options.leads ?? DEMO_ENRICHMENT_LEADS],
    );
    const r = rows[0];
    if (!r || r.lead_ids.length === 0) return undefined;
    const row = await createEnrichmentJob(client, r.workspace_id, {
      providerId: r.provider_id,
      enrichmentTypes: ['email', 'job_history', 'social_profiles'],
      leadIds: r.lead_ids,
    });
    batch = { workspaceId: r.workspace_id, providerId: r.provider_id, enrichmentJobId: row.id, leads: r.lead_ids.length };
  } finally {
    await closePool(client);
  }
  if (!batch) return undefined;
  const producer = new Producer({ redisUrl: options.redisUrl, prefix: options.prefix, security: options.security });
  try {
    const job = await producer.enqueue(batchEnrich, {
      workspaceId: batch.workspaceId,
      requestedBy: 'system',
      enrichmentJobId: batch.enrichmentJobId,
      providerId: batch.providerId,
      enrichmentTypes: ['email', 'job_history', 'social_profiles'],
    });
    return { ...batch, jobId: job.id };
  } finally {
    await producer.close();
  }
}
