import { countPendingOutbox, enqueueOutbox } from '@coldcopy/db';
import { syncHubspot, syncSalesforce } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { useIntegrationHarness } from './harness.js';

const h = useIntegrationHarness();
let tick = 0;
const slot = () => `20261206T08${String(tick++ % 60).padStart(2, '0')}Z`;

const closedMaps = async (workspaceId: string, provider: string) =>
  (
    await h.pool.query(`SELECT local_id FROM integration_object_map WHERE workspace_id = $1 AND provider = $2 AND deleted_at IS NOT NULL ORDER BY local_id`, [
      workspaceId,
      provider,
    ])
  ).rows.map((r: { local_id: string }) => r.local_id);

describe('deletions from ColdCopy to the CRMs', () => {
  it('HubSpot: a soft-deleted lead is archived in one batch, an erased one GDPR-deleted; the map closes and a second run calls nothing', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 4 });
    const w = await h.worker(h.deps(), 1);
    const outbox = () => h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(await outbox()).toMatchObject({ state: 'completed', value: { succeeded: 4 } });
    const remote = (i: number) => h.hubspot.byEmail(leads[i]!.email)!.id;
    const [r0, r1, r2] = [remote(0), remote(1), remote(2)];

    // leads 0 and 1 soft-deleted here, lead 2 erased (GDPR), each recorded with its change
    await h.pool.query(`UPDATE leads SET deleted_at = now() WHERE id = ANY($1::uuid[])`, [[leads[0]!.id, leads[1]!.id]]);
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'delete', localIds: [leads[0]!.id, leads[1]!.id] });
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'privacy_delete', localIds: [leads[2]!.id] });
    h.hubspot.requests.length = 0;
    const drain = await outbox();
    expect(drain).toMatchObject({ state: 'completed', value: { processed: 3, succeeded: 3, failed: 0 } });
    expect(h.hubspot.log().map((r) => [r.endpoint, r.status])).toEqual([
      ['batch-archive', 204],
      ['gdpr-delete', 204],
    ]);
    expect([...h.hubspot.archived.keys()].sort()).toEqual([r0, r1].sort());
    expect([...h.hubspot.privacyDeleted]).toEqual([r2]);
    expect(h.hubspot.contacts.has(r2)).toBe(false);
    expect(h.hubspot.byEmail(leads[3]!.email)).toBeDefined();
    expect(await closedMaps(workspaceId, 'hubspot')).toEqual([leads[0]!.id, leads[1]!.id, leads[2]!.id].sort());
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0);

    // queued again (a retried producer): the map is closed, so nothing is called
    h.hubspot.requests.length = 0;
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'privacy_delete', localIds: [leads[2]!.id] });
    expect(await outbox()).toMatchObject({ state: 'completed', value: { processed: 1, unchanged: 1, succeeded: 0 } });
    expect(h.hubspot.requests).toHaveLength(0);
  });

  it('HubSpot: a GDPR delete of a contact HubSpot no longer holds (404) settles as done', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 1 });
    const w = await h.worker(h.deps(), 1);
    await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    h.hubspot.contacts.delete(h.hubspot.byEmail(leads[0]!.email)!.id);
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'privacy_delete', localIds: [leads[0]!.id] });
    const drain = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(drain).toMatchObject({ state: 'completed', value: { succeeded: 1, failed: 0 } });
    expect(h.hubspot.log('gdpr-delete').map((r) => r.status)).toEqual([404]);
    expect(await closedMaps(workspaceId, 'hubspot')).toEqual([leads[0]!.id]);
  });

  it('Salesforce: deletes and privacy deletes go out in one collection call per operation; an already deleted record settles; the deleted window then finds them unmapped', async () => {
    const { workspaceId, connectionId, leads } = await h.seed({ provider: 'salesforce', leads: 4 });
    const w = await h.worker(h.deps(), 1);
    const run = (syncType: 'outbox' | 'incremental') =>
      h.run(w, syncSalesforce, { workspaceId, requestedBy: 'test', integrationId: connectionId, syncType, windowSlot: slot() });
    expect(await run('outbox')).toMatchObject({ state: 'completed', value: { succeeded: 4 } });
    const idOf = (i: number) => [...h.salesforce.records.values()].find((r) => r.ColdCopy_Id__c === leads[i]!.id)!.Id;
    const gone = idOf(2);
    h.salesforce.remove(gone); // deleted in Salesforce meanwhile
    await enqueueOutbox(h.pool, workspaceId, { provider: 'salesforce', objectType: 'contacts', operation: 'delete', localIds: [leads[0]!.id, leads[2]!.id] });
    await enqueueOutbox(h.pool, workspaceId, { provider: 'salesforce', objectType: 'contacts', operation: 'privacy_delete', localIds: [leads[1]!.id] });
    h.salesforce.requests.length = 0;
    expect(await run('outbox')).toMatchObject({ state: 'completed', value: { processed: 3, succeeded: 3, failed: 0 } });
    expect(h.salesforce.log('destroy')).toHaveLength(2); // one per operation
    expect([...h.salesforce.records.values()].map((r) => r.ColdCopy_Id__c)).toEqual([leads[3]!.id]);
    expect(await closedMaps(workspaceId, 'salesforce')).toEqual([leads[0]!.id, leads[1]!.id, leads[2]!.id].sort());
    expect(await countPendingOutbox(h.pool, workspaceId, 'salesforce')).toBe(0);
    // the pull's deleted window lists them, and finds nothing left to unmap
    expect(await run('incremental')).toMatchObject({ state: 'completed', value: { unmapped: 0 } });
  });

  it('Salesforce to ColdCopy: a record deleted in Salesforce soft-deletes its lead (kept, marked) and unmaps it', async () => {
    const { workspaceId, connectionId, leads } = await h.seed({ provider: 'salesforce', leads: 2 });
    const w = await h.worker(h.deps(), 1);
    const run = (syncType: 'outbox' | 'incremental') =>
      h.run(w, syncSalesforce, { workspaceId, requestedBy: 'test', integrationId: connectionId, syncType, windowSlot: slot() });
    await run('outbox');
    h.salesforce.remove([...h.salesforce.records.values()].find((r) => r.ColdCopy_Id__c === leads[0]!.id)!.Id);
    expect(await run('incremental')).toMatchObject({ state: 'completed', value: { unmapped: 1 } });
    const rows = (await h.pool.query(`SELECT id, deleted_at IS NOT NULL AS deleted FROM leads WHERE workspace_id = $1 ORDER BY email`, [workspaceId])).rows;
    expect(rows).toEqual(
      expect.arrayContaining([
        { id: leads[0]!.id, deleted: true },
        { id: leads[1]!.id, deleted: false },
      ]),
    );
    expect(await closedMaps(workspaceId, 'salesforce')).toEqual([leads[0]!.id]);
  });
});
