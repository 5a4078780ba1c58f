import { PermanentJobError, type syncSalesforce } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { mappingFor } from '../domain/field-mapping.js';
import { drainSalesforceOutbox, pullSalesforce } from '../sync/salesforce-sync.js';

/** sync-salesforce: push the outbox (`outbox`) or pull Contacts by SystemModstamp (`full`, `incremental`). */
export const syncSalesforceHandler: Handler<typeof syncSalesforce, IntegrationDeps> = async (payload, ctx) => {
  const { deps } = ctx;
  const { connection, accessToken } = await deps.tokens.accessToken(payload.workspaceId, 'salesforce', ctx.signal);
  if (connection.id !== payload.integrationId) throw new PermanentJobError(`integration ${payload.integrationId} is not the workspace's Salesforce connection`);
  if (!connection.instance_url) throw new PermanentJobError('the Salesforce connection has no instance_url: reconnect it');
  const account = { orgId: connection.portal_id ?? connection.id, instanceUrl: connection.instance_url, accessToken };
  const target = { sobject: 'Contact', objectType: 'contacts', mapping: mappingFor('salesforce', 'contacts', connection.settings), owner: ctx.jobId };
  const counts =
    payload.syncType === 'outbox'
      ? await drainSalesforceOutbox(deps, payload.workspaceId, account, target, ctx.signal)
      : await pullSalesforce(deps, payload.workspaceId, account, { ...target, full: payload.syncType === 'full' }, ctx.signal);
  ctx.log.info('salesforce sync finished', { syncType: payload.syncType, ...counts });
  return counts;
};
