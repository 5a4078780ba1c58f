import { settleEnrichmentJobItem } from '@coldcopy/db';
import { enrichLead } from '@coldcopy/queue-core';
import type { FinalFailure } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';

/**
 * A batch child (`enrich-lead` with an `enrichmentJobId`) that failed for good settles its batch
 * item as failed, so that the batch completes. The handler does this itself on its last attempt;
 * this covers the failures it never saw: a job Bull's stalled check failed after its worker died
 * or hung too often, or one refused before its handler ran. Settling is idempotent (only a
 * pending item changes), so a child the handler settled already is left as it is.
 */
export async function settleBatchChild(failure: FinalFailure, deps: Pick<EnrichmentDeps, 'pool'>): Promise<void> {
  if (failure.job.name !== enrichLead.name) return;
  const { workspaceId, enrichmentJobId, leadId } = failure.job.data;
  if (typeof workspaceId !== 'string' || typeof enrichmentJobId !== 'string' || typeof leadId !== 'string') return;
  const reason = `${failure.error.name}: ${failure.error.message}`.slice(0, 300);
  await settleEnrichmentJobItem(deps.pool, workspaceId, enrichmentJobId, leadId, 'failed', reason);
}
