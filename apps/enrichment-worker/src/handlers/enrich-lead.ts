import {
  applyEnrichmentOutcome,
  type AppliedOutcome,
  EnrichmentCreditsExhaustedError,
  enrichmentJobStopReason,
  getEnrichmentCreditsAvailable,
  getLead,
  readEnrichmentCache,
  recordFailedEnrichmentRequest,
  settleEnrichmentJobItem,
  stopEnrichmentJob,
  writeEnrichmentCache,
} from '@coldcopy/db';
import { enrichLead, type JobPayload, PermanentJobError } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { personCacheKey, sha256 } from '../domain/cache-key.js';
import { leadFields, personQuery, personRecords } from '../domain/lead-mapping.js';
import { type PersonData, ProviderAccountError } from '../providers/enrichment-provider.js';
import { failureText, settleFailedChild } from './final-failure.js';
import { countProviderError, flagProvider, isRetryLater, providerOf } from './provider-of.js';

type Payload = JobPayload<typeof enrichLead>;
type Ctx = JobContext<EnrichmentDeps>;

export interface EnrichLeadResult {
  readonly status: 'enriched' | 'cached' | 'no_match' | 'deferred' | 'skipped';
  /** false: the request had been applied by an earlier delivery; nothing was written or charged */
  readonly applied?: boolean;
  readonly credits?: number;
  /** enriched_data types written */
  readonly types?: readonly string[];
  readonly retryInMs?: number;
  readonly reason?: string;
  /** the callback's outcome, when the job has a callbackUrl: `delivered` or why not (never a failure of the job) */
  readonly callback?: string;
}

/** What the cache holds for a person lookup: the result and which request paid for it. */
interface PersonCacheEntry {
  readonly found: boolean;
  readonly data?: PersonData;
  /** SHA-256 of workspace + request key of the request whose provider call filled the entry */
  readonly fetchedFor?: string;
  readonly credits?: number;
}

/** The logical request a job carries on (enrichment_ledger.request_key). */
export function requestKeyOf(p: Payload, jobId: string): string {
  if (p.requestKey) return p.requestKey;
  if (p.enrichmentJobId) return `batch.${p.enrichmentJobId}.${p.leadId}`;
  return jobId;
}

const fetchMark = (workspaceId: string, requestKey: string) => sha256(`${workspaceId}\n${requestKey}`).slice(0, 32);

/**
 * enrich-lead (domain.md §5): cache first (fresh data: no provider call, no charge), then the
 * provider within the shared limits, then one transaction with the ledger row, the charge, the
 * enriched_data rows and the lead's fields. The provider's answer is cached before that
 * transaction, marked with the request that paid for it: a worker that dies in between leaves a
 * cache entry that the next delivery of the same request charges for, without calling again.
 */
export async function enrichLeadHandler(p: Payload, ctx: Ctx): Promise<EnrichLeadResult> {
  const result = await enrich(p, ctx);
  // a re-queued request calls back when it finishes; a skipped batch child has nothing to report
  if (!p.callbackUrl || result.status === 'deferred' || result.status === 'skipped') return result;
  return { ...result, callback: await callBack(p.callbackUrl, p, ctx, result) };
}

/**
 * The optional webhook: one POST with the outcome (ids and status, no personal data), keyed by the
 * request so a receiver can drop repeats. Whatever happens is logged and counted, never thrown.
 */
async function callBack(url: string, p: Payload, ctx: Ctx, result: EnrichLeadResult): Promise<string> {
  const { deps } = ctx;
  const body = {
    event: 'lead.enrichment.completed',
    workspaceId: p.workspaceId,
    leadId: p.leadId,
    providerId: p.providerId,
    status: result.status,
    types: result.types ?? [],
    jobId: ctx.jobId,
  };
  const outcome = await deps.callbacks
    .notify(url, body, { 'idempotency-key': requestKeyOf(p, ctx.jobId) }, ctx.signal)
    .catch((err: Error) => ({ delivered: false as const, reason: 'failed' as const, detail: err.message }));
  const name = outcome.delivered ? 'delivered' : outcome.reason;
  deps.metrics.callback(name);
  if (!outcome.delivered) ctx.log.warn('enrichment callback not delivered', { reason: outcome.reason, detail: outcome.detail });
  return name;
}

