import { type JobPayload, PermanentJobError, syncHubspot } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { mappedObjectTypes, mappingFor } from '../domain/field-mapping.js';
import { addCounts, emptyCounts, type SyncCounts } from '../sync/engine.js';
import { drainHubspotEmailActivity } from '../sync/hubspot-email-activity.js';
import { applyHubspotPrivacyDeletions, drainHubspotDeletes, drainHubspotOutbox, pullHubspot } from '../sync/hubspot-sync.js';
import { countingAuthFailures, crmFanOut, tenantOf } from './fan-out.js';

/**
 * sync-hubspot: drain the outbox (`outbox`: contact upserts, deletions, then email activity) or pull through the cursor (`full`, `incremental`,
 * `webhook`). The fan-out form (schedules `hubspot-outbox-drain` every 5 minutes,
 * `hubspot-incremental` every 15) enqueues `mode` for every active connection, a pull only where
 * the connection's `sync_frequency_minutes` has passed since its last successful pull.
 */
export const syncHubspotHandler: Handler<typeof syncHubspot, IntegrationDeps> = async (payload, ctx) => {
  if (payload.fanOut) {
    return crmFanOut(ctx, 'hubspot', payload.mode, payload.windowSlot, (due, mode, windowSlot) =>
      ctx.enqueueBulk(
        syncHubspot,
        due.map((c) => ({ data: { workspaceId: c.workspace_id, requestedBy: 'system', mode, windowSlot } })),
      ),
    );
  }
  return countingAuthFailures('hubspot', ctx, () => syncWorkspace(payload, ctx, tenantOf(payload)));
};

async function syncWorkspace(payload: JobPayload<typeof syncHubspot>, ctx: JobContext<IntegrationDeps>, workspaceId: string) {
  const { deps } = ctx;
  if (payload.privacyDeletions) {
    const erased = await applyHubspotPrivacyDeletions(deps, workspaceId, payload.privacyDeletions);
    ctx.log.info('hubspot privacy deletions applied', { received: payload.privacyDeletions.length, erased });
    return { ...emptyCounts(), processed: payload.privacyDeletions.length, succeeded: erased };
  }
  const objectTypes = payload.objectTypes ?? mappedObjectTypes('hubspot');
  const unmapped = objectTypes.filter((t) => !mappedObjectTypes('hubspot').includes(t));
  if (unmapped.length) throw new PermanentJobError(`HubSpot ${unmapped.join(', ')} have no field mapping yet`);
  const { connection, accessToken } = await deps.tokens.accessToken(workspaceId, 'hubspot', ctx.signal);
  const account = {
    portalId: connection.portal_id ?? connection.id,
    accessToken,
    timeZone: typeof connection.settings.timeZone === 'string' ? connection.settings.timeZone : 'UTC',
  };
  // the connection's field-mapping overrides, checked before any call (FieldMappingError names each bad entry)
  const mappings = new Map(objectTypes.map((t) => [t, mappingFor('hubspot', t, connection.settings)]));
  const total: SyncCounts = emptyCounts();
  let leaseHeld = false;
  for (const objectType of objectTypes) {
    const target = { objectType, mapping: mappings.get(objectType)!, owner: ctx.jobId };
    const counts =
      payload.mode === 'outbox'
        ? addCounts(
            await drainHubspotOutbox(deps, workspaceId, account, target, ctx.signal),
            await drainHubspotDeletes(deps, workspaceId, account, { ...target, operation: 'delete' }, ctx.signal),
            await drainHubspotDeletes(deps, workspaceId, account, { ...target, operation: 'privacy_delete' }, ctx.signal),
          )
        : await pullHubspot(
            deps,
            workspaceId,
            account,
            {
              ...target,
              full: payload.mode === 'full',
              readArchive: payload.mode !== 'webhook',
              ...(payload.since ? { since: new Date(payload.since) } : {}),
            },
            ctx.signal,
          );
    if ('leaseHeld' in counts && counts.leaseHeld) leaseHeld = true;
    addCounts(total, counts);
  }
  // sent emails and replies, once their contacts are pushed (the drain above)
  if (payload.mode === 'outbox') addCounts(total, await drainHubspotEmailActivity(deps, workspaceId, account, ctx.jobId, ctx.signal));
  ctx.log.info('hubspot sync finished', { mode: payload.mode, ...total, leaseHeld });
  return { ...total, ...(leaseHeld ? { leaseHeld } : {}) };
}
