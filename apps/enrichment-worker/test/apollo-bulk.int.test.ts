import { createEnrichmentJob, getEnrichmentJob } from '@coldcopy/db';
import { batchEnrich } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { startApolloEmulator } from '../src/emulators/apollo-emulator.js';
import { createApolloProvider } from '../src/providers/apollo-provider.js';
import { createPeopleBatcher } from '../src/providers/people-batcher.js';
import { APOLLO_KEY, useEnrichmentHarness } from './harness.js';

/**
 * Apollo's `people/bulk_match` (providers.md §6: at most 10 people, a tenth of the endpoint
 * limits): the emulator's wire format and limits over a real socket, the batcher that groups the
 * person lookups of concurrent batch children, and a batch through it with a rate answer.
 */
const h = useEnrichmentHarness();
const signal = () => new AbortController().signal;

async function bulkMatch(url: string, body: unknown, key = APOLLO_KEY) {
  const res = await fetch(`${url}/api/v1/people/bulk_match`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('Apollo people/bulk_match', () => {
  it('the emulator speaks its wire format: matches in request order (null for none), credits per match, at most 10, a tenth of the limits', async () => {
    const apollo = await startApolloEmulator({ apiKey: APOLLO_KEY, perMinute: 30, perHour: 1000, perDay: 10_000 });
    try {
      const details = [
        { first_name: 'Ada', last_name: 'Lovelace', domain: 'acme.com' },
        { first_name: 'Nobody', last_name: 'Nomatch', domain: 'acme.com' },
        { email: 'grace.hopper@globex.com' },
      ];
      const ok = await bulkMatch(apollo.url, { details });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ status: 'success', credits_consumed: 2, total_requested_enrichments: 3, unique_enriched_records: 2, missing_records: 1 });
      const matches = ok.body.matches as Array<Record<string, unknown> | null>;
      expect(matches.map((m) => m && m.last_name)).toEqual(['Lovelace', null, 'Hopper']);
      // a tenth of 30/min for the bulk endpoint
      expect(ok.headers.get('x-rate-limit-minute')).toBe('3');
      expect(ok.headers.get('x-minute-requests-left')).toBe('2');
      expect(apollo.log('people/bulk_match')[0]!.items!.map((i) => i.credits)).toEqual([1, 0, 1]);

      const eleven = Array.from({ length: 11 }, (_, i) => ({ first_name: `p${i}`, last_name: 'eleven', domain: 'acme.com' }));
      expect((await bulkMatch(apollo.url, { details: eleven })).status).toBe(422);
      expect((await bulkMatch(apollo.url, { details: [] })).status).toBe(422);
      // the minute window (3) is spent now: 429 with retry-after
      const limited = await bulkMatch(apollo.url, { details });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('x-minute-requests-left')).toBe('0');
      // people/match has its own, ten times larger window
      const single = await fetch(`${apollo.url}/api/v1/people/match`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': APOLLO_KEY },
        body: JSON.stringify(details[0]),
      });
      expect(single.status).toBe(200);
      expect(single.headers.get('x-rate-limit-minute')).toBe('30');
      expect((await bulkMatch(apollo.url, { details }, 'wrong-key')).status).toBe(401);
    } finally {
      await apollo.close();
    }
  });

  it('the batcher sends concurrent lookups as bulk requests of at most 10 and gives each caller its own person', async () => {
    const adapter = createApolloProvider({
      baseUrl: `${h.apollo.url}/api/v1`,
      apiKey: APOLLO_KEY,
      limits: h.deps().limits,
      timeoutMs: 5000,
      rateLimitRetryMs: 300,
    });
    expect(adapter.maxBulk).toBe(10);
    const batcher = createPeopleBatcher(adapter as Parameters<typeof createPeopleBatcher>[0], { lingerMs: 50 });
    const queries = Array.from({ length: 25 }, (_, i) => ({ firstName: `bulk${i}`, lastName: i % 5 === 4 ? 'Nomatch' : `person${i}`, domain: 'acme.com' }));
    const results = await Promise.all(queries.map((q) => batcher.find(q, signal())));
    expect(h.apollo.log('people/match')).toHaveLength(0);
    expect(h.apollo.log('people/bulk_match').map((r) => r.items!.length)).toEqual([10, 10, 5]);
    results.forEach((r, i) => {
      if (i % 5 === 4) expect(r).toEqual({ found: false });
      else expect(r).toMatchObject({ found: true, credits: 1, data: { lastName: `Person${i}`, email: `bulk${i}.person${i}@acme.com` } });
    });

    // a caller that gives up leaves its group; the others still get their answers
    h.apollo.requests.length = 0;
    const quitter = new AbortController();
    const pending = [batcher.find(queries[0]!, quitter.signal), batcher.find(queries[1]!, signal())];
    quitter.abort(new Error('shut down'));
    await expect(pending[0]).rejects.toThrow('shut down');
    await expect(pending[1]).resolves.toMatchObject({ found: true });
    expect(h.apollo.log('people/bulk_match').map((r) => r.items!.length)).toEqual([1]);

    // a bulk request's error reaches every member
    h.apollo.fault({ status: 503, endpoint: 'people/bulk_match' });
    const failed = await Promise.allSettled([batcher.find(queries[2]!, signal()), batcher.find(queries[3]!, signal())]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(failed.map((f) => (f as PromiseRejectedResult).reason.name)).toEqual(['ProviderUnavailableError', 'ProviderUnavailableError']);
  });

  it('a batch through bulk_match: a 429 on a bulk request defers its members, each lead is charged exactly once', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 30, domains: ['acme.com', 'globex.com'] });
    h.apollo.fault({ status: 429, endpoint: 'people/bulk_match', headers: { 'retry-after': '1' }, body: { error: 'rate limited' } });
    const worker = await h.worker(h.deps().deps, 12);
    const leadIds = leads.map((l) => l.id);
    const batch = await createEnrichmentJob(h.pool, workspaceId, { providerId: h.apolloId, enrichmentTypes: ['email'], leadIds });
    await h.producer.enqueue(batchEnrich, { workspaceId, requestedBy: 'test', enrichmentJobId: batch.id, providerId: h.apolloId, enrichmentTypes: ['email'] });
    const done = await waitFor(
      async () => {
        const j = await getEnrichmentJob(h.pool, workspaceId, batch.id);
        return j?.status === 'completed' ? j : false;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'batch completed' },
    );
    expect(done).toMatchObject({ total: 30, processed: 30, succeeded: 30, failed: 0 });
    const bulk = h.apollo.log('people/bulk_match');
    const first = bulk[0]!;
    expect(first).toMatchObject({ status: 429, rateLimited: true });
    // the deferred members came back and were answered
    const answered = bulk.filter((r) => r.status === 200).flatMap((r) => r.items!);
    expect(answered).toHaveLength(30);
    expect(new Set(answered.map((p) => p.inputHash)).size).toBe(30);
    expect(answered.every((p) => p.credits === 1)).toBe(true);
    expect(bulk.filter((r) => r.status === 200).every((r) => r.items!.length <= 10)).toBe(true);
    const deferred = (await worker.inspect.jobs<any>('completed')).filter((j) => j.name === 'enrich-lead' && j.returnValue?.status === 'deferred');
    expect(deferred.length).toBeGreaterThanOrEqual(1);
    const ledger = (
      await h.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT lead_id)::int AS leads, sum(credits)::int AS credits FROM enrichment_ledger WHERE workspace_id = $1 AND outcome = 'charged'`,
        [workspaceId],
      )
    ).rows[0];
    expect(ledger).toEqual({ n: 30, leads: 30, credits: 30 });
    expect(
      (await h.pool.query(`SELECT credits_used FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2`, [workspaceId, h.apolloId])).rows[0]
        .credits_used,
    ).toBe(30);
  });
});