async function enrich(p: Payload, ctx: Ctx): Promise<EnrichLeadResult> {
  const { deps } = ctx;
  const ws = p.workspaceId;
  const requestKey = requestKeyOf(p, ctx.jobId);
  try {
    if (p.enrichmentJobId) {
      const stopped = await enrichmentJobStopReason(deps.pool, ws, p.enrichmentJobId);
      if (stopped) {
        await settleEnrichmentJobItem(deps.pool, ws, p.enrichmentJobId, p.leadId, 'skipped_no_credits', null);
        return { status: 'skipped', reason: stopped };
      }
    }
    const { row: provider, adapter } = await providerOf(deps, p.providerId);
    const lead = await getLead(deps.pool, ws, p.leadId);
    const query = personQuery(lead, p.inputData);
    const cacheKey = personCacheKey(adapter.name, query);
    const mark = fetchMark(ws, requestKey);
    const started = performance.now();
    const ttl = deps.config.ttlMs;
    const base = { providerId: provider.id, leadId: p.leadId, requestKey, requestType: 'person', bullJobId: ctx.jobId, enrichmentJobId: p.enrichmentJobId };

    const cached = await readEnrichmentCache(deps.pool, cacheKey);
    let entry = cached?.data as PersonCacheEntry | undefined;
    let fromCache = entry !== undefined && entry.fetchedFor !== mark;
    if (!entry) {
      if ((await getEnrichmentCreditsAvailable(deps.pool, ws, provider.id)) < 1) throw new EnrichmentCreditsExhaustedError(ws, provider.id);
      // a batch child shares a bulk request with its siblings where the provider has one
      const bulk = p.enrichmentJobId ? deps.bulkPeople(provider.name) : undefined;
      const lookup = bulk ? await bulk.find(query, ctx.signal) : await adapter.findPerson(query, ctx.signal);
      entry = lookup.found ? { found: true, data: lookup.data, fetchedFor: mark, credits: lookup.credits } : { found: false, fetchedFor: mark };
      await writeEnrichmentCache(deps.pool, {
        cacheKey,
        providerId: provider.id,
        queryType: 'person',
        data: entry as unknown as Record<string, unknown>,
        ttlMs: lookup.found ? ttl.person : ttl.negative,
      });
      fromCache = false;
    }
    const processingMs = Math.round(performance.now() - started);

    let applied: AppliedOutcome;
    if (!entry.found || !entry.data) {
      applied = await applyEnrichmentOutcome(deps.pool, ws, {
        ...base,
        outcome: 'no_match',
        credits: 0,
        records: [],
        processingMs,
        summary: summary(adapter.name, 'no_match', deps),
      });
      return { status: 'no_match', applied: applied.applied, credits: 0 };
    }
    const expiresAt = new Date(deps.now().getTime() + ttl.person);
    const records = personRecords(p.enrichmentTypes, entry.data, expiresAt);
    applied = await applyEnrichmentOutcome(deps.pool, ws, {
      ...base,
      outcome: fromCache ? 'cached' : 'charged',
      credits: fromCache ? 0 : (entry.credits ?? 1),
      records,
      leadFields: leadFields(entry.data),
      summary: summary(
        adapter.name,
        fromCache ? 'cached' : 'enriched',
        deps,
        records.map((r) => r.dataType),
      ),
      processingMs,
    });
    return {
      status: applied.outcome === 'cached' ? 'cached' : applied.outcome === 'no_match' ? 'no_match' : 'enriched',
      applied: applied.applied,
      credits: applied.credits,
      types: records.map((r) => r.dataType),
    };
  } catch (err) {
    return onFailure(err, p, ctx, requestKey);
  }
}

function summary(provider: string, outcome: string, deps: EnrichmentDeps, types: string[] = []): Record<string, unknown> {
  return { [provider]: { outcome, types, at: deps.now().toISOString() } };
}

/**
 * Failure policy (providers.md §6): a rate or "still running" answer re-queues the request with
 * its delay (no Bull attempt used); no credits stop the batch (or fail the job) permanently; an
 * account answer disables the provider; a refused request fails permanently; anything else is
 * retried by Bull, and a batch child settles as failed on its last attempt.
 */
async function onFailure(err: unknown, p: Payload, ctx: Ctx, requestKey: string): Promise<EnrichLeadResult> {
  const { deps } = ctx;
  const ws = p.workspaceId;
  countProviderError(deps, err);
  if (isRetryLater(err)) {
    const deferrals = (p.deferrals ?? 0) + 1;
    if (deferrals <= deps.config.maxDeferrals) {
      await ctx.enqueue(
        enrichLead,
        { ...p, requestKey, deferrals },
        { delay: Math.max(0, Math.round(err.retryAfterMs)), idempotencyKey: `${requestKey}.d${deferrals}` },
      );
      return { status: 'deferred', retryInMs: err.retryAfterMs, reason: err.message };
    }
    err = new PermanentJobError(`gave up after ${deferrals - 1} re-queues: ${err.message}`, { cause: err });
  }
  if (err instanceof EnrichmentCreditsExhaustedError) {
    deps.metrics.creditsExhausted(p.providerId);
    if (p.enrichmentJobId) {
      const skipped = await stopEnrichmentJob(deps.pool, ws, p.enrichmentJobId, 'no_credits');
      await deps.alerter.alert('warning', 'enrichment credits exhausted: batch stopped', {
        workspaceId: ws,
        providerId: p.providerId,
        enrichmentJobId: p.enrichmentJobId,
        skipped,
      });
      return { status: 'skipped', reason: 'no_credits' };
    }
    await deps.alerter.alert('warning', 'enrichment credits exhausted', { workspaceId: ws, providerId: p.providerId });
    throw err;
  }
  if (err instanceof ProviderAccountError) await flagProvider(deps, ctx, p.providerId, err);
  const permanent = (err as { permanent?: unknown }).permanent === true;
  const lastAttempt = ctx.attempt >= ctx.attempts;
  if (permanent || lastAttempt) {
    const message = failureText(err);
    await recordFailedEnrichmentRequest(deps.pool, ws, {
      leadId: p.leadId,
      providerId: p.providerId,
      requestType: 'person',
      status: 'failed',
      error: message,
      bullJobId: ctx.jobId,
    }).catch(() => {});
    if (p.enrichmentJobId) await settleFailedChild(deps.pool, ws, p.enrichmentJobId, p.leadId, message);
  }
  throw err;
}
