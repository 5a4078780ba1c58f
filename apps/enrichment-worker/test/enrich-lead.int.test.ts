import { enrichLead } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import type { Worker } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { startApolloEmulator } from '../src/emulators/apollo-emulator.js';
import { createApolloProvider } from '../src/providers/apollo-provider.js';
import { APOLLO_KEY, useEnrichmentHarness } from './harness.js';

const h = useEnrichmentHarness();

type Types = Array<'email' | 'company_info' | 'job_history' | 'social_profiles'>;

async function enqueue(workspaceId: string, leadId: string, providerId: string, types: Types = ['email', 'job_history']) {
  return h.producer.enqueue(enrichLead, { workspaceId, requestedBy: 'test', leadId, providerId, enrichmentTypes: types });
}

/** Waits until the job completed or failed for good; returns it. */
async function settled(worker: Pick<Worker, 'inspect'>, jobId: string) {
  return waitFor(
    async () => {
      // its fields are read after its state: never older than it
      const job = await worker.inspect.job<any>(jobId);
      if (!job) return false;
      return job.state === 'completed' || (job.state === 'failed' && (job.attemptsMade >= job.attempts || job.finishedOn !== null)) ? job : false;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: `job ${jobId} settled` },
  );
}

async function ledger(workspaceId: string) {
  const { rows } = await h.pool.query<{ request_key: string; outcome: string; credits: number }>(
    'SELECT request_key, outcome, credits FROM enrichment_ledger WHERE workspace_id = $1 ORDER BY created_at',
    [workspaceId],
  );
  return rows;
}

async function credits(workspaceId: string, providerId: string) {
  const { rows } = await h.pool.query<{ credits_available: number; credits_used: number }>(
    'SELECT credits_available, credits_used FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2',
    [workspaceId, providerId],
  );
  return rows[0]!;
}

