import { Counter, Gauge, type Registry } from 'prom-client';

/** The worker's own series (scraped from its health port), read by ops/prometheus/alerts.yml (coldcopy-integration). */
export interface IntegrationMetrics {
  /** a provider refused a connection's credentials (revoked grant, 401, expired LinkedIn sign-in): a user must reconnect */
  authFailure(provider: string): void;
  /** how far the most overdue connection of a provider is behind its sync_frequency_minutes (set by the scheduled fan-out) */
  syncOverdue(provider: string, seconds: number): void;
}

export function createIntegrationMetrics(registry?: Registry): IntegrationMetrics {
  const registers = registry ? [registry] : [];
  const auth = new Counter({
    name: 'coldcopy_integration_auth_failures_total',
    help: 'connections whose credentials a provider refused (a user must reconnect), by provider',
    labelNames: ['provider'],
    registers,
  });
  const overdue = new Gauge({
    name: 'coldcopy_integration_sync_overdue_seconds',
    help: 'seconds the most overdue active connection of a provider is behind its sync_frequency_minutes (0: none late), set every scheduled tick',
    labelNames: ['provider'],
    registers,
  });
  return {
    authFailure: (provider) => auth.inc({ provider }),
    syncOverdue: (provider, seconds) => overdue.set({ provider }, Math.max(0, Math.round(seconds))),
  };
}
