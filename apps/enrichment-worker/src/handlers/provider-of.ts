import { disableEnrichmentProvider, type EnrichmentProviderRow, getEnrichmentProvider } from '@coldcopy/db';
import { PermanentJobError } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { type EnrichmentProvider, type ProviderAccountError } from '../providers/enrichment-provider.js';

export interface ResolvedProvider {
  readonly row: EnrichmentProviderRow;
  readonly adapter: EnrichmentProvider;
}

/** The provider row and its adapter; a disabled, unknown or unconfigured provider fails permanently. */
export async function providerOf(deps: EnrichmentDeps, providerId: string): Promise<ResolvedProvider> {
  const row = await getEnrichmentProvider(deps.pool, providerId);
  if (!row) throw new PermanentJobError(`enrichment provider ${providerId} does not exist`);
  if (!row.is_active) throw new PermanentJobError(`enrichment provider ${row.name} is disabled${row.disabled_reason ? ` (${row.disabled_reason})` : ''}`);
  const adapter = deps.provider(row.name);
  if (!adapter) throw new PermanentJobError(`enrichment provider ${row.name} is not configured on this worker (no API key)`);
  return { row, adapter };
}

/**
 * A permanent account answer (401, plan exhausted, no provider credits): the provider is disabled
 * for every replica and an alert goes out once (the first replica to flag it).
 */
export async function flagProvider(deps: EnrichmentDeps, ctx: JobContext<EnrichmentDeps>, providerId: string, err: ProviderAccountError): Promise<void> {
  const flagged = await disableEnrichmentProvider(deps.pool, providerId, `${err.problem} (HTTP ${err.status})`);
  if (flagged) {
    await deps.alerter.alert('critical', 'enrichment provider disabled', {
      provider: err.provider,
      providerId,
      problem: err.problem,
      status: err.status,
      jobId: ctx.jobId,
    });
  }
}

/** Counts a provider answer that was not a result (enrichment_provider_errors_total). */
export function countProviderError(deps: EnrichmentDeps, err: unknown): void {
  const e = err as { name?: string; provider?: string; reason?: string };
  if (!e || typeof e.provider !== 'string') return;
  const kind =
    e.name === 'RetryAfterError'
      ? (e.reason ?? 'rate-limit')
      : e.name === 'ProviderAccountError'
        ? 'account'
        : e.name === 'ProviderRequestError'
          ? 'refused'
          : e.name === 'ProviderUnavailableError'
            ? 'unavailable'
            : undefined;
  if (kind) deps.metrics.providerError(e.provider, kind);
}

export const isRetryLater = (err: unknown): err is Error & { retryAfterMs: number } =>
  err instanceof Error && err.name === 'RetryAfterError' && typeof (err as { retryAfterMs?: unknown }).retryAfterMs === 'number';
