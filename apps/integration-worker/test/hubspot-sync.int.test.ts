import { countPendingOutbox, enqueueOutbox } from '@coldcopy/db';
import { RetryAfterError, syncHubspot } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { msUntilMidnight } from '../src/domain/time.js';
import { startHubspotEmulator } from '../src/emulators/hubspot-emulator.js';
import { createHubspotClient, HubspotRateLimitError } from '../src/providers/hubspot-client.js';
import { useIntegrationHarness } from './harness.js';

const h = useIntegrationHarness();
let tick = 0;
const slot = () => `20261206T06${String(tick++ % 60).padStart(2, '0')}Z`;
const ok = (status: number) => status === 200 || status === 207;

describe('sync-hubspot', () => {
  it('pushes 5,000 leads in 50 batch calls plus the forced retries; a second run writes nothing; a HubSpot change comes back once and is not echoed', async () => {
    const N = 5000;
    const { workspaceId, leads } = await h.seed({ leads: N });
    const w = await h.worker(h.deps(), 2);
    // forced by the emulator: one 429 TEN_SECONDLY_ROLLING, and two rows refused in a 207
    h.hubspot.fault({
      endpoint: 'batch-upsert',
      status: 429,
      body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', message: 'limit' },
    });
    h.hubspot.rejectIds.set(leads[123]!.email, 1);
    h.hubspot.rejectIds.set(leads[4567]!.email, 1);

    const first = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(first.state).toBe('completed');
    expect(first.attempts).toBe(1); // the 429 cost one attempt, retried after the ten-second wait
    expect(first).toMatchObject({ state: 'completed', value: { succeeded: N - 2, failed: 2 } });
    // the two refused rows wait (OUTBOX_RETRY_MS) and are pushed by the next drain
    await new Promise((r) => setTimeout(r, 300));
    const retry = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(retry).toMatchObject({ state: 'completed', value: { succeeded: 2, failed: 0, retried: 2 } });

    const calls = h.hubspot.log('batch-upsert');
    const forced429 = calls.filter((c) => c.status === 429).length;
    expect(forced429).toBe(1);
    // the two refused rows sit in one or two batches (claim order is by row id)
    expect([1, 2]).toContain(calls.filter((c) => c.status === 207).length);
    expect(calls.filter((c) => ok(c.status))).toHaveLength(50 + 1); // 50 batches + the batch of the 2 refused rows
    expect(calls).toHaveLength(50 + forced429 + 1);
    expect(h.hubspot.contacts.size).toBe(N);
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0);
    const mapped = (
      await h.pool.query(`SELECT count(*)::int AS n, count(DISTINCT remote_id)::int AS r FROM integration_object_map WHERE workspace_id = $1`, [workspaceId])
    ).rows[0];
    expect(mapped).toEqual({ n: N, r: N });

    // second run: every lead queued again without a change → 0 writes
    h.hubspot.requests.length = 0;
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'upsert', localIds: leads.map((l) => l.id) });
    const second = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(second).toMatchObject({ state: 'completed', value: { processed: N, succeeded: 0, unchanged: N } });
    expect(h.hubspot.log('batch-upsert')).toHaveLength(0);

    // first pull: everything HubSpot holds is our own push (echo) → nothing applied
    const pull1 = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: slot() });
    expect(pull1).toMatchObject({ state: 'completed', value: { processed: N, succeeded: 0, unchanged: N } });

    // a change made in HubSpot comes back once …
    const target = leads[42]!;
    h.hubspot.edit(target.email, { firstname: 'Augusta', phone: '+44 20 7946 0000' });
    const pull2 = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: slot() });
    expect(pull2).toMatchObject({ state: 'completed', value: { succeeded: 1 } });
    const lead = (await h.pool.query(`SELECT first_name, phone FROM leads WHERE id = $1`, [target.id])).rows[0];
    expect(lead).toEqual({ first_name: 'Augusta', phone: '+44 20 7946 0000' });
    // … the overlap re-reads it, and it is not applied twice
    const pull3 = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: slot() });
    expect(pull3).toMatchObject({ state: 'completed', value: { succeeded: 0 } });
    // … and it is not echoed back: the lead queued for push is settled without a write
    h.hubspot.requests.length = 0;
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'upsert', localIds: [target.id] });
    const echo = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(echo).toMatchObject({ state: 'completed', value: { processed: 1, succeeded: 0, unchanged: 1 } });
    expect(h.hubspot.log('batch-upsert')).toHaveLength(0);

    // a local change is pushed (one call), and its echo on the next pull is skipped
    await h.pool.query(`UPDATE leads SET title = 'CTO' WHERE id = $1`, [target.id]);
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'contacts', operation: 'upsert', localIds: [target.id] });
    await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(h.hubspot.log('batch-upsert')).toHaveLength(1);
    expect(h.hubspot.byEmail(target.email)!.properties.jobtitle).toBe('CTO');
    const pull4 = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: slot() });
    expect(pull4).toMatchObject({ state: 'completed', value: { succeeded: 0 } });
  }, 300_000);

  it("applies the connection's field-mapping overrides, and fails for good on a bad one, naming it", async () => {
    const { workspaceId, leads } = await h.seed({ leads: 3 });
    const w = await h.worker(h.deps(), 1);
    const setMappings = (contacts: unknown) =>
      h.pool.query(`UPDATE integration_connections SET settings = settings || $2::jsonb WHERE workspace_id = $1`, [
        workspaceId,
        JSON.stringify({ fieldMappings: { contacts } }),
      ]);
    await setMappings({ company: { remote: 'coldcopy_company' }, website: false, first_name: { resolution: 'manual' } });
    const bad = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(bad).toMatchObject({ state: 'failed', attempts: 1 });
    expect(bad.reason).toContain('settings.fieldMappings is invalid: contacts.first_name.resolution: manual needs a review queue');
    expect(h.hubspot.requests).toHaveLength(0); // refused before any call

    await setMappings({ company: { remote: 'coldcopy_company' }, website: false });
    const push = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(push).toMatchObject({ state: 'completed', value: { succeeded: 3 } });
    const contact = h.hubspot.byEmail(leads[0]!.email)!;
    expect(contact.properties).toMatchObject({ coldcopy_company: 'Acme', firstname: 'First0' });
    expect(contact.properties).not.toHaveProperty('company');
    expect(contact.properties).not.toHaveProperty('website');
    // a pull writes the renamed property into its column (since: the emulator holds other tests' contacts too)
    const since = new Date().toISOString();
    h.hubspot.edit(leads[1]!.email, { coldcopy_company: 'Globex', company: 'ignored' });
    const pull = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', since, windowSlot: slot() });
    expect(pull).toMatchObject({ state: 'completed', value: { succeeded: 1 } });
    expect((await h.pool.query(`SELECT company FROM leads WHERE id = $1`, [leads[1]!.id])).rows[0].company).toBe('Globex');
  });

  it('re-windows a pull at the search cap and commits the cursor page by page', async () => {
    const capped = await startHubspotEmulator({ oauth: h.oauth, perTenSeconds: 10_000, searchPerSecond: 1000, searchCap: 500 });
    try {
      const { workspaceId } = await h.seed();
      for (let i = 0; i < 1200; i++) capped.edit(`remote${i}@globex.com`, { firstname: `R${i}`, lastname: 'Remote' });
      const d = h.deps({ HUBSPOT_BASE_URL: capped.url });
      const w = await h.worker({ ...d, config: { ...d.config, hubspot: { ...d.config.hubspot, searchCap: 500 } } }, 1);
      const pull = await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'full', windowSlot: slot() });
      expect(pull.state).toBe('completed');
      expect(pull).toMatchObject({ state: 'completed', value: { succeeded: 1200 } });
      // no query paged past the cap (the emulator answers 400 there)
      expect(capped.log('search').every((r) => r.status === 200)).toBe(true);
      const leads = (await h.pool.query(`SELECT count(*)::int AS n FROM leads WHERE workspace_id = $1`, [workspaceId])).rows[0].n;
      expect(leads).toBe(1200);
      const last = [...capped.contacts.values()]
        .map((c) => c.properties.lastmodifieddate!)
        .sort()
        .at(-1);
      const state = (await h.pool.query(`SELECT cursor_value, lease_owner, status FROM integration_sync_state WHERE workspace_id = $1`, [workspaceId])).rows[0];
      expect(state).toEqual({ cursor_value: last, lease_owner: null, status: 'idle' });
    } finally {
      await capped.close();
    }
  }, 180_000);

  it('a DAILY 429 holds the portal until its midnight; the ten-second one about ten seconds', async () => {
    const budget = h.budget(1000);
    const client = createHubspotClient({ basePath: h.hubspot.url, budget, timeoutMs: 5000, tenSecondlyWaitMs: 10_000 });
    const { portal, grant } = await h.seed();
    const account = { portalId: portal, accessToken: grant.accessToken, timeZone: 'America/New_York' };
    const input = [{ id: 'x@acme.com', idProperty: 'email', properties: { firstname: 'X' } }];
    h.hubspot.fault({ endpoint: 'batch-upsert', status: 429, body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'DAILY' } });
    const daily = await client.batchUpsert(account, 'contacts', input).catch((e: unknown) => e);
    expect(daily).toBeInstanceOf(HubspotRateLimitError);
    expect((daily as HubspotRateLimitError).policy).toBe('DAILY');
    const untilMidnight = msUntilMidnight(new Date(), 'America/New_York');
    expect(Math.abs((daily as HubspotRateLimitError).retryAfterMs - untilMidnight)).toBeLessThan(60_000);
    // every replica now stops before calling: the hold is in Redis
    const held = await client.batchUpsert(account, 'contacts', input).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(RetryAfterError);
    expect(h.hubspot.log('batch-upsert')).toHaveLength(1);
    expect(await h.redis.pttl(`${h.prefix}:integration:budget-hold:hubspot:${portal}`)).toBeGreaterThan(untilMidnight - 60_000);

    const other = await h.seed();
    h.hubspot.fault({ endpoint: 'batch-upsert', status: 429, body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' } });
    const tenSecondly = await client
      .batchUpsert({ portalId: other.portal, accessToken: other.grant.accessToken, timeZone: 'UTC' }, 'contacts', input)
      .catch((e: unknown) => e);
    expect(tenSecondly).toMatchObject({ policy: 'TEN_SECONDLY_ROLLING', retryAfterMs: 10_000 });
  });

  it('slows down from the rate headers before HubSpot answers 429', async () => {
    const tight = await startHubspotEmulator({ oauth: h.oauth, perTenSeconds: 10, searchPerSecond: 1000 });
    try {
      const budget = h.budget(60_000);
      const client = createHubspotClient({ basePath: tight.url, budget, timeoutMs: 5000, tenSecondlyWaitMs: 10_000 });
      const { portal, grant } = await h.seed();
      const account = { portalId: portal, accessToken: grant.accessToken, timeZone: 'UTC' };
      // 12 calls against a limit of 10 per 10 s: the client holds when Remaining reaches the reserve
      for (let i = 0; i < 12; i++) await client.batchUpsert(account, 'contacts', [{ id: `p${i}@acme.com`, idProperty: 'email', properties: {} }]);
      expect(tight.log('batch-upsert').map((r) => r.status)).toEqual(Array(12).fill(200));
    } finally {
      await tight.close();
    }
  }, 120_000);
});
