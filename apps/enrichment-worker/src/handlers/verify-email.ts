import { addSuppression, type LeadEmailStatus, listLeadEmails, readEnrichmentCache, recordEmailVerification, writeEnrichmentCache } from '@coldcopy/db';
import { type JobPayload, PermanentJobError, verifyEmail } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { sha256, verifyCacheKey } from '../domain/cache-key.js';
import { checkAddress } from '../domain/email-checks.js';
import { type EnrichmentProvider, ProviderAccountError, type VerificationStatus } from '../providers/enrichment-provider.js';
import { countProviderError, flagProvider, isRetryLater, providerOf } from './provider-of.js';

type Payload = JobPayload<typeof verifyEmail>;
type Ctx = JobContext<EnrichmentDeps>;

/**
 * One verified target. `target` is `lead:<id>` for leads and `sha256:<hex>` for addresses given
 * directly: the job's result is stored in Redis, where no address may appear in clear text.
 */
export interface VerificationOutcome {
  readonly target: string;
  readonly result: LeadEmailStatus;
  readonly reasons: readonly string[];
  readonly score?: number;
}

export interface VerifyEmailResult {
  readonly verified: readonly VerificationOutcome[];
  /** targets re-queued (DNS failure, Hunter 202/222, rate answers) */
  readonly deferred: number;
  readonly retryInMs?: number;
}

interface Target {
  readonly target: string;
  readonly email: string;
  readonly leadId?: string;
}

interface CachedVerification {
  readonly result: LeadEmailStatus;
  readonly reasons: string[];
  readonly score?: number;
}

/** Hunter's verdicts → leads.email_status. */
const STATUS: Record<VerificationStatus, LeadEmailStatus> = {
  valid: 'valid',
  webmail: 'valid',
  invalid: 'invalid',
  disposable: 'invalid',
  accept_all: 'risky',
  unknown: 'unknown',
};

/**
 * verify-email (domain.md §5): for each address, free local checks (syntax, disposable domain,
 * role address), the cache, an MX lookup, then the provider's verifier when a provider is given.
 * Results go to every lead of the workspace with that address (email_status, email_checked_at, an
 * enriched_data `email` row) and an invalid address gets an `invalid` suppression row. A DNS
 * failure, Hunter's 202/222 and rate answers re-queue just the affected targets with a delay.
 */
export async function verifyEmailHandler(p: Payload, ctx: Ctx): Promise<VerifyEmailResult> {
  const { deps } = ctx;
  const ws = p.workspaceId;
  if (!p.emails?.length && !p.leadIds?.length) throw new PermanentJobError('verify-email needs emails or leadIds');
  const targets: Target[] = [];
  for (const e of new Set((p.emails ?? []).map((a) => a.trim().toLowerCase()))) targets.push({ target: `sha256:${sha256(e)}`, email: e });
  if (p.leadIds?.length) {
    for (const lead of await listLeadEmails(deps.pool, ws, p.leadIds))
      targets.push({ target: `lead:${lead.id}`, email: lead.email.trim().toLowerCase(), leadId: lead.id });
  }
  const provider = p.providerId ? await providerOf(deps, p.providerId) : undefined;
  if (provider && !provider.adapter.verifyEmail) throw new PermanentJobError(`provider ${provider.row.name} has no email verifier`);

  const verified: VerificationOutcome[] = [];
  const later: Target[] = [];
  let retryInMs = 0;
  for (const t of targets) {
    ctx.signal.throwIfAborted();
    try {
      const outcome = await verifyOne(t, ws, provider?.adapter, provider?.row.id ?? null, deps, ctx);
      if (outcome === 'later') {
        later.push(t);
        retryInMs = Math.max(retryInMs, deps.config.dnsRetryMs);
        continue;
      }
      verified.push({ target: t.target, ...outcome });
    } catch (err) {
      countProviderError(deps, err);
      if (isRetryLater(err)) {
        later.push(t);
        retryInMs = Math.max(retryInMs, err.retryAfterMs);
        continue;
      }
      if (err instanceof ProviderAccountError) await flagProvider(deps, ctx, p.providerId!, err);
      throw err;
    }
  }
  if (later.length > 0) {
    const deferrals = (p.deferrals ?? 0) + 1;
    if (deferrals > deps.config.maxDeferrals) {
      // give up on these: recorded as unknown, not retried again
      for (const t of later) {
        await record(t, ws, { result: 'unknown', reasons: ['gave_up'] }, p.providerId ?? null, deps);
        verified.push({ target: t.target, result: 'unknown', reasons: ['gave_up'] });
      }
      return { verified, deferred: 0 };
    }
    const emails = later.filter((t) => !t.leadId).map((t) => t.email);
    const leadIds = later.filter((t) => t.leadId).map((t) => t.leadId!);
    const payload = { ...p, emails: emails.length ? emails : undefined, leadIds: leadIds.length ? leadIds : undefined, deferrals };
    const key = `${ctx.jobId.slice(0, 120)}.d${deferrals}`;
    await ctx.enqueue(verifyEmail, payload, { delay: Math.max(0, Math.round(retryInMs)), idempotencyKey: key });
  }
  return { verified, deferred: later.length, ...(later.length ? { retryInMs } : {}) };
}

