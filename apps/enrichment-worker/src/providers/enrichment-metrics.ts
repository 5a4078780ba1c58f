import { Counter, Histogram, type Registry } from 'prom-client';

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
  /** a provider request written: ms from asking its rate-window check to the write, and the stale admissions released before it */
  providerWrite(provider: string, admitToWriteMs: number, staleAdmissions: number): void;
}

export function createEnrichmentMetrics(registry?: Registry): EnrichmentMetrics {
  const registers = registry ? [registry] : [];
  const errors = new Counter({
    name: 'enrichment_provider_errors_total',
    help: 'Provider answers that were not a result, by provider and kind (rate-limit, pending, smtp-failure, unavailable, account, refused)',
    labelNames: ['provider', 'kind'],
    registers,
  });
  const credits = new Counter({
    name: 'enrichment_credits_exhausted_total',
    help: 'Enrichment requests refused because the workspace had no credits left with the provider',
    labelNames: ['provider_id'],
    registers,
  });
  const callbacks = new Counter({
    name: 'enrichment_callbacks_total',
    help: 'enrich-lead callback webhooks by outcome (delivered, refused-scheme, refused-address, failed, status); a failure never fails the job',
    labelNames: ['outcome'],
    registers,
  });
  const admitToWrite = new Histogram({
    name: 'enrichment_provider_admit_to_write_seconds',
    help: "Time from asking the rate window's check to writing the provider request (at most half of PROVIDER_RATE_SLACK_MS unless the process lost the CPU between its last check and the write)",
    labelNames: ['provider'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1],
    registers,
  });
  const stale = new Counter({
    name: 'enrichment_provider_stale_admissions_total',
    help: 'Rate-window admissions released unused because their answer came back later than half of PROVIDER_RATE_SLACK_MS (this process stalled); the call asked again',
    labelNames: ['provider'],
    registers,
  });
  return {
    providerWrite: (provider, ms, staleAdmissions) => {
      admitToWrite.labels(provider).observe(ms / 1000);
      if (staleAdmissions > 0) stale.labels(provider).inc(staleAdmissions);
    },
    callback: (outcome) => callbacks.labels(outcome).inc(),
    providerError: (provider, kind) => errors.labels(provider, kind).inc(),
    creditsExhausted: (providerId) => credits.labels(providerId).inc(),
  };
}
