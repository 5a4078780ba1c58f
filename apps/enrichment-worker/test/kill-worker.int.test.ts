import { createEnrichmentJob, getEnrichmentJob } from '@coldcopy/db';
import { batchEnrich } from '@coldcopy/queue-core';
import { spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { HUNTER_KEY, useEnrichmentHarness } from './harness.js';

const APP_DIR = new URL('..', import.meta.url);

const h = useEnrichmentHarness();
const LEADS = 2000;
const patient = { timeoutMs: 360_000, intervalMs: 250 };
/** an address anywhere in a key, a value or a log line */
const EMAIL = /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/i;

describe('kill -9 one of two worker processes three times during a 2,000-lead batch-enrich', () => {
  it('enriches every lead once, charges once per successful lead, and the final counts are right', async () => {
    const { workspaceId, leads } = await h.seed({ leads: LEADS, domains: ['acme.com', 'globex.com', 'initech.io', 'unknown-co.com'] });
    const env = {
      LOG_LEVEL: 'info',
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      DATABASE_POOL_MAX: '6',
      HUNTER_BASE_URL: `${h.hunter.url}/v2`,
      HUNTER_API_KEY: HUNTER_KEY,
      HUNTER_RATE_PER_SECOND: '150',
      HUNTER_RATE_PER_MINUTE: '9000',
      HUNTER_MAX_CONCURRENT: '12',
      ENRICHMENT_CONCURRENCY: '8',
      LOCK_DURATION_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
      SHUTDOWN_GRACE_SECONDS: '5',
    };
    const batch = await createEnrichmentJob(h.pool, workspaceId, { providerId: h.hunterId, enrichmentTypes: ['email'], leadIds: leads.map((l) => l.id) });
    const processed = async () => (await getEnrichmentJob(h.pool, workspaceId, batch.id))!.processed;

    const procs: Array<WorkerAppProcess | undefined> = [await spawnWorkerApp(APP_DIR, env), await spawnWorkerApp(APP_DIR, env)];
    const outputs: string[] = [];
    try {
      await h.producer.enqueue(batchEnrich, {
        workspaceId,
        requestedBy: 'test',
        enrichmentJobId: batch.id,
        providerId: h.hunterId,
        enrichmentTypes: ['email'],
      });
      for (const at of [300, 900, 1400]) {
        await waitFor(async () => (await processed()) >= at, { ...patient, what: `${at} leads processed` });
        const victim = procs[0]!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        outputs.push(victim.output());
        procs[0] = await spawnWorkerApp(APP_DIR, env);
      }
      const done = await waitFor(
        async () => {
          const j = await getEnrichmentJob(h.pool, workspaceId, batch.id);
          return j && j.status === 'completed' ? j : false;
        },
        { ...patient, what: 'batch completed' },
      );

      // final counts: every lead settled once; 3 of 4 domains are known to the emulator
      expect(done).toMatchObject({ total: LEADS, processed: LEADS, failed: 0, skipped_no_credits: 0 });
      expect(done.succeeded + done.no_match).toBe(LEADS);
      expect(done.no_match).toBe(LEADS / 4);
      const items = (
        await h.pool.query(`SELECT status, count(*)::int AS n FROM enrichment_job_items WHERE enrichment_job_id = $1 GROUP BY status ORDER BY status`, [
          batch.id,
        ])
      ).rows;
      expect(items).toEqual([
        { status: 'enriched', n: done.succeeded },
        { status: 'no_match', n: done.no_match },
      ]);

      // one ledger row per lead; credits charged exactly once per successful lead
      const ledger = (
        await h.pool.query(
          `SELECT outcome, count(*)::int AS n, count(DISTINCT lead_id)::int AS leads, sum(credits)::int AS credits FROM enrichment_ledger WHERE workspace_id = $1 GROUP BY outcome ORDER BY outcome`,
          [workspaceId],
        )
      ).rows;
      const charged = ledger.find((r) => r.outcome === 'charged');
      expect(charged).toEqual({ outcome: 'charged', n: done.succeeded, leads: done.succeeded, credits: done.succeeded });
      expect(
        (await h.pool.query(`SELECT credits_used FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2`, [workspaceId, h.hunterId])).rows[0]
          .credits_used,
      ).toBe(done.succeeded);
      const enriched = (
        await h.pool.query(
          `SELECT count(*)::int AS n, count(DISTINCT lead_id)::int AS leads FROM enriched_data WHERE workspace_id = $1 AND deleted_at IS NULL`,
          [workspaceId],
        )
      ).rows[0];
      expect(enriched).toEqual({ n: done.succeeded, leads: done.succeeded });

      // the emulator's log against the ledger: each successful lead was charged by Hunter at least
      // once; a lead called twice is one whose answer was in flight when its worker died (the
      // answer is cached before the result transaction, so a re-delivery finds it)
      const calls = h.hunter.log('email-finder');
      const perInput = new Map<string, number>();
      for (const c of calls.filter((c) => c.credits > 0)) perInput.set(c.inputHash, (perInput.get(c.inputHash) ?? 0) + 1);
      expect(perInput.size).toBe(done.succeeded);
      const twice = [...perInput.values()].filter((n) => n > 1).length;
      console.log(
        `kill test: ${calls.length} finder calls for ${LEADS} leads, ${twice} leads called twice by Hunter (in flight at a kill), ledger charged ${charged.n}`,
      );
      expect(twice).toBeLessThanOrEqual(3 * 2 * 12);
      expect(calls.filter((c) => c.rateLimited)).toHaveLength(0);

      // no clear-text address in Redis keys and values, Postgres keys, or the workers' logs
      const keys = [...(await h.redis.keys(`${h.prefix}:*`)), ...(await h.redis.keys(`b_${h.prefix}:*`))];
      expect(keys.filter((k) => EMAIL.test(k))).toEqual([]);
      const types = (await keys.reduce((p, k) => p.type(k), h.redis.pipeline()).exec())!.map(([, t]) => String(t));
      const reads = keys.reduce((p, k, i) => {
        const t = types[i];
        if (t === 'hash') return p.hgetall(k);
        if (t === 'string') return p.get(k);
        if (t === 'list') return p.lrange(k, 0, -1);
        if (t === 'zset') return p.zrange(k, 0, -1);
        if (t === 'set') return p.smembers(k);
        return p.exists(k);
      }, h.redis.pipeline());
      const values = (await reads.exec())!.map(([, v]) => JSON.stringify(v));
      expect(keys.filter((_, i) => EMAIL.test(values[i]!))).toEqual([]);
      const pgKeys = (
        await h.pool.query(
          `SELECT cache_key AS k FROM enrichment_cache UNION ALL SELECT request_key FROM enrichment_ledger UNION ALL SELECT coalesce(bull_job_id, '') FROM enrichment_requests`,
        )
      ).rows;
      expect(pgKeys.filter((r) => EMAIL.test(r.k))).toEqual([]);
      const logs = [...outputs, ...procs.map((p) => p!.output())].join('\n');
      expect(logs).toContain('worker started');
      expect(logs.split('\n').filter((l) => EMAIL.test(l))).toEqual([]);
    } finally {
      for (const p of procs) {
        p?.child.kill('SIGTERM');
        await p?.exited;
      }
    }
  }, 480_000);
});
