import { randomUUID } from 'node:crypto';
import { companyEnrich, verifyEmail } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import type { Worker } from '@coldcopy/queue-core/runtime';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../src/domain/cache-key.js';
import { useEnrichmentHarness } from './harness.js';

const h = useEnrichmentHarness();

async function completed(worker: Pick<Worker, 'inspect'>, jobId: string) {
  return waitFor(
    async () => {
      // its fields are read after its state: never older than it
      const job = await worker.inspect.job<any>(jobId);
      if (job?.state !== 'completed' && job?.state !== 'failed') return false;
      if (job.state === 'failed') throw new Error(`job failed: ${job.failedReason}`);
      return job;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: `job ${jobId} completed` },
  );
}

async function addLeads(workspaceId: string, emails: string[]): Promise<Map<string, string>> {
  const ids = emails.map(() => randomUUID());
  await h.pool.query(`INSERT INTO leads (id, workspace_id, email) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])`, [
    ids,
    emails.map(() => workspaceId),
    emails,
  ]);
  return new Map(emails.map((e, i) => [e, ids[i]!]));
}

describe('verify-email: local lists, MX through a DNS server on 127.0.0.1, the Hunter verifier', () => {
  it('ends every address in its documented state and re-queues only 202/222 and DNS failures', async () => {
    const { workspaceId } = await h.seed({ leads: 0 });
    const emails = [
      'jane.doe@acme.com', // MX + Hunter valid
      'info@acme.com', // role address: risky even when valid
      'bob@nomx.com', // no MX: invalid
      'someone@mailinator.com', // disposable (local list): invalid, no DNS, no call
      'not-an-address@', // never reaches the lead table in practice; syntax
      'pending.one@acme.com', // Hunter 202 first: re-queued, then valid
      'greylisted.two@globex.com', // Hunter 222 first: re-queued, then valid
      'carol@dnsdown.com', // SERVFAIL: re-queued
      'invalid.user@acme.com', // Hunter invalid
    ].filter((e) => e.includes('@') && !e.endsWith('@'));
    const leads = await addLeads(workspaceId, emails);
    const worker = await h.worker(h.deps({ config: { maxDeferrals: 2 } }).deps);
    const job = await h.producer.enqueue(verifyEmail, { workspaceId, requestedBy: 'test', leadIds: [...leads.values()], providerId: h.hunterId });
    const first = await completed(worker, job.id);
    expect(first.attemptsMade).toBe(0);
    expect(first.returnValue.deferred).toBe(3);
    // the job's result (stored in Redis) names leads, never addresses
    expect(JSON.stringify(first.returnValue)).not.toMatch(/@/);

    const status = async () =>
      Object.fromEntries(
        (await h.pool.query<{ email: string; email_status: string }>('SELECT email, email_status FROM leads WHERE workspace_id = $1', [workspaceId])).rows.map(
          (r) => [r.email, r.email_status],
        ),
      );
    // the follow-ups run after their delays; dnsdown.com never answers and gives up as unknown
    const unchecked = async () =>
      (await h.pool.query(`SELECT count(*)::int AS n FROM leads WHERE workspace_id = $1 AND email_checked_at IS NULL`, [workspaceId])).rows[0].n;
    await waitFor(async () => (await unchecked()) === 0, {
      timeoutMs: 20_000,
      what: 'deferred addresses settled',
    });
    expect(await status()).toEqual({
      'jane.doe@acme.com': 'valid',
      'info@acme.com': 'risky',
      'bob@nomx.com': 'invalid',
      'someone@mailinator.com': 'invalid',
      'pending.one@acme.com': 'valid',
      'greylisted.two@globex.com': 'valid',
      'carol@dnsdown.com': 'unknown',
      'invalid.user@acme.com': 'invalid',
    });
    const verifier = h.hunter.log('email-verifier');
    expect(verifier.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 202, 222]);
    // the disposable address and the no-MX domain never reached Hunter
    expect(verifier.map((r) => r.inputHash)).not.toContain(sha256('someone@mailinator.com'));
    expect(h.dns.queries).toContain('nomx.com');
    expect(h.dns.queries).not.toContain('mailinator.com');
    const suppressed = (
      await h.pool.query(`SELECT email FROM suppression_list WHERE workspace_id = $1 AND suppression_type = 'invalid' ORDER BY email`, [workspaceId])
    ).rows.map((r) => r.email);
    expect(suppressed).toEqual(['bob@nomx.com', 'invalid.user@acme.com', 'someone@mailinator.com']);
    const rows = (
      await h.pool.query(`SELECT verification_status FROM enriched_data WHERE workspace_id = $1 AND data_type = 'email' AND deleted_at IS NULL`, [workspaceId])
    ).rows;
    expect(rows.map((r) => r.verification_status).sort()).toEqual(['invalid', 'invalid', 'invalid', 'risky', 'unknown', 'verified', 'verified', 'verified']);

    // verified again: the cache answers, Hunter is not called
    const calls = h.hunter.requests.length;
    const again = await h.producer.enqueue(verifyEmail, {
      workspaceId,
      requestedBy: 'test',
      leadIds: [leads.get('jane.doe@acme.com')!],
      providerId: h.hunterId,
    });
    await completed(worker, again.id);
    expect(h.hunter.requests.length).toBe(calls);
  });

  it('without a provider: syntax, lists and MX only', async () => {
    const { workspaceId } = await h.seed({ leads: 0 });
    const leads = await addLeads(workspaceId, ['maria.lopez@globex.com', 'x@nomx.com']);
    const worker = await h.worker(h.deps().deps);
    const job = await h.producer.enqueue(verifyEmail, { workspaceId, requestedBy: 'test', leadIds: [...leads.values()] });
    const done = await completed(worker, job.id);
    expect(done.returnValue.verified.map((v: { result: string }) => v.result).sort()).toEqual(['invalid', 'unknown']);
    expect(h.hunter.requests).toHaveLength(0);
  });
});

