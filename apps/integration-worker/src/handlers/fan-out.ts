import { type DueConnection, dueIntegrationConnections, integrationSyncOverdueSeconds } from '@coldcopy/db';
import { campaignTickSlot, PermanentJobError } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { HubspotAuthError } from '../providers/hubspot-client.js';
import { LinkedinAuthError } from '../providers/linkedin-client.js';
import { SalesforceAuthError } from '../providers/salesforce-client.js';
import { ConnectionUnavailableError } from '../providers/token-manager.js';

/**
 * What the integration handlers share: the tenant of a per-workspace payload, the fan-out of a
 * scheduled run over every due tenant, and the count of refused credentials for the alerts.
 */
const PAGE = 500;

/** The workspace of a payload in its per-workspace form (the definition's check guarantees it). */
export function tenantOf(payload: { workspaceId?: string | undefined }): string {
  if (!payload.workspaceId) throw new TypeError('a per-workspace integration job without workspaceId');
  return payload.workspaceId;
}

/** The slot of a fan-out's children: the payload's, else the 5-minute slot of the scheduled run. */
export const fanOutSlot = (given: string | undefined, ctx: JobContext<IntegrationDeps>) => given ?? campaignTickSlot(ctx.scheduledAt);

/** Pages through the due tenants (keyset on `keyOf`) and enqueues a page at a time; returns how many jobs were enqueued. */
export async function fanOutPages<T>(
  ctx: JobContext<IntegrationDeps>,
  page: (after: string | undefined, limit: number) => Promise<T[]>,
  keyOf: (item: T) => string,
  enqueue: (items: T[]) => Promise<unknown>,
): Promise<number> {
  let after: string | undefined;
  let enqueued = 0;
  for (;;) {
    ctx.signal.throwIfAborted();
    const items = await page(after, PAGE);
    if (items.length === 0) break;
    await enqueue(items);
    enqueued += items.length;
    if (items.length < PAGE) break;
    after = keyOf(items[items.length - 1]!);
  }
  ctx.log.info('integration fan-out enqueued', { enqueued });
  return enqueued;
}

/**
 * The fan-out of a CRM schedule: `outbox` enqueues a job per active connection, `incremental` per
 * connection whose `sync_frequency_minutes` has passed since its last successful contacts pull,
 * and then sets the provider's sync-overdue gauge. Returns the result of the fan-out job.
 */
export async function crmFanOut(
  ctx: JobContext<IntegrationDeps>,
  provider: 'hubspot' | 'salesforce',
  kind: string,
  givenSlot: string | undefined,
  enqueue: (due: DueConnection[], kind: 'outbox' | 'incremental', windowSlot: string) => Promise<unknown>,
): Promise<{ enqueued: number; windowSlot: string }> {
  if (kind !== 'outbox' && kind !== 'incremental') throw new PermanentJobError(`a sync-${provider} fan-out runs outbox or incremental, not ${kind}`);
  const { deps } = ctx;
  const windowSlot = fanOutSlot(givenSlot, ctx);
  const pull = kind === 'incremental' ? { pullObjectType: 'contacts' } : {};
  const enqueued = await fanOutPages(
    ctx,
    (afterId, limit) => dueIntegrationConnections(deps.pool, provider, { ...(afterId ? { afterId } : {}), limit, ...pull }),
    (c) => c.id,
    (due) => enqueue(due, kind, windowSlot),
  );
  if (kind === 'incremental') deps.metrics.syncOverdue(provider, await integrationSyncOverdueSeconds(deps.pool, provider, 'contacts'));
  return { enqueued, windowSlot };
}

/** Runs a per-workspace sync and counts a refused credential (revoked grant, 401) for the auth-failure alert. */
export async function countingAuthFailures<T>(provider: string, ctx: JobContext<IntegrationDeps>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof HubspotAuthError || err instanceof SalesforceAuthError || err instanceof LinkedinAuthError || err instanceof ConnectionUnavailableError)
      ctx.deps.metrics.authFailure(provider);
    throw err;
  }
}
