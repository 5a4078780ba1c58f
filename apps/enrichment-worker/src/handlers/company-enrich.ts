import { attachCompanyInfo, listLeadIdsAtDomain, readEnrichmentCache, writeEnrichmentCache } from '@coldcopy/db';
import { companyEnrich, type JobPayload } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { companyCacheKey, normaliseDomain } from '../domain/cache-key.js';
import { type CompanyData, ProviderAccountError } from '../providers/enrichment-provider.js';
import { countProviderError, flagProvider, isRetryLater, providerOf } from './provider-of.js';

type Payload = JobPayload<typeof companyEnrich>;
type Ctx = JobContext<EnrichmentDeps>;

export interface CompanyOutcome {
  readonly domain: string | null;
  /** null: unknown domain (negative-cached), or a name without a domain (skipped) */
  readonly result: CompanyData | null;
  readonly leads: number;
  readonly source?: 'provider' | 'cache';
  readonly skipped?: 'no_domain';
}

export interface CompanyEnrichResult {
  readonly companies: readonly CompanyOutcome[];
  /** the job was re-queued after a rate answer (companies already done are cached and cost nothing again) */
  readonly deferred?: { readonly retryInMs: number };
}

interface CompanyCacheEntry {
  readonly found: boolean;
  readonly data?: CompanyData;
}

/**
 * company-enrich (domain.md §5): per company, the cache, else the provider's domain search /
 * organisation enrich; company_info goes to the workspace's leads at that domain (or the given
 * leads). Unknown domains are cached briefly (negative cache); a name without a domain is skipped.
 * A rate answer re-queues the whole job with its delay: the companies already done are cache hits
 * the second time, and attaching again replaces the same rows.
 */
export async function companyEnrichHandler(p: Payload, ctx: Ctx): Promise<CompanyEnrichResult> {
  const { deps } = ctx;
  const ws = p.workspaceId;
  const { row: provider, adapter } = await providerOf(deps, p.providerId);
  const ttl = deps.config.ttlMs;
  const companies: CompanyOutcome[] = [];
  for (const c of p.companies) {
    ctx.signal.throwIfAborted();
    if (!('domain' in c)) {
      companies.push({ domain: null, result: null, leads: 0, skipped: 'no_domain' });
      continue;
    }
    const domain = normaliseDomain(c.domain);
    const cacheKey = companyCacheKey(adapter.name, domain);
    let entry = (await readEnrichmentCache(deps.pool, cacheKey))?.data as CompanyCacheEntry | undefined;
    const source = entry ? 'cache' : 'provider';
    if (!entry) {
      try {
        const lookup = await adapter.enrichCompany(domain, ctx.signal);
        entry = lookup.found ? { found: true, data: lookup.data } : { found: false };
      } catch (err) {
        countProviderError(deps, err);
        if (isRetryLater(err) && (p.deferrals ?? 0) < deps.config.maxDeferrals) {
          const deferrals = (p.deferrals ?? 0) + 1;
          await ctx.enqueue(
            companyEnrich,
            { ...p, deferrals },
            { delay: Math.max(0, Math.round(err.retryAfterMs)), idempotencyKey: `${ctx.jobId.slice(0, 120)}.d${deferrals}` },
          );
          return { companies, deferred: { retryInMs: err.retryAfterMs } };
        }
        if (err instanceof ProviderAccountError) await flagProvider(deps, ctx, provider.id, err);
        throw err;
      }
      await writeEnrichmentCache(deps.pool, {
        cacheKey,
        providerId: provider.id,
        queryType: 'company',
        data: entry as unknown as Record<string, unknown>,
        ttlMs: entry.found ? ttl.company : ttl.negative,
      });
    }
    if (!entry.found || !entry.data) {
      companies.push({ domain, result: null, leads: 0, source });
      continue;
    }
    const leadIds = await listLeadIdsAtDomain(deps.pool, ws, domain, p.leadIds);
    const leads = await attachCompanyInfo(deps.pool, ws, {
      leadIds,
      providerId: provider.id,
      data: entry.data as unknown as Record<string, unknown>,
      fields: { company: entry.data.name, industry: entry.data.industry, website: `https://${entry.data.domain}` },
      expiresAt: new Date(deps.now().getTime() + ttl.company),
    });
    companies.push({ domain, result: entry.data, leads, source });
  }
  return { companies };
}