async function verifyOne(
  t: Target,
  ws: string,
  adapter: EnrichmentProvider | undefined,
  providerId: string | null,
  deps: EnrichmentDeps,
  ctx: Ctx,
): Promise<CachedVerification | 'later'> {
  const local = checkAddress(t.email);
  if (local.kind !== 'ok') {
    const outcome: CachedVerification = { result: 'invalid', reasons: local.reasons };
    await record(t, ws, outcome, providerId, deps);
    return outcome;
  }
  const cacheKey = verifyCacheKey(adapter?.name ?? 'local', t.email);
  const cached = await readEnrichmentCache(deps.pool, cacheKey);
  if (cached) {
    const outcome = cached.data as unknown as CachedVerification;
    await record(t, ws, outcome, providerId, deps);
    return outcome;
  }
  const mx = await deps.mx.lookup(local.domain);
  if (mx.kind === 'failure') return 'later';
  let outcome: CachedVerification;
  if (mx.kind === 'none') {
    outcome = { result: 'invalid', reasons: ['no_mx'] };
  } else if (adapter?.verifyEmail) {
    const v = await adapter.verifyEmail(t.email, ctx.signal);
    const reasons = [...local.reasons, v.status];
    const result = STATUS[v.status] === 'valid' && local.role ? 'risky' : STATUS[v.status];
    outcome = { result, reasons, ...(v.score !== undefined ? { score: v.score } : {}) };
  } else {
    // no verifier: syntax and MX only; a role address is risky, the rest unknown beyond "has MX"
    outcome = { result: local.role ? 'risky' : 'unknown', reasons: [...local.reasons, 'mx_only'] };
  }
  if (outcome.result !== 'unknown') {
    await writeEnrichmentCache(deps.pool, {
      cacheKey,
      providerId,
      queryType: 'verify',
      data: outcome as unknown as Record<string, unknown>,
      ttlMs: deps.config.ttlMs.verify,
    });
  }
  await record(t, ws, outcome, providerId, deps);
  return outcome;
}

async function record(t: Target, ws: string, o: CachedVerification, providerId: string | null, deps: EnrichmentDeps): Promise<void> {
  await recordEmailVerification(deps.pool, ws, {
    email: t.email,
    status: o.result,
    providerId,
    data: { result: o.result, reasons: o.reasons, ...(o.score !== undefined ? { score: o.score } : {}) },
    confidence: o.score,
    expiresAt: new Date(deps.now().getTime() + deps.config.ttlMs.verify),
  });
  if (o.result === 'invalid') {
    await addSuppression(deps.pool, ws, { email: t.email, type: 'invalid', source: 'api', reason: `verify-email: ${o.reasons.join(', ')}` });
  }
}
