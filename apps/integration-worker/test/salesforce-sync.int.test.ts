import { countPendingOutbox, enqueueOutbox } from '@coldcopy/db';
import { RetryAfterError, syncSalesforce } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { startSalesforceEmulator } from '../src/emulators/salesforce-emulator.js';
import { createSalesforceClient } from '../src/providers/salesforce-client.js';
import { useIntegrationHarness } from './harness.js';

const h = useIntegrationHarness();
let tick = 0;
const slot = () => `20261206T07${String(tick++ % 60).padStart(2, '0')}Z`;

describe('sync-salesforce', () => {
  it('upserts by external id in collections of 200, keeps record errors per row, pulls by SystemModstamp and unmaps deletes', async () => {
    const { workspaceId, connectionId, leads } = await h.seed({ provider: 'salesforce', leads: 450 });
    // Salesforce refuses this one record (INVALID_EMAIL_ADDRESS); the rest of its collection goes in
    await h.pool.query(`UPDATE leads SET email = 'not-an-address' WHERE id = $1`, [leads[7]!.id]);
    const w = await h.worker(h.deps(), 2);
    const sync = (syncType: 'outbox' | 'incremental') =>
      h.run(w, syncSalesforce, { workspaceId, requestedBy: 'test', integrationId: connectionId, syncType, windowSlot: slot() });
    const push = await sync('outbox');
    expect(push).toMatchObject({ state: 'completed', value: { processed: 450, succeeded: 449, failed: 1 } });
    expect(h.salesforce.log('upsert').map((r) => r.status)).toEqual([200, 200, 200]); // 200 + 200 + 50
    expect(h.salesforce.records.size).toBe(449);
    const kept = (await h.pool.query(`SELECT status, attempts, last_error FROM integration_outbox WHERE local_id = $1`, [leads[7]!.id])).rows[0];
    expect(kept).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringContaining('INVALID_EMAIL_ADDRESS') });

    // fixed and queued again with every other (unchanged) lead: one record written
    await h.pool.query(`UPDATE leads SET email = 'fixed@acme.com' WHERE id = $1`, [leads[7]!.id]);
    await new Promise((r) => setTimeout(r, 300)); // OUTBOX_RETRY_MS
    await enqueueOutbox(h.pool, workspaceId, { provider: 'salesforce', objectType: 'contacts', operation: 'upsert', localIds: leads.map((l) => l.id) });
    const again = await sync('outbox');
    expect(again).toMatchObject({ state: 'completed', value: { processed: 450, unchanged: 449, succeeded: 1 } });
    expect(h.salesforce.log('upsert')).toHaveLength(4);
    expect(h.salesforce.records.size).toBe(450);

    // pull: our own records are echoes; a change in Salesforce comes back once
    const pull1 = await sync('incremental');
    expect(pull1).toMatchObject({ state: 'completed', value: { processed: 450, succeeded: 0 } });
    h.salesforce.edit(leads[3]!.id, { Title: 'VP Sales' });
    const pull2 = await sync('incremental');
    expect(pull2).toMatchObject({ state: 'completed', value: { succeeded: 1 } });
    expect((await h.pool.query(`SELECT title FROM leads WHERE id = $1`, [leads[3]!.id])).rows[0].title).toBe('VP Sales');

    // a record deleted in Salesforce is unmapped
    const victim = [...h.salesforce.records.values()].find((r) => r.ColdCopy_Id__c === leads[5]!.id)!;
    h.salesforce.remove(victim.Id);
    const pull3 = await sync('incremental');
    expect(pull3).toMatchObject({ state: 'completed', value: { unmapped: 1 } });
    expect((await h.pool.query(`SELECT deleted_at IS NOT NULL AS gone FROM integration_object_map WHERE remote_id = $1`, [victim.Id])).rows[0].gone).toBe(true);
    expect(await countPendingOutbox(h.pool, workspaceId, 'salesforce')).toBe(0);
  }, 180_000);

  it('REQUEST_LIMIT_EXCEEDED holds the org and retries later; Sforce-Limit-Info near the limit holds it before that', async () => {
    const { oauth } = h;
    const tight = await startSalesforceEmulator({ oauth, dailyLimit: 3 });
    try {
      const budget = h.budget(100);
      const client = createSalesforceClient({ version: '62.0', budget, limitBackoffMs: 60_000, usageCeiling: 0.6 });
      const grant = oauth.grant('org-limits');
      const account = { orgId: 'org-limits', instanceUrl: tight.url, accessToken: grant.accessToken };
      await client.query(account, 'SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id LIMIT 10');
      // usage 1/3: fine; 2/3 passes the 0.6 ceiling → the org is held (the next call waits, here: too long)
      await client.query(account, 'SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id LIMIT 10');
      await expect(client.query(account, 'SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id LIMIT 10')).rejects.toBeInstanceOf(RetryAfterError);
      expect(tight.log('query')).toHaveLength(2);
      // the limit itself: 403 REQUEST_LIMIT_EXCEEDED
      const other = { ...account, orgId: 'org-limits-2' };
      tight.usage = 3;
      const err = await client.query(other, 'SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id LIMIT 10').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryAfterError);
      expect(tight.log('query').at(-1)!.status).toBe(403);
      expect(await h.redis.pttl(`${h.prefix}:integration:budget-hold:salesforce:org-limits-2`)).toBeGreaterThan(1000);
    } finally {
      await tight.close();
    }
  });
});
