import { countPendingOutbox, enqueueOutbox, eraseLeads, softDeleteLeads, withTransaction } from '@coldcopy/db';
import { syncHubspot, syncSalesforce } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { applyHubspotPrivacyDeletions } from '../src/sync/hubspot-sync.js';
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

  it('HubSpot to ColdCopy: an archived contact soft-deletes its lead and unmaps it (not passed on to the CRMs); a second pull changes nothing', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 3 });
    const w = await h.worker(h.deps(), 1);
    const run = (mode: 'outbox' | 'incremental' | 'webhook') =>
      h.run(w, syncHubspot, {
        workspaceId,
        requestedBy: 'test',
        mode,
        windowSlot: slot(),
        ...(mode !== 'outbox' ? { since: new Date().toISOString() } : {}),
      });
    await run('outbox');
    h.hubspot.archive(h.hubspot.byEmail(leads[0]!.email)!.id); // a HubSpot user deletes the contact
    h.hubspot.requests.length = 0;
    // a webhook pull (up to one a minute) does not read the archive; the scheduled pull does
    expect(await run('webhook')).toMatchObject({ state: 'completed' });
    expect(h.hubspot.log('contacts-list')).toHaveLength(0);
    expect(await run('incremental')).toMatchObject({ state: 'completed' });
    expect(h.hubspot.log('contacts-list').length).toBeGreaterThanOrEqual(1);
    const deleted = async () =>
      (await h.pool.query(`SELECT id FROM leads WHERE workspace_id = $1 AND deleted_at IS NOT NULL`, [workspaceId])).rows.map((r: { id: string }) => r.id);
    expect(await deleted()).toEqual([leads[0]!.id]);
    expect(await closedMaps(workspaceId, 'hubspot')).toEqual([leads[0]!.id]);
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0); // nothing sent back
    expect(await run('incremental')).toMatchObject({ state: 'completed' });
    expect(await deleted()).toEqual([leads[0]!.id]);
  });

  it('HubSpot contact.privacyDeletion: the lead is erased (address suppressed first, data anonymised, audited) and unmapped; the other CRMs get a privacy deletion', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 2 });
    await h.pool.query(`INSERT INTO integration_connections (workspace_id, provider, status) VALUES ($1, 'salesforce', 'active')`, [workspaceId]);
    const w = await h.worker(h.deps(), 1);
    await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    const erasedId = h.hubspot.byEmail(leads[1]!.email)!.id;
    h.hubspot.privacyDeleted.add(erasedId);
    h.hubspot.contacts.delete(erasedId); // HubSpot erased it
    h.hubspot.requests.length = 0;
    // the job the webhook handler enqueues for the event (ids only)
    const job = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'hubspot-webhook', mode: 'webhook', windowSlot: slot(), privacyDeletions: [erasedId] });
    expect(job).toMatchObject({ state: 'completed', value: { processed: 1, succeeded: 1 } });
    expect(h.hubspot.requests).toHaveLength(0);
    const lead = (await h.pool.query(`SELECT email, first_name, last_name, deleted_at IS NOT NULL AS deleted FROM leads WHERE id = $1`, [leads[1]!.id]))
      .rows[0];
    expect(lead).toEqual({ email: `anonymized-${leads[1]!.id}@example.invalid`, first_name: 'ANONYMIZED', last_name: 'ANONYMIZED', deleted: true });
    const suppressed = (await h.pool.query(`SELECT email, suppression_type FROM suppression_list WHERE workspace_id = $1`, [workspaceId])).rows;
    expect(suppressed).toEqual([{ email: leads[1]!.email, suppression_type: 'gdpr_request' }]);
    const audit = (await h.pool.query(`SELECT action, actor_type, lead_id FROM gdpr_audit_logs WHERE workspace_id = $1`, [workspaceId])).rows;
    expect(audit).toEqual([{ action: 'erasure', actor_type: 'system', lead_id: leads[1]!.id }]);
    expect(await closedMaps(workspaceId, 'hubspot')).toEqual([leads[1]!.id]);
    const outbox = (
      await h.pool.query(`SELECT provider, operation, local_id FROM integration_outbox WHERE workspace_id = $1 AND status = 'pending'`, [workspaceId])
    ).rows;
    expect(outbox).toEqual([{ provider: 'salesforce', operation: 'privacy_delete', local_id: leads[1]!.id }]);
    // the same event again (HubSpot retries webhooks), past the job's key: the map is closed, nothing more happens
    expect(await applyHubspotPrivacyDeletions(h, workspaceId, [erasedId])).toBe(0);
    expect((await h.pool.query(`SELECT count(*)::int AS n FROM gdpr_audit_logs WHERE workspace_id = $1`, [workspaceId])).rows[0].n).toBe(1);
  });

  it('end to end from the product: softDeleteLeads and eraseLeads queue the deletions in their transaction; the drains archive and GDPR-delete in HubSpot and delete in Salesforce', async () => {
    const hub = await h.seed({ leads: 3 });
    const w = await h.worker(h.deps(), 1);
    await h.run(w, syncHubspot, { workspaceId: hub.workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    const [c0, c1] = [h.hubspot.byEmail(hub.leads[0]!.email)!.id, h.hubspot.byEmail(hub.leads[1]!.email)!.id];
    // a rolled-back deletion queues nothing
    await withTransaction(h.pool, async (tx) => {
      await softDeleteLeads(tx, hub.workspaceId, [hub.leads[2]!.id]);
      throw new Error('rolled back');
    }).catch(() => undefined);
    expect(await countPendingOutbox(h.pool, hub.workspaceId, 'hubspot')).toBe(0);
    expect(await softDeleteLeads(h.pool, hub.workspaceId, [hub.leads[0]!.id])).toEqual([hub.leads[0]!.id]);
    expect(await softDeleteLeads(h.pool, hub.workspaceId, [hub.leads[0]!.id])).toEqual([]); // already deleted
    await withTransaction(h.pool, (tx) => eraseLeads(tx, hub.workspaceId, [hub.leads[1]!.id], { actorType: 'system', source: 'test' }));
    h.hubspot.requests.length = 0;
    expect(await h.run(w, syncHubspot, { workspaceId: hub.workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() })).toMatchObject({
      state: 'completed',
      value: { succeeded: 2, failed: 0 },
    });
    expect(h.hubspot.log().map((r) => [r.endpoint, r.status])).toEqual([
      ['batch-archive', 204],
      ['gdpr-delete', 204],
    ]);
    expect(h.hubspot.archived.has(c0)).toBe(true);
    expect(h.hubspot.privacyDeleted.has(c1)).toBe(true);
    expect(h.hubspot.byEmail(hub.leads[2]!.email)).toBeDefined();

    const sf = await h.seed({ provider: 'salesforce', leads: 2 });
    const run = () =>
      h.run(w, syncSalesforce, { workspaceId: sf.workspaceId, requestedBy: 'test', integrationId: sf.connectionId, syncType: 'outbox', windowSlot: slot() });
    await run();
    await softDeleteLeads(h.pool, sf.workspaceId, [sf.leads[0]!.id]);
    expect(await run()).toMatchObject({ state: 'completed', value: { succeeded: 1, failed: 0 } });
    expect([...h.salesforce.records.values()].map((r) => r.ColdCopy_Id__c).filter((id) => sf.leads.some((l) => l.id === id))).toEqual([sf.leads[1]!.id]);
  });
});
