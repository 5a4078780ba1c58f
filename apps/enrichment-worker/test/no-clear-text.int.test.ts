import { createEnrichmentJob, getEnrichmentJob } from '@coldcopy/db';
import { batchEnrich, enrichLead, verifyEmail } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import type { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { APOLLO_KEY, HUNTER_KEY, useEnrichmentHarness } from './harness.js';

/**
 * Acceptance (issue 13): after a run of every kind of job that carries an address (enrich-lead
 * with lookup hints, verify-email of addresses and of leads, a batch), a grep of everything in
 * Redis under the run's prefix (key names and values), of the Postgres keys (cache keys, ledger
 * request keys) and of the worker's logs at debug level finds no clear-text address: not one of
 * the addresses used, and nothing that looks like one.
 */
const h = useEnrichmentHarness();
const APP_DIR = new URL('..', import.meta.url);
const patient = { timeoutMs: 120_000, intervalMs: 200 };
const ADDRESS = /[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/i;

/** Every key under the prefix and its value, as text. */
async function redisText(redis: Redis, prefix: string): Promise<string> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const value =
      type === 'string'
        ? await redis.get(key)
        : type === 'hash'
          ? await redis.hgetall(key)
          : type === 'list'
            ? await redis.lrange(key, 0, -1)
            : type === 'zset'
              ? await redis.zrange(key, 0, -1)
              : type === 'set'
                ? await redis.smembers(key)
                : type;
    parts.push(`${key} ${JSON.stringify(value)}`);
  }
  return parts.join('\n');
}

describe('no clear-text email address outside the lead rows', () => {
  it('Redis, Postgres keys and the worker logs hold none after enrich-lead, verify-email and batch-enrich', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 6 });
    const direct = ['hint.person@acme.com', 'someone.else@globex.com'];
    const used = [...leads.map((l) => l.email), ...direct];
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      DATABASE_POOL_MAX: '4',
      HUNTER_BASE_URL: `${h.hunter.url}/v2`,
      HUNTER_API_KEY: HUNTER_KEY,
      APOLLO_BASE_URL: `${h.apollo.url}/api/v1`,
      APOLLO_API_KEY: APOLLO_KEY,
      DNS_SERVERS: h.dns.server,
      ENRICHMENT_CONCURRENCY: '4',
      LOG_LEVEL: 'debug',
    };
    let worker: WorkerAppProcess | undefined = await spawnWorkerApp(APP_DIR, env);
    try {
      const single = await h.producer.enqueue(enrichLead, {
        workspaceId,
        requestedBy: 'test',
        leadId: leads[0]!.id,
        providerId: h.hunterId,
        enrichmentTypes: ['email'],
        inputData: { email: direct[0], firstName: 'Hint', lastName: 'Person', domain: 'acme.com' },
      });
      const verify = await h.producer.enqueue(verifyEmail, {
        workspaceId,
        requestedBy: 'test',
        emails: direct,
        leadIds: [leads[1]!.id],
        providerId: h.hunterId,
      });
      const batch = await createEnrichmentJob(h.pool, workspaceId, {
        providerId: h.apolloId,
        enrichmentTypes: ['email'],
        leadIds: leads.slice(2).map((l) => l.id),
      });
      await h.producer.enqueue(batchEnrich, {
        workspaceId,
        requestedBy: 'test',
        enrichmentJobId: batch.id,
        providerId: h.apolloId,
        enrichmentTypes: ['email'],
      });

      const finished = async (id: string) => {
        const counts = await h.redis.zscore(`${h.prefix}:enrichment:completed`, id);
        return counts !== null;
      };
      await waitFor(async () => (await finished(single.id)) && (await finished(verify.id)), { ...patient, what: 'enrich-lead and verify-email completed' });
      await waitFor(async () => (await getEnrichmentJob(h.pool, workspaceId, batch.id))?.status === 'completed', { ...patient, what: 'batch completed' });
      // the jobs really carried addresses and the providers were asked
      expect(h.hunter.requests.length).toBeGreaterThan(0);
      expect(h.apollo.requests.length).toBeGreaterThan(0);

      const stored = await redisText(h.redis, h.prefix);
      expect(stored).toContain('enc:v1:'); // the addresses are there, as envelopes
      const pgKeys = (
        await h.pool.query<{ k: string }>(
          `SELECT cache_key AS k FROM enrichment_cache UNION ALL SELECT request_key FROM enrichment_ledger WHERE workspace_id = $1`,
          [workspaceId],
        )
      ).rows.map((r) => r.k);
      expect(pgKeys.length).toBeGreaterThan(0);
      worker.child.kill('SIGTERM');
      await worker.exited;
      const logs = worker.output();
      worker = undefined;
      expect(logs.length).toBeGreaterThan(0);

      for (const [where, text] of [
        ['Redis', stored],
        ['Postgres keys', pgKeys.join('\n')],
        ['worker logs', logs],
      ] as const) {
        for (const address of used) expect(text.toLowerCase(), `${address} in ${where}`).not.toContain(address.toLowerCase());
        expect(ADDRESS.exec(text)?.[0], `an address in ${where}`).toBeUndefined();
      }
    } finally {
      if (worker) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
    }
  });
});
