import { syncCalendar, syncHubspot } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { useCalendarHarness } from './calendar-harness.js';
import { CLIENT_ID, CLIENT_SECRET, TEST_TOKEN_KEYS } from './keys.js';

const APP_DIR = new URL('..', import.meta.url);

// the CRM harness plus the calendar emulators (Google, Graph and their token endpoints)
const c = useCalendarHarness();
const { h } = c;

describe('OAuth tokens never in clear text', () => {
  it('after refreshes and syncs by the real worker process (HubSpot both ways, a Google and a Microsoft calendar), no issued token is in Postgres, Redis or the logs', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 150, expired: true });
    // calendar accounts of the same workspace, both tokens expired: each is refreshed and synced
    const google = await c.seedAccount({ provider: 'google', workspaceId, expired: true });
    const microsoft = await c.seedAccount({ provider: 'microsoft', workspaceId, expired: true });
    c.google.put(google.email, { start: '2026-12-07T09:00:00Z', end: '2026-12-07T10:00:00Z' });
    c.graph.put(microsoft.email, { start: new Date(Date.now() + 86_400_000).toISOString(), end: new Date(Date.now() + 90_000_000).toISOString() });
    const proc = await spawnWorkerApp(APP_DIR, {
      ...c.env(),
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      INTEGRATION_TOKEN_KEYS: TEST_TOKEN_KEYS,
      HUBSPOT_BASE_URL: h.hubspot.url,
      HUBSPOT_TOKEN_URL: `${h.hubspot.url}/oauth/v3/token`,
      HUBSPOT_CLIENT_ID: CLIENT_ID,
      HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
      LOG_LEVEL: 'debug',
    });
    try {
      const push = await h.producer.enqueue(syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: '20261206T0700Z' });
      const done = async (id: string) =>
        waitFor(
          async () => (await h.pool.query(`SELECT 1 FROM integration_sync_logs WHERE workspace_id = $1 AND sync_type = $2`, [workspaceId, id])).rowCount! > 0,
          {
            timeoutMs: 120_000,
            what: `${id} logged`,
          },
        );
      await done('outbox');
      h.hubspot.edit(leads[0]!.email, { firstname: 'Changed' });
      await h.producer.enqueue(syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: '20261206T0701Z' });
      await done('incremental');
      for (const account of [google, microsoft]) {
        await h.producer.enqueue(syncCalendar, {
          workspaceId,
          requestedBy: 'test',
          calendarAccountId: account.accountId,
          syncType: 'incremental',
          slot: '20261206T0702Z',
        });
      }
      await waitFor(
        async () => (await h.pool.query(`SELECT 1 FROM calendar_sync_logs WHERE workspace_id = $1 AND status = 'completed'`, [workspaceId])).rowCount === 2,
        { timeoutMs: 120_000, what: 'both calendar syncs completed' },
      );
      expect(c.google.log('token').map((r) => r.status)).toEqual([200]);
      expect(c.graph.log('token').map((r) => r.status)).toEqual([200]);
      expect(push.id).toBeTruthy();
      expect(h.hubspot.contacts.size).toBeGreaterThanOrEqual(150);
      expect(h.oauth.log('token').length + h.hubspot.log('token').length).toBe(1);

      const secrets = [
        ...h.oauth.issued(),
        ...c.googleOAuth.issued(),
        ...c.microsoftOAuth.issued(),
        CLIENT_SECRET,
        ...TEST_TOKEN_KEYS.split(',').map((k) => k.split(':')[1]!),
      ];
      const leaks = (text: string) => secrets.filter((s) => text.includes(s) || text.includes(Buffer.from(s).toString('hex')));

      // Postgres: every row of every table, as text (bytea shows as hex)
      const tables = (await h.pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tablename as string);
      let dump = '';
      for (const t of tables) dump += (await h.pool.query(`SELECT t::text AS row FROM "${t}" t`)).rows.map((r) => r.row).join('\n');
      expect(dump).toContain('\\x01'); // the encrypted tokens are there, sealed
      expect(leaks(dump)).toEqual([]);

      // Redis: every key and value of the run's prefix (jobs, results, locks, budgets)
      const keys = await h.redis.keys(`${h.prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      let redisText = keys.join('\n');
      for (const k of keys) {
        const type = await h.redis.type(k);
        const v =
          type === 'hash'
            ? await h.redis.hgetall(k)
            : type === 'string'
              ? await h.redis.get(k)
              : type === 'list'
                ? await h.redis.lrange(k, 0, -1)
                : type === 'zset'
                  ? await h.redis.zrange(k, 0, -1)
                  : type === 'set'
                    ? await h.redis.smembers(k)
                    : '';
        redisText += `\n${JSON.stringify(v)}`;
      }
      expect(leaks(redisText)).toEqual([]);

      // the worker's own logs (debug level)
      const logs = proc.output();
      expect(logs).toContain('hubspot sync finished');
      expect(logs).toContain('calendar sync finished');
      expect(leaks(logs)).toEqual([]);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  }, 240_000);
});
