import { settleEnrichmentJobItem } from '@coldcopy/db';
import { enrichLead } from '@coldcopy/queue-core';
import type { FinalFailure } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';

/** `Name: message` of an error: what a failed request and a failed batch item record. */
export function failureText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Settles a batch child's item as failed, with the first 300 characters of why (only a pending item changes). */
export function settleFailedChild(
  pool: EnrichmentDeps['pool'],
  workspaceId: string,
  enrichmentJobId: string,
  leadId: string,
  reason: string,
): Promise<boolean> {
  return settleEnrichmentJobItem(pool, workspaceId, enrichmentJobId, leadId, 'failed', reason.slice(0, 300));
}

/**
 * A batch child (`enrich-lead` with an `enrichmentJobId`) that failed for good settles its batch
 * item as failed, so that the batch completes. The handler does this itself on its last attempt,
 * inside the attempt (it survives the worker dying before Bull's `failed` event); this covers the
 * failures it never saw: a job Bull's stalled check failed after its worker died or hung too
 * often, or one refused before its handler ran. Settling is idempotent, so a child the handler
 * settled already is left as it is.
 */
export async function settleBatchChild(failure: FinalFailure, deps: Pick<EnrichmentDeps, 'pool'>): Promise<void> {
  if (failure.job.name !== enrichLead.name) return;
  const { workspaceId, enrichmentJobId, leadId } = failure.job.data;
  if (typeof workspaceId !== 'string' || typeof enrichmentJobId !== 'string' || typeof leadId !== 'string') return;
  await settleFailedChild(deps.pool, workspaceId, enrichmentJobId, leadId, failureText(failure.error));
}
