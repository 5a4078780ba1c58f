import { countPendingOutbox } from '@coldcopy/db';
import { syncSalesforce } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { useIntegrationHarness } from './harness.js';
import { CLIENT_ID, CLIENT_SECRET, TEST_TOKEN_KEYS } from './keys.js';

const APP_DIR = new URL('..', import.meta.url);
const h = useIntegrationHarness();
const N = 5000;
const patient = { timeoutMs: 360_000, intervalMs: 100 };

const workerEnv = () => ({
  REDIS_URL: inject('redisUrl'),
  BULL_PREFIX: h.prefix,
  DATABASE_URL: h.db.url,
  DATABASE_POOL_MAX: '4',
  INTEGRATION_TOKEN_KEYS: TEST_TOKEN_KEYS,
  SALESFORCE_TOKEN_URL: `${h.salesforce.url}/services/oauth2/token`,
  SALESFORCE_CLIENT_ID: CLIENT_ID,
  SALESFORCE_CLIENT_SECRET: CLIENT_SECRET,
  SYNC_LEASE_MS: '4000',
  LOCK_DURATION_MS: '3000',
  STALLED_INTERVAL_MS: '1500',
  SHUTDOWN_GRACE_SECONDS: '2',
});

async function kill(p: WorkerAppProcess) {
  p.child.kill('SIGKILL');
  await p.exited;
}

describe('kill -9 during a 5,000-record Salesforce sync', () => {
  it('push: no duplicate records in Salesforce after two kills and restarts', async () => {
    const { workspaceId, connectionId, leads } = await h.seed({ provider: 'salesforce', leads: N });
    h.salesforce.delayMs = 150; // each collection call takes a while, so kills land mid-drain
    const env = workerEnv();
    const procs: WorkerAppProcess[] = [await spawnWorkerApp(APP_DIR, env)];
    try {
      await h.producer.enqueue(syncSalesforce, {
        workspaceId,
        requestedBy: 'test',
        integrationId: connectionId,
        syncType: 'outbox',
        windowSlot: '20261206T0800Z',
      });
      for (const calls of [4, 12]) {
        await waitFor(() => h.salesforce.log('upsert').length >= calls, { ...patient, what: `${calls} upsert calls` });
        await kill(procs.shift()!);
        procs.push(await spawnWorkerApp(APP_DIR, env));
      }
      // the killed job is stalled, picked up again, and takes its own claims back
      await waitFor(async () => (await countPendingOutbox(h.pool, workspaceId, 'salesforce')) === 0, { ...patient, what: 'outbox drained' });
      const ext = [...h.salesforce.records.values()].map((r) => r.ColdCopy_Id__c);
      expect(ext).toHaveLength(N);
      expect(new Set(ext).size).toBe(N);
      expect(new Set(ext)).toEqual(new Set(leads.map((l) => l.id)));
      const map = (
        await h.pool.query(
          `SELECT count(*)::int AS n, count(DISTINCT remote_id)::int AS r FROM integration_object_map WHERE workspace_id = $1 AND provider = 'salesforce'`,
          [workspaceId],
        )
      ).rows[0];
      expect(map).toEqual({ n: N, r: N });
      const calls = h.salesforce.log('upsert').length;
      console.log(`salesforce push kill test: ${calls} collection calls for ${N} records (25 without kills)`);
      expect(calls).toBeGreaterThanOrEqual(25);
    } finally {
      for (const p of procs) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
  }, 480_000);

  it('pull: the cursor never passes an uncommitted page, and the restarted sync ends with every record once', async () => {
    const { workspaceId, connectionId } = await h.seed({ provider: 'salesforce' });
    // the org holds only this test's records (the emulator is shared by the file's tests)
    h.salesforce.records.clear();
    const before = new Set(h.salesforce.records.keys());
    for (let i = 0; i < N; i++)
      h.salesforce.edit(`remote-${workspaceId.slice(0, 8)}-${i}`, {
        Email: `pull${i}.${workspaceId.slice(0, 6)}@globex.com`,
        FirstName: `P${i}`,
        LastName: 'Pulled',
      });
    const remote = [...h.salesforce.records.values()].filter((r) => !before.has(r.Id));
    const key = (r: { SystemModstamp: string; Id: string }) => `${new Date(r.SystemModstamp).toISOString()}|${r.Id}`;
    h.salesforce.delayMs = 150;
    const env = workerEnv();
    let proc = await spawnWorkerApp(APP_DIR, env);
    try {
      await h.producer.enqueue(syncSalesforce, {
        workspaceId,
        requestedBy: 'test',
        integrationId: connectionId,
        syncType: 'full',
        windowSlot: '20261206T0801Z',
      });
      const state = async () =>
        (
          await h.pool.query(
            `SELECT cursor_value FROM integration_sync_state WHERE workspace_id = $1 AND provider = 'salesforce' AND object_type = 'contacts'`,
            [workspaceId],
          )
        ).rows[0]?.cursor_value as string | undefined;
      const leadCount = async () => (await h.pool.query(`SELECT count(*)::int AS n FROM leads WHERE workspace_id = $1`, [workspaceId])).rows[0].n as number;
      // one kill: Bull fails a job that stalls twice (maxStalledCount 1), so the pull is killed once
      for (const pages of [5]) {
        await waitFor(async () => (await leadCount()) >= pages * 200, { ...patient, what: `${pages} pages committed` });
        await kill(proc);
        // the process is dead: what Postgres holds now is all that was committed
        const cursor = await state();
        expect(cursor).toBeTruthy();
        const behind = remote.filter((r) => key(r) <= cursor!);
        expect(await leadCount()).toBe(behind.length); // every record up to the cursor is in, nothing past it
        const emails = new Set((await h.pool.query(`SELECT email FROM leads WHERE workspace_id = $1`, [workspaceId])).rows.map((r) => r.email as string));
        expect(behind.every((r) => emails.has(r.Email!))).toBe(true);
        proc = await spawnWorkerApp(APP_DIR, env);
      }
      await waitFor(async () => (await leadCount()) === N && (await state()) === remote.map(key).sort().at(-1), { ...patient, what: 'every record pulled' });
      const map = (
        await h.pool.query(
          `SELECT count(*)::int AS n, count(DISTINCT remote_id)::int AS r, count(DISTINCT local_id)::int AS l FROM integration_object_map WHERE workspace_id = $1 AND provider = 'salesforce'`,
          [workspaceId],
        )
      ).rows[0];
      expect(map).toEqual({ n: N, r: N, l: N });
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  }, 480_000);
});