async function providerRow(id: string) {
  const { rows } = await h.pool.query<{ is_active: boolean; disabled_reason: string | null }>(
    'SELECT is_active, disabled_reason FROM enrichment_providers WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

/** The delayed follow-up jobs under the test prefix (re-queued requests). */
async function delayedJobs(worker: Pick<Worker, 'inspect'>) {
  return worker.inspect.jobs('delayed');
}

describe('enrich-lead against the Hunter and Apollo emulators, real Redis and Postgres', () => {
  it('Hunter: enriches, charges one credit once, and a second request for the same person is a cache hit with no call', async () => {
    const { workspaceId, leads } = await h.seed({ credits: 10, names: () => ['Jane', 'Doe'] });
    const { deps } = h.deps();
    const worker = await h.worker(deps);
    const lead = leads[0]!;
    const job = await settled(worker, (await enqueue(workspaceId, lead.id, h.hunterId)).id);
    expect(job.returnValue).toMatchObject({ status: 'enriched', applied: true, credits: 1, types: ['email', 'job_history'] });
    expect(h.hunter.log('email-finder')).toHaveLength(1);
    expect(await credits(workspaceId, h.hunterId)).toEqual({ credits_available: 9, credits_used: 1 });
    const row = (await h.pool.query('SELECT title, linkedin_url, last_enriched_at, enrichment_data FROM leads WHERE id = $1', [lead.id])).rows[0];
    expect(row.title).toEqual(expect.any(String));
    expect(row.linkedin_url).toMatch(/^https:\/\/www\.linkedin\.com\/in\//);
    expect(row.last_enriched_at).toBeInstanceOf(Date);
    expect(row.enrichment_data.hunter.outcome).toBe('enriched');
    const data = (await h.pool.query(`SELECT data_type, data FROM enriched_data WHERE lead_id = $1 AND deleted_at IS NULL ORDER BY data_type`, [lead.id])).rows;
    expect(data.map((d) => d.data_type)).toEqual(['email', 'job_history']);
    expect(data[0].data.email).toBe('jane.doe@acme.com');

    // another request (other types) for the same person: the cache answers, nothing is charged
    const again = await settled(worker, (await enqueue(workspaceId, lead.id, h.hunterId, ['email'])).id);
    expect(again.returnValue).toMatchObject({ status: 'cached', credits: 0 });
    expect(h.hunter.log('email-finder')).toHaveLength(1);
    expect(await credits(workspaceId, h.hunterId)).toEqual({ credits_available: 9, credits_used: 1 });
    expect((await ledger(workspaceId)).map((l) => [l.outcome, l.credits])).toEqual([
      ['charged', 1],
      ['cached', 0],
    ]);
  });

  it('a cache key holds no address or name: provider + SHA-256 only', async () => {
    const { workspaceId, leads } = await h.seed({ names: () => ['Keyed', 'Person'] });
    const worker = await h.worker(h.deps().deps);
    await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.apolloId)).id);
    const keys = (await h.pool.query<{ cache_key: string }>('SELECT cache_key FROM enrichment_cache')).rows.map((r) => r.cache_key);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^apollo:person:[0-9a-f]{64}$/);
  });

  it('Apollo: a 200 without person is an empty success, free, negative-cached', async () => {
    const { workspaceId, leads } = await h.seed({ domains: ['unknown-corp.com'] });
    const worker = await h.worker(h.deps().deps);
    const job = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.apolloId)).id);
    expect(job.returnValue).toMatchObject({ status: 'no_match', credits: 0 });
    expect(h.apollo.log('people/match').map((r) => r.status)).toEqual([200]);
    const again = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.apolloId, ['email'])).id);
    expect(again.returnValue).toMatchObject({ status: 'no_match' });
    expect(h.apollo.log('people/match')).toHaveLength(1);
    expect((await credits(workspaceId, h.apolloId)).credits_used).toBe(0);
    const cache = (await h.pool.query(`SELECT expires_at < now() + interval '2 days' AS short FROM enrichment_cache`)).rows;
    expect(cache).toEqual([{ short: true }]);
  });

  it('Hunter 403 (its rate limit) re-queues the request with a delay without using an attempt, then charges once', async () => {
    const { workspaceId, leads } = await h.seed();
    h.hunter.fault({ status: 403, endpoint: 'email-finder', body: { errors: [{ id: 'too_many_requests', code: 403 }] } });
    const worker = await h.worker(h.deps().deps);
    const first = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.hunterId)).id);
    expect(first.attemptsMade).toBe(0);
    expect(first.returnValue).toMatchObject({ status: 'deferred', retryInMs: 300 });
    const followUp = await waitFor(async () => (await worker.inspect.jobs<any>('completed')).find((j) => j.id !== first.id) ?? false, {
      timeoutMs: 10_000,
      what: 'the re-queued request',
    });
    expect(followUp.data.deferrals).toBe(1);
    expect(followUp.returnValue).toMatchObject({ status: 'enriched', credits: 1 });
    expect(h.hunter.log('email-finder').map((r) => r.status)).toEqual([403, 200]);
    expect(await ledger(workspaceId)).toEqual([{ request_key: first.id, outcome: 'charged', credits: 1 }]);
  });

  it('Apollo 429 honours retry-after', async () => {
    const { workspaceId, leads } = await h.seed();
    h.apollo.fault({ status: 429, endpoint: 'people/match', headers: { 'retry-after': '1' } });
    const worker = await h.worker(h.deps().deps);
    const first = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.apolloId)).id);
    expect(first.returnValue).toMatchObject({ status: 'deferred', retryInMs: 1000 });
    const [delayed] = await delayedJobs(worker);
    expect(delayed?.delay).toBe(1000);
  });

  it.each([
    [429, 'hunter', 'plan-exhausted'],
    [401, 'hunter', 'unauthorized'],
    [401, 'apollo', 'unauthorized'],
    [422, 'apollo', 'no-credits'],
  ] as const)('%i from %s is permanent: one attempt, the provider disabled and an alert', async (status, provider, problem) => {
    const { workspaceId, leads } = await h.seed();
    const emulator = provider === 'hunter' ? h.hunter : h.apollo;
    emulator.fault({ status, body: status === 422 ? { error: 'You have insufficient credits.' } : { errors: [{ id: 'x', code: status }] } });
    const { deps, alerter } = h.deps();
    const worker = await h.worker(deps);
    const providerId = provider === 'hunter' ? h.hunterId : h.apolloId;
    const job = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, providerId)).id);
    expect(job.state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain(problem);
    expect(await providerRow(providerId)).toEqual({ is_active: false, disabled_reason: expect.stringContaining(problem) });
    expect(alerter.alerts).toEqual([expect.objectContaining({ severity: 'critical', message: 'enrichment provider disabled' })]);
    expect(await ledger(workspaceId)).toEqual([]);
    // the next job for the provider fails at once, without a call
    const calls = emulator.requests.length;
    const next = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, providerId, ['email'])).id);
    expect(next.failedReason).toMatch(/disabled/);
    expect(emulator.requests.length).toBe(calls);
  });

  it('Hunter 451 (personal-data restriction) fails this request permanently; the provider stays active', async () => {
    const { workspaceId, leads } = await h.seed();
    h.hunter.fault({ status: 451, body: { errors: [{ id: 'claimed_email', code: 451 }] } });
    const worker = await h.worker(h.deps().deps);
    const job = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.hunterId)).id);
    expect(job.failedReason).toContain('451');
    expect(job.attemptsMade).toBe(1);
    expect((await providerRow(h.hunterId)).is_active).toBe(true);
    const req = (await h.pool.query(`SELECT status, error FROM enrichment_requests WHERE lead_id = $1`, [leads[0]!.id])).rows;
    expect(req).toEqual([{ status: 'failed', error: expect.stringContaining('451') }]);
  });

  it('a 5xx is transient: Bull retries it with backoff', async () => {
    const { workspaceId, leads } = await h.seed();
    h.apollo.fault({ status: 503 });
    const worker = await h.worker(h.deps().deps);
    const { id } = await enqueue(workspaceId, leads[0]!.id, h.apolloId);
    const job = await waitFor(
      async () => {
        const j = await worker.inspect.job(id);
        return j && j.attemptsMade === 1 && j.state === 'delayed' ? j : false;
      },
      { timeoutMs: 10_000, what: 'a retry scheduled' },
    );
    expect(job.failedReason).toContain('unavailable (HTTP 503');
  });

  it('no credits: permanent, and the provider is never called', async () => {
    const { workspaceId, leads } = await h.seed({ credits: 0 });
    const { deps, alerter } = h.deps();
    const worker = await h.worker(deps);
    const job = await settled(worker, (await enqueue(workspaceId, leads[0]!.id, h.hunterId)).id);
    expect(job.failedReason).toMatch(/no enrichment credits/);
    expect(job.attemptsMade).toBe(1);
    expect(h.hunter.requests).toHaveLength(0);
    expect(alerter.alerts.map((a) => a.message)).toEqual(['enrichment credits exhausted']);
  });

  it("Apollo's window headers slow the worker down and stop it before a 429", async () => {
    // an emulator of its own whose window is 3 per minute
    const limited = await startApolloEmulator({ apiKey: APOLLO_KEY, perMinute: 3, perHour: 100, perDay: 1000 });
    try {
      const adapter = createApolloProvider({
        baseUrl: `${limited.url}/api/v1`,
        apiKey: APOLLO_KEY,
        limits: h.deps().limits,
        timeoutMs: 5000,
        rateLimitRetryMs: 300,
      });
      const signal = new AbortController().signal;
      for (let i = 0; i < 3; i++) await adapter.findPerson({ firstName: `w${i}`, lastName: 'window', domain: 'acme.com' }, signal);
      await expect(adapter.findPerson({ firstName: 'w3', lastName: 'window', domain: 'acme.com' }, signal)).rejects.toMatchObject({
        name: 'RetryAfterError',
        reason: 'rate-limit',
      });
      expect(limited.requests.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(limited.requests.filter((r) => r.rateLimited)).toHaveLength(0);
    } finally {
      await limited.close();
    }
  });
});
