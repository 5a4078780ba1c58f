import { type JobPayload, PermanentJobError, syncSalesforce } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { mappingFor } from '../domain/field-mapping.js';
import { addCounts } from '../sync/engine.js';
import { drainSalesforceOutbox, pullSalesforce } from '../sync/salesforce-sync.js';
import { countingAuthFailures, crmFanOut, tenantOf } from './fan-out.js';

/**
 * sync-salesforce: push the outbox (`outbox`) or pull Contacts by SystemModstamp (`full`,
 * `incremental`). The fan-out form (schedules `salesforce-outbox` every 5 minutes,
 * `salesforce-incremental` every 15) enqueues `syncType` for every active connection, a pull only
 * where the connection's `sync_frequency_minutes` has passed since its last successful pull.
 */
export const syncSalesforceHandler: Handler<typeof syncSalesforce, IntegrationDeps> = async (payload, ctx) => {
  if (payload.fanOut) {
    return crmFanOut(ctx, 'salesforce', payload.syncType, payload.windowSlot, (due, syncType, windowSlot) =>
      ctx.enqueueBulk(
        syncSalesforce,
        due.map((c) => ({ data: { workspaceId: c.workspace_id, requestedBy: 'system', integrationId: c.id, syncType, windowSlot } })),
      ),
    );
  }
  return countingAuthFailures('salesforce', ctx, () => syncWorkspace(payload, ctx, tenantOf(payload)));
};

async function syncWorkspace(payload: JobPayload<typeof syncSalesforce>, ctx: JobContext<IntegrationDeps>, workspaceId: string) {
  const { deps } = ctx;
  const { connection, accessToken } = await deps.tokens.accessToken(workspaceId, 'salesforce', ctx.signal);
  if (connection.id !== payload.integrationId) throw new PermanentJobError(`integration ${payload.integrationId} is not the workspace's Salesforce connection`);
  if (!connection.instance_url) throw new PermanentJobError('the Salesforce connection has no instance_url: reconnect it');
  const account = { orgId: connection.portal_id ?? connection.id, instanceUrl: connection.instance_url, accessToken };
  const target = { sobject: 'Contact', objectType: 'contacts', mapping: mappingFor('salesforce', 'contacts', connection.settings), owner: ctx.jobId };
  const counts =
    payload.syncType === 'outbox'
      ? addCounts(
          await drainSalesforceOutbox(deps, workspaceId, account, target, ctx.signal),
          await drainSalesforceOutbox(deps, workspaceId, account, { ...target, operation: 'delete' }, ctx.signal),
          await drainSalesforceOutbox(deps, workspaceId, account, { ...target, operation: 'privacy_delete' }, ctx.signal),
        )
      : await pullSalesforce(deps, workspaceId, account, { ...target, full: payload.syncType === 'full' }, ctx.signal);
  ctx.log.info('salesforce sync finished', { syncType: payload.syncType, ...counts });
  return counts;
}