describe('company-enrich', () => {
  it('attaches company info to the leads at each domain, negative-caches unknown domains, skips names', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 4, domains: ['acme.com', 'globex.com'] });
    const worker = await h.worker(h.deps().deps);
    const companies = [{ domain: 'acme.com' }, { domain: 'unknown-startup.io' }, { name: 'No Domain Inc' }];
    const job = await h.producer.enqueue(companyEnrich, { workspaceId, requestedBy: 'test', providerId: h.apolloId, companies });
    const done = await completed(worker, job.id);
    expect(done.returnValue.companies).toEqual([
      expect.objectContaining({ domain: 'acme.com', leads: 2, source: 'provider', result: expect.objectContaining({ name: 'Acme', domain: 'acme.com' }) }),
      { domain: 'unknown-startup.io', result: null, leads: 0, source: 'provider' },
      { domain: null, result: null, leads: 0, skipped: 'no_domain' },
    ]);
    const acme = leads.filter((l) => l.email.endsWith('@acme.com')).map((l) => l.id);
    const rows = (
      await h.pool.query(`SELECT lead_id, data->>'name' AS name FROM enriched_data WHERE data_type = 'company_info' AND deleted_at IS NULL ORDER BY lead_id`)
    ).rows;
    expect(rows).toEqual(acme.sort().map((id) => ({ lead_id: id, name: 'Acme' })));
    const lead = (await h.pool.query('SELECT company, industry, website FROM leads WHERE id = $1', [acme[0]])).rows[0];
    expect(lead).toEqual({ company: 'Acme', industry: expect.any(String), website: 'https://acme.com' });
    expect(h.apollo.log('organizations/enrich')).toHaveLength(2);

    // again: both domains answered from the cache (the unknown one negatively), no call
    const again = await h.producer.enqueue(companyEnrich, {
      workspaceId,
      requestedBy: 'test',
      providerId: h.apolloId,
      companies: companies.slice(0, 2),
      leadIds: acme,
    });
    const second = await completed(worker, again.id);
    expect(second.returnValue.companies.map((c: { source: string }) => c.source)).toEqual(['cache', 'cache']);
    expect(h.apollo.log('organizations/enrich')).toHaveLength(2);
  });

  it('Hunter domain search: rate answer re-queues the job, the retry completes it', async () => {
    const { workspaceId } = await h.seed({ leads: 2, domains: ['globex.com'] });
    h.hunter.fault({ status: 403, endpoint: 'domain-search' });
    const worker = await h.worker(h.deps().deps);
    const job = await h.producer.enqueue(companyEnrich, { workspaceId, requestedBy: 'test', providerId: h.hunterId, companies: [{ domain: 'globex.com' }] });
    const first = await completed(worker, job.id);
    expect(first.returnValue.deferred).toEqual({ retryInMs: 300 });
    await waitFor(
      async () =>
        (await h.pool.query(`SELECT count(*)::int AS n FROM enriched_data WHERE workspace_id = $1 AND data_type = 'company_info'`, [workspaceId])).rows[0].n ===
        2,
      {
        timeoutMs: 10_000,
        what: 'company info after the re-queue',
      },
    );
    expect(h.hunter.log('domain-search').map((r) => r.status)).toEqual([403, 200]);
  });
});
