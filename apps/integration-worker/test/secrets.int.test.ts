import { syncHubspot } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { useIntegrationHarness } from './harness.js';
import { CLIENT_ID, CLIENT_SECRET, TEST_TOKEN_KEYS } from './keys.js';

const APP_DIR = new URL('..', import.meta.url);

const h = useIntegrationHarness();

describe('OAuth tokens never in clear text', () => {
  it('after a refresh and a two-way sync by the real worker process, no issued token is in Postgres, Redis or the logs', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 150, expired: true });
    const proc = await spawnWorkerApp(APP_DIR, {
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
      expect(push.id).toBeTruthy();
      expect(h.hubspot.contacts.size).toBeGreaterThanOrEqual(150);
      expect(h.oauth.log('token').length + h.hubspot.log('token').length).toBe(1);

      const secrets = [...h.oauth.issued(), CLIENT_SECRET, ...TEST_TOKEN_KEYS.split(',').map((k) => k.split(':')[1]!)];
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
      expect(leaks(logs)).toEqual([]);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  }, 240_000);
});
