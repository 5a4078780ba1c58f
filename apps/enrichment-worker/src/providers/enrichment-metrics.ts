import { Counter, type Registry } from 'prom-client';

/**
 * The worker's own metrics, beside the runtime's bull_* series (ops/prometheus/alerts.yml alerts on
 * them): provider answers that were not a result, and requests refused for lack of credits.
 */
export interface EnrichmentMetrics {
  /** `kind`: rate-limit, pending, smtp-failure, unavailable, account, refused */
  providerError(provider: string, kind: string): void;
  /** by `enrichment_providers.id` */
  creditsExhausted(providerId: string): void;
  /** enrich-lead's callback: `delivered`, `refused-scheme`, `refused-address`, `failed`, `status` */
  callback(outcome: string): void;
}

export function createEnrichmentMetrics(registry?: Registry): EnrichmentMetrics {
  const errors = new Counter({
    name: 'enrichment_provider_errors_total',
    help: 'Provider answers that were not a result, by provider and kind (rate-limit, pending, smtp-failure, unavailable, account, refused)',
    labelNames: ['provider', 'kind'],
    registers: registry ? [registry] : [],
  });
  const credits = new Counter({
    name: 'enrichment_credits_exhausted_total',
    help: 'Enrichment requests refused because the workspace had no credits left with the provider',
    labelNames: ['provider_id'],
    registers: registry ? [registry] : [],
  });
  const callbacks = new Counter({
    name: 'enrichment_callbacks_total',
    help: 'enrich-lead callback webhooks by outcome (delivered, refused-scheme, refused-address, failed, status); a failure never fails the job',
    labelNames: ['outcome'],
    registers: registry ? [registry] : [],
  });
  return {
    callback: (outcome) => callbacks.labels(outcome).inc(),
    providerError: (provider, kind) => errors.labels(provider, kind).inc(),
    creditsExhausted: (providerId) => credits.labels(providerId).inc(),
  };
}
